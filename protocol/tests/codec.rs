//! The codecs against hand-built frames: one test per rejection path, the
//! streaming of large version-2 bodies, and the encoder's guards.

mod common;

use bytes::{BufMut, Bytes, BytesMut};
use common::{ALICE, BOB};
use protocol::codec::{
    Body, ClientCodec, CodecLimits, Inbound, ResponseItem, STREAM_PIECE_LEN, ServerCodec,
    V2PullStart, V2SendStart,
};
use protocol::v2::{self, PulledMessageHeader, SendHeader};
use protocol::{
    ClientId, MessageKind, PayloadError, ProtocolError, Request, RequestFrame, RequestHeader,
    Response, ResponseHeader, v3,
};
use tokio_util::codec::{Decoder, Encoder};

fn header(version: u8, code: u8, len: u32) -> BytesMut {
    let mut buf = BytesMut::new();
    RequestHeader {
        client_id: ALICE,
        version,
        code,
        payload_len: len,
    }
    .write(&mut buf);
    buf
}

fn frame(version: u8, code: u8, payload: &[u8]) -> BytesMut {
    let mut buf = header(version, code, payload.len() as u32);
    buf.put_slice(payload);
    buf
}

fn decode_all(codec: &mut ServerCodec, buf: &mut BytesMut) -> Result<Vec<Inbound>, ProtocolError> {
    let mut out = Vec::new();
    while let Some(item) = codec.decode(buf)? {
        out.push(item);
    }
    Ok(out)
}

