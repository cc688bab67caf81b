//! Properties of the codec:
//! 1. decode(encode(x)) == x for arbitrary requests and responses of both versions;
//! 2. a stream of frames split at arbitrary points decodes to the same frames;
//! 3. arbitrary bytes never panic and never grow the buffer past the limits;
//! 4. an oversize header is refused before any payload is buffered.
//!
//! The room codes' strategies are in `roundtrip_parts/rooms.rs`.

mod common;
#[path = "roundtrip_parts/rooms.rs"]
mod rooms;

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use protocol::codec::{
    ClientCodec, CodecLimits, Inbound, ResponseItem, ServerCodec, request_payload_bounds,
    response_payload_max,
};
use protocol::v3::{self, FileOffer};
use protocol::{
    ClientId, ErrorReason, MAX_FRAME_LEN, MessageKind, Name, PublicKey, Request, RequestCode,
    RequestFrame, RequestHeader, Response, ResponseCode, ResponseHeader, UploadId, v2,
};
use tokio_util::codec::Decoder;

fn client_id() -> impl Strategy<Value = ClientId> {
    any::<[u8; 16]>().prop_map(ClientId)
}

fn upload_id() -> impl Strategy<Value = UploadId> {
    any::<[u8; 16]>().prop_map(UploadId)
}

fn name() -> impl Strategy<Value = Name> {
    prop_oneof!["[^\\p{Cc}]{1,30}", "[a-z]{240,254}",]
        .prop_filter_map("valid name", |s| Name::new(s).ok())
}

fn public_key() -> impl Strategy<Value = PublicKey> {
    vec(any::<u8>(), 160).prop_map(|v| {
        let mut k = [0u8; 160];
        k.copy_from_slice(&v);
        PublicKey(k)
    })
}

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

fn nonempty_bytes(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 1..=max).prop_map(Bytes::from)
}

fn kind() -> impl Strategy<Value = MessageKind> {
    prop_oneof![
        Just(MessageKind::SymmetricKeyRequest),
        Just(MessageKind::SymmetricKey),
        Just(MessageKind::Text),
        Just(MessageKind::File),
    ]
}

fn inline_kind() -> impl Strategy<Value = MessageKind> {
    prop_oneof![
        Just(MessageKind::SymmetricKeyRequest),
        Just(MessageKind::SymmetricKey),
        Just(MessageKind::Text),
    ]
}

fn array64() -> impl Strategy<Value = [u8; 64]> {
    vec(any::<u8>(), 64).prop_map(|v| {
        let mut a = [0u8; 64];
        a.copy_from_slice(&v);
        a
    })
}

fn v2_request() -> impl Strategy<Value = v2::Request> {
    prop_oneof![
        (name(), public_key()).prop_map(|(name, public_key)| v2::Request::Register(v2::Register {
            name,
            public_key
        })),
        Just(v2::Request::ListClients),
        client_id().prop_map(v2::Request::GetPublicKey),
        (client_id(), kind(), bytes(2000)).prop_map(|(destination, kind, content)| {
            v2::Request::SendMessage(v2::SendMessage {
                destination,
                kind,
                content,
            })
        }),
        Just(v2::Request::Pull),
    ]
}

