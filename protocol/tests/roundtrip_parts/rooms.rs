//! Strategies for the room requests and responses (codes 130 to 140 and
//! 151, 1300 to 1311, 1322 and 1323) and the type-5 delivery, for the round-trip properties.

use protocol::RoomId;
use protocol::v3::{
    ClaimStatus, ClaimedKeyPackage, CommitAccepted, KeyPackageKind, KeyPackageStock,
    KeyPackagesUpload, Pull, RoomAckStatus, RoomBatch, RoomCommit, RoomCreate, RoomCreated,
    RoomCursor, RoomDownload, RoomEntry, RoomEntryKind, RoomFileHold, RoomMemberRole,
    RoomMessageStored, RoomRole, RoomSend, RoomStatus, RoomSummary, RoomUploadBegin, RoomWelcome,
};

use super::*;

fn room_id() -> impl Strategy<Value = RoomId> {
    any::<[u8; 16]>().prop_map(RoomId)
}

/// A file id: none, or an upload id that is not all zero (zero means none).
fn file_id() -> impl Strategy<Value = Option<UploadId>> {
    proptest::option::of(upload_id().prop_filter("zero means none", |u| u.0 != [0; 16]))
}

fn role() -> impl Strategy<Value = RoomRole> {
    prop_oneof![
        Just(RoomRole::Member),
        Just(RoomRole::Admin),
        Just(RoomRole::Owner)
    ]
}

fn entry() -> impl Strategy<Value = RoomEntry> {
    (
        (room_id(), any::<u64>(), client_id()),
        prop_oneof![
            Just(RoomEntryKind::Application),
            Just(RoomEntryKind::Commit),
            Just(RoomEntryKind::Proposal)
        ],
        (any::<u64>(), any::<u64>(), file_id(), nonempty_bytes(600)),
    )
        .prop_map(
            |((room, seq, sender), kind, (epoch, sent_at_ms, file, message))| RoomEntry {
                room,
                seq,
                sender,
                kind,
                epoch,
                sent_at_ms,
                file,
                message,
            },
        )
}

pub fn request() -> impl Strategy<Value = v3::Request> {
    prop_oneof![
        (any::<bool>(), vec(nonempty_bytes(500), 0..=3)).prop_map(|(last, mut packages)| {
            let kind = if last {
                packages.truncate(1);
                KeyPackageKind::LastResort
            } else {
                KeyPackageKind::OneTime
            };
            v3::Request::KeyPackagesUpload(KeyPackagesUpload { kind, packages })
        }),
        vec(client_id(), 1..=100).prop_map(v3::Request::KeyPackagesClaim),
        (
            any::<bool>(),
            room_id(),
            nonempty_bytes(800),
            nonempty_bytes(800)
        )
            .prop_map(|(refound, room, group_info, ratchet_tree)| {
                let c = RoomCreate {
                    room,
                    group_info,
                    ratchet_tree,
                };
                if refound {
                    v3::Request::RoomRefound(c)
                } else {
                    v3::Request::RoomCreate(c)
                }
            }),
        (room_id(), any::<u64>(), nonempty_bytes(800), bytes(800)).prop_map(
            |(room, epoch, commit, welcome)| v3::Request::RoomCommit(RoomCommit {
                room,
                epoch,
                commit,
                welcome
            })
        ),
        (room_id(), any::<u64>(), file_id(), nonempty_bytes(800)).prop_map(
            |(room, epoch, file, message)| v3::Request::RoomSend(RoomSend {
                room,
                epoch,
                file,
                message
            })
        ),
        (any::<u16>(), any::<u32>()).prop_map(|(max_messages, max_bytes)| {
            v3::Request::RoomPull(Pull {
                max_messages,
                max_bytes,
            })
        }),
        vec((room_id(), any::<u64>()), 1..50).prop_map(|v| v3::Request::RoomAck(
            v.into_iter()
                .map(|(room, seq)| RoomCursor { room, seq })
                .collect()
        )),
        room_id().prop_map(v3::Request::RoomState),
        Just(v3::Request::RoomList),
        (room_id(), 1..u64::MAX, bytes(200)).prop_map(|(room, file_size, meta)| {
            v3::Request::RoomUploadBegin(RoomUploadBegin {
                room,
                file_size,
                meta,
            })
        }),
        (
            room_id(),
            any::<u64>(),
            any::<u64>(),
            1..=protocol::MAX_CHUNK_LEN as u32
        )
            .prop_map(|(room, seq, offset, max_len)| v3::Request::RoomDownload(
                RoomDownload {
                    room,
                    seq,
                    offset,
                    max_len
                }
            )),
        (room_id(), any::<u64>(), any::<bool>()).prop_map(|(room, seq, hold)| {
            v3::Request::RoomFileHold(RoomFileHold { room, seq, hold })
        }),
    ]
}

