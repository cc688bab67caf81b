//! Hand-built request frames for the codec tests.

use bytes::{BufMut, BytesMut};
use protocol::codec::{Inbound, ServerCodec};
use protocol::{ProtocolError, RequestHeader};
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
