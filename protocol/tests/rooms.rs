//! The room codes (130 to 140, 1300 to 1311, type 5) at their limits: the
//! largest MLS message fits in a frame wherever it travels and one byte more
//! is refused, every count and enum outside its range is refused with a
//! clear error, and nothing over a limit can be encoded.

mod common;

use bytes::Bytes;
use common::frames::{
    decode_request, decode_response, invalid, invalid_response, raw_request, raw_response,
    request_bytes, response_bytes,
};
use common::{ALICE, BOB};
use protocol::codec::{Inbound, ResponseItem};
use protocol::v3::{
    self, KeyPackageKind, KeyPackagesUpload, RoomBatch, RoomCommit, RoomCreate, RoomEntry,
    RoomEntryKind, RoomSend, RoomWelcome,
};
use protocol::{
    MAX_FRAME_LEN, MAX_ROOM_MESSAGE_LEN, MessageKind, PayloadError, ProtocolError, Request,
    Response, RoomId,
};

const ROOM: RoomId = RoomId([0x77; 16]);

fn out_of_range(e: PayloadError) -> &'static str {
    match e {
        PayloadError::OutOfRange { field, .. } => field,
        other => panic!("expected out of range, got {other:?}"),
    }
}

fn entry(len: usize) -> RoomEntry {
    RoomEntry {
        room: ROOM,
        seq: 7,
        sender: ALICE,
        kind: RoomEntryKind::Commit,
        epoch: 3,
        sent_at_ms: 1,
        file: None,
        message: Bytes::from(vec![0xc0; len]),
    }
}

#[test]
fn the_largest_commit_with_its_welcome_fits_a_frame_and_one_byte_more_does_not_encode() {
    let half = MAX_ROOM_MESSAGE_LEN / 2;
    let commit = |welcome_len: usize| {
        v3::Request::RoomCommit(RoomCommit {
            room: ROOM,
            epoch: 9,
            commit: Bytes::from(vec![1; half]),
            welcome: Bytes::from(vec![2; welcome_len]),
        })
    };
    let largest = commit(MAX_ROOM_MESSAGE_LEN - half);
    let bytes = request_bytes(largest.clone()).unwrap();
    assert!(bytes.len() - 22 <= MAX_FRAME_LEN);
    match decode_request(bytes).unwrap() {
        Inbound::Request(f) => assert_eq!(f.request, Request::V3(largest)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        request_bytes(commit(MAX_ROOM_MESSAGE_LEN - half + 1)),
        Err(ProtocolError::ValueTooLarge { .. })
    ));
}

#[test]
fn a_commit_whose_lengths_add_up_past_the_limit_is_refused_when_read() {
    // Each length alone is within the limit; together they are one byte
    // over. The frame itself is small (the welcome's bytes are not there):
    // the length is refused before anything is read past it.
    let half = MAX_ROOM_MESSAGE_LEN / 2;
    let mut p = Vec::new();
    p.extend_from_slice(&ROOM.0);
    p.extend_from_slice(&9u64.to_le_bytes());
    p.extend_from_slice(&(half as u32).to_le_bytes());
    p.extend_from_slice(&vec![1; half]);
    let welcome = MAX_ROOM_MESSAGE_LEN - half + 1;
    p.extend_from_slice(&(welcome as u32).to_le_bytes());
    p.extend_from_slice(&[2; 16]);
    assert_eq!(out_of_range(invalid(raw_request(133, &p))), "welcome");
    // The whole frame one byte over is refused from its header alone.
    p.truncate(p.len() - 16);
    p.extend_from_slice(&vec![2; welcome]);
    assert!(matches!(
        decode_request(raw_request(133, &p)),
        Err(ProtocolError::FrameTooLarge { .. })
    ));
}

