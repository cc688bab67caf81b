//! The message entry of a pull (1004) and a push (1104), and the file offer
//! a type-4 entry carries: the one layout that requests and responses of
//! both delivery paths share.
//!
//! ```text
//! delivery entry, 37 + size bytes
//!  +-----------+-----------+----+--------------+----------+---------
//!  | sender 16 | id u64    |type| sent_at u64  | size u32 | content
//!  +-----------+-----------+----+--------------+----------+---------
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use super::layout::*;
use super::not_delivered::{MAX_NOT_DELIVERED_LEN, NotDelivered};
use super::rooms::{MAX_ROOM_NOTICE_LEN, MAX_ROOM_WELCOME_LEN, RoomNotice, RoomWelcome};
use crate::error::{PayloadError, ProtocolError};
use crate::types::{ClientId, MessageKind};
use crate::wire::{Reader, check_range, put_u32, put_u64};
use crate::{MAX_FILE_META_LEN, MAX_MESSAGE_LEN};

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
    /// The content; for type 4 a [`FileOffer`], for type 5 a [`RoomWelcome`], for type 6 a [`RoomNotice`], for type 7 a
    /// [`NotDelivered`].
    pub content: Bytes,
}

impl Delivery {
    pub(super) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        let sender = ClientId::read(r, "sender")?;
        let message_id = r.u64("message id")?;
        let kind = MessageKind::read(r)?;
        let sent_at_ms = r.u64("sent at")?;
        let size = r.u32("content size")? as usize;
        let content = r.bytes("content", size)?;
        match kind {
            MessageKind::File => drop(FileOffer::decode(content.clone())?),
            MessageKind::RoomWelcome => drop(RoomWelcome::decode(content.clone())?),
            MessageKind::RoomDeleted => drop(RoomNotice::decode(content.clone())?),
            MessageKind::NotDelivered => drop(NotDelivered::decode(content.clone())?),
            _ => check_range("content size", size as u64, 0, MAX_MESSAGE_LEN as u64)?,
        }
        Ok(Self {
            sender,
            message_id,
            kind,
            sent_at_ms,
            content,
        })
    }

    pub(super) fn write(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        let max = match self.kind {
            MessageKind::File => FILE_OFFER_HEADER_LEN + MAX_FILE_META_LEN,
            MessageKind::RoomWelcome => MAX_ROOM_WELCOME_LEN,
            MessageKind::RoomDeleted => MAX_ROOM_NOTICE_LEN,
            MessageKind::NotDelivered => MAX_NOT_DELIVERED_LEN,
            _ => MAX_MESSAGE_LEN,
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
        let mut out = BytesMut::with_capacity(FILE_OFFER_HEADER_LEN + self.meta.len());
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
