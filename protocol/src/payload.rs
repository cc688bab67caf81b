//! Payloads whose layout is the same in versions 2 and 3: register and send.
//!
//! ```text
//! register (100), 415 bytes
//!  +--------------------------------+-------------------------+
//!  | name: 255 bytes, NUL-terminated| public key: 160 bytes   |
//!  | and NUL-padded                 |                         |
//!  +--------------------------------+-------------------------+
//!
//! send (103), 21 + content size bytes
//!  +------------------+------+-------------------+-------------
//!  | destination (16) | type | content size u32  | content ...
//!  +------------------+------+-------------------+-------------
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{PayloadError, ProtocolError};
use crate::types::{ClientId, MessageKind, Name, PublicKey};
use crate::wire::{Reader, expect_len, put_u32};
use crate::{NAME_FIELD_LEN, PUBLIC_KEY_LEN};

/// Size of a register payload.
pub const REGISTER_LEN: usize = NAME_FIELD_LEN + PUBLIC_KEY_LEN;
/// Size of the fixed part of a send payload, before the content.
pub const SEND_HEADER_LEN: usize = 16 + 1 + 4;

/// Request 100: register a name with a public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Register {
    /// The requested name, unique on the server.
    pub name: Name,
    /// The public key field (a signed key bundle in version 3).
    pub public_key: PublicKey,
}

impl Register {
    pub(crate) fn decode(payload: Bytes) -> Result<Self, PayloadError> {
        expect_len(&payload, REGISTER_LEN)?;
        let mut r = Reader::new(payload);
        let name = Name::read_field(&mut r)?;
        let public_key = PublicKey::read(&mut r)?;
        r.finish()?;
        Ok(Self { name, public_key })
    }

    pub(crate) fn encode(&self, dst: &mut BytesMut) {
        self.name.write_field(dst);
        self.public_key.write(dst);
    }
}

/// The fixed part of a send: who it is for, its type and its size.
///
/// A version-2 send too large to hold in memory arrives as this header
/// followed by body chunks (see [`crate::codec`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendHeader {
    /// The recipient.
    pub destination: ClientId,
    /// The message type.
    pub kind: MessageKind,
    /// Size of the content that follows.
    pub content_len: u32,
}

impl SendHeader {
    /// Parses the 21-byte send header.
    pub(crate) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        let destination = ClientId::read(r, "destination")?;
        let kind = MessageKind::read(r)?;
        // Only the server makes room welcomes (from a room commit),
        // deletion notices (from a 145) and not-delivered notices (from an
        // account's deletion).
        if matches!(
            kind,
            MessageKind::RoomWelcome | MessageKind::RoomDeleted | MessageKind::NotDelivered
        ) {
            return Err(PayloadError::BadMessageType(kind.code()));
        }
        Ok(Self {
            destination,
            kind,
            content_len: r.u32("content size")?,
        })
    }

    /// Appends the 21 bytes.
    pub(crate) fn write(&self, dst: &mut BytesMut) {
        self.destination.write(dst);
        dst.put_u8(self.kind.code());
        put_u32(dst, self.content_len);
    }
}

/// Request 103: send a message with its whole content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendMessage {
    /// The recipient.
    pub destination: ClientId,
    /// The message type.
    pub kind: MessageKind,
    /// The content, opaque to the server (ciphertext).
    pub content: Bytes,
}

impl SendMessage {
    pub(crate) fn decode(payload: Bytes) -> Result<Self, PayloadError> {
        let total = payload.len();
        let mut r = Reader::new(payload);
        let header = SendHeader::read(&mut r)?;
        let actual = (total - SEND_HEADER_LEN) as u64;
        if u64::from(header.content_len) != actual {
            return Err(PayloadError::ContentSizeMismatch {
                declared: header.content_len.into(),
                actual,
            });
        }
        Ok(Self {
            destination: header.destination,
            kind: header.kind,
            content: r.rest(),
        })
    }

    pub(crate) fn encode(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        let content_len = u32::try_from(self.content.len()).map_err(|_| too_large(self))?;
        SendHeader {
            destination: self.destination,
            kind: self.kind,
            content_len,
        }
        .write(dst);
        dst.put_slice(&self.content);
        Ok(())
    }
}

fn too_large(m: &SendMessage) -> ProtocolError {
    ProtocolError::ValueTooLarge {
        what: "message content",
        len: m.content.len() as u64,
        max: u32::MAX.into(),
    }
}
