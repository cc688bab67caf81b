//! The presence codes (141, 1312, 1313) at their limits: the largest push
//! fits in a frame and one change more cannot be encoded, a count past the
//! limit is refused before anything is read, and unknown flag bits are
//! refused with a clear error.

mod common;

use common::frames::{
    decode_response, invalid, invalid_response, raw_request, raw_response, response_bytes,
};
use protocol::codec::ResponseItem;
use protocol::v3::{self, PresenceChange, PresenceChanges};
use protocol::{
    ClientId, MAX_FRAME_LEN, MAX_PRESENCE_CHANGES, PayloadError, ProtocolError, Response,
};

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

#[test]
fn the_largest_presence_push_fits_a_frame_and_one_change_more_does_not_encode() {
    let largest = changes(MAX_PRESENCE_CHANGES);
    let bytes = response_bytes(largest.clone()).unwrap();
    assert!(bytes.len() - 7 <= MAX_FRAME_LEN);
    match decode_response(bytes).unwrap() {
        ResponseItem::Response(r) => assert_eq!(r, Response::V3(largest)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        response_bytes(changes(MAX_PRESENCE_CHANGES + 1)),
        Err(ProtocolError::ValueTooLarge { .. })
    ));
}

#[test]
fn a_change_count_past_the_limit_is_refused_before_reading_the_changes() {
    let mut payload = vec![0u8];
    payload.extend_from_slice(&((MAX_PRESENCE_CHANGES + 1) as u16).to_le_bytes());
    match invalid_response(raw_response(1313, &payload)) {
        PayloadError::OutOfRange { field, .. } => assert_eq!(field, "change count"),
        other => panic!("expected the count refused, got {other:?}"),
    }
}

#[test]
fn unknown_presence_flags_are_refused() {
    let mut payload = vec![4u8];
    payload.extend_from_slice(&[0; 16]);
    match invalid(raw_request(141, &payload)) {
        PayloadError::OutOfRange { field, .. } => assert_eq!(field, "presence flags"),
        other => panic!("expected the flags refused, got {other:?}"),
    }
}
