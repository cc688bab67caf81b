//! Version 3: persistent, authenticated sessions with acknowledged delivery,
//! push, chunked files and reasoned errors. Same framing as version 2.
//!
//! Every payload layout is drawn in PROTOCOL.md; the short forms here:
//!
//! ```text
//! delivery entry (1004 entries, 1104 payload), 37 + size bytes
//!  +-----------+-----------+----+--------------+----------+---------
//!  | sender 16 | id u64    |type| sent_at u64  | size u32 | content
//!  +-----------+-----------+----+--------------+----------+---------
//! error (9000) and closing (1105)
//!  +-------------+--------------+-------------
//!  | reason u16  | text len u16 | text (UTF-8)
//!  +-------------+--------------+-------------
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{ErrorReason, PayloadError, ProtocolError};
use crate::header::{RequestCode, ResponseCode};
use crate::types::{ClientId, MessageKind, Name, PublicKey, UploadId};
use crate::wire::{Reader, check_range, put_u16, put_u32, put_u64};
use crate::{
    CLIENT_ID_LEN, MAX_ACK_IDS, MAX_CHUNK_LEN, MAX_ERROR_TEXT_LEN, MAX_FILE_META_LEN,
    MAX_LIST_PAGE, MAX_MESSAGE_LEN, MAX_NAME_LEN, PUBLIC_KEY_LEN,
};

pub use crate::payload::{Register, SendMessage};

/// Size of the fixed part of a delivery entry, before its content.
pub const DELIVERY_HEADER_LEN: usize = 16 + 8 + 1 + 8 + 4;
/// Size of a client-list entry's fixed part (id and name length).
pub const LIST_ENTRY_HEADER_LEN: usize = CLIENT_ID_LEN + 1;
/// Size of the [`ServerLimits`] payload.
pub const SERVER_LIMITS_LEN: usize = 32;
/// Size of a nonce in the handshake.
pub const NONCE_LEN: usize = 32;
/// Size of an Ed25519 public key.
pub const SIGNING_KEY_LEN: usize = 32;
/// Size of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// Request 104: how much one pull may return. Zero means "the server's maximum".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pull {
    /// At most this many messages.
    pub max_messages: u16,
    /// At most about this many payload bytes (one message is always returned
    /// if any is waiting, whatever its size).
    pub max_bytes: u32,
}

/// Request 110: start authenticating as the header's client id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// Fresh random bytes the server must sign.
    pub client_nonce: [u8; NONCE_LEN],
}

/// Request 120: begin uploading a file for a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadBegin {
    /// The recipient.
    pub destination: ClientId,
    /// Exact size of the file as it will be uploaded (at least 1).
    pub file_size: u64,
    /// Opaque metadata delivered with the file message (the client puts its
    /// sealed file name and stream header here), at most [`MAX_FILE_META_LEN`].
    pub meta: Bytes,
}

/// Request 122: one chunk of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadChunk {
    /// The upload.
    pub upload_id: UploadId,
    /// Where the chunk goes; must equal the upload's current size.
    pub offset: u64,
    /// 1 to [`MAX_CHUNK_LEN`] bytes.
    pub data: Bytes,
}

/// Request 124: read part of a file message that is waiting for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Download {
    /// The file message.
    pub message_id: u64,
    /// First byte wanted.
    pub offset: u64,
    /// At most this many bytes, 1 to [`MAX_CHUNK_LEN`].
    pub max_len: u32,
}

/// A version-3 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// 100: register a name with a signed key bundle.
    Register(Register),
    /// 101: one page of the other clients, by id, after `after` (all zero: from the start).
    ListClients {
        /// The last id of the previous page.
        after: ClientId,
    },
    /// 102: a client's key bundle and name by id.
    GetPublicKey(ClientId),
    /// 103: send a message of type 1, 2 or 3 (files go through uploads).
    SendMessage(SendMessage),
    /// 104: a batch of waiting messages, oldest first; nothing is removed.
    Pull(Pull),
    /// 105: remove delivered messages, 1 to [`MAX_ACK_IDS`] ids.
    Ack(Vec<u64>),
    /// 106: a client's id, key bundle and name by name.
    LookupName(Name),
    /// 110: start authentication.
    Hello(Hello),
    /// 111: the signed answer to the challenge.
    Authenticate([u8; SIGNATURE_LEN]),
    /// 112: push deliveries on this connection from now on.
    Subscribe,
    /// 113: keep-alive; the token is echoed.
    Ping(u64),
    /// 120: begin an upload.
    UploadBegin(UploadBegin),
    /// 121: where does this upload stand.
    UploadResume(UploadId),
    /// 122: one chunk.
    UploadChunk(UploadChunk),
    /// 123: abandon an upload.
    UploadCancel(UploadId),
    /// 124: read part of a waiting file.
    Download(Download),
}

