//! The joining codes (142 to 144, 1314 to 1316) at their limits: the largest
//! group info fits in a frame and one byte more cannot be encoded, a room
//! name outside 1 to 64 bytes of text without control characters is
//! refused as a bad name, and a list count past 1,000 is refused before
//! anything is read.

mod common;

use bytes::{BufMut, Bytes, BytesMut};
use common::ALICE;
use protocol::codec::{ClientCodec, Inbound, ServerCodec};
use protocol::v3::{self, MAX_LISTED_ROOMS, RoomGroupInfo, RoomLabel};
use protocol::{
    ErrorReason, MAX_ROOM_MESSAGE_LEN, PayloadError, ProtocolError, Request, RequestFrame,
    RequestHeader, Response, ResponseHeader, RoomId,
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

fn group_info(len: usize) -> v3::Request {
    v3::Request::RoomGroupInfo(RoomGroupInfo {
        room: RoomId([7; 16]),
        epoch: 3,
        group_info: Bytes::from(vec![0x61; len]),
    })
}

#[test]
fn the_largest_group_info_travels_and_one_byte_more_does_not_encode() {
    let mut buf = BytesMut::new();
    let largest = group_info(MAX_ROOM_MESSAGE_LEN);
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
            request: Request::V3(group_info(MAX_ROOM_MESSAGE_LEN + 1)),
        }
        .encode(&mut buf),
        Err(ProtocolError::ValueTooLarge { .. })
    ));
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
        let error = payload_error(decode_request(raw_request(144, payload)));
        assert!(
            matches!(
                error.reason(),
                ErrorReason::BadName | ErrorReason::Malformed
            ),
            "{payload:?}: {error:?}"
        );
    }
    let error = payload_error(decode_request(raw_request(144, &[3, b'a', 7, b'b'])));
    assert_eq!(error.reason(), ErrorReason::BadName);
}

#[test]
fn a_listed_room_count_past_the_limit_is_refused_before_reading_the_rooms() {
    let mut payload = Vec::new();
    payload.extend_from_slice(&((MAX_LISTED_ROOMS + 1) as u16).to_le_bytes());
    let mut buf = BytesMut::new();
    ResponseHeader {
        version: 3,
        code: 1315,
        payload_len: payload.len() as u32,
    }
    .write(&mut buf);
    buf.put_slice(&payload);
    let result = ClientCodec::default().decode_eof(&mut buf);
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
    let mut out = BytesMut::new();
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
        Response::V3(many).encode(&mut out),
        Err(ProtocolError::ValueTooLarge { .. })
    ));
}
