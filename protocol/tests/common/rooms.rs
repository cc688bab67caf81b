//! The room examples of PROTOCOL.md ("Rooms", codes 130 to 140 and 1300 to
//! 1311, a type-5 welcome, a room reason) as typed values.

use std::collections::BTreeMap;

use bytes::Bytes;
use protocol::v3::{
    self, ClaimStatus, ClaimedKeyPackage, CommitAccepted, Delivery, KeyPackageKind,
    KeyPackageStock, KeyPackagesUpload, Pull, RoomAckStatus, RoomBatch, RoomCommit, RoomCreate,
    RoomCreated, RoomCursor, RoomDownload, RoomEntry, RoomEntryKind, RoomMemberRole,
    RoomMessageStored, RoomRole, RoomSend, RoomStatus, RoomSummary, RoomUploadBegin, RoomWelcome,
    ServerError,
};
use protocol::{ClientId, ErrorReason, MessageKind, RoomId};

use super::{ALICE, BOB, CAROL, Example, SENT_AT, UPLOAD, req3, resp3};

/// The room of every example.
pub const ROOM: RoomId = RoomId([0x77; 16]);

fn bytes8(b: u8) -> Bytes {
    Bytes::from(vec![b; 8])
}

fn entry(seq: u64, kind: RoomEntryKind, epoch: u64, message: u8) -> RoomEntry {
    RoomEntry {
        room: ROOM,
        seq,
        sender: ALICE,
        kind,
        epoch,
        sent_at_ms: SENT_AT + 3000,
        file: None,
        message: bytes8(message),
    }
}