impl Request {
    /// The request code.
    pub fn code(&self) -> RequestCode {
        match self {
            Self::Register(_) => RequestCode::Register,
            Self::ListClients { .. } => RequestCode::ListClients,
            Self::GetPublicKey(_) => RequestCode::GetPublicKey,
            Self::SendMessage(_) => RequestCode::SendMessage,
            Self::Pull(_) => RequestCode::Pull,
            Self::Ack(_) => RequestCode::Ack,
            Self::LookupName(_) => RequestCode::LookupName,
            Self::Hello(_) => RequestCode::Hello,
            Self::Authenticate(_) => RequestCode::Authenticate,
            Self::Subscribe => RequestCode::Subscribe,
            Self::Ping(_) => RequestCode::Ping,
            Self::UploadBegin(_) => RequestCode::UploadBegin,
            Self::UploadResume(_) => RequestCode::UploadResume,
            Self::UploadChunk(_) => RequestCode::UploadChunk,
            Self::UploadCancel(_) => RequestCode::UploadCancel,
            Self::Download(_) => RequestCode::Download,
        }
    }

    /// The largest payload this code may carry; larger frames are refused
    /// before they are read.
    pub fn max_payload_len(code: RequestCode) -> usize {
        match code {
            RequestCode::Register => crate::payload::REGISTER_LEN,
            RequestCode::ListClients
            | RequestCode::GetPublicKey
            | RequestCode::UploadResume
            | RequestCode::UploadCancel => CLIENT_ID_LEN,
            RequestCode::SendMessage => crate::payload::SEND_HEADER_LEN + MAX_MESSAGE_LEN,
            RequestCode::Pull => 6,
            RequestCode::Ack => 2 + 8 * MAX_ACK_IDS,
            RequestCode::LookupName => 1 + MAX_NAME_LEN,
            RequestCode::Hello => NONCE_LEN,
            RequestCode::Authenticate => SIGNATURE_LEN,
            RequestCode::Subscribe => 0,
            RequestCode::Ping => 8,
            RequestCode::UploadBegin => 16 + 8 + 2 + MAX_FILE_META_LEN,
            RequestCode::UploadChunk => 16 + 8 + MAX_CHUNK_LEN,
            RequestCode::Download => 20,
        }
    }

