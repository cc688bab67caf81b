//! The client's codec: decodes responses, encodes requests.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::{Body, CodecLimits, V2_STREAM_THRESHOLD, response_payload_max, take_piece};
use crate::error::{PayloadError, ProtocolError};
use crate::frame::{RequestFrame, Response};
use crate::header::{
    RESPONSE_HEADER_LEN, RequestCode, RequestHeader, ResponseCode, ResponseHeader,
};
use crate::payload::{SEND_HEADER_LEN, SendHeader};
use crate::types::ClientId;
use crate::v2::{self, PULLED_HEADER_LEN, PulledMessageHeader};
use crate::wire::Reader;
use crate::{PROTOCOL_V2, PROTOCOL_V3, v3};

/// What the client's decoder produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseItem {
    /// A whole response.
    Response(Response),
    /// A version-2 pull (1004) too large to buffer: its payload size. Entries
    /// follow as [`ResponseItem::PulledHeader`] and
    /// [`ResponseItem::PulledChunk`], then [`ResponseItem::PullEnd`].
    PullStart {
        /// Payload size of the 1004 frame.
        payload_len: u32,
    },
    /// The fixed part of one pulled message; `content_len` bytes of
    /// [`ResponseItem::PulledChunk`] follow (none if it is zero).
    PulledHeader(PulledMessageHeader),
    /// A piece of the current message's content.
    PulledChunk {
        /// Up to [`STREAM_PIECE_LEN`] bytes.
        data: Bytes,
        /// Whether this piece ends the message's content.
        last: bool,
    },
    /// The streamed pull is complete.
    PullEnd,
}

/// Gathers the items that follow a [`ResponseItem::PullStart`] into the
/// whole version-2 pull response, for callers that want it in memory (the
/// load generator, tests); the client's decoder itself never buffers a pull.
#[derive(Debug, Default)]
pub struct PullCollector {
    messages: Vec<v2::PulledMessage>,
    content: BytesMut,
    current: Option<PulledMessageHeader>,
}

impl PullCollector {
    /// Takes the next item; returns the whole response once the pull ends.
    ///
    /// # Errors
    /// Gives back an item that does not belong at this point of a pull.
    pub fn push(&mut self, item: ResponseItem) -> Result<Option<Response>, Box<ResponseItem>> {
        match item {
            ResponseItem::PulledHeader(h) if self.current.is_none() => {
                if h.content_len == 0 {
                    self.messages.push(pulled(h, Bytes::new()));
                } else {
                    self.current = Some(h);
                }
            }
            ResponseItem::PulledChunk { data, last } if self.current.is_some() => {
                self.content.extend_from_slice(&data);
                if last {
                    if let Some(h) = self.current.take() {
                        self.messages.push(pulled(h, self.content.split().freeze()));
                    }
                }
            }
            ResponseItem::PullEnd if self.current.is_none() => {
                let messages = std::mem::take(&mut self.messages);
                return Ok(Some(Response::V2(v2::Response::Messages(messages))));
            }
            other => return Err(Box::new(other)),
        }
        Ok(None)
    }
}

fn pulled(h: PulledMessageHeader, content: Bytes) -> v2::PulledMessage {
    v2::PulledMessage {
        sender: h.sender,
        message_id: h.message_id,
        kind: h.kind,
        content,
    }
}

/// Client side: the start of a streamed version-2 send (103).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V2SendStart {
    /// The sender's id.
    pub client_id: ClientId,
    /// Destination, type and content size; the content follows as [`Body`].
    pub header: SendHeader,
}

#[derive(Debug)]
enum ClientState {
    Header,
    Payload(ResponseHeader),
    Pull { remaining: u64, content_left: u64 },
}

/// Decodes responses, encodes requests.
#[derive(Debug)]
pub struct ClientCodec {
    limits: CodecLimits,
    state: ClientState,
    out_remaining: u64,
}

impl ClientCodec {
    /// A codec with these limits.
    pub fn new(limits: CodecLimits) -> Self {
        Self {
            limits,
            state: ClientState::Header,
            out_remaining: 0,
        }
    }
}

impl Default for ClientCodec {
    fn default() -> Self {
        Self::new(CodecLimits::default())
    }
}