fn claimed() -> impl Strategy<Value = ClaimedKeyPackage> {
    (client_id(), 0u8..3, nonempty_bytes(300)).prop_map(|(client, status, package)| {
        let status = [
            ClaimStatus::OneTime,
            ClaimStatus::LastResort,
            ClaimStatus::None,
        ][usize::from(status)];
        ClaimedKeyPackage {
            client,
            status,
            key_package: if status == ClaimStatus::None {
                Bytes::new()
            } else {
                package
            },
        }
    })
}

/// A type-5 delivery: its content is a room welcome.
pub fn welcome_delivery() -> impl Strategy<Value = v3::Delivery> {
    (
        client_id(),
        any::<u64>(),
        any::<u64>(),
        (room_id(), any::<u64>(), nonempty_bytes(600)),
    )
        .prop_map(
            |(sender, message_id, sent_at_ms, (room, epoch, welcome))| v3::Delivery {
                sender,
                message_id,
                kind: MessageKind::RoomWelcome,
                sent_at_ms,
                content: RoomWelcome {
                    room,
                    epoch,
                    welcome,
                }
                .encode()
                .unwrap(),
            },
        )
}

pub fn response() -> impl Strategy<Value = v3::Response> {
    prop_oneof![
        (any::<u32>(), any::<bool>()).prop_map(|(one_time, last_resort)| {
            v3::Response::KeyPackageStock(KeyPackageStock {
                one_time,
                last_resort,
            })
        }),
        vec(claimed(), 0..=10).prop_map(v3::Response::KeyPackages),
        (any::<bool>(), room_id(), any::<u64>()).prop_map(|(refound, room, epoch)| {
            let c = RoomCreated { room, epoch };
            if refound {
                v3::Response::RoomRefounded(c)
            } else {
                v3::Response::RoomCreated(c)
            }
        }),
        (room_id(), any::<u64>(), any::<u64>()).prop_map(|(room, epoch, seq)| {
            v3::Response::CommitAccepted(CommitAccepted { room, epoch, seq })
        }),
        (room_id(), any::<u64>()).prop_map(|(room, seq)| v3::Response::RoomMessageStored(
            RoomMessageStored { room, seq }
        )),
        (any::<bool>(), vec(entry(), 0..6))
            .prop_map(|(more, entries)| v3::Response::RoomEntries(RoomBatch { more, entries })),
        vec(any::<bool>(), 1..100).prop_map(|v| v3::Response::RoomAcked(
            v.into_iter()
                .map(|b| if b {
                    RoomAckStatus::Moved
                } else {
                    RoomAckStatus::NotMoved
                })
                .collect()
        )),
        (
            room_id(),
            any::<u64>(),
            any::<u64>(),
            vec((client_id(), role()), 1..40)
        )
            .prop_map(|(room, epoch, last_seq, members)| v3::Response::RoomStatus(
                RoomStatus {
                    room,
                    epoch,
                    last_seq,
                    members: members
                        .into_iter()
                        .map(|(client, role)| RoomMemberRole { client, role })
                        .collect(),
                }
            )),
        vec((room_id(), any::<u64>(), any::<u16>(), role()), 0..40).prop_map(|v| {
            v3::Response::RoomList(
                v.into_iter()
                    .map(|(room, epoch, members, role)| RoomSummary {
                        room,
                        epoch,
                        members,
                        role,
                    })
                    .collect(),
            )
        }),
        entry().prop_map(v3::Response::RoomDelivery),
        any::<u32>().prop_map(v3::Response::KeyPackagesLow),
        welcome_delivery().prop_map(v3::Response::Delivery),
        (room_id(), any::<u64>(), any::<bool>()).prop_map(|(room, seq, hold)| {
            v3::Response::RoomFileHeld(RoomFileHold { room, seq, hold })
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn room_requests_round_trip(client in client_id(), request in request()) {
        let frame = RequestFrame { client_id: client, request: Request::V3(request) };
        let mut buf = BytesMut::new();
        frame.encode(&mut buf).unwrap();
        let decoded = ServerCodec::default().decode_eof(&mut buf).unwrap();
        prop_assert_eq!(decoded, Some(Inbound::Request(frame)));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn room_responses_round_trip(response in response()) {
        let response = Response::V3(response);
        let mut buf = BytesMut::new();
        response.encode(&mut buf).unwrap();
        let decoded = ClientCodec::default().decode_eof(&mut buf).unwrap();
        prop_assert_eq!(decoded, Some(ResponseItem::Response(response)));
        prop_assert!(buf.is_empty());
    }
}