    /// Parses a complete payload.
    ///
    /// # Errors
    /// The payload does not follow the layout of `code`.
    pub fn decode(code: RequestCode, payload: Bytes) -> Result<Self, PayloadError> {
        let len = payload.len();
        let mut r = Reader::new(payload);
        let request = match code {
            RequestCode::Register => return Ok(Self::Register(Register::decode(r.rest())?)),
            RequestCode::ListClients => {
                exact(len, CLIENT_ID_LEN)?;
                Self::ListClients {
                    after: ClientId::read(&mut r, "after")?,
                }
            }
            RequestCode::GetPublicKey => {
                exact(len, CLIENT_ID_LEN)?;
                Self::GetPublicKey(ClientId::read(&mut r, "client id")?)
            }
            RequestCode::SendMessage => {
                let m = SendMessage::decode(r.rest())?;
                if m.kind == MessageKind::File {
                    return Err(PayloadError::BadMessageType(m.kind.code()));
                }
                check_range(
                    "content size",
                    m.content.len() as u64,
                    0,
                    MAX_MESSAGE_LEN as u64,
                )?;
                return Ok(Self::SendMessage(m));
            }
            RequestCode::Pull => {
                exact(len, 6)?;
                Self::Pull(Pull {
                    max_messages: r.u16("max messages")?,
                    max_bytes: r.u32("max bytes")?,
                })
            }
            RequestCode::Ack => {
                let count = r.u16("id count")? as usize;
                check_range("id count", count as u64, 1, MAX_ACK_IDS as u64)?;
                exact(len, 2 + 8 * count)?;
                let mut ids = Vec::with_capacity(count);
                for _ in 0..count {
                    ids.push(r.u64("message id")?);
                }
                Self::Ack(ids)
            }
            RequestCode::LookupName => Self::LookupName(Name::read_short(&mut r)?),
            RequestCode::Hello => {
                exact(len, NONCE_LEN)?;
                Self::Hello(Hello {
                    client_nonce: r.array("client nonce")?,
                })
            }
            RequestCode::Authenticate => {
                exact(len, SIGNATURE_LEN)?;
                Self::Authenticate(r.array("signature")?)
            }
            RequestCode::Subscribe => {
                exact(len, 0)?;
                Self::Subscribe
            }
            RequestCode::Ping => {
                exact(len, 8)?;
                Self::Ping(r.u64("token")?)
            }
            RequestCode::UploadBegin => {
                let destination = ClientId::read(&mut r, "destination")?;
                let file_size = r.u64("file size")?;
                check_range("file size", file_size, 1, u64::MAX)?;
                let meta_len = r.u16("meta length")? as usize;
                check_range("meta length", meta_len as u64, 0, MAX_FILE_META_LEN as u64)?;
                let meta = r.bytes("meta", meta_len)?;
                Self::UploadBegin(UploadBegin {
                    destination,
                    file_size,
                    meta,
                })
            }
            RequestCode::UploadResume => {
                exact(len, 16)?;
                Self::UploadResume(UploadId::read(&mut r)?)
            }
            RequestCode::UploadChunk => {
                let upload_id = UploadId::read(&mut r)?;
                let offset = r.u64("offset")?;
                let data = r.rest();
                check_range("chunk size", data.len() as u64, 1, MAX_CHUNK_LEN as u64)?;
                Self::UploadChunk(UploadChunk {
                    upload_id,
                    offset,
                    data,
                })
            }
            RequestCode::UploadCancel => {
                exact(len, 16)?;
                Self::UploadCancel(UploadId::read(&mut r)?)
            }
            RequestCode::Download => {
                exact(len, 20)?;
                let message_id = r.u64("message id")?;
                let offset = r.u64("offset")?;
                let max_len = r.u32("max length")?;
                check_range("max length", max_len.into(), 1, MAX_CHUNK_LEN as u64)?;
                Self::Download(Download {
                    message_id,
                    offset,
                    max_len,
                })
            }
        };
        r.finish()?;
        Ok(request)
    }

    /// Appends the payload.
    ///
    /// # Errors
    /// A value outside the limits of its field (content, ack count, meta, chunk).
    pub fn encode_payload(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        match self {
            Self::Register(r) => r.encode(dst),
            Self::ListClients { after } => after.write(dst),
            Self::GetPublicKey(id) => id.write(dst),
            Self::SendMessage(m) => {
                limit("message content", m.content.len(), MAX_MESSAGE_LEN)?;
                m.encode(dst)?;
            }
            Self::Pull(p) => {
                put_u16(dst, p.max_messages);
                put_u32(dst, p.max_bytes);
            }
            Self::Ack(ids) => {
                limit("acknowledged ids", ids.len(), MAX_ACK_IDS)?;
                put_u16(dst, ids.len() as u16);
                for id in ids {
                    put_u64(dst, *id);
                }
            }
            Self::LookupName(name) => name.write_short(dst),
            Self::Hello(h) => dst.put_slice(&h.client_nonce),
            Self::Authenticate(sig) => dst.put_slice(sig),
            Self::Subscribe => {}
            Self::Ping(token) => put_u64(dst, *token),
            Self::UploadBegin(u) => {
                limit("file meta", u.meta.len(), MAX_FILE_META_LEN)?;
                u.destination.write(dst);
                put_u64(dst, u.file_size);
                put_u16(dst, u.meta.len() as u16);
                dst.put_slice(&u.meta);
            }
            Self::UploadResume(id) | Self::UploadCancel(id) => id.write(dst),
            Self::UploadChunk(c) => {
                limit("chunk", c.data.len(), MAX_CHUNK_LEN)?;
                c.upload_id.write(dst);
                put_u64(dst, c.offset);
                dst.put_slice(&c.data);
            }
            Self::Download(d) => {
                put_u64(dst, d.message_id);
                put_u64(dst, d.offset);
                put_u32(dst, d.max_len);
            }
        }
        Ok(())
    }
}