impl Decoder for ClientCodec {
    type Item = ResponseItem;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<ResponseItem>, ProtocolError> {
        loop {
            match self.state {
                ClientState::Header => {
                    let Some(header) = ResponseHeader::peek(src) else {
                        src.reserve(RESPONSE_HEADER_LEN);
                        return Ok(None);
                    };
                    let version = header.version;
                    if version != PROTOCOL_V2 && version != PROTOCOL_V3 {
                        return Err(ProtocolError::UnsupportedVersion(version));
                    }
                    let code = ResponseCode::from_wire(version, header.code).ok_or(
                        ProtocolError::UnknownResponse {
                            version,
                            code: header.code,
                        },
                    )?;
                    let len = u64::from(header.payload_len);
                    let max = response_payload_max(version, code, &self.limits);
                    if len > max {
                        return Err(ProtocolError::FrameTooLarge {
                            version,
                            code: header.code,
                            len: header.payload_len,
                            max,
                        });
                    }
                    let _ = src.split_to(RESPONSE_HEADER_LEN);
                    if version == PROTOCOL_V2
                        && code == ResponseCode::Messages
                        && len as usize > V2_STREAM_THRESHOLD
                    {
                        self.state = ClientState::Pull {
                            remaining: len,
                            content_left: 0,
                        };
                        return Ok(Some(ResponseItem::PullStart {
                            payload_len: header.payload_len,
                        }));
                    }
                    self.state = ClientState::Payload(header);
                }
                ClientState::Payload(header) => {
                    let len = header.payload_len as usize;
                    if src.len() < len {
                        src.reserve(len - src.len());
                        return Ok(None);
                    }
                    let payload = src.split_to(len).freeze();
                    self.state = ClientState::Header;
                    return decode_response(header, payload)
                        .map(|r| Some(ResponseItem::Response(r)));
                }
                ClientState::Pull {
                    remaining,
                    content_left,
                } => {
                    if content_left > 0 {
                        let Some(data) = take_piece(src, content_left) else {
                            return Ok(None);
                        };
                        let content_left = content_left - data.len() as u64;
                        self.state = ClientState::Pull {
                            remaining,
                            content_left,
                        };
                        return Ok(Some(ResponseItem::PulledChunk {
                            data,
                            last: content_left == 0,
                        }));
                    }
                    if remaining == 0 {
                        self.state = ClientState::Header;
                        return Ok(Some(ResponseItem::PullEnd));
                    }
                    let invalid = |source| ProtocolError::InvalidPayload {
                        version: PROTOCOL_V2,
                        code: ResponseCode::Messages.value(),
                        source,
                    };
                    if remaining < PULLED_HEADER_LEN as u64 {
                        return Err(invalid(PayloadError::Truncated {
                            field: "pulled message header",
                            needed: PULLED_HEADER_LEN,
                            available: remaining as usize,
                        }));
                    }
                    if src.len() < PULLED_HEADER_LEN {
                        src.reserve(PULLED_HEADER_LEN);
                        return Ok(None);
                    }
                    let bytes = src.split_to(PULLED_HEADER_LEN).freeze();
                    let header =
                        PulledMessageHeader::read(&mut Reader::new(bytes)).map_err(invalid)?;
                    let left = remaining - PULLED_HEADER_LEN as u64;
                    let content = u64::from(header.content_len);
                    if content > left {
                        return Err(invalid(PayloadError::Truncated {
                            field: "pulled message content",
                            needed: content as usize,
                            available: left as usize,
                        }));
                    }
                    self.state = ClientState::Pull {
                        remaining: left - content,
                        content_left: content,
                    };
                    return Ok(Some(ResponseItem::PulledHeader(header)));
                }
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<ResponseItem>, ProtocolError> {
        if let Some(item) = self.decode(src)? {
            return Ok(Some(item));
        }
        if src.is_empty() && matches!(self.state, ClientState::Header) {
            return Ok(None);
        }
        Err(ProtocolError::Truncated {
            buffered: src.len(),
        })
    }
}

/// Parses one whole response payload.
///
/// # Errors
/// An unknown code for the version, or a payload that breaks its layout.
pub fn decode_response(header: ResponseHeader, payload: Bytes) -> Result<Response, ProtocolError> {
    let code = ResponseCode::from_wire(header.version, header.code).ok_or(
        ProtocolError::UnknownResponse {
            version: header.version,
            code: header.code,
        },
    )?;
    let decoded = match header.version {
        PROTOCOL_V2 => v2::Response::decode(code, payload).map(Response::V2),
        PROTOCOL_V3 => v3::Response::decode(code, payload).map(Response::V3),
        other => return Err(ProtocolError::UnsupportedVersion(other)),
    };
    decoded.map_err(|source| ProtocolError::InvalidPayload {
        version: header.version,
        code: header.code,
        source,
    })
}

/// What the client writes: whole requests, or the pieces of a streamed
/// version-2 send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestPart {
    /// A whole request.
    Whole(RequestFrame),
    /// The headers of a streamed 103.
    V2SendStart(V2SendStart),
    /// Content bytes.
    Body(Body),
}

impl From<RequestFrame> for RequestPart {
    fn from(f: RequestFrame) -> Self {
        Self::Whole(f)
    }
}

impl From<V2SendStart> for RequestPart {
    fn from(s: V2SendStart) -> Self {
        Self::V2SendStart(s)
    }
}

impl From<Body> for RequestPart {
    fn from(b: Body) -> Self {
        Self::Body(b)
    }
}

impl Encoder<RequestPart> for ClientCodec {
    type Error = ProtocolError;

    fn encode(&mut self, item: RequestPart, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        match item {
            RequestPart::Whole(frame) => {
                if self.out_remaining != 0 {
                    return Err(ProtocolError::StreamMisuse(
                        "a request was sent inside a streamed send",
                    ));
                }
                frame.encode(dst)
            }
            RequestPart::V2SendStart(start) => {
                if self.out_remaining != 0 {
                    return Err(ProtocolError::StreamMisuse("a send started inside another"));
                }
                if start.header.content_len > v2::MAX_CONTENT_LEN {
                    return Err(ProtocolError::ValueTooLarge {
                        what: "version-2 message content",
                        len: start.header.content_len.into(),
                        max: v2::MAX_CONTENT_LEN.into(),
                    });
                }
                RequestHeader {
                    client_id: start.client_id,
                    version: PROTOCOL_V2,
                    code: RequestCode::SendMessage.value(),
                    payload_len: SEND_HEADER_LEN as u32 + start.header.content_len,
                }
                .write(dst);
                start.header.write(dst);
                self.out_remaining = start.header.content_len.into();
                Ok(())
            }
            RequestPart::Body(Body(bytes)) => {
                let len = bytes.len() as u64;
                if len > self.out_remaining {
                    return Err(ProtocolError::StreamMisuse(
                        "body exceeds the announced content",
                    ));
                }
                dst.extend_from_slice(&bytes);
                self.out_remaining -= len;
                Ok(())
            }
        }
    }
}
