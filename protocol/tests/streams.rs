//! The codecs' streaming of large version-2 bodies (sends and pulls) in
//! bounded pieces, the encoders' guards, and the client's rejections of
//! bad responses.

mod common;

use bytes::{BufMut, Bytes, BytesMut};
use common::frames::{decode_all, frame, send_payload};
use common::{ALICE, BOB};
use protocol::codec::{
    Body, ClientCodec, Inbound, ResponseItem, STREAM_PIECE_LEN, ServerCodec, V2PullStart,
    V2SendStart,
};
use protocol::v2::{self, PulledMessageHeader, SendHeader};
use protocol::{
    ClientId, MessageKind, PayloadError, ProtocolError, Request, RequestFrame, Response,
    ResponseHeader, v3,
};
use tokio_util::codec::{Decoder, Encoder};

#[test]
fn large_v2_send_streams_in_bounded_pieces() {
    let content: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
    let mut buf = frame(2, 103, &send_payload(4, content.len() as u32, &content));
    buf.extend_from_slice(&frame(2, 104, &[]));
    let items = decode_all(&mut ServerCodec::default(), &mut buf).unwrap();
    let Inbound::SendStart { client_id, header } = &items[0] else {
        panic!("expected a send start, got {:?}", items[0]);
    };
    assert_eq!(*client_id, ALICE);
    assert_eq!(header.destination, BOB);
    assert_eq!(header.kind, MessageKind::File);
    assert_eq!(header.content_len, 300_000);
    let mut body = Vec::new();
    let mut last_seen = false;
    for item in &items[1..items.len() - 1] {
        let Inbound::SendChunk { data, last } = item else {
            panic!("expected a chunk, got {item:?}");
        };
        assert!(!last_seen);
        assert!(data.len() <= STREAM_PIECE_LEN);
        body.extend_from_slice(data);
        last_seen = *last;
    }
    assert!(last_seen);
    assert_eq!(body, content);
    assert!(matches!(
        items.last(),
        Some(Inbound::Request(RequestFrame {
            request: Request::V2(v2::Request::Pull),
            ..
        }))
    ));
}

