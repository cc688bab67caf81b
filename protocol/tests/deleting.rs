//! The deleting codes (145, 1317, type 6) at their limits: the largest notice
//! fits in a frame and one byte more cannot be encoded, an empty notice is
//! refused, a 1317 of the wrong size is refused, and nobody may send a
//! type-6 message with 103: only the server makes it.

mod common;

use bytes::Bytes;
use common::frames::{assert_largest_travels, decode_response, invalid, raw_request, raw_response};
use protocol::v3::{self, RoomDelete, RoomNotice};
use protocol::{MAX_ROOM_MESSAGE_LEN, PayloadError, RoomId};

fn delete(len: usize) -> v3::Request {
    v3::Request::RoomDelete(RoomDelete {
        room: RoomId([7; 16]),
        epoch: 3,
        notice: Bytes::from(vec![0xa5; len]),
    })
}

#[test]
fn the_largest_notice_travels_and_one_byte_more_does_not_encode() {
    assert_largest_travels(delete, MAX_ROOM_MESSAGE_LEN);
}

#[test]
fn an_empty_or_short_notice_is_refused() {
    let mut payload = vec![7; 16];
    payload.extend_from_slice(&3u64.to_le_bytes());
    payload.extend_from_slice(&0u32.to_le_bytes());
    let error = invalid(raw_request(145, &payload));
    assert!(
        matches!(
            error,
            PayloadError::OutOfRange {
                field: "notice length",
                ..
            }
        ),
        "{error:?}"
    );
    // Says 8 bytes, carries 2.
    let mut payload = vec![7; 16];
    payload.extend_from_slice(&3u64.to_le_bytes());
    payload.extend_from_slice(&8u32.to_le_bytes());
    payload.extend_from_slice(&[0xa5, 0xa5]);
    invalid(raw_request(145, &payload));
}

#[test]
fn a_room_deleted_answer_of_the_wrong_size_is_refused() {
    for len in [15usize, 17] {
        assert!(
            decode_response(raw_response(1317, &vec![0x77; len])).is_err(),
            "a 1317 of {len} bytes"
        );
    }
}

#[test]
fn a_type_6_content_without_a_notice_is_refused_and_nobody_sends_one() {
    assert!(RoomNotice::decode(Bytes::from(vec![0x77; 24])).is_err());
    let notice = RoomNotice::decode(Bytes::from(vec![0x77; 25])).unwrap();
    assert_eq!(notice.notice.len(), 1);
    // 103 send: destination [16] | type 6 | content size u32 | content.
    let mut payload = vec![0x22; 16];
    payload.push(6);
    payload.extend_from_slice(&25u32.to_le_bytes());
    payload.extend_from_slice(&[0x77; 25]);
    let error = invalid(raw_request(103, &payload));
    assert!(
        matches!(error, PayloadError::BadMessageType(6)),
        "{error:?}"
    );
}