/// One entry of a client-list page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientEntry {
    /// The client's id.
    pub id: ClientId,
    /// The client's name.
    pub name: Name,
}

/// Response 1001: one page of clients, ordered by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPage {
    /// Whether more clients follow the last one here.
    pub more: bool,
    /// Up to [`MAX_LIST_PAGE`] clients.
    pub clients: Vec<ClientEntry>,
}

/// Response 1002: a client's key bundle and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerKey {
    /// The client's id.
    pub client_id: ClientId,
    /// The key bundle it registered.
    pub public_key: PublicKey,
    /// The name it registered.
    pub name: Name,
}

/// Response 1003: the message is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageStored {
    /// The recipient, echoed.
    pub destination: ClientId,
    /// The message's id, unique and increasing for the server's lifetime.
    pub message_id: u64,
}

/// A message handed to its recipient, in a pull (1004) or a push (1104).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Who sent it.
    pub sender: ClientId,
    /// Its id.
    pub message_id: u64,
    /// Its type.
    pub kind: MessageKind,
    /// When the server stored it, in milliseconds since the Unix epoch.
    pub sent_at_ms: u64,
    /// The content; for type 4 a [`FileOffer`].
    pub content: Bytes,
}

impl Delivery {
    fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        let sender = ClientId::read(r, "sender")?;
        let message_id = r.u64("message id")?;
        let kind = MessageKind::read(r)?;
        let sent_at_ms = r.u64("sent at")?;
        let size = r.u32("content size")? as usize;
        let content = r.bytes("content", size)?;
        if kind == MessageKind::File {
            FileOffer::decode(content.clone())?;
        } else {
            check_range("content size", size as u64, 0, MAX_MESSAGE_LEN as u64)?;
        }
        Ok(Self {
            sender,
            message_id,
            kind,
            sent_at_ms,
            content,
        })
    }

    fn write(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        let max = if self.kind == MessageKind::File {
            8 + MAX_FILE_META_LEN
        } else {
            MAX_MESSAGE_LEN
        };
        limit("delivered content", self.content.len(), max)?;
        self.sender.write(dst);
        put_u64(dst, self.message_id);
        dst.put_u8(self.kind.code());
        put_u64(dst, self.sent_at_ms);
        put_u32(dst, self.content.len() as u32);
        dst.put_slice(&self.content);
        Ok(())
    }

    /// Bytes this entry takes in a 1004 payload.
    pub fn encoded_len(&self) -> usize {
        DELIVERY_HEADER_LEN + self.content.len()
    }
}

/// The content of a type-4 delivery: the file's size and the sender's metadata.
/// The bytes themselves are read with [`Download`].
///
/// ```text
///  +----------------+---------------------------
///  | file size u64  | meta (opaque, ≤ 4096 bytes)
///  +----------------+---------------------------
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOffer {
    /// Size of the stored file.
    pub size: u64,
    /// The metadata given at [`UploadBegin`].
    pub meta: Bytes,
}

impl FileOffer {
    /// Parses a type-4 delivery's content.
    ///
    /// # Errors
    /// Shorter than 8 bytes or metadata over [`MAX_FILE_META_LEN`].
    pub fn decode(content: Bytes) -> Result<Self, PayloadError> {
        let mut r = Reader::new(content);
        let size = r.u64("file size")?;
        let meta = r.rest();
        check_range(
            "meta length",
            meta.len() as u64,
            0,
            MAX_FILE_META_LEN as u64,
        )?;
        Ok(Self { size, meta })
    }

    /// The content bytes.
    ///
    /// # Errors
    /// Metadata over [`MAX_FILE_META_LEN`].
    pub fn encode(&self) -> Result<Bytes, ProtocolError> {
        limit("file meta", self.meta.len(), MAX_FILE_META_LEN)?;
        let mut out = BytesMut::with_capacity(8 + self.meta.len());
        put_u64(&mut out, self.size);
        out.put_slice(&self.meta);
        Ok(out.freeze())
    }
}

