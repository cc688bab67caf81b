//! The presence codes (141, 1312, 1313) at their limits: the largest push
//! fits in a frame and one change more cannot be encoded, a count past the
//! limit is refused before anything is read, and unknown flag bits are
//! refused with a clear error.

mod common;

use bytes::{BufMut, BytesMut};
use common::ALICE;
use protocol::codec::{ClientCodec, Inbound, ResponseItem, ServerCodec};
use protocol::v3::{self, PresenceChange, PresenceChanges};
use protocol::{
    ClientId, MAX_FRAME_LEN, MAX_PRESENCE_CHANGES, PayloadError, ProtocolError, RequestHeader,
    Response, ResponseHeader,
};
use tokio_util::codec::Decoder;

fn changes(count: usize) -> v3::Response {
    v3::Response::PresenceChanges(PresenceChanges {
        resync: false,
        changes: (0..count)
            .map(|i| PresenceChange {
                client: ClientId(((i as u128) << 8).to_le_bytes()),
                online: i % 2 == 0,
            })
            .collect::<Vec<_>>()
            .into(),
    })
}

fn encode(response: v3::Response) -> Result<BytesMut, ProtocolError> {
    let mut buf = BytesMut::new();
    Response::V3(response).encode(&mut buf)?;
    Ok(buf)
}

fn decode(mut buf: BytesMut) -> Result<ResponseItem, ProtocolError> {
    ClientCodec::default()
        .decode_eof(&mut buf)
        .map(|item| item.expect("a whole frame"))
}

#[test]
fn the_largest_presence_push_fits_a_frame_and_one_change_more_does_not_encode() {
    let largest = changes(MAX_PRESENCE_CHANGES);
    let bytes = encode(largest.clone()).unwrap();
    assert!(bytes.len() - 7 <= MAX_FRAME_LEN);
    match decode(bytes).unwrap() {
        ResponseItem::Response(r) => assert_eq!(r, Response::V3(largest)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        encode(changes(MAX_PRESENCE_CHANGES + 1)),
        Err(ProtocolError::ValueTooLarge { .. })
    ));
}

#[test]
fn a_change_count_past_the_limit_is_refused_before_reading_the_changes() {
    let mut payload = vec![0u8];
    payload.extend_from_slice(&((MAX_PRESENCE_CHANGES + 1) as u16).to_le_bytes());
    let mut buf = BytesMut::new();
    ResponseHeader {
        version: 3,
        code: 1313,
        payload_len: payload.len() as u32,
    }
    .write(&mut buf);
    buf.put_slice(&payload);
    match decode(buf) {
        Err(ProtocolError::InvalidPayload {
            source: PayloadError::OutOfRange { field, .. },
            ..
        }) => assert_eq!(field, "change count"),
        other => panic!("expected the count refused, got {other:?}"),
    }
}

#[test]
fn unknown_presence_flags_are_refused() {
    let mut buf = BytesMut::new();
    RequestHeader {
        client_id: ALICE,
        version: 3,
        code: 141,
        payload_len: 17,
    }
    .write(&mut buf);
    buf.put_u8(4);
    buf.put_slice(&[0; 16]);
    match ServerCodec::default().decode_eof(&mut buf) {
        Ok(Some(Inbound::Invalid {
            error: PayloadError::OutOfRange { field, .. },
            ..
        })) => assert_eq!(field, "presence flags"),
        other => panic!("expected the flags refused, got {other:?}"),
    }
}
