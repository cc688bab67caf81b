//! `tokio_util` codecs for both ends of a connection.
//!
//! [`ServerCodec`] decodes requests and encodes responses; [`ClientCodec`]
//! does the opposite. Both check the header's payload size against the
//! limit for that code *before* reserving or reading a payload byte, so a
//! peer can never make us allocate more than [`crate::MAX_FRAME_LEN`] (or the
//! configured version-2 limits) per frame.
//!
//! Version-2 frames can be up to 4 GiB (a file in one send, or a pull that
//! carries files). Those above [`V2_STREAM_THRESHOLD`] are decoded as a header
//! item followed by body pieces of at most [`STREAM_PIECE_LEN`] bytes, so that
//! a server can stream a file to disk and a client can stream a pull, holding
//! one piece at a time. Encoding mirrors this: [`ResponsePart`] and
//! [`RequestPart`] carry whole frames or the pieces of a streamed one.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::error::{PayloadError, ProtocolError};
use crate::frame::{Request, RequestFrame, Response};
use crate::header::{
    REQUEST_HEADER_LEN, RESPONSE_HEADER_LEN, RequestCode, RequestHeader, ResponseCode,
    ResponseHeader,
};
use crate::payload::{REGISTER_LEN, SEND_HEADER_LEN, SendHeader};
use crate::types::ClientId;
use crate::v2::{self, PULLED_HEADER_LEN, PulledMessageHeader};
use crate::wire::Reader;
use crate::{CLIENT_ID_LEN, PROTOCOL_V2, PROTOCOL_V3, PUBLIC_KEY_LEN, v3};

/// Version-2 sends and pulls with a payload above this size are streamed.
pub const V2_STREAM_THRESHOLD: usize = 64 * 1024;
/// Largest body piece the decoders hand out at once.
pub const STREAM_PIECE_LEN: usize = 64 * 1024;
/// Default bound on a version-2 client list (1001) a client accepts: about
/// 250,000 clients.
pub const DEFAULT_V2_MAX_LIST_LEN: u32 = 64 * 1024 * 1024;

/// Limits a codec enforces beyond the fixed ones of the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecLimits {
    /// Largest content of a version-2 send the server accepts.
    pub v2_max_content: u32,
    /// Largest version-2 client list a client accepts.
    pub v2_max_list_len: u32,
}

impl Default for CodecLimits {
    fn default() -> Self {
        Self {
            v2_max_content: v2::MAX_CONTENT_LEN,
            v2_max_list_len: DEFAULT_V2_MAX_LIST_LEN,
        }
    }
}

/// The smallest and largest payload a request code accepts in a version.
pub fn request_payload_bounds(version: u8, code: RequestCode, limits: &CodecLimits) -> (u64, u64) {
    if version == PROTOCOL_V2 {
        return match code {
            RequestCode::Register => (REGISTER_LEN as u64, REGISTER_LEN as u64),
            RequestCode::GetPublicKey => (CLIENT_ID_LEN as u64, CLIENT_ID_LEN as u64),
            RequestCode::SendMessage => (
                SEND_HEADER_LEN as u64,
                SEND_HEADER_LEN as u64 + u64::from(limits.v2_max_content.min(v2::MAX_CONTENT_LEN)),
            ),
            _ => (0, 0),
        };
    }
    let max = v3::Request::max_payload_len(code) as u64;
    let fixed = matches!(
        code,
        RequestCode::Register
            | RequestCode::ListClients
            | RequestCode::GetPublicKey
            | RequestCode::Pull
            | RequestCode::Hello
            | RequestCode::Authenticate
            | RequestCode::Subscribe
            | RequestCode::Ping
            | RequestCode::UploadResume
            | RequestCode::UploadCancel
            | RequestCode::Download
            | RequestCode::RoomPull
            | RequestCode::RoomState
            | RequestCode::RoomList
            | RequestCode::RoomDownload
    );
    (if fixed { max } else { 0 }, max)
}

/// The largest payload a response code accepts in a version.
pub fn response_payload_max(version: u8, code: ResponseCode, limits: &CodecLimits) -> u64 {
    if version == PROTOCOL_V2 {
        return match code {
            ResponseCode::Registered => CLIENT_ID_LEN as u64,
            ResponseCode::ClientList => limits.v2_max_list_len.into(),
            ResponseCode::PublicKey => (CLIENT_ID_LEN + PUBLIC_KEY_LEN) as u64,
            ResponseCode::MessageStored => CLIENT_ID_LEN as u64 + 4,
            ResponseCode::Messages => u32::MAX.into(),
            _ => 0,
        };
    }
    v3::Response::max_payload_len(code) as u64
}

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

/// Server side: the start of a streamed version-2 pull response (1004).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V2PullStart {
    /// Total payload: the sum of 25 + content size over the entries.
    pub payload_len: u32,
}

/// Client side: the start of a streamed version-2 send (103).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V2SendStart {
    /// The sender's id.
    pub client_id: ClientId,
    /// Destination, type and content size; the content follows as [`Body`].
    pub header: SendHeader,
}

/// Raw body bytes of a streamed frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body(pub Bytes);

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

fn oversize(version: u8, code: u16, len: u64, min: u64, max: u64) -> ProtocolError {
    if min == max {
        ProtocolError::InvalidPayload {
            version,
            code,
            source: PayloadError::WrongSize {
                expected: max as usize,
                actual: len as usize,
            },
        }
    } else {
        ProtocolError::FrameTooLarge {
            version,
            code,
            len: len as u32,
            max,
        }
    }
}

/// Takes the next body piece, waiting until a full piece (or the rest of the
/// body, if shorter) is buffered so that pieces are not needlessly small.
fn take_piece(src: &mut BytesMut, remaining: u64) -> Option<Bytes> {
    let want = remaining.min(STREAM_PIECE_LEN as u64) as usize;
    if src.len() < want {
        src.reserve(want - src.len());
        return None;
    }
    Some(src.split_to(want).freeze())
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