/// Response 1004: a batch of waiting messages, in message-id order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageBatch {
    /// Whether more messages wait after this batch.
    pub more: bool,
    /// The messages.
    pub messages: Vec<Delivery>,
}

/// The outcome for one id of an acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckStatus {
    /// 0: the message was waiting for the caller and is now removed.
    Removed,
    /// 1: no such message is waiting for the caller (already removed, never
    /// existed, or another client's); nothing was changed.
    NotWaiting,
}

/// Response 1100: the server's identity, its challenge and its proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge {
    /// The server's Ed25519 identity key.
    pub server_key: [u8; SIGNING_KEY_LEN],
    /// Fresh random bytes the client must sign.
    pub server_nonce: [u8; NONCE_LEN],
    /// The server's signature over the server proof transcript
    /// ([`crate::auth::server_proof_message`]).
    pub signature: [u8; SIGNATURE_LEN],
}

/// Response 1101: authenticated; the limits this server enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Largest content of a sent message.
    pub max_message_len: u32,
    /// Largest upload chunk and download range.
    pub max_chunk_len: u32,
    /// Largest file.
    pub max_file_size: u64,
    /// Most messages in one pull.
    pub max_pull_messages: u16,
    /// Most ids in one acknowledgement.
    pub max_ack_ids: u16,
    /// Most payload bytes in one pull.
    pub max_pull_bytes: u32,
    /// Requests per second allowed on one connection (0: no limit).
    pub requests_per_second: u32,
    /// Seconds of silence after which the server closes a connection.
    pub idle_timeout_secs: u32,
}

/// Response 1200: where an upload stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadStatus {
    /// The upload.
    pub upload_id: UploadId,
    /// Its recipient.
    pub destination: ClientId,
    /// Its announced size.
    pub file_size: u64,
    /// Bytes durably stored: the next chunk goes here.
    pub offset: u64,
}

/// Response 1201: a chunk is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkStored {
    /// The upload.
    pub upload_id: UploadId,
    /// Where the next chunk goes.
    pub next_offset: u64,
}

/// Response 1202: the last chunk arrived; the file is durable and delivered
/// as a type-4 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSent {
    /// The finished upload.
    pub upload_id: UploadId,
    /// The recipient.
    pub destination: ClientId,
    /// The file message's id.
    pub message_id: u64,
}

/// Response 1204: part of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChunk {
    /// The file message.
    pub message_id: u64,
    /// Where `data` starts.
    pub offset: u64,
    /// Up to the requested length; shorter only at the end of the file, empty
    /// at or past it.
    pub data: Bytes,
}

/// The payload of an error (9000) or closing notice (1105).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    /// Why, as a stable code.
    pub reason: ErrorReason,
    /// For a person, at most [`MAX_ERROR_TEXT_LEN`] bytes.
    pub text: String,
}

impl ServerError {
    /// An error with its text cut to [`MAX_ERROR_TEXT_LEN`] bytes at a
    /// character boundary.
    pub fn new(reason: ErrorReason, text: impl Into<String>) -> Self {
        let mut text = text.into();
        if text.len() > MAX_ERROR_TEXT_LEN {
            let mut end = MAX_ERROR_TEXT_LEN;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        Self { reason, text }
    }

    fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        let reason = ErrorReason::from_code(r.u16("reason")?);
        let len = r.u16("text length")? as usize;
        check_range("text length", len as u64, 0, MAX_ERROR_TEXT_LEN as u64)?;
        let text = r.bytes("text", len)?;
        let text = String::from_utf8(text.to_vec()).map_err(|_| PayloadError::TextNotUtf8)?;
        Ok(Self { reason, text })
    }

    fn write(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        limit("error text", self.text.len(), MAX_ERROR_TEXT_LEN)?;
        put_u16(dst, self.reason.code());
        put_u16(dst, self.text.len() as u16);
        dst.put_slice(self.text.as_bytes());
        Ok(())
    }
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.reason, self.text)
    }
}

