//! Shared by the protocol's integration tests: the example frames of
//! PROTOCOL.md as typed values, and the parser for the document's hex blocks.

#![allow(dead_code)]

mod deleting;
pub mod frames;
mod holding;
mod joining;
mod not_delivered;
mod password;
mod presence;
mod rooms;

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use protocol::bundle::KeyBundle;
use protocol::v3::{
    self, ChunkStored, ClientPage, Delivery, Download, FileChunk, FileOffer, FileSent, Hello,
    MessageBatch, PeerKey, Pull, ServerError, ServerLimits, UploadBegin, UploadChunk, UploadStatus,
};
use protocol::{
    ClientId, ErrorReason, MessageKind, Name, PublicKey, Request, RequestFrame, Response, UploadId,
    v2,
};

/// One example: a request frame or a response.
#[derive(Debug, Clone, PartialEq)]
pub enum Example {
    Request(RequestFrame),
    Response(Response),
}

impl Example {
    pub fn encode(&self) -> BytesMut {
        let mut buf = BytesMut::new();
        match self {
            Example::Request(f) => f.encode(&mut buf).unwrap(),
            Example::Response(r) => r.encode(&mut buf).unwrap(),
        }
        buf
    }
}

pub const ALICE: ClientId = ClientId([0x11; 16]);
pub const BOB: ClientId = ClientId([0x22; 16]);
pub const CAROL: ClientId = ClientId([0x33; 16]);
pub const UPLOAD: UploadId = UploadId([0x0f; 16]);
pub const SENT_AT: u64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

pub fn bundle() -> PublicKey {
    KeyBundle {
        identity_key: [0xaa; 32],
        dh_identity_key: [0xbb; 32],
        signed_prekey: [0xcc; 32],
        signature: [0xdd; 64],
    }
    .to_public_key()
}

fn req2(client_id: ClientId, r: v2::Request) -> Example {
    Example::Request(RequestFrame {
        client_id,
        request: Request::V2(r),
    })
}

pub(crate) fn req3(client_id: ClientId, r: v3::Request) -> Example {
    Example::Request(RequestFrame {
        client_id,
        request: Request::V3(r),
    })
}

fn resp2(r: v2::Response) -> Example {
    Example::Response(Response::V2(r))
}

pub(crate) fn resp3(r: v3::Response) -> Example {
    Example::Response(Response::V3(r))
}

pub fn default_limits() -> ServerLimits {
    ServerLimits {
        max_message_len: 262_144,
        max_chunk_len: 1_048_576,
        max_file_size: 16 << 30,
        max_pull_messages: 1000,
        max_ack_ids: 4096,
        max_pull_bytes: 1_048_576,
        requests_per_second: 20_000,
        idle_timeout_secs: 300,
    }
}

