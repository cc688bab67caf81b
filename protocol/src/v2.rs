//! Version 2: the documented protocol of the reference system, byte for byte.
//!
//! One request per connection, no authentication. Message ids are 4 bytes.
//!
//! ```text
//! 1001 entry (271 bytes)             1004 entry (25 + size bytes)
//!  +-----------+----------------+     +-----------+--------+----+---------+---------
//!  | id (16)   | name (255)     |     | sender 16 | id u32 |type| size u32| content
//!  +-----------+----------------+     +-----------+--------+----+---------+---------
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{PayloadError, ProtocolError};
use crate::header::{RequestCode, ResponseCode};
use crate::types::{ClientId, MessageKind, Name, PublicKey};
use crate::wire::{Reader, expect_len, put_u32};
use crate::{CLIENT_ID_LEN, NAME_FIELD_LEN, PUBLIC_KEY_LEN};

pub use crate::payload::{Register, SendHeader, SendMessage};

/// Size of one client-list entry.
pub const CLIENT_ENTRY_LEN: usize = CLIENT_ID_LEN + NAME_FIELD_LEN;
/// Size of the fixed part of one pulled message, before its content.
pub const PULLED_HEADER_LEN: usize = 16 + 4 + 1 + 4;
/// Largest content a version-2 message may have: one pull entry must fit the
/// 4-byte payload size of a 1004 response.
pub const MAX_CONTENT_LEN: u32 = u32::MAX - PULLED_HEADER_LEN as u32;

/// A version-2 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// 100: register.
    Register(Register),
    /// 101: list every other client.
    ListClients,
    /// 102: a client's public key.
    GetPublicKey(ClientId),
    /// 103: send a message.
    SendMessage(SendMessage),
    /// 104: pull everything waiting.
    Pull,
}

impl Request {
    /// The request code.
    pub fn code(&self) -> RequestCode {
        match self {
            Self::Register(_) => RequestCode::Register,
            Self::ListClients => RequestCode::ListClients,
            Self::GetPublicKey(_) => RequestCode::GetPublicKey,
            Self::SendMessage(_) => RequestCode::SendMessage,
            Self::Pull => RequestCode::Pull,
        }
    }

    /// Parses a complete payload.
    ///
    /// # Errors
    /// The payload does not follow the layout of `code`, or `code` is not a version-2 code.
    pub fn decode(code: RequestCode, payload: Bytes) -> Result<Self, PayloadError> {
        Ok(match code {
            RequestCode::Register => Self::Register(Register::decode(payload)?),
            RequestCode::ListClients => {
                expect_len(&payload, 0)?;
                Self::ListClients
            }
            RequestCode::GetPublicKey => {
                expect_len(&payload, CLIENT_ID_LEN)?;
                Self::GetPublicKey(ClientId::read(&mut Reader::new(payload), "client id")?)
            }
            RequestCode::SendMessage => Self::SendMessage(SendMessage::decode(payload)?),
            RequestCode::Pull => {
                expect_len(&payload, 0)?;
                Self::Pull
            }
            other => return Err(not_v2(other.value().into())),
        })
    }

    /// Appends the payload.
    ///
    /// # Errors
    /// Content over [`MAX_CONTENT_LEN`].
    pub fn encode_payload(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        match self {
            Self::Register(r) => r.encode(dst),
            Self::ListClients | Self::Pull => {}
            Self::GetPublicKey(id) => id.write(dst),
            Self::SendMessage(m) => {
                check_content(m.content.len())?;
                m.encode(dst)?;
            }
        }
        Ok(())
    }
}

/// One entry of the client list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientEntry {
    /// The client's id.
    pub id: ClientId,
    /// The client's name.
    pub name: Name,
}

/// Response 1002: a client's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyEntry {
    /// Whose key.
    pub client_id: ClientId,
    /// The 160-byte key field as registered.
    pub public_key: PublicKey,
}

/// Response 1003: the message is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageStored {
    /// The recipient, echoed.
    pub destination: ClientId,
    /// The message id (the low 32 bits of the server's 64-bit id).
    pub message_id: u32,
}

/// The fixed part of one pulled message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PulledMessageHeader {
    /// Who sent it.
    pub sender: ClientId,
    /// Its id.
    pub message_id: u32,
    /// Its type.
    pub kind: MessageKind,
    /// Size of the content that follows.
    pub content_len: u32,
}

impl PulledMessageHeader {
    pub(crate) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        Ok(Self {
            sender: ClientId::read(r, "sender")?,
            message_id: r.u32("message id")?,
            kind: MessageKind::read(r)?,
            content_len: r.u32("content size")?,
        })
    }

    /// Appends the 25 bytes.
    pub fn write(&self, dst: &mut BytesMut) {
        self.sender.write(dst);
        put_u32(dst, self.message_id);
        dst.put_u8(self.kind.code());
        put_u32(dst, self.content_len);
    }
}