fn server_error(bytes: &mut BytesMut) -> ProtocolError {
    match ServerCodec::default().decode(bytes) {
        Err(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn invalid(bytes: &mut BytesMut) -> PayloadError {
    match ServerCodec::default().decode(bytes) {
        Ok(Some(Inbound::Invalid { error, .. })) => error,
        other => panic!("expected an invalid payload, got {other:?}"),
    }
}

fn send_payload(kind: u8, declared: u32, content: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(BOB.as_bytes());
    p.push(kind);
    p.extend_from_slice(&declared.to_le_bytes());
    p.extend_from_slice(content);
    p
}

fn register_payload(name: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 415];
    p[..name.len()].copy_from_slice(name);
    p
}

#[test]
fn rejects_unknown_version_from_the_header_alone() {
    for version in [0, 1, 4, 0xff] {
        let err = server_error(&mut header(version, 100, 415));
        assert!(matches!(err, ProtocolError::UnsupportedVersion(v) if v == version));
    }
}

#[test]
fn rejects_unknown_request_codes() {
    let err = server_error(&mut header(2, 105, 0));
    assert!(matches!(
        err,
        ProtocolError::UnknownRequest {
            version: 2,
            code: 105
        }
    ));
    let err = server_error(&mut header(3, 99, 0));
    assert!(matches!(
        err,
        ProtocolError::UnknownRequest {
            version: 3,
            code: 99
        }
    ));
}

#[test]
fn rejects_oversize_fixed_payload_without_reading_it() {
    let err = server_error(&mut header(2, 100, 416));
    assert!(matches!(
        err,
        ProtocolError::InvalidPayload {
            source: PayloadError::WrongSize {
                expected: 415,
                actual: 416
            },
            ..
        }
    ));
    let err = server_error(&mut header(3, 104, u32::MAX));
    assert!(matches!(err, ProtocolError::InvalidPayload { .. }));
}

#[test]
fn rejects_oversize_variable_payload_without_reading_it() {
    let max = 21 + protocol::MAX_MESSAGE_LEN as u32;
    let err = server_error(&mut header(3, 103, max + 1));
    assert!(matches!(err, ProtocolError::FrameTooLarge { len, .. } if len == max + 1));
    let err = server_error(&mut header(3, 122, u32::MAX));
    assert!(matches!(err, ProtocolError::FrameTooLarge { .. }));
}

#[test]
fn rejects_v2_send_over_the_configured_limit() {
    let mut codec = ServerCodec::new(CodecLimits {
        v2_max_content: 1000,
        ..CodecLimits::default()
    });
    let mut buf = header(2, 103, 21 + 1001);
    assert!(matches!(
        codec.decode(&mut buf),
        Err(ProtocolError::FrameTooLarge {
            len: 1022,
            max: 1021,
            ..
        })
    ));
    let mut ok = frame(2, 103, &send_payload(3, 1000, &[7; 1000]));
    assert!(matches!(
        codec.decode(&mut ok),
        Ok(Some(Inbound::Request(_)))
    ));
}

#[test]
fn short_fixed_payload_is_invalid_and_the_stream_goes_on() {
    let mut buf = frame(3, 102, &[1, 2, 3]);
    buf.extend_from_slice(&frame(3, 113, &42u64.to_le_bytes()));
    let items = decode_all(&mut ServerCodec::default(), &mut buf).unwrap();
    assert!(matches!(
        &items[0],
        Inbound::Invalid {
            error: PayloadError::WrongSize {
                expected: 16,
                actual: 3
            },
            ..
        }
    ));
    assert!(matches!(
        &items[1],
        Inbound::Request(RequestFrame {
            request: Request::V3(v3::Request::Ping(42)),
            ..
        })
    ));
}

#[test]
fn rejects_register_with_wrong_size() {
    assert_eq!(
        invalid(&mut frame(2, 100, &[0; 414])),
        PayloadError::WrongSize {
            expected: 415,
            actual: 414
        }
    );
}

#[test]
fn rejects_bad_names_in_register() {
    let mut unterminated = register_payload(&[b'a'; 255]);
    unterminated.truncate(415);
    assert_eq!(
        invalid(&mut frame(2, 100, &unterminated)),
        PayloadError::NameNotTerminated
    );
    assert_eq!(
        invalid(&mut frame(2, 100, &register_payload(b""))),
        PayloadError::NameEmpty
    );
    assert_eq!(
        invalid(&mut frame(2, 100, &register_payload(&[0xc3, 0x28]))),
        PayloadError::NameNotUtf8
    );
    assert_eq!(
        invalid(&mut frame(3, 100, &register_payload(b"eve\x07"))),
        PayloadError::NameControlChar
    );
    assert_eq!(
        invalid(&mut frame(3, 100, &register_payload(b"eve\0x"))),
        PayloadError::NamePadding
    );
}

#[test]
fn rejects_bad_message_types() {
    for kind in [0, 5, 0xff] {
        assert_eq!(
            invalid(&mut frame(2, 103, &send_payload(kind, 1, b"x"))),
            PayloadError::BadMessageType(kind)
        );
    }
    // Version 3 sends files through uploads only, and only the server makes
    // room welcomes.
    for kind in [4, 5, 6] {
        assert_eq!(
            invalid(&mut frame(3, 103, &send_payload(kind, 1, b"x"))),
            PayloadError::BadMessageType(kind)
        );
    }
}

#[test]
fn rejects_content_size_not_matching_the_frame() {
    assert_eq!(
        invalid(&mut frame(2, 103, &send_payload(3, 5, b"abc"))),
        PayloadError::ContentSizeMismatch {
            declared: 5,
            actual: 3
        }
    );
    assert!(matches!(
        invalid(&mut frame(2, 103, &send_payload(3, 0, b"")[..20])),
        PayloadError::Truncated { .. }
    ));
}

#[test]
fn rejects_streamed_send_whose_content_size_lies() {
    let content_len = 200_000u32;
    let mut buf = header(2, 103, 21 + content_len);
    buf.extend_from_slice(&send_payload(3, content_len + 1, b""));
    let err = server_error(&mut buf);
    assert!(matches!(
        err,
        ProtocolError::InvalidPayload {
            source: PayloadError::ContentSizeMismatch { .. },
            ..
        }
    ));
}

#[test]
fn rejects_v3_out_of_range_fields() {
    // Ack of zero ids, and an ack whose count disagrees with its size.
    assert!(matches!(
        invalid(&mut frame(3, 105, &[0, 0, 1, 0, 0, 0, 0, 0, 0, 0])),
        PayloadError::OutOfRange {
            field: "id count",
            ..
        }
    ));
    assert!(matches!(
        invalid(&mut frame(3, 105, &[2, 0, 1, 0, 0, 0, 0, 0, 0, 0])),
        PayloadError::WrongSize {
            expected: 18,
            actual: 10
        }
    ));
    // An upload of an empty file.
    let mut begin = BOB.as_bytes().to_vec();
    begin.extend_from_slice(&0u64.to_le_bytes());
    begin.extend_from_slice(&0u16.to_le_bytes());
    assert!(matches!(
        invalid(&mut frame(3, 120, &begin)),
        PayloadError::OutOfRange {
            field: "file size",
            ..
        }
    ));
    // An empty chunk.
    assert!(matches!(
        invalid(&mut frame(3, 122, &[0; 24])),
        PayloadError::OutOfRange {
            field: "chunk size",
            ..
        }
    ));
    // A download of zero bytes.
    assert!(matches!(
        invalid(&mut frame(3, 124, &[0; 20])),
        PayloadError::OutOfRange {
            field: "max length",
            ..
        }
    ));
    // Meta longer than the frame.
    let mut begin = BOB.as_bytes().to_vec();
    begin.extend_from_slice(&1u64.to_le_bytes());
    begin.extend_from_slice(&10u16.to_le_bytes());
    begin.extend_from_slice(&[1, 2, 3]);
    assert!(matches!(
        invalid(&mut frame(3, 120, &begin)),
        PayloadError::Truncated { .. }
    ));
}

#[test]
fn truncated_frame_at_eof_is_an_error() {
    let mut codec = ServerCodec::default();
    let mut half_header = BytesMut::from(&header(3, 113, 8)[..10]);
    assert!(matches!(
        codec.decode_eof(&mut half_header),
        Err(ProtocolError::Truncated { buffered: 10 })
    ));

    let mut codec = ServerCodec::default();
    let mut no_payload = header(3, 113, 8);
    assert!(matches!(
        codec.decode_eof(&mut no_payload),
        Err(ProtocolError::Truncated { .. })
    ));

    let mut codec = ServerCodec::default();
    let mut empty = BytesMut::new();
    assert!(matches!(codec.decode_eof(&mut empty), Ok(None)));
}

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