/// A version-3 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// 1000: the new client's id.
    Registered(ClientId),
    /// 1001: a page of clients.
    ClientList(ClientPage),
    /// 1002: a key bundle (answers 102 and 106).
    PublicKey(PeerKey),
    /// 1003: the message is durable.
    MessageStored(MessageStored),
    /// 1004: a batch of waiting messages.
    Messages(MessageBatch),
    /// 1005: one status per acknowledged id, in request order.
    Acked(Vec<AckStatus>),
    /// 1100: challenge and server proof.
    Challenge(Challenge),
    /// 1101: authenticated.
    Authenticated(ServerLimits),
    /// 1102: subscribed; `waiting` messages are queued and follow as 1104.
    Subscribed {
        /// Messages waiting when the subscription began.
        waiting: u32,
    },
    /// 1103: the ping's token.
    Pong(u64),
    /// 1104: a pushed message (unsolicited).
    Delivery(Delivery),
    /// 1105: the server is closing this connection (unsolicited).
    Closing(ServerError),
    /// 1200: where an upload stands.
    UploadStatus(UploadStatus),
    /// 1201: a chunk is stored.
    ChunkStored(ChunkStored),
    /// 1202: the upload became a file message.
    FileSent(FileSent),
    /// 1203: the upload is gone.
    UploadCancelled(UploadId),
    /// 1204: part of a file.
    FileChunk(FileChunk),
    /// 9000: the request failed.
    Error(ServerError),
}

impl Response {
    /// The response code.
    pub fn code(&self) -> ResponseCode {
        match self {
            Self::Registered(_) => ResponseCode::Registered,
            Self::ClientList(_) => ResponseCode::ClientList,
            Self::PublicKey(_) => ResponseCode::PublicKey,
            Self::MessageStored(_) => ResponseCode::MessageStored,
            Self::Messages(_) => ResponseCode::Messages,
            Self::Acked(_) => ResponseCode::Acked,
            Self::Challenge(_) => ResponseCode::Challenge,
            Self::Authenticated(_) => ResponseCode::Authenticated,
            Self::Subscribed { .. } => ResponseCode::Subscribed,
            Self::Pong(_) => ResponseCode::Pong,
            Self::Delivery(_) => ResponseCode::Delivery,
            Self::Closing(_) => ResponseCode::Closing,
            Self::UploadStatus(_) => ResponseCode::UploadStatus,
            Self::ChunkStored(_) => ResponseCode::ChunkStored,
            Self::FileSent(_) => ResponseCode::FileSent,
            Self::UploadCancelled(_) => ResponseCode::UploadCancelled,
            Self::FileChunk(_) => ResponseCode::FileChunk,
            Self::Error(_) => ResponseCode::Error,
        }
    }

    /// The largest payload this code may carry.
    pub fn max_payload_len(code: ResponseCode) -> usize {
        match code {
            ResponseCode::Registered | ResponseCode::UploadCancelled => 16,
            ResponseCode::ClientList => 3 + MAX_LIST_PAGE * (LIST_ENTRY_HEADER_LEN + MAX_NAME_LEN),
            ResponseCode::PublicKey => CLIENT_ID_LEN + PUBLIC_KEY_LEN + 1 + MAX_NAME_LEN,
            ResponseCode::MessageStored => 24,
            ResponseCode::Messages => crate::MAX_FRAME_LEN,
            ResponseCode::Acked => 2 + MAX_ACK_IDS,
            ResponseCode::Challenge => SIGNING_KEY_LEN + NONCE_LEN + SIGNATURE_LEN,
            ResponseCode::Authenticated => SERVER_LIMITS_LEN,
            ResponseCode::Subscribed => 4,
            ResponseCode::Pong => 8,
            ResponseCode::Delivery => DELIVERY_HEADER_LEN + MAX_MESSAGE_LEN,
            ResponseCode::Closing | ResponseCode::Error => 4 + MAX_ERROR_TEXT_LEN,
            ResponseCode::UploadStatus => 48,
            ResponseCode::ChunkStored => 24,
            ResponseCode::FileSent => 40,
            ResponseCode::FileChunk => 16 + MAX_CHUNK_LEN,
        }
    }