#[test]
fn the_largest_room_entry_fits_a_pull_and_a_push() {
    let batch = v3::Response::RoomEntries(RoomBatch {
        more: true,
        entries: vec![entry(MAX_ROOM_MESSAGE_LEN)],
    });
    let bytes = response_bytes(batch.clone()).unwrap();
    assert!(bytes.len() - 7 <= MAX_FRAME_LEN);
    assert_eq!(
        decode_response(bytes).unwrap(),
        ResponseItem::Response(Response::V3(batch))
    );
    let push = v3::Response::RoomDelivery(entry(MAX_ROOM_MESSAGE_LEN));
    let bytes = response_bytes(push.clone()).unwrap();
    assert_eq!(
        decode_response(bytes).unwrap(),
        ResponseItem::Response(Response::V3(push))
    );
    assert!(response_bytes(v3::Response::RoomDelivery(entry(MAX_ROOM_MESSAGE_LEN + 1))).is_err());
}

#[test]
fn the_largest_welcome_fits_a_type_5_delivery() {
    let content = RoomWelcome {
        room: ROOM,
        epoch: 1,
        welcome: Bytes::from(vec![0x3e; MAX_ROOM_MESSAGE_LEN]),
    }
    .encode()
    .unwrap();
    let delivery = v3::Response::Delivery(v3::Delivery {
        sender: ALICE,
        message_id: 5,
        kind: MessageKind::RoomWelcome,
        sent_at_ms: 1,
        content: content.clone(),
    });
    let bytes = response_bytes(delivery.clone()).unwrap();
    assert!(bytes.len() - 7 <= MAX_FRAME_LEN);
    assert_eq!(
        decode_response(bytes).unwrap(),
        ResponseItem::Response(Response::V3(delivery))
    );
    assert_eq!(RoomWelcome::decode(content).unwrap().epoch, 1);
    assert!(
        RoomWelcome {
            room: ROOM,
            epoch: 1,
            welcome: Bytes::from(vec![0; MAX_ROOM_MESSAGE_LEN + 1]),
        }
        .encode()
        .is_err()
    );
}

#[test]
fn a_type_5_delivery_whose_content_is_not_a_welcome_is_refused() {
    let mut p = Vec::new();
    p.extend_from_slice(BOB.as_bytes());
    p.extend_from_slice(&1u64.to_le_bytes());
    p.push(5);
    p.extend_from_slice(&0u64.to_le_bytes());
    p.extend_from_slice(&24u32.to_le_bytes());
    p.extend_from_slice(&[0x77; 24]); // a room id and an epoch, but no welcome
    assert_eq!(
        out_of_range(invalid_response(raw_response(1104, &p))),
        "room welcome size"
    );
}

#[test]
fn empty_room_messages_are_refused() {
    let mut p = Vec::new();
    p.extend_from_slice(&ROOM.0);
    p.extend_from_slice(&1u64.to_le_bytes());
    p.extend_from_slice(&[0; 16]);
    p.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(out_of_range(invalid(raw_request(134, &p))), "room message");
    let mut p = Vec::new();
    p.extend_from_slice(&ROOM.0);
    p.extend_from_slice(&0u32.to_le_bytes());
    p.extend_from_slice(&1u32.to_le_bytes());
    p.push(0);
    assert_eq!(out_of_range(invalid(raw_request(132, &p))), "group info");
}

#[test]
fn key_package_counts_and_lengths_are_bounded() {
    // 101 one-time packages.
    let mut p = vec![0, 101, 0];
    for _ in 0..101 {
        p.extend_from_slice(&[1, 0, 0x4b]);
    }
    assert_eq!(
        out_of_range(invalid(raw_request(130, &p))),
        "key package count"
    );
    // Two last-resort packages.
    let p = [1, 2, 0, 1, 0, 0x4b, 1, 0, 0x4c];
    assert_eq!(
        out_of_range(invalid(raw_request(130, &p))),
        "key package count"
    );
    // An empty package, and one over 4096 bytes.
    assert_eq!(
        out_of_range(invalid(raw_request(130, &[0, 1, 0, 0, 0]))),
        "key package length"
    );
    let mut p = vec![0, 1, 0, 0x01, 0x10];
    p.extend_from_slice(&[0; 4097]);
    assert_eq!(
        out_of_range(invalid(raw_request(130, &p))),
        "key package length"
    );
    // A kind that is neither 0 nor 1.
    assert!(matches!(
        invalid(raw_request(130, &[2, 0, 0])),
        PayloadError::BadFlag { .. }
    ));
    // A claim of nobody, and of 101 clients.
    assert_eq!(
        out_of_range(invalid(raw_request(131, &[0, 0]))),
        "client count"
    );
    let mut p = vec![101, 0];
    p.extend_from_slice(&[0x22; 16]);
    assert_eq!(out_of_range(invalid(raw_request(131, &p))), "client count");
    p.extend_from_slice(&[0x22; 16 * 100]);
    assert!(matches!(
        decode_request(raw_request(131, &p)),
        Err(ProtocolError::FrameTooLarge { .. })
    ));
    // Encoding refuses what decoding would.
    assert!(
        request_bytes(v3::Request::KeyPackagesUpload(KeyPackagesUpload {
            kind: KeyPackageKind::LastResort,
            packages: vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")],
        }))
        .is_err()
    );
    assert!(request_bytes(v3::Request::KeyPackagesClaim(vec![BOB; 101])).is_err());
}

