//! The server's codec: decodes requests, encodes responses.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::{Body, CodecLimits, V2_STREAM_THRESHOLD, oversize, request_payload_bounds, take_piece};
use crate::error::{PayloadError, ProtocolError};
use crate::frame::{Request, RequestFrame, Response};
use crate::header::{REQUEST_HEADER_LEN, RequestCode, RequestHeader, ResponseCode, ResponseHeader};
use crate::payload::{SEND_HEADER_LEN, SendHeader};
use crate::types::ClientId;
use crate::v2::{self, PULLED_HEADER_LEN, PulledMessageHeader};
use crate::wire::Reader;
use crate::{PROTOCOL_V2, PROTOCOL_V3, v3};

/// What the server's decoder produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A whole, valid request.
    Request(RequestFrame),
    /// A whole frame whose payload is invalid. The payload is consumed, so the
    /// connection may answer with an error and read on.
    Invalid {
        /// The frame's header.
        header: RequestHeader,
        /// What was wrong with the payload.
        error: PayloadError,
    },
    /// A version-2 send too large to buffer: its header. Exactly
    /// `header.content_len` bytes of [`Inbound::SendChunk`] follow.
    SendStart {
        /// The header's client id.
        client_id: ClientId,
        /// Destination, type and content size.
        header: SendHeader,
    },
    /// A piece of the body announced by [`Inbound::SendStart`].
    SendChunk {
        /// Up to [`STREAM_PIECE_LEN`] bytes.
        data: Bytes,
        /// Whether this piece ends the body.
        last: bool,
    },
}

/// Server side: the start of a streamed version-2 pull response (1004).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V2PullStart {
    /// Total payload: the sum of 25 + content size over the entries.
    pub payload_len: u32,
}

#[derive(Debug)]
enum ServerState {
    Header,
    Payload(RequestHeader, RequestCode),
    SendHeader(RequestHeader),
    SendBody { remaining: u64 },
}

/// Decodes requests, encodes responses.
#[derive(Debug)]
pub struct ServerCodec {
    limits: CodecLimits,
    state: ServerState,
    /// Bytes still owed to the peer by a streamed response being written.
    out_remaining: u64,
}

impl ServerCodec {
    /// A codec with these limits.
    pub fn new(limits: CodecLimits) -> Self {
        Self {
            limits,
            state: ServerState::Header,
            out_remaining: 0,
        }
    }

    /// Whether the decoder is between frames (nothing half-read).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, ServerState::Header)
    }

    /// The frame being read, once its header is in: its version and the
    /// payload bytes it declared (for a streamed version-2 send, those of
    /// its body still to come).
    pub fn frame_under_way(&self) -> Option<(u8, u64)> {
        match self.state {
            ServerState::Header => None,
            ServerState::Payload(h, _) | ServerState::SendHeader(h) => {
                Some((h.version, h.payload_len.into()))
            }
            ServerState::SendBody { remaining } => Some((PROTOCOL_V2, remaining)),
        }
    }
}

impl Default for ServerCodec {
    fn default() -> Self {
        Self::new(CodecLimits::default())
    }
}

