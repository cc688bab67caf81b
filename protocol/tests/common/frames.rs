//! Frames for the codec tests: built by hand, byte by byte, to reach what
//! an encoder never writes, or encoded from typed values; and decoded whole.

use bytes::{BufMut, BytesMut};
use protocol::codec::{ClientCodec, Inbound, ResponseItem, ServerCodec};
use protocol::{
    PayloadError, ProtocolError, Request, RequestFrame, RequestHeader, Response, ResponseHeader, v3,
};
use tokio_util::codec::Decoder;

use super::{ALICE, BOB};

pub fn header(version: u8, code: u8, len: u32) -> BytesMut {
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

pub fn frame(version: u8, code: u8, payload: &[u8]) -> BytesMut {
    let mut buf = header(version, code, payload.len() as u32);
    buf.put_slice(payload);
    buf
}

/// A version-3 request of `code` from alice with exactly `payload`.
pub fn raw_request(code: u8, payload: &[u8]) -> BytesMut {
    frame(3, code, payload)
}

/// A version-3 response of `code` with exactly `payload`.
pub fn raw_response(code: u16, payload: &[u8]) -> BytesMut {
    let mut buf = BytesMut::new();
    ResponseHeader {
        version: 3,
        code,
        payload_len: payload.len() as u32,
    }
    .write(&mut buf);
    buf.put_slice(payload);
    buf
}

/// `request` from alice, encoded.
pub fn request_bytes(request: v3::Request) -> Result<BytesMut, ProtocolError> {
    let mut buf = BytesMut::new();
    RequestFrame {
        client_id: ALICE,
        request: Request::V3(request),
    }
    .encode(&mut buf)?;
    Ok(buf)
}

/// `response`, encoded.
pub fn response_bytes(response: v3::Response) -> Result<BytesMut, ProtocolError> {
    let mut buf = BytesMut::new();
    Response::V3(response).encode(&mut buf)?;
    Ok(buf)
}

/// The one request in `buf`, as the server reads it.
pub fn decode_request(mut buf: BytesMut) -> Result<Inbound, ProtocolError> {
    ServerCodec::default()
        .decode_eof(&mut buf)
        .map(|item| item.expect("a whole frame"))
}

/// The one response in `buf`, as the client reads it.
pub fn decode_response(mut buf: BytesMut) -> Result<ResponseItem, ProtocolError> {
    ClientCodec::default()
        .decode_eof(&mut buf)
        .map(|item| item.expect("a whole frame"))
}

/// Why the server refuses the request in `buf` (the connection goes on).
pub fn invalid(buf: BytesMut) -> PayloadError {
    match decode_request(buf) {
        Ok(Inbound::Invalid { error, .. }) => error,
        other => panic!("expected an invalid payload, got {other:?}"),
    }
}

/// Why the client refuses the response in `buf`.
pub fn invalid_response(buf: BytesMut) -> PayloadError {
    match decode_response(buf) {
        Err(ProtocolError::InvalidPayload { source, .. }) => source,
        other => panic!("expected an invalid payload, got {other:?}"),
    }
}

/// Checks that `make(max)` is encoded and decoded back unchanged, and that
/// `make(max + 1)` cannot be encoded.
pub fn assert_largest_travels(make: impl Fn(usize) -> v3::Request, max: usize) {
    let largest = make(max);
    match decode_request(request_bytes(largest.clone()).unwrap()).unwrap() {
        Inbound::Request(f) => assert_eq!(f.request, Request::V3(largest)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        request_bytes(make(max + 1)),
        Err(ProtocolError::ValueTooLarge { .. })
    ));
}

pub fn decode_all(
    codec: &mut ServerCodec,
    buf: &mut BytesMut,
) -> Result<Vec<Inbound>, ProtocolError> {
    let mut out = Vec::new();
    while let Some(item) = codec.decode(buf)? {
        out.push(item);
    }
    Ok(out)
}

pub fn send_payload(kind: u8, declared: u32, content: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(BOB.as_bytes());
    p.push(kind);
    p.extend_from_slice(&declared.to_le_bytes());
    p.extend_from_slice(content);
    p
}