#[test]
fn a_claim_answer_with_a_package_for_status_none_is_refused() {
    let mut p = vec![1, 0];
    p.extend_from_slice(BOB.as_bytes());
    p.extend_from_slice(&[2, 1, 0, 0x4b]);
    assert_eq!(
        out_of_range(invalid_response(raw_response(1301, &p))),
        "key package length"
    );
    let mut p = vec![1, 0];
    p.extend_from_slice(BOB.as_bytes());
    p.extend_from_slice(&[3, 0, 0]);
    assert_eq!(
        out_of_range(invalid_response(raw_response(1301, &p))),
        "claim status"
    );
}

#[test]
fn room_enums_outside_their_values_are_refused() {
    // A role of 3 in 1308.
    let mut p = vec![1, 0];
    p.extend_from_slice(&ROOM.0);
    p.extend_from_slice(&1u64.to_le_bytes());
    p.extend_from_slice(&[2, 0, 3]);
    assert_eq!(
        out_of_range(invalid_response(raw_response(1308, &p))),
        "role"
    );
    // An entry kind of 0 in 1310.
    let mut bytes = response_bytes(v3::Response::RoomDelivery(entry(4))).unwrap();
    bytes[7 + 16 + 8 + 16] = 0;
    assert_eq!(out_of_range(invalid_response(bytes)), "room entry kind");
    // An acknowledgement status of 2 in 1306.
    assert!(matches!(
        invalid_response(raw_response(1306, &[1, 0, 2])),
        PayloadError::BadFlag { .. }
    ));
}

#[test]
fn room_counts_are_bounded_before_anything_is_allocated() {
    // 1305 claiming 65535 entries with none there.
    assert_eq!(
        out_of_range(invalid_response(raw_response(1305, &[0, 0xff, 0xff]))),
        "count"
    );
    // 1305 claiming 1000 entries with none there: the count is allowed, the
    // bytes are missing.
    assert!(matches!(
        invalid_response(raw_response(1305, &[0, 0xe8, 0x03])),
        PayloadError::Truncated { .. }
    ));
    // 1307 of no member, and 136 of no cursor.
    let mut p = Vec::new();
    p.extend_from_slice(&ROOM.0);
    p.extend_from_slice(&[0; 16]);
    p.extend_from_slice(&[0, 0]);
    assert_eq!(
        out_of_range(invalid_response(raw_response(1307, &p))),
        "member count"
    );
    assert_eq!(
        out_of_range(invalid(raw_request(136, &[0, 0]))),
        "cursor count"
    );
}

#[test]
fn a_file_id_of_zero_is_none() {
    let send = v3::Request::RoomSend(RoomSend {
        room: ROOM,
        epoch: 2,
        file: Some(protocol::UploadId([9; 16])),
        message: Bytes::from_static(b"m"),
    });
    match decode_request(request_bytes(send.clone()).unwrap()).unwrap() {
        Inbound::Request(f) => assert_eq!(f.request, Request::V3(send)),
        other => panic!("{other:?}"),
    }
    let create = v3::Request::RoomCreate(RoomCreate {
        room: ROOM,
        group_info: Bytes::from_static(b"g"),
        ratchet_tree: Bytes::from_static(b"t"),
    });
    assert_eq!(
        request_bytes(create).unwrap().len(),
        22 + 16 + 4 + 1 + 4 + 1
    );
}