    /// Parses a complete payload.
    ///
    /// # Errors
    /// The payload does not follow the layout of `code`.
    pub fn decode(code: ResponseCode, payload: Bytes) -> Result<Self, PayloadError> {
        let len = payload.len();
        let mut r = Reader::new(payload);
        let response = match code {
            ResponseCode::Registered => {
                exact(len, 16)?;
                Self::Registered(ClientId::read(&mut r, "client id")?)
            }
            ResponseCode::ClientList => {
                let more = r.flag("more")?;
                let count = r.u16("count")? as usize;
                check_range("count", count as u64, 0, MAX_LIST_PAGE as u64)?;
                let mut clients = Vec::with_capacity(count.min(r.remaining() / 18));
                for _ in 0..count {
                    clients.push(ClientEntry {
                        id: ClientId::read(&mut r, "client id")?,
                        name: Name::read_short(&mut r)?,
                    });
                }
                Self::ClientList(ClientPage { more, clients })
            }
            ResponseCode::PublicKey => Self::PublicKey(PeerKey {
                client_id: ClientId::read(&mut r, "client id")?,
                public_key: PublicKey::read(&mut r)?,
                name: Name::read_short(&mut r)?,
            }),
            ResponseCode::MessageStored => {
                exact(len, 24)?;
                Self::MessageStored(MessageStored {
                    destination: ClientId::read(&mut r, "destination")?,
                    message_id: r.u64("message id")?,
                })
            }
            ResponseCode::Messages => {
                let more = r.flag("more")?;
                let count = r.u16("count")? as usize;
                let mut messages =
                    Vec::with_capacity(count.min(r.remaining() / DELIVERY_HEADER_LEN));
                for _ in 0..count {
                    messages.push(Delivery::read(&mut r)?);
                }
                Self::Messages(MessageBatch { more, messages })
            }
            ResponseCode::Acked => {
                let count = r.u16("count")? as usize;
                check_range("count", count as u64, 1, MAX_ACK_IDS as u64)?;
                exact(len, 2 + count)?;
                let mut statuses = Vec::with_capacity(count);
                for _ in 0..count {
                    statuses.push(match r.u8("status")? {
                        0 => AckStatus::Removed,
                        1 => AckStatus::NotWaiting,
                        value => {
                            return Err(PayloadError::BadFlag {
                                field: "ack status",
                                value,
                            });
                        }
                    });
                }
                Self::Acked(statuses)
            }
            ResponseCode::Challenge => {
                exact(len, SIGNING_KEY_LEN + NONCE_LEN + SIGNATURE_LEN)?;
                Self::Challenge(Challenge {
                    server_key: r.array("server key")?,
                    server_nonce: r.array("server nonce")?,
                    signature: r.array("signature")?,
                })
            }
            ResponseCode::Authenticated => {
                exact(len, SERVER_LIMITS_LEN)?;
                Self::Authenticated(ServerLimits {
                    max_message_len: r.u32("max message length")?,
                    max_chunk_len: r.u32("max chunk length")?,
                    max_file_size: r.u64("max file size")?,
                    max_pull_messages: r.u16("max pull messages")?,
                    max_ack_ids: r.u16("max ack ids")?,
                    max_pull_bytes: r.u32("max pull bytes")?,
                    requests_per_second: r.u32("requests per second")?,
                    idle_timeout_secs: r.u32("idle timeout")?,
                })
            }
            ResponseCode::Subscribed => {
                exact(len, 4)?;
                Self::Subscribed {
                    waiting: r.u32("waiting")?,
                }
            }
            ResponseCode::Pong => {
                exact(len, 8)?;
                Self::Pong(r.u64("token")?)
            }
            ResponseCode::Delivery => Self::Delivery(Delivery::read(&mut r)?),
            ResponseCode::Closing => Self::Closing(ServerError::read(&mut r)?),
            ResponseCode::UploadStatus => {
                exact(len, 48)?;
                Self::UploadStatus(UploadStatus {
                    upload_id: UploadId::read(&mut r)?,
                    destination: ClientId::read(&mut r, "destination")?,
                    file_size: r.u64("file size")?,
                    offset: r.u64("offset")?,
                })
            }
            ResponseCode::ChunkStored => {
                exact(len, 24)?;
                Self::ChunkStored(ChunkStored {
                    upload_id: UploadId::read(&mut r)?,
                    next_offset: r.u64("next offset")?,
                })
            }
            ResponseCode::FileSent => {
                exact(len, 40)?;
                Self::FileSent(FileSent {
                    upload_id: UploadId::read(&mut r)?,
                    destination: ClientId::read(&mut r, "destination")?,
                    message_id: r.u64("message id")?,
                })
            }
            ResponseCode::UploadCancelled => {
                exact(len, 16)?;
                Self::UploadCancelled(UploadId::read(&mut r)?)
            }
            ResponseCode::FileChunk => {
                let message_id = r.u64("message id")?;
                let offset = r.u64("offset")?;
                let data = r.rest();
                check_range("chunk size", data.len() as u64, 0, MAX_CHUNK_LEN as u64)?;
                Self::FileChunk(FileChunk {
                    message_id,
                    offset,
                    data,
                })
            }
            ResponseCode::Error => Self::Error(ServerError::read(&mut r)?),
        };
        r.finish()?;
        Ok(response)
    }