#[test]
fn streamed_send_fed_byte_by_byte_yields_the_same_body() {
    let content = vec![0x42u8; 70_000];
    let whole = frame(2, 103, &send_payload(3, content.len() as u32, &content));
    let mut codec = ServerCodec::default();
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    let mut done = false;
    for b in whole.iter() {
        buf.put_u8(*b);
        while let Some(item) = codec.decode(&mut buf).unwrap() {
            match item {
                Inbound::SendStart { header, .. } => assert_eq!(header.content_len, 70_000),
                Inbound::SendChunk { data, last } => {
                    body.extend_from_slice(&data);
                    done = last;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert!(done);
    assert_eq!(body, content);
    assert!(codec.is_idle());
}

#[test]
fn client_streams_a_v2_send_that_the_server_decodes() {
    let content = Bytes::from(vec![9u8; 100_000]);
    let mut client = ClientCodec::default();
    let mut wire = BytesMut::new();
    client
        .encode(
            V2SendStart {
                client_id: ALICE,
                header: SendHeader {
                    destination: BOB,
                    kind: MessageKind::File,
                    content_len: content.len() as u32,
                },
            }
            .into(),
            &mut wire,
        )
        .unwrap();
    for piece in content.chunks(30_000) {
        client
            .encode(Body(Bytes::copy_from_slice(piece)).into(), &mut wire)
            .unwrap();
    }
    // The body is complete, so a new request may follow.
    client
        .encode(
            RequestFrame {
                client_id: ALICE,
                request: Request::V2(v2::Request::Pull),
            }
            .into(),
            &mut wire,
        )
        .unwrap();
    let items = decode_all(&mut ServerCodec::default(), &mut wire).unwrap();
    let body: Vec<u8> = items
        .iter()
        .filter_map(|i| match i {
            Inbound::SendChunk { data, .. } => Some(data.to_vec()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(body, content);
}

#[test]
fn encoders_refuse_misuse_of_streams() {
    let mut client = ClientCodec::default();
    let mut wire = BytesMut::new();
    assert!(matches!(
        client.encode(Body(Bytes::from_static(b"x")).into(), &mut wire),
        Err(ProtocolError::StreamMisuse(_))
    ));
    client
        .encode(
            V2SendStart {
                client_id: ALICE,
                header: SendHeader {
                    destination: BOB,
                    kind: MessageKind::Text,
                    content_len: 2,
                },
            }
            .into(),
            &mut wire,
        )
        .unwrap();
    let ping = RequestFrame {
        client_id: ALICE,
        request: Request::V3(v3::Request::Ping(1)),
    };
    assert!(matches!(
        client.encode(ping.into(), &mut wire),
        Err(ProtocolError::StreamMisuse(_))
    ));
    assert!(matches!(
        client.encode(Body(Bytes::from_static(b"abc")).into(), &mut wire),
        Err(ProtocolError::StreamMisuse(_))
    ));

    let mut server = ServerCodec::default();
    server
        .encode(V2PullStart { payload_len: 30 }.into(), &mut wire)
        .unwrap();
    assert!(matches!(
        server.encode(Response::V2(v2::Response::Error).into(), &mut wire),
        Err(ProtocolError::StreamMisuse(_))
    ));
    let too_big = PulledMessageHeader {
        sender: ALICE,
        message_id: 1,
        kind: MessageKind::Text,
        content_len: 6,
    };
    assert!(matches!(
        server.encode(too_big.into(), &mut wire),
        Err(ProtocolError::StreamMisuse(_))
    ));
}

/// Builds a streamed 1004 the way a server does, and decodes it as a client.
fn streamed_pull(messages: &[(u32, MessageKind, Vec<u8>)]) -> BytesMut {
    let mut server = ServerCodec::default();
    let mut wire = BytesMut::new();
    let total: usize = messages.iter().map(|(_, _, c)| 25 + c.len()).sum();
    server
        .encode(
            V2PullStart {
                payload_len: total as u32,
            }
            .into(),
            &mut wire,
        )
        .unwrap();
    for (id, kind, content) in messages {
        server
            .encode(
                PulledMessageHeader {
                    sender: ALICE,
                    message_id: *id,
                    kind: *kind,
                    content_len: content.len() as u32,
                }
                .into(),
                &mut wire,
            )
            .unwrap();
        for piece in content.chunks(10_000) {
            server
                .encode(Body(Bytes::copy_from_slice(piece)).into(), &mut wire)
                .unwrap();
        }
    }
    wire
}

#[test]
fn large_v2_pull_streams_to_the_client() {
    let messages = vec![
        (1, MessageKind::SymmetricKeyRequest, vec![]),
        (2, MessageKind::File, vec![0xaa; 150_000]),
        (3, MessageKind::Text, b"after the file".to_vec()),
    ];
    let mut wire = streamed_pull(&messages);
    let mut client = ClientCodec::default();
    let mut got: Vec<(u32, MessageKind, Vec<u8>)> = Vec::new();
    let mut ended = false;
    let mut started = false;
    while let Some(item) = client.decode(&mut wire).unwrap() {
        match item {
            ResponseItem::PullStart { .. } => started = true,
            ResponseItem::PulledHeader(h) => got.push((h.message_id, h.kind, Vec::new())),
            ResponseItem::PulledChunk { data, .. } => {
                assert!(data.len() <= STREAM_PIECE_LEN);
                got.last_mut().unwrap().2.extend_from_slice(&data);
            }
            ResponseItem::PullEnd => ended = true,
            ResponseItem::Response(r) => panic!("unexpected whole response {r:?}"),
        }
    }
    assert!(started && ended);
    assert_eq!(got, messages);
}

#[test]
fn small_v2_pull_arrives_whole() {
    let mut wire = streamed_pull(&[(5, MessageKind::Text, b"hi".to_vec())]);
    let item = ClientCodec::default().decode(&mut wire).unwrap();
    assert!(matches!(
        item,
        Some(ResponseItem::Response(Response::V2(v2::Response::Messages(m)))) if m.len() == 1
    ));
}

#[test]
fn client_rejects_a_pull_entry_longer_than_the_payload() {
    let mut wire = BytesMut::new();
    ResponseHeader {
        version: 2,
        code: 1004,
        payload_len: 100_000,
    }
    .write(&mut wire);
    PulledMessageHeader {
        sender: ALICE,
        message_id: 1,
        kind: MessageKind::Text,
        content_len: 100_000,
    }
    .write(&mut wire);
    let mut client = ClientCodec::default();
    assert!(matches!(
        client.decode(&mut wire),
        Ok(Some(ResponseItem::PullStart { .. }))
    ));
    assert!(matches!(
        client.decode(&mut wire),
        Err(ProtocolError::InvalidPayload {
            source: PayloadError::Truncated { .. },
            ..
        })
    ));
}

fn client_error(bytes: &[u8]) -> ProtocolError {
    match ClientCodec::default().decode(&mut BytesMut::from(bytes)) {
        Err(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn client_rejects_bad_responses() {
    // Unknown code, and a v3-only code in version 2.
    assert!(matches!(
        client_error(&[3, 0x39, 0x05, 0, 0, 0, 0]),
        ProtocolError::UnknownResponse { code: 1337, .. }
    ));
    assert!(matches!(
        client_error(&[2, 0x50, 0x04, 0, 0, 0, 0]),
        ProtocolError::UnknownResponse {
            version: 2,
            code: 1104
        }
    ));
    // A version-2 error with a payload, a 1000 with 17 bytes.
    assert!(matches!(
        client_error(&[2, 0x28, 0x23, 1, 0, 0, 0]),
        ProtocolError::FrameTooLarge { .. }
    ));
    assert!(matches!(
        client_error(&[3, 0xe8, 0x03, 17, 0, 0, 0]),
        ProtocolError::FrameTooLarge { .. }
    ));
    // An ack status that is neither 0 nor 1.
    assert!(matches!(
        client_error(&[3, 0xed, 0x03, 3, 0, 0, 0, 1, 0, 2]),
        ProtocolError::InvalidPayload {
            source: PayloadError::BadFlag { .. },
            ..
        }
    ));
    // A v2 list whose size is not a multiple of 271.
    let mut list = vec![2, 0xe9, 0x03, 10, 0, 0, 0];
    list.extend_from_slice(&[0; 10]);
    assert!(matches!(
        client_error(&list),
        ProtocolError::InvalidPayload { .. }
    ));
}

#[test]
fn error_text_is_cut_at_a_character_boundary() {
    let e = v3::ServerError::new(protocol::ErrorReason::Internal, "é".repeat(600));
    assert!(e.text.len() <= protocol::MAX_ERROR_TEXT_LEN);
    assert_eq!(e.text.len(), 1024);
    let e = v3::ServerError::new(
        protocol::ErrorReason::Internal,
        format!("x{}", "é".repeat(600)),
    );
    assert_eq!(e.text.len(), 1023);
}

#[test]
fn client_id_display_is_hex() {
    assert_eq!(ClientId([0xab; 16]).to_string(), "ab".repeat(16));
}
