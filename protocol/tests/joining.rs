//! The joining codes (142 to 144, 1314 to 1316) at their limits: the largest
//! group info fits in a frame and one byte more cannot be encoded, a room
//! name outside 1 to 64 bytes of text without control characters is
//! refused as a bad name, and a list count past 1,000 is refused before
//! anything is read.

mod common;

use bytes::Bytes;
use common::frames::{
    assert_largest_travels, decode_response, invalid, raw_request, raw_response, response_bytes,
};
use protocol::v3::{self, MAX_LISTED_ROOMS, RoomGroupInfo, RoomLabel};
use protocol::{ErrorReason, MAX_ROOM_MESSAGE_LEN, PayloadError, ProtocolError, RoomId};

fn group_info(len: usize) -> v3::Request {
    v3::Request::RoomGroupInfo(RoomGroupInfo {
        room: RoomId([7; 16]),
        epoch: 3,
        group_info: Bytes::from(vec![0x61; len]),
    })
}

#[test]
fn the_largest_group_info_travels_and_one_byte_more_does_not_encode() {
    assert_largest_travels(group_info, MAX_ROOM_MESSAGE_LEN);
}

#[test]
fn a_room_name_that_is_not_short_clean_text_is_a_bad_name() {
    for name in ["", "a\u{7}b", &"x".repeat(65)] {
        assert!(RoomLabel::new(name).is_err(), "{name:?}");
    }
    assert!(RoomLabel::new(&"x".repeat(64)).is_ok());
    for payload in [
        &[3, b'a', 7, b'b'][..],
        &[2, 0xff, 0xfe][..],
        &[0][..],
        &[3, b'o', b'p'][..],
    ] {
        let error = invalid(raw_request(144, payload));
        assert!(
            matches!(
                error.reason(),
                ErrorReason::BadName | ErrorReason::Malformed
            ),
            "{payload:?}: {error:?}"
        );
    }
    let error = invalid(raw_request(144, &[3, b'a', 7, b'b']));
    assert_eq!(error.reason(), ErrorReason::BadName);
}

#[test]
fn a_listed_room_count_past_the_limit_is_refused_before_reading_the_rooms() {
    let mut payload = Vec::new();
    payload.extend_from_slice(&((MAX_LISTED_ROOMS + 1) as u16).to_le_bytes());
    let result = decode_response(raw_response(1315, &payload));
    assert!(
        matches!(
            result,
            Err(ProtocolError::InvalidPayload {
                source: PayloadError::OutOfRange {
                    field: "room count",
                    ..
                },
                ..
            })
        ),
        "{result:?}"
    );
    let many = v3::Response::ListedRooms(
        (0..=MAX_LISTED_ROOMS)
            .map(|i| v3::ListedRoom {
                room: RoomId([(i % 251) as u8; 16]),
                members: 1,
                online: 0,
                locked: false,
                name: RoomLabel::new("r").unwrap(),
            })
            .collect(),
    );
    assert!(matches!(
        response_bytes(many),
        Err(ProtocolError::ValueTooLarge { .. })
    ));
}
