//! Typed frames of either version, and their encoding into whole frames.
//!
//! Decoding lives in [`crate::codec`], because a frame may arrive in pieces;
//! encoding a typed value is one call here.

use bytes::{BufMut, BytesMut};

use crate::error::ProtocolError;
use crate::header::{REQUEST_HEADER_LEN, RESPONSE_HEADER_LEN, RequestCode, ResponseCode};
use crate::types::ClientId;
use crate::{PROTOCOL_V2, PROTOCOL_V3, v2, v3};

/// A request of either version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Version 2.
    V2(v2::Request),
    /// Version 3.
    V3(v3::Request),
}

impl Request {
    /// The version byte.
    pub fn version(&self) -> u8 {
        match self {
            Self::V2(_) => PROTOCOL_V2,
            Self::V3(_) => PROTOCOL_V3,
        }
    }

    /// The request code.
    pub fn code(&self) -> RequestCode {
        match self {
            Self::V2(r) => r.code(),
            Self::V3(r) => r.code(),
        }
    }
}

/// A whole request: the sender's id in the header and the typed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFrame {
    /// The header's client id.
    pub client_id: ClientId,
    /// The request.
    pub request: Request,
}

impl RequestFrame {
    /// Appends the whole frame, header and payload.
    ///
    /// # Errors
    /// A field over its limit, or a payload over 4 GiB.
    pub fn encode(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        let start = dst.len();
        dst.put_slice(self.client_id.as_bytes());
        dst.put_u8(self.request.version());
        dst.put_u8(self.request.code().value());
        dst.put_u32_le(0);
        match &self.request {
            Request::V2(r) => r.encode_payload(dst)?,
            Request::V3(r) => r.encode_payload(dst)?,
        }
        patch_len(dst, start, REQUEST_HEADER_LEN)
    }
}

/// A response of either version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Version 2.
    V2(v2::Response),
    /// Version 3.
    V3(v3::Response),
}

impl Response {
    /// The version byte.
    pub fn version(&self) -> u8 {
        match self {
            Self::V2(_) => PROTOCOL_V2,
            Self::V3(_) => PROTOCOL_V3,
        }
    }

    /// The response code.
    pub fn code(&self) -> ResponseCode {
        match self {
            Self::V2(r) => r.code(),
            Self::V3(r) => r.code(),
        }
    }

    /// Appends the whole frame, header and payload.
    ///
    /// # Errors
    /// A field over its limit, or a payload over 4 GiB.
    pub fn encode(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        let start = dst.len();
        dst.put_u8(self.version());
        dst.put_u16_le(self.code().value());
        dst.put_u32_le(0);
        match self {
            Self::V2(r) => r.encode_payload(dst)?,
            Self::V3(r) => r.encode_payload(dst)?,
        }
        patch_len(dst, start, RESPONSE_HEADER_LEN)
    }
}

/// Writes the payload size into the header that starts at `start`.
fn patch_len(dst: &mut BytesMut, start: usize, header_len: usize) -> Result<(), ProtocolError> {
    let payload_len = dst.len() - start - header_len;
    let len = u32::try_from(payload_len).map_err(|_| {
        dst.truncate(start);
        ProtocolError::ValueTooLarge {
            what: "payload",
            len: payload_len as u64,
            max: u32::MAX.into(),
        }
    })?;
    let at = start + header_len - 4;
    dst[at..at + 4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}