    /// Appends the payload.
    ///
    /// # Errors
    /// A value outside the limits of its field.
    pub fn encode_payload(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        match self {
            Self::Registered(id) => id.write(dst),
            Self::ClientList(page) => {
                limit("client list page", page.clients.len(), MAX_LIST_PAGE)?;
                dst.put_u8(page.more.into());
                put_u16(dst, page.clients.len() as u16);
                for c in &page.clients {
                    c.id.write(dst);
                    c.name.write_short(dst);
                }
            }
            Self::PublicKey(k) => {
                k.client_id.write(dst);
                k.public_key.write(dst);
                k.name.write_short(dst);
            }
            Self::MessageStored(m) => {
                m.destination.write(dst);
                put_u64(dst, m.message_id);
            }
            Self::Messages(batch) => {
                limit("message batch", batch.messages.len(), u16::MAX as usize)?;
                dst.put_u8(batch.more.into());
                put_u16(dst, batch.messages.len() as u16);
                for m in &batch.messages {
                    m.write(dst)?;
                }
            }
            Self::Acked(statuses) => {
                limit("ack statuses", statuses.len(), MAX_ACK_IDS)?;
                put_u16(dst, statuses.len() as u16);
                for s in statuses {
                    dst.put_u8(match s {
                        AckStatus::Removed => 0,
                        AckStatus::NotWaiting => 1,
                    });
                }
            }
            Self::Challenge(c) => {
                dst.put_slice(&c.server_key);
                dst.put_slice(&c.server_nonce);
                dst.put_slice(&c.signature);
            }
            Self::Authenticated(l) => {
                put_u32(dst, l.max_message_len);
                put_u32(dst, l.max_chunk_len);
                put_u64(dst, l.max_file_size);
                put_u16(dst, l.max_pull_messages);
                put_u16(dst, l.max_ack_ids);
                put_u32(dst, l.max_pull_bytes);
                put_u32(dst, l.requests_per_second);
                put_u32(dst, l.idle_timeout_secs);
            }
            Self::Subscribed { waiting } => put_u32(dst, *waiting),
            Self::Pong(token) => put_u64(dst, *token),
            Self::Delivery(d) => d.write(dst)?,
            Self::Closing(e) | Self::Error(e) => e.write(dst)?,
            Self::UploadStatus(s) => {
                s.upload_id.write(dst);
                s.destination.write(dst);
                put_u64(dst, s.file_size);
                put_u64(dst, s.offset);
            }
            Self::ChunkStored(c) => {
                c.upload_id.write(dst);
                put_u64(dst, c.next_offset);
            }
            Self::FileSent(f) => {
                f.upload_id.write(dst);
                f.destination.write(dst);
                put_u64(dst, f.message_id);
            }
            Self::UploadCancelled(id) => id.write(dst),
            Self::FileChunk(c) => {
                limit("file chunk", c.data.len(), MAX_CHUNK_LEN)?;
                put_u64(dst, c.message_id);
                put_u64(dst, c.offset);
                dst.put_slice(&c.data);
            }
        }
        Ok(())
    }
}

fn exact(len: usize, expected: usize) -> Result<(), PayloadError> {
    if len != expected {
        return Err(PayloadError::WrongSize {
            expected,
            actual: len,
        });
    }
    Ok(())
}

fn limit(what: &'static str, len: usize, max: usize) -> Result<(), ProtocolError> {
    if len > max {
        return Err(ProtocolError::ValueTooLarge {
            what,
            len: len as u64,
            max: max as u64,
        });
    }
    Ok(())
}