impl Decoder for ServerCodec {
    type Item = Inbound;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>, ProtocolError> {
        loop {
            match self.state {
                ServerState::Header => {
                    let Some(header) = RequestHeader::peek(src) else {
                        src.reserve(REQUEST_HEADER_LEN);
                        return Ok(None);
                    };
                    let version = header.version;
                    if version != PROTOCOL_V2 && version != PROTOCOL_V3 {
                        return Err(ProtocolError::UnsupportedVersion(version));
                    }
                    let code = RequestCode::from_wire(version, header.code).ok_or(
                        ProtocolError::UnknownRequest {
                            version,
                            code: header.code,
                        },
                    )?;
                    let len = u64::from(header.payload_len);
                    let (min, max) = request_payload_bounds(version, code, &self.limits);
                    if len > max {
                        return Err(oversize(version, code.value().into(), len, min, max));
                    }
                    let _ = src.split_to(REQUEST_HEADER_LEN);
                    self.state = if version == PROTOCOL_V2
                        && code == RequestCode::SendMessage
                        && len as usize > V2_STREAM_THRESHOLD
                    {
                        ServerState::SendHeader(header)
                    } else {
                        ServerState::Payload(header, code)
                    };
                }
                ServerState::Payload(header, code) => {
                    let len = header.payload_len as usize;
                    if src.len() < len {
                        src.reserve(len - src.len());
                        return Ok(None);
                    }
                    let payload = src.split_to(len).freeze();
                    self.state = ServerState::Header;
                    return Ok(Some(decode_request(header, code, payload)));
                }
                ServerState::SendHeader(header) => {
                    if src.len() < SEND_HEADER_LEN {
                        src.reserve(SEND_HEADER_LEN);
                        return Ok(None);
                    }
                    let bytes = src.split_to(SEND_HEADER_LEN).freeze();
                    let invalid = |source| ProtocolError::InvalidPayload {
                        version: header.version,
                        code: header.code.into(),
                        source,
                    };
                    let send = SendHeader::read(&mut Reader::new(bytes)).map_err(invalid)?;
                    let actual = u64::from(header.payload_len) - SEND_HEADER_LEN as u64;
                    if u64::from(send.content_len) != actual {
                        return Err(invalid(PayloadError::ContentSizeMismatch {
                            declared: send.content_len.into(),
                            actual,
                        }));
                    }
                    self.state = ServerState::SendBody { remaining: actual };
                    return Ok(Some(Inbound::SendStart {
                        client_id: header.client_id,
                        header: send,
                    }));
                }
                ServerState::SendBody { remaining } => {
                    let Some(data) = take_piece(src, remaining) else {
                        return Ok(None);
                    };
                    let remaining = remaining - data.len() as u64;
                    self.state = if remaining == 0 {
                        ServerState::Header
                    } else {
                        ServerState::SendBody { remaining }
                    };
                    return Ok(Some(Inbound::SendChunk {
                        data,
                        last: remaining == 0,
                    }));
                }
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>, ProtocolError> {
        if let Some(item) = self.decode(src)? {
            return Ok(Some(item));
        }
        if src.is_empty() && self.is_idle() {
            return Ok(None);
        }
        Err(ProtocolError::Truncated {
            buffered: src.len(),
        })
    }
}

fn decode_request(header: RequestHeader, code: RequestCode, payload: Bytes) -> Inbound {
    let request = if header.version == PROTOCOL_V2 {
        v2::Request::decode(code, payload).map(Request::V2)
    } else {
        v3::Request::decode(code, payload).map(Request::V3)
    };
    match request {
        Ok(request) => Inbound::Request(RequestFrame {
            client_id: header.client_id,
            request,
        }),
        Err(error) => Inbound::Invalid { header, error },
    }
}

/// What the server writes: whole responses, or the pieces of a streamed
/// version-2 pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponsePart {
    /// A whole response.
    Whole(Response),
    /// The header of a streamed 1004.
    V2PullStart(V2PullStart),
    /// The fixed part of one pulled message.
    V2PulledHeader(PulledMessageHeader),
    /// Content bytes.
    Body(Body),
}

impl From<Response> for ResponsePart {
    fn from(r: Response) -> Self {
        Self::Whole(r)
    }
}

impl From<V2PullStart> for ResponsePart {
    fn from(p: V2PullStart) -> Self {
        Self::V2PullStart(p)
    }
}

impl From<PulledMessageHeader> for ResponsePart {
    fn from(h: PulledMessageHeader) -> Self {
        Self::V2PulledHeader(h)
    }
}

impl From<Body> for ResponsePart {
    fn from(b: Body) -> Self {
        Self::Body(b)
    }
}

impl Encoder<ResponsePart> for ServerCodec {
    type Error = ProtocolError;

    fn encode(&mut self, item: ResponsePart, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        match item {
            ResponsePart::Whole(response) => {
                if self.out_remaining != 0 {
                    return Err(ProtocolError::StreamMisuse(
                        "a response was sent inside a streamed pull",
                    ));
                }
                response.encode(dst)
            }
            ResponsePart::V2PullStart(start) => {
                if self.out_remaining != 0 {
                    return Err(ProtocolError::StreamMisuse("a pull started inside another"));
                }
                ResponseHeader {
                    version: PROTOCOL_V2,
                    code: ResponseCode::Messages.value(),
                    payload_len: start.payload_len,
                }
                .write(dst);
                self.out_remaining = start.payload_len.into();
                Ok(())
            }
            ResponsePart::V2PulledHeader(header) => {
                let len = PULLED_HEADER_LEN as u64 + u64::from(header.content_len);
                if len > self.out_remaining {
                    return Err(ProtocolError::StreamMisuse(
                        "pulled messages exceed the announced payload",
                    ));
                }
                header.write(dst);
                self.out_remaining -= PULLED_HEADER_LEN as u64;
                Ok(())
            }
            ResponsePart::Body(Body(bytes)) => {
                let len = bytes.len() as u64;
                if len > self.out_remaining {
                    return Err(ProtocolError::StreamMisuse(
                        "body exceeds the announced payload",
                    ));
                }
                dst.extend_from_slice(&bytes);
                self.out_remaining -= len;
                Ok(())
            }
        }
    }
}
