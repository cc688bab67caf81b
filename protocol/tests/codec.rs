//! The server codec against hand-built frames: one test per rejection
//! path (the streaming of large bodies is in `streams.rs`).

mod common;

use bytes::BytesMut;
use common::BOB;
use common::frames::{decode_all, frame, header, send_payload};
use protocol::codec::{CodecLimits, Inbound, ServerCodec};
use protocol::{PayloadError, ProtocolError, Request, RequestFrame, v3};
use tokio_util::codec::Decoder;

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