/// Every example of PROTOCOL.md, by the name its hex block carries.
pub fn examples() -> BTreeMap<&'static str, Example> {
    let file_offer = FileOffer {
        size: 3_000_000,
        meta: Bytes::from_static(&[0xe1; 16]),
    }
    .encode()
    .unwrap();
    let mut m = BTreeMap::new();
    // Version 2 requests.
    m.insert(
        "v2-register",
        req2(
            ClientId::NIL,
            v2::Request::Register(v2::Register {
                name: name("alice"),
                public_key: PublicKey([0xab; 160]),
            }),
        ),
    );
    m.insert("v2-list-clients", req2(ALICE, v2::Request::ListClients));
    m.insert(
        "v2-get-public-key",
        req2(ALICE, v2::Request::GetPublicKey(BOB)),
    );
    m.insert(
        "v2-send-key-request",
        req2(
            ALICE,
            v2::Request::SendMessage(v2::SendMessage {
                destination: BOB,
                kind: MessageKind::SymmetricKeyRequest,
                content: Bytes::new(),
            }),
        ),
    );
    m.insert(
        "v2-send-text",
        req2(
            ALICE,
            v2::Request::SendMessage(v2::SendMessage {
                destination: BOB,
                kind: MessageKind::Text,
                content: Bytes::from_static(b"hi bob"),
            }),
        ),
    );
    m.insert("v2-pull", req2(BOB, v2::Request::Pull));
    // Version 2 responses.
    m.insert("v2-registered", resp2(v2::Response::Registered(ALICE)));
    m.insert(
        "v2-client-list",
        resp2(v2::Response::ClientList(vec![
            v2::ClientEntry {
                id: BOB,
                name: name("bob"),
            },
            v2::ClientEntry {
                id: CAROL,
                name: name("carol"),
            },
        ])),
    );
    m.insert(
        "v2-public-key",
        resp2(v2::Response::PublicKey(v2::PublicKeyEntry {
            client_id: BOB,
            public_key: PublicKey([0xcd; 160]),
        })),
    );
    m.insert(
        "v2-message-stored",
        resp2(v2::Response::MessageStored(v2::MessageStored {
            destination: BOB,
            message_id: 7,
        })),
    );
    m.insert(
        "v2-messages",
        resp2(v2::Response::Messages(vec![
            v2::PulledMessage {
                sender: ALICE,
                message_id: 7,
                kind: MessageKind::SymmetricKeyRequest,
                content: Bytes::new(),
            },
            v2::PulledMessage {
                sender: ALICE,
                message_id: 8,
                kind: MessageKind::Text,
                content: Bytes::from_static(b"hello"),
            },
        ])),
    );
    m.insert("v2-error", resp2(v2::Response::Error));
    // Version 3 requests.
    m.insert(
        "v3-register",
        req3(
            ClientId::NIL,
            v3::Request::Register(v3::Register {
                name: name("alice"),
                public_key: bundle(),
            }),
        ),
    );
    m.insert(
        "v3-list-clients",
        req3(
            ALICE,
            v3::Request::ListClients {
                after: ClientId::NIL,
            },
        ),
    );
    m.insert(
        "v3-get-public-key",
        req3(ALICE, v3::Request::GetPublicKey(BOB)),
    );
    m.insert(
        "v3-send-message",
        req3(
            ALICE,
            v3::Request::SendMessage(v3::SendMessage {
                destination: BOB,
                kind: MessageKind::Text,
                content: Bytes::from_static(&[0x5e; 20]),
            }),
        ),
    );
    m.insert(
        "v3-pull",
        req3(
            BOB,
            v3::Request::Pull(Pull {
                max_messages: 100,
                max_bytes: 65_536,
            }),
        ),
    );
    m.insert("v3-ack", req3(BOB, v3::Request::Ack(vec![42, 43])));
    m.insert(
        "v3-lookup-name",
        req3(ALICE, v3::Request::LookupName(name("bob"))),
    );
    m.insert(
        "v3-hello",
        req3(
            ALICE,
            v3::Request::Hello(Hello {
                client_nonce: [0x01; 32],
            }),
        ),
    );
    m.insert(
        "v3-authenticate",
        req3(ALICE, v3::Request::Authenticate([0x5a; 64])),
    );
    m.insert("v3-subscribe", req3(BOB, v3::Request::Subscribe));
    m.insert(
        "v3-ping",
        req3(ALICE, v3::Request::Ping(0x0102_0304_0506_0708)),
    );
    m.insert(
        "v3-delete-account",
        req3(ALICE, v3::Request::DeleteAccount(name("alice"))),
    );
    m.insert(
        "v3-upload-begin",
        req3(
            ALICE,
            v3::Request::UploadBegin(UploadBegin {
                destination: BOB,
                file_size: 3_000_000,
                meta: Bytes::from_static(&[0xe1; 16]),
            }),
        ),
    );
    m.insert(
        "v3-upload-resume",
        req3(ALICE, v3::Request::UploadResume(UPLOAD)),
    );
    m.insert(
        "v3-upload-chunk",
        req3(
            ALICE,
            v3::Request::UploadChunk(UploadChunk {
                upload_id: UPLOAD,
                offset: 1_048_576,
                data: Bytes::from_static(&[0xab; 8]),
            }),
        ),
    );
    m.insert(
        "v3-upload-cancel",
        req3(ALICE, v3::Request::UploadCancel(UPLOAD)),
    );
    m.insert(
        "v3-download",
        req3(
            BOB,
            v3::Request::Download(Download {
                message_id: 43,
                offset: 0,
                max_len: 1_048_576,
            }),
        ),
    );
    // Version 3 responses.
    m.insert("v3-registered", resp3(v3::Response::Registered(ALICE)));
    m.insert(
        "v3-client-list",
        resp3(v3::Response::ClientList(ClientPage {
            more: false,
            clients: vec![
                v3::ClientEntry {
                    id: BOB,
                    name: name("bob"),
                },
                v3::ClientEntry {
                    id: CAROL,
                    name: name("carol"),
                },
            ],
        })),
    );
    m.insert(
        "v3-public-key",
        resp3(v3::Response::PublicKey(PeerKey {
            client_id: BOB,
            public_key: bundle(),
            name: name("bob"),
        })),
    );
    m.insert(
        "v3-message-stored",
        resp3(v3::Response::MessageStored(v3::MessageStored {
            destination: BOB,
            message_id: 42,
        })),
    );
    m.insert(
        "v3-messages",
        resp3(v3::Response::Messages(MessageBatch {
            more: true,
            messages: vec![
                Delivery {
                    sender: ALICE,
                    message_id: 42,
                    kind: MessageKind::Text,
                    sent_at_ms: SENT_AT,
                    content: Bytes::from_static(&[0x5e; 8]),
                },
                Delivery {
                    sender: ALICE,
                    message_id: 43,
                    kind: MessageKind::File,
                    sent_at_ms: SENT_AT + 1000,
                    content: file_offer,
                },
            ],
        })),
    );
    m.insert(
        "v3-acked",
        resp3(v3::Response::Acked(vec![
            v3::AckStatus::Removed,
            v3::AckStatus::NotWaiting,
        ])),
    );
    m.insert(
        "v3-challenge",
        resp3(v3::Response::Challenge(v3::Challenge {
            server_key: [0x9a; 32],
            server_nonce: [0x02; 32],
            signature: [0x5b; 64],
        })),
    );
    m.insert(
        "v3-authenticated",
        resp3(v3::Response::Authenticated(default_limits())),
    );
    m.insert(
        "v3-subscribed",
        resp3(v3::Response::Subscribed { waiting: 3 }),
    );
    m.insert("v3-pong", resp3(v3::Response::Pong(0x0102_0304_0506_0708)));
    m.insert(
        "v3-account-deleted",
        resp3(v3::Response::AccountDeleted(v3::AccountDeleted {
            messages: 3,
            bytes: 4096,
            uploads: 1,
        })),
    );
    m.insert(
        "v3-delivery",
        resp3(v3::Response::Delivery(Delivery {
            sender: ALICE,
            message_id: 44,
            kind: MessageKind::Text,
            sent_at_ms: SENT_AT + 2000,
            content: Bytes::from_static(&[0x5e; 8]),
        })),
    );
    m.insert(
        "v3-closing",
        resp3(v3::Response::Closing(ServerError::new(
            ErrorReason::IdleTimeout,
            "idle for 300 s",
        ))),
    );
    m.insert(
        "v3-upload-status",
        resp3(v3::Response::UploadStatus(UploadStatus {
            upload_id: UPLOAD,
            destination: BOB,
            file_size: 3_000_000,
            offset: 1_048_576,
        })),
    );
    m.insert(
        "v3-chunk-stored",
        resp3(v3::Response::ChunkStored(ChunkStored {
            upload_id: UPLOAD,
            next_offset: 1_048_584,
        })),
    );
    m.insert(
        "v3-file-sent",
        resp3(v3::Response::FileSent(FileSent {
            upload_id: UPLOAD,
            destination: BOB,
            message_id: 43,
        })),
    );
    m.insert(
        "v3-upload-cancelled",
        resp3(v3::Response::UploadCancelled(UPLOAD)),
    );
    m.insert(
        "v3-file-chunk",
        resp3(v3::Response::FileChunk(FileChunk {
            message_id: 43,
            offset: 0,
            data: Bytes::from_static(&[0x3c; 8]),
        })),
    );
    m.insert(
        "v3-error",
        resp3(v3::Response::Error(ServerError::new(
            ErrorReason::NameTaken,
            "name taken",
        ))),
    );
    m.insert(
        "v3-error-sender-bytes-full",
        resp3(v3::Response::Error(ServerError::new(
            ErrorReason::SenderBytesFull,
            "sender quota",
        ))),
    );
    m.insert(
        "v3-error-storage-full",
        resp3(v3::Response::Error(ServerError::new(
            ErrorReason::StorageFull,
            "server disk full",
        ))),
    );
    rooms::insert(&mut m);
    presence::insert(&mut m);
    joining::insert(&mut m);
    deleting::insert(&mut m);
    not_delivered::insert(&mut m);
    password::insert(&mut m);
    holding::insert(&mut m);
    m
}

/// The ```` ```hex NAME ```` blocks of a markdown document, as bytes, by name.
pub fn hex_blocks(markdown: &str) -> Result<BTreeMap<String, Vec<u8>>, String> {
    protocol::notation::blocks(markdown, "hex")
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|(name, body)| {
            protocol::notation::parse_hex(&body)
                .map(|bytes| (name.clone(), bytes))
                .map_err(|e| format!("example {name}: {e}"))
        })
        .collect()
}

/// Formats bytes in the document's notation, compressing runs of 8 or more.
pub fn to_notation(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let run = bytes[i..].iter().take_while(|x| **x == b).count();
        if run >= 8 {
            out.push_str(&format!("{b:02x}*{run} "));
            i += run;
        } else {
            out.push_str(&format!("{b:02x}"));
            i += 1;
            if i < bytes.len() && bytes[i..].iter().take_while(|x| **x == bytes[i]).count() >= 8 {
                out.push(' ');
            }
        }
    }
    out.trim_end().to_string()
}
