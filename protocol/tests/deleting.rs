//! The deleting codes (145, 1317, type 6) at their limits: the largest notice
//! fits in a frame and one byte more cannot be encoded, an empty notice is
//! refused, a 1317 of the wrong size is refused, and nobody may send a
//! type-6 message with 103: only the server makes it.

mod common;

use bytes::{BufMut, Bytes, BytesMut};
use common::ALICE;
use protocol::codec::{ClientCodec, Inbound, ServerCodec};
use protocol::v3::{self, RoomDelete, RoomNotice};
use protocol::{
    MAX_ROOM_MESSAGE_LEN, PayloadError, ProtocolError, Request, RequestFrame, RequestHeader,
    ResponseHeader, RoomId,
};
use tokio_util::codec::Decoder;

fn raw_request(code: u8, payload: &[u8]) -> BytesMut {
    let mut buf = BytesMut::new();
    RequestHeader {
        client_id: ALICE,
        version: 3,
        code,
        payload_len: payload.len() as u32,
    }
    .write(&mut buf);
    buf.put_slice(payload);
    buf
}

fn decode_request(mut buf: BytesMut) -> Result<Inbound, ProtocolError> {
    ServerCodec::default()
        .decode_eof(&mut buf)
        .map(|item| item.expect("a whole frame"))
}

fn payload_error(result: Result<Inbound, ProtocolError>) -> PayloadError {
    match result {
        Ok(Inbound::Invalid { error, .. }) => error,
        other => panic!("expected an invalid payload, got {other:?}"),
    }
}

fn delete(len: usize) -> v3::Request {
    v3::Request::RoomDelete(RoomDelete {
        room: RoomId([7; 16]),
        epoch: 3,
        notice: Bytes::from(vec![0xa5; len]),
    })
}

#[test]
fn the_largest_notice_travels_and_one_byte_more_does_not_encode() {
    let mut buf = BytesMut::new();
    let largest = delete(MAX_ROOM_MESSAGE_LEN);
    RequestFrame {
        client_id: ALICE,
        request: Request::V3(largest.clone()),
    }
    .encode(&mut buf)
    .unwrap();
    match decode_request(buf).unwrap() {
        Inbound::Request(f) => assert_eq!(f.request, Request::V3(largest)),
        other => panic!("{other:?}"),
    }
    let mut buf = BytesMut::new();
    assert!(matches!(
        RequestFrame {
            client_id: ALICE,
            request: Request::V3(delete(MAX_ROOM_MESSAGE_LEN + 1)),
        }
        .encode(&mut buf),
        Err(ProtocolError::ValueTooLarge { .. })
    ));
}

#[test]
fn an_empty_or_short_notice_is_refused() {
    let mut payload = vec![7; 16];
    payload.extend_from_slice(&3u64.to_le_bytes());
    payload.extend_from_slice(&0u32.to_le_bytes());
    let error = payload_error(decode_request(raw_request(145, &payload)));
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
    payload_error(decode_request(raw_request(145, &payload)));
}

#[test]
fn a_room_deleted_answer_of_the_wrong_size_is_refused() {
    for len in [15usize, 17] {
        let payload = vec![0x77; len];
        let mut buf = BytesMut::new();
        ResponseHeader {
            version: 3,
            code: 1317,
            payload_len: payload.len() as u32,
        }
        .write(&mut buf);
        buf.put_slice(&payload);
        assert!(
            ClientCodec::default().decode_eof(&mut buf).is_err(),
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
    let error = payload_error(decode_request(raw_request(103, &payload)));
    assert!(
        matches!(error, PayloadError::BadMessageType(6)),
        "{error:?}"
    );
}