pub fn insert(m: &mut BTreeMap<&'static str, Example>) {
    // Requests.
    m.insert(
        "v3-key-packages-upload",
        req3(
            ALICE,
            v3::Request::KeyPackagesUpload(KeyPackagesUpload {
                kind: KeyPackageKind::OneTime,
                packages: vec![bytes8(0x4b), bytes8(0x4c)],
            }),
        ),
    );
    m.insert(
        "v3-key-packages-stock-query",
        req3(
            ALICE,
            v3::Request::KeyPackagesUpload(KeyPackagesUpload {
                kind: KeyPackageKind::OneTime,
                packages: vec![],
            }),
        ),
    );
    m.insert(
        "v3-key-packages-claim",
        req3(ALICE, v3::Request::KeyPackagesClaim(vec![BOB, CAROL])),
    );
    m.insert(
        "v3-room-create",
        req3(
            ALICE,
            v3::Request::RoomCreate(RoomCreate {
                room: ROOM,
                group_info: bytes8(0x61),
                ratchet_tree: bytes8(0x74),
            }),
        ),
    );
    m.insert(
        "v3-room-refound",
        req3(
            ALICE,
            v3::Request::RoomRefound(RoomCreate {
                room: ROOM,
                group_info: bytes8(0x61),
                ratchet_tree: bytes8(0x74),
            }),
        ),
    );
    m.insert(
        "v3-room-commit",
        req3(
            ALICE,
            v3::Request::RoomCommit(RoomCommit {
                room: ROOM,
                epoch: 0,
                commit: bytes8(0xc0),
                welcome: bytes8(0x3e),
            }),
        ),
    );
    m.insert(
        "v3-room-send",
        req3(
            ALICE,
            v3::Request::RoomSend(RoomSend {
                room: ROOM,
                epoch: 1,
                file: None,
                message: bytes8(0xa5),
            }),
        ),
    );
    m.insert(
        "v3-room-pull",
        req3(
            BOB,
            v3::Request::RoomPull(Pull {
                max_messages: 100,
                max_bytes: 0,
            }),
        ),
    );
    m.insert(
        "v3-room-ack",
        req3(
            BOB,
            v3::Request::RoomAck(vec![RoomCursor {
                room: ROOM,
                seq: 45,
            }]),
        ),
    );
    m.insert("v3-room-state", req3(BOB, v3::Request::RoomState(ROOM)));
    m.insert("v3-room-list", req3(BOB, v3::Request::RoomList));
    m.insert(
        "v3-room-upload-begin",
        req3(
            ALICE,
            v3::Request::RoomUploadBegin(RoomUploadBegin {
                room: ROOM,
                file_size: 3_000_000,
                meta: Bytes::from_static(&[0xe1; 16]),
            }),
        ),
    );
    m.insert(
        "v3-room-download",
        req3(
            BOB,
            v3::Request::RoomDownload(RoomDownload {
                room: ROOM,
                seq: 46,
                offset: 0,
                max_len: 1_048_576,
            }),
        ),
    );
    // Responses.
    m.insert(
        "v3-key-package-stock",
        resp3(v3::Response::KeyPackageStock(KeyPackageStock {
            one_time: 100,
            last_resort: true,
        })),
    );
    m.insert(
        "v3-key-packages",
        resp3(v3::Response::KeyPackages(vec![
            ClaimedKeyPackage {
                client: BOB,
                status: ClaimStatus::OneTime,
                key_package: bytes8(0x4b),
            },
            ClaimedKeyPackage {
                client: CAROL,
                status: ClaimStatus::None,
                key_package: Bytes::new(),
            },
        ])),
    );
    m.insert(
        "v3-room-created",
        resp3(v3::Response::RoomCreated(RoomCreated {
            room: ROOM,
            epoch: 0,
        })),
    );
    m.insert(
        "v3-room-refounded",
        resp3(v3::Response::RoomRefounded(RoomCreated {
            room: ROOM,
            epoch: 3,
        })),
    );
    m.insert(
        "v3-commit-accepted",
        resp3(v3::Response::CommitAccepted(CommitAccepted {
            room: ROOM,
            epoch: 1,
            seq: 44,
        })),
    );
    m.insert(
        "v3-room-message-stored",
        resp3(v3::Response::RoomMessageStored(RoomMessageStored {
            room: ROOM,
            seq: 45,
        })),
    );
    m.insert(
        "v3-room-entries",
        resp3(v3::Response::RoomEntries(RoomBatch {
            more: false,
            entries: vec![entry(45, RoomEntryKind::Application, 1, 0xa5)],
        })),
    );
    m.insert(
        "v3-room-acked",
        resp3(v3::Response::RoomAcked(vec![RoomAckStatus::Moved])),
    );
    m.insert(
        "v3-room-status",
        resp3(v3::Response::RoomStatus(RoomStatus {
            room: ROOM,
            epoch: 1,
            last_seq: 45,
            members: vec![
                RoomMemberRole {
                    client: ALICE,
                    role: RoomRole::Owner,
                },
                RoomMemberRole {
                    client: BOB,
                    role: RoomRole::Member,
                },
            ],
        })),
    );
    m.insert(
        "v3-room-list-answer",
        resp3(v3::Response::RoomList(vec![RoomSummary {
            room: ROOM,
            epoch: 1,
            members: 2,
            role: RoomRole::Member,
        }])),
    );
    m.insert(
        "v3-room-delivery",
        resp3(v3::Response::RoomDelivery(entry(
            44,
            RoomEntryKind::Commit,
            0,
            0xc0,
        ))),
    );
    m.insert(
        "v3-key-packages-low",
        resp3(v3::Response::KeyPackagesLow(9)),
    );
    m.insert(
        "v3-room-welcome-delivery",
        resp3(v3::Response::Delivery(Delivery {
            sender: ALICE,
            message_id: 46,
            kind: MessageKind::RoomWelcome,
            sent_at_ms: SENT_AT + 3000,
            content: RoomWelcome {
                room: ROOM,
                epoch: 1,
                welcome: bytes8(0x3e),
            }
            .encode()
            .unwrap(),
        })),
    );
    m.insert(
        "v3-error-stale-epoch",
        resp3(v3::Response::Error(ServerError::new(
            ErrorReason::StaleEpoch,
            "room is at epoch 2",
        ))),
    );
    // Room files: the room in the destination field of 1200 and 1202, the
    // entry's seq as the message id of 1204.
    m.insert(
        "v3-room-send-file",
        req3(
            ALICE,
            v3::Request::RoomSend(RoomSend {
                room: ROOM,
                epoch: 1,
                file: Some(UPLOAD),
                message: bytes8(0xa5),
            }),
        ),
    );
    m.insert(
        "v3-room-upload-status",
        resp3(v3::Response::UploadStatus(v3::UploadStatus {
            upload_id: UPLOAD,
            destination: ClientId(ROOM.0),
            file_size: 3_000_000,
            offset: 0,
        })),
    );
    m.insert(
        "v3-room-file-sent",
        resp3(v3::Response::FileSent(v3::FileSent {
            upload_id: UPLOAD,
            destination: ClientId(ROOM.0),
            message_id: 0,
        })),
    );
    m.insert(
        "v3-room-file-chunk",
        resp3(v3::Response::FileChunk(v3::FileChunk {
            message_id: 46,
            offset: 0,
            data: Bytes::from_static(&[0x3c; 8]),
        })),
    );
    m.insert(
        "v3-error-room-entry-gone",
        resp3(v3::Response::Error(ServerError::new(
            ErrorReason::UnknownMessage,
            "room entry 46 is gone",
        ))),
    );
}