fn v3_request() -> impl Strategy<Value = v3::Request> {
    prop_oneof![
        (name(), public_key()).prop_map(|(name, public_key)| v3::Request::Register(v3::Register {
            name,
            public_key
        })),
        client_id().prop_map(|after| v3::Request::ListClients { after }),
        client_id().prop_map(v3::Request::GetPublicKey),
        (client_id(), inline_kind(), bytes(2000)).prop_map(|(destination, kind, content)| {
            v3::Request::SendMessage(v3::SendMessage {
                destination,
                kind,
                content,
            })
        }),
        (any::<u16>(), any::<u32>()).prop_map(|(max_messages, max_bytes)| v3::Request::Pull(
            v3::Pull {
                max_messages,
                max_bytes
            }
        )),
        vec(any::<u64>(), 1..50).prop_map(v3::Request::Ack),
        name().prop_map(v3::Request::LookupName),
        name().prop_map(v3::Request::DeleteAccount),
        (any::<bool>(), any::<bool>(), client_id()).prop_map(|(show, watch, after)| {
            v3::Request::Presence(v3::Presence { show, watch, after })
        }),
        any::<[u8; 32]>().prop_map(|client_nonce| v3::Request::Hello(v3::Hello { client_nonce })),
        array64().prop_map(v3::Request::Authenticate),
        Just(v3::Request::Subscribe),
        any::<u64>().prop_map(v3::Request::Ping),
        (client_id(), 1..u64::MAX, bytes(200)).prop_map(|(destination, file_size, meta)| {
            v3::Request::UploadBegin(v3::UploadBegin {
                destination,
                file_size,
                meta,
            })
        }),
        upload_id().prop_map(v3::Request::UploadResume),
        (upload_id(), any::<u64>(), nonempty_bytes(3000)).prop_map(|(upload_id, offset, data)| {
            v3::Request::UploadChunk(v3::UploadChunk {
                upload_id,
                offset,
                data,
            })
        }),
        upload_id().prop_map(v3::Request::UploadCancel),
        (
            any::<u64>(),
            any::<u64>(),
            1..=protocol::MAX_CHUNK_LEN as u32
        )
            .prop_map(|(message_id, offset, max_len)| v3::Request::Download(
                v3::Download {
                    message_id,
                    offset,
                    max_len
                }
            )),
    ]
}

fn request_frame() -> impl Strategy<Value = RequestFrame> {
    (
        client_id(),
        prop_oneof![
            v2_request().prop_map(Request::V2),
            v3_request().prop_map(Request::V3),
            rooms::request().prop_map(Request::V3)
        ],
    )
        .prop_map(|(client_id, request)| RequestFrame { client_id, request })
}

fn v2_response() -> impl Strategy<Value = v2::Response> {
    prop_oneof![
        client_id().prop_map(v2::Response::Registered),
        vec((client_id(), name()), 0..20).prop_map(|v| v2::Response::ClientList(
            v.into_iter()
                .map(|(id, name)| v2::ClientEntry { id, name })
                .collect()
        )),
        (client_id(), public_key()).prop_map(|(client_id, public_key)| v2::Response::PublicKey(
            v2::PublicKeyEntry {
                client_id,
                public_key
            }
        )),
        (client_id(), any::<u32>()).prop_map(|(destination, message_id)| {
            v2::Response::MessageStored(v2::MessageStored {
                destination,
                message_id,
            })
        }),
        vec((client_id(), any::<u32>(), kind(), bytes(500)), 0..10).prop_map(|v| {
            v2::Response::Messages(
                v.into_iter()
                    .map(|(sender, message_id, kind, content)| v2::PulledMessage {
                        sender,
                        message_id,
                        kind,
                        content,
                    })
                    .collect(),
            )
        }),
        Just(v2::Response::Error),
    ]
}

fn reason() -> impl Strategy<Value = ErrorReason> {
    prop_oneof![
        proptest::sample::select(ErrorReason::ALL.to_vec()),
        any::<u16>()
            .prop_filter("unassigned code", |c| ErrorReason::ALL
                .iter()
                .all(|r| r.code() != *c))
            .prop_map(ErrorReason::Unrecognized),
    ]
}

fn server_error() -> impl Strategy<Value = v3::ServerError> {
    (reason(), ".{0,80}").prop_map(|(reason, text)| v3::ServerError::new(reason, text))
}

fn delivery() -> impl Strategy<Value = v3::Delivery> {
    let content = prop_oneof![
        (inline_kind(), bytes(500)),
        (any::<u64>(), bytes(100)).prop_map(|(size, meta)| (
            MessageKind::File,
            FileOffer { size, meta }.encode().unwrap()
        )),
    ];
    (client_id(), any::<u64>(), any::<u64>(), content).prop_map(
        |(sender, message_id, sent_at_ms, (kind, content))| v3::Delivery {
            sender,
            message_id,
            kind,
            sent_at_ms,
            content,
        },
    )
}