/// One pulled message with its whole content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledMessage {
    /// Who sent it.
    pub sender: ClientId,
    /// Its id.
    pub message_id: u32,
    /// Its type.
    pub kind: MessageKind,
    /// The content as the sender sent it.
    pub content: Bytes,
}

/// A version-2 response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// 1000: the new client's id.
    Registered(ClientId),
    /// 1001: every other client.
    ClientList(Vec<ClientEntry>),
    /// 1002: a public key.
    PublicKey(PublicKeyEntry),
    /// 1003: the message is stored.
    MessageStored(MessageStored),
    /// 1004: everything that was waiting (now delivered).
    Messages(Vec<PulledMessage>),
    /// 9000: the request failed (no payload).
    Error,
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
            Self::Error => ResponseCode::Error,
        }
    }

    /// Parses a complete payload.
    ///
    /// # Errors
    /// The payload does not follow the layout of `code`, or `code` is not a version-2 code.
    pub fn decode(code: ResponseCode, payload: Bytes) -> Result<Self, PayloadError> {
        Ok(match code {
            ResponseCode::Registered => {
                expect_len(&payload, CLIENT_ID_LEN)?;
                Self::Registered(ClientId::read(&mut Reader::new(payload), "client id")?)
            }
            ResponseCode::ClientList => {
                if payload.len() % CLIENT_ENTRY_LEN != 0 {
                    return Err(PayloadError::WrongSize {
                        expected: payload.len() / CLIENT_ENTRY_LEN * CLIENT_ENTRY_LEN,
                        actual: payload.len(),
                    });
                }
                let mut r = Reader::new(payload);
                let mut clients = Vec::with_capacity(r.remaining() / CLIENT_ENTRY_LEN);
                while r.remaining() > 0 {
                    clients.push(ClientEntry {
                        id: ClientId::read(&mut r, "client id")?,
                        name: Name::read_field(&mut r)?,
                    });
                }
                Self::ClientList(clients)
            }
            ResponseCode::PublicKey => {
                expect_len(&payload, CLIENT_ID_LEN + PUBLIC_KEY_LEN)?;
                let mut r = Reader::new(payload);
                Self::PublicKey(PublicKeyEntry {
                    client_id: ClientId::read(&mut r, "client id")?,
                    public_key: PublicKey::read(&mut r)?,
                })
            }
            ResponseCode::MessageStored => {
                expect_len(&payload, CLIENT_ID_LEN + 4)?;
                let mut r = Reader::new(payload);
                Self::MessageStored(MessageStored {
                    destination: ClientId::read(&mut r, "destination")?,
                    message_id: r.u32("message id")?,
                })
            }
            ResponseCode::Messages => {
                let mut r = Reader::new(payload);
                let mut messages = Vec::new();
                while r.remaining() > 0 {
                    let header = PulledMessageHeader::read(&mut r)?;
                    let content = r.bytes("content", header.content_len as usize)?;
                    messages.push(PulledMessage {
                        sender: header.sender,
                        message_id: header.message_id,
                        kind: header.kind,
                        content,
                    });
                }
                Self::Messages(messages)
            }
            ResponseCode::Error => {
                expect_len(&payload, 0)?;
                Self::Error
            }
            other => return Err(not_v2(other.value())),
        })
    }

    /// Appends the payload.
    ///
    /// # Errors
    /// A pulled message's content over [`MAX_CONTENT_LEN`].
    pub fn encode_payload(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        match self {
            Self::Registered(id) => id.write(dst),
            Self::ClientList(clients) => {
                dst.reserve(clients.len() * CLIENT_ENTRY_LEN);
                for c in clients {
                    c.id.write(dst);
                    c.name.write_field(dst);
                }
            }
            Self::PublicKey(entry) => {
                entry.client_id.write(dst);
                entry.public_key.write(dst);
            }
            Self::MessageStored(m) => {
                m.destination.write(dst);
                put_u32(dst, m.message_id);
            }
            Self::Messages(messages) => {
                for m in messages {
                    let content_len = check_content(m.content.len())?;
                    PulledMessageHeader {
                        sender: m.sender,
                        message_id: m.message_id,
                        kind: m.kind,
                        content_len,
                    }
                    .write(dst);
                    dst.put_slice(&m.content);
                }
            }
            Self::Error => {}
        }
        Ok(())
    }
}

fn check_content(len: usize) -> Result<u32, ProtocolError> {
    u32::try_from(len)
        .ok()
        .filter(|l| *l <= MAX_CONTENT_LEN)
        .ok_or(ProtocolError::ValueTooLarge {
            what: "version-2 message content",
            len: len as u64,
            max: MAX_CONTENT_LEN.into(),
        })
}

fn not_v2(code: u16) -> PayloadError {
    PayloadError::OutOfRange {
        field: "version-2 code",
        value: code.into(),
        min: 100,
        max: 104,
    }
}