fn v3_response() -> impl Strategy<Value = v3::Response> {
    prop_oneof![
        client_id().prop_map(v3::Response::Registered),
        (any::<bool>(), vec((client_id(), name()), 0..20)).prop_map(|(more, v)| {
            v3::Response::Online(v3::ClientPage {
                more,
                clients: v
                    .into_iter()
                    .map(|(id, name)| v3::ClientEntry { id, name })
                    .collect(),
            })
        }),
        (any::<bool>(), vec((client_id(), any::<bool>()), 0..50)).prop_map(|(resync, v)| {
            v3::Response::PresenceChanges(v3::PresenceChanges {
                resync,
                changes: v
                    .into_iter()
                    .map(|(client, online)| v3::PresenceChange { client, online })
                    .collect::<Vec<_>>()
                    .into(),
            })
        }),
        (any::<bool>(), vec((client_id(), name()), 0..20)).prop_map(|(more, v)| {
            v3::Response::ClientList(v3::ClientPage {
                more,
                clients: v
                    .into_iter()
                    .map(|(id, name)| v3::ClientEntry { id, name })
                    .collect(),
            })
        }),
        (client_id(), public_key(), name()).prop_map(|(client_id, public_key, name)| {
            v3::Response::PublicKey(v3::PeerKey {
                client_id,
                public_key,
                name,
            })
        }),
        (client_id(), any::<u64>()).prop_map(|(destination, message_id)| {
            v3::Response::MessageStored(v3::MessageStored {
                destination,
                message_id,
            })
        }),
        (any::<bool>(), vec(delivery(), 0..10)).prop_map(
            |(more, messages)| v3::Response::Messages(v3::MessageBatch { more, messages })
        ),
        vec(any::<bool>(), 1..100).prop_map(|v| v3::Response::Acked(
            v.into_iter()
                .map(|b| if b {
                    v3::AckStatus::Removed
                } else {
                    v3::AckStatus::NotWaiting
                })
                .collect()
        )),
        (any::<[u8; 32]>(), any::<[u8; 32]>(), array64()).prop_map(
            |(server_key, server_nonce, signature)| v3::Response::Challenge(v3::Challenge {
                server_key,
                server_nonce,
                signature
            })
        ),
        (any::<(u32, u32, u64, u16)>(), any::<(u16, u32, u32, u32)>()).prop_map(
            |((a, b, c, d), (e, f, g, h))| v3::Response::Authenticated(v3::ServerLimits {
                max_message_len: a,
                max_chunk_len: b,
                max_file_size: c,
                max_pull_messages: d,
                max_ack_ids: e,
                max_pull_bytes: f,
                requests_per_second: g,
                idle_timeout_secs: h,
            })
        ),
        any::<u32>().prop_map(|waiting| v3::Response::Subscribed { waiting }),
        any::<u64>().prop_map(v3::Response::Pong),
        (any::<u64>(), any::<u64>(), any::<u32>()).prop_map(|(messages, bytes, uploads)| {
            v3::Response::AccountDeleted(v3::AccountDeleted {
                messages,
                bytes,
                uploads,
            })
        }),
        delivery().prop_map(v3::Response::Delivery),
        server_error().prop_map(v3::Response::Closing),
        (upload_id(), client_id(), any::<u64>(), any::<u64>()).prop_map(
            |(upload_id, destination, file_size, offset)| v3::Response::UploadStatus(
                v3::UploadStatus {
                    upload_id,
                    destination,
                    file_size,
                    offset
                }
            )
        ),
        (upload_id(), any::<u64>()).prop_map(|(upload_id, next_offset)| {
            v3::Response::ChunkStored(v3::ChunkStored {
                upload_id,
                next_offset,
            })
        }),
        (upload_id(), client_id(), any::<u64>()).prop_map(
            |(upload_id, destination, message_id)| v3::Response::FileSent(v3::FileSent {
                upload_id,
                destination,
                message_id
            })
        ),
        upload_id().prop_map(v3::Response::UploadCancelled),
        (any::<u64>(), any::<u64>(), bytes(3000)).prop_map(|(message_id, offset, data)| {
            v3::Response::FileChunk(v3::FileChunk {
                message_id,
                offset,
                data,
            })
        }),
        server_error().prop_map(v3::Response::Error),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    prop_oneof![
        v2_response().prop_map(Response::V2),
        v3_response().prop_map(Response::V3),
        rooms::response().prop_map(Response::V3)
    ]
}

fn decode_requests(buf: &mut BytesMut) -> Vec<RequestFrame> {
    let mut codec = ServerCodec::default();
    let mut out = Vec::new();
    while let Some(item) = codec.decode(buf).unwrap() {
        match item {
            Inbound::Request(f) => out.push(f),
            other => panic!("unexpected {other:?}"),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn requests_round_trip(frame in request_frame()) {
        let mut buf = BytesMut::new();
        frame.encode(&mut buf).unwrap();
        let decoded = ServerCodec::default().decode_eof(&mut buf).unwrap();
        prop_assert_eq!(decoded, Some(Inbound::Request(frame)));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn responses_round_trip(response in response()) {
        let mut buf = BytesMut::new();
        response.encode(&mut buf).unwrap();
        let decoded = ClientCodec::default().decode_eof(&mut buf).unwrap();
        prop_assert_eq!(decoded, Some(ResponseItem::Response(response)));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn split_stream_decodes_to_the_same_frames(
        frames in vec(request_frame(), 1..6),
        cuts in vec(1usize..700, 1..40),
    ) {
        let mut whole = BytesMut::new();
        for f in &frames {
            f.encode(&mut whole).unwrap();
        }
        let expected = decode_requests(&mut whole.clone());
        prop_assert_eq!(&expected, &frames);

        let mut codec = ServerCodec::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut rest = &whole[..];
        let mut cut = cuts.iter().cycle();
        while !rest.is_empty() {
            let n = (*cut.next().unwrap()).min(rest.len());
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                match item {
                    Inbound::Request(f) => got.push(f),
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        prop_assert_eq!(got, frames);
        prop_assert!(codec.is_idle());
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_server_decoder(data in vec(any::<u8>(), 0..4096)) {
        let mut codec = ServerCodec::default();
        let mut buf = BytesMut::from(&data[..]);
        while let Ok(Some(_)) = codec.decode(&mut buf) {}
        prop_assert!(buf.capacity() <= 2 * MAX_FRAME_LEN + 4096);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_client_decoder(data in vec(any::<u8>(), 0..4096)) {
        let mut codec = ClientCodec::new(CodecLimits { v2_max_list_len: 1 << 20, ..CodecLimits::default() });
        let mut buf = BytesMut::from(&data[..]);
        while let Ok(Some(_)) = codec.decode(&mut buf) {}
        prop_assert!(buf.capacity() <= 2 * MAX_FRAME_LEN + 4096);
    }

    /// A valid header over random payload bytes reaches every payload parser.
    #[test]
    fn random_payloads_never_panic_any_request_parser(
        version in 2u8..=3,
        code in proptest::sample::select(RequestCode::ALL.to_vec()),
        payload in vec(any::<u8>(), 0..600),
        client in client_id(),
    ) {
        let mut buf = BytesMut::new();
        RequestHeader { client_id: client, version, code: code.value(), payload_len: payload.len() as u32 }
            .write(&mut buf);
        buf.extend_from_slice(&payload);
        let _ = ServerCodec::default().decode_eof(&mut buf);
    }

    #[test]
    fn random_payloads_never_panic_any_response_parser(
        version in 2u8..=3,
        code in proptest::sample::select(ResponseCode::ALL.to_vec()),
        payload in vec(any::<u8>(), 0..600),
    ) {
        let mut buf = BytesMut::new();
        ResponseHeader { version, code: code.value(), payload_len: payload.len() as u32 }.write(&mut buf);
        buf.extend_from_slice(&payload);
        let _ = ClientCodec::default().decode_eof(&mut buf);
    }

    #[test]
    fn oversize_header_fails_before_any_payload_is_buffered(
        version in 2u8..=3,
        code in proptest::sample::select(RequestCode::ALL.to_vec()),
        excess in 1u64..=u32::MAX as u64,
    ) {
        prop_assume!(version == 3 || code.in_v2());
        let (_, max) = request_payload_bounds(version, code, &CodecLimits::default());
        prop_assume!(max < u32::MAX as u64);
        let len = (max + excess).min(u32::MAX as u64) as u32;
        let mut buf = BytesMut::new();
        RequestHeader { client_id: ClientId::NIL, version, code: code.value(), payload_len: len }
            .write(&mut buf);
        let capacity = buf.capacity();
        prop_assert!(ServerCodec::default().decode(&mut buf).is_err());
        prop_assert_eq!(buf.capacity(), capacity);
    }

    #[test]
    fn oversize_response_header_fails_before_any_payload_is_buffered(
        version in 2u8..=3,
        code in proptest::sample::select(ResponseCode::ALL.to_vec()),
        excess in 1u64..=u32::MAX as u64,
    ) {
        prop_assume!(version == 3 || code.in_v2());
        let max = response_payload_max(version, code, &CodecLimits::default());
        prop_assume!(max < u32::MAX as u64);
        let len = (max + excess).min(u32::MAX as u64) as u32;
        let mut buf = BytesMut::new();
        ResponseHeader { version, code: code.value(), payload_len: len }.write(&mut buf);
        let capacity = buf.capacity();
        prop_assert!(ClientCodec::default().decode(&mut buf).is_err());
        prop_assert_eq!(buf.capacity(), capacity);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Streamed version-2 sends survive any split of the byte stream.
    #[test]
    fn streamed_send_survives_any_split(
        len in 65_536usize..400_000,
        cuts in vec(1usize..100_000, 1..20),
    ) {
        let content: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let frame = RequestFrame {
            client_id: ClientId([1; 16]),
            request: Request::V2(v2::Request::SendMessage(v2::SendMessage {
                destination: ClientId([2; 16]),
                kind: MessageKind::File,
                content: Bytes::from(content.clone()),
            })),
        };
        let mut whole = BytesMut::new();
        frame.encode(&mut whole).unwrap();
        let mut codec = ServerCodec::default();
        let mut buf = BytesMut::new();
        let mut body = Vec::new();
        let mut rest = &whole[..];
        let mut cut = cuts.iter().cycle();
        let mut finished = false;
        while !rest.is_empty() {
            let n = (*cut.next().unwrap()).min(rest.len());
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                match item {
                    Inbound::SendStart { header, .. } => prop_assert_eq!(header.content_len as usize, len),
                    Inbound::SendChunk { data, last } => { body.extend_from_slice(&data); finished = last; }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        prop_assert!(finished);
        prop_assert_eq!(body, content);
    }
}

/// A name of two-byte characters exactly at the 254-byte limit fits the
/// 255-byte field with its NUL (the strategies rarely reach this edge).
#[test]
fn name_of_multibyte_characters_at_the_limit() {
    let name = Name::new("é".repeat(127)).unwrap();
    let frame = RequestFrame {
        client_id: ClientId::NIL,
        request: Request::V2(v2::Request::Register(v2::Register {
            name,
            public_key: common::bundle(),
        })),
    };
    let mut buf = BytesMut::new();
    frame.encode(&mut buf).unwrap();
    assert_eq!(decode_requests(&mut buf), vec![frame]);
}
