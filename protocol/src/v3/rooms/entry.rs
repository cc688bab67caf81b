//! The room entry that a room pull (1305) and a room push (1310) carry, and
//! the content of a type-5 message (room welcome).
//!
//! ```text
//! room entry, 77 + len bytes
//!  +---------+---------+-----------+----+-----------+-------------+------------+---------+-------
//!  | room 16 | seq u64 | sender 16 |kind| epoch u64 | sent at u64 | file id 16 | len u32 | bytes
//!  +---------+---------+-----------+----+-----------+-------------+------------+---------+-------
//!
//! type-5 content, 24 + welcome bytes
//!  +---------+-----------+---------------------
//!  | room 16 | epoch u64 | MLS welcome (rest)
//!  +---------+-----------+---------------------
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use super::super::layout::limit;
use super::{MAX_ROOM_WELCOME_LEN, ROOM_ENTRY_HEADER_LEN, ROOM_WELCOME_HEADER_LEN};
use crate::MAX_ROOM_MESSAGE_LEN;
use crate::error::{PayloadError, ProtocolError};
use crate::types::{ClientId, RoomId, UploadId};
use crate::wire::{Reader, check_range, put_u32, put_u64};

/// What a room entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoomEntryKind {
    /// 1: an MLS private message (application data).
    Application,
    /// 2: an MLS public message carrying a commit.
    Commit,
    /// 3: an MLS public message carrying a proposal (a member leaving).
    Proposal,
}

impl RoomEntryKind {
    /// The wire value.
    pub fn code(self) -> u8 {
        match self {
            Self::Application => 1,
            Self::Commit => 2,
            Self::Proposal => 3,
        }
    }

    /// Parses the wire value.
    ///
    /// # Errors
    /// Anything but 1 to 3.
    pub fn from_code(code: u8) -> Result<Self, PayloadError> {
        match code {
            1 => Ok(Self::Application),
            2 => Ok(Self::Commit),
            3 => Ok(Self::Proposal),
            other => Err(PayloadError::OutOfRange {
                field: "room entry kind",
                value: other.into(),
                min: 1,
                max: 3,
            }),
        }
    }
}

/// One entry of a room's log, in a 1305 answer or a 1310 push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomEntry {
    /// The room.
    pub room: RoomId,
    /// Its position in the room's log (from a server-wide counter).
    pub seq: u64,
    /// The member who sent it (the authenticated connection).
    pub sender: ClientId,
    /// What it holds.
    pub kind: RoomEntryKind,
    /// The epoch it was made in (a commit's epoch is the one it ends).
    pub epoch: u64,
    /// When the server stored it, in milliseconds since the Unix epoch.
    pub sent_at_ms: u64,
    /// The room file the message names, if its 134 named one.
    pub file: Option<UploadId>,
    /// The MLS message, 1 to [`MAX_ROOM_MESSAGE_LEN`] bytes.
    pub message: Bytes,
}

impl RoomEntry {
    pub(in crate::v3) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        let room = RoomId::read(r)?;
        let seq = r.u64("seq")?;
        let sender = ClientId::read(r, "sender")?;
        let kind = RoomEntryKind::from_code(r.u8("room entry kind")?)?;
        let epoch = r.u64("epoch")?;
        let sent_at_ms = r.u64("sent at")?;
        let file = read_file_id(r)?;
        let len = r.u32("message length")? as usize;
        check_range("message length", len as u64, 1, MAX_ROOM_MESSAGE_LEN as u64)?;
        let message = r.bytes("message", len)?;
        Ok(Self {
            room,
            seq,
            sender,
            kind,
            epoch,
            sent_at_ms,
            file,
            message,
        })
    }

    pub(in crate::v3) fn write(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        limit("room message", self.message.len(), MAX_ROOM_MESSAGE_LEN)?;
        self.room.write(dst);
        put_u64(dst, self.seq);
        self.sender.write(dst);
        dst.put_u8(self.kind.code());
        put_u64(dst, self.epoch);
        put_u64(dst, self.sent_at_ms);
        write_file_id(dst, self.file);
        put_u32(dst, self.message.len() as u32);
        dst.put_slice(&self.message);
        Ok(())
    }

    /// Bytes this entry takes in a 1305 payload.
    pub fn encoded_len(&self) -> usize {
        ROOM_ENTRY_HEADER_LEN + self.message.len()
    }
}

/// The content of a type-5 message: the welcome of a member a commit adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomWelcome {
    /// The room joined.
    pub room: RoomId,
    /// The epoch the welcome joins: the one the adding commit starts.
    pub epoch: u64,
    /// The MLS welcome, 1 to [`MAX_ROOM_MESSAGE_LEN`] bytes.
    pub welcome: Bytes,
}

impl RoomWelcome {
    /// Parses a type-5 message's content.
    ///
    /// # Errors
    /// Shorter than 25 bytes, or longer than [`MAX_ROOM_WELCOME_LEN`].
    pub fn decode(content: Bytes) -> Result<Self, PayloadError> {
        check_range(
            "room welcome size",
            content.len() as u64,
            ROOM_WELCOME_HEADER_LEN as u64 + 1,
            MAX_ROOM_WELCOME_LEN as u64,
        )?;
        let mut r = Reader::new(content);
        Ok(Self {
            room: RoomId::read(&mut r)?,
            epoch: r.u64("epoch")?,
            welcome: r.rest(),
        })
    }

    /// The content bytes.
    ///
    /// # Errors
    /// A welcome over [`MAX_ROOM_MESSAGE_LEN`].
    pub fn encode(&self) -> Result<Bytes, ProtocolError> {
        limit("room welcome", self.welcome.len(), MAX_ROOM_MESSAGE_LEN)?;
        let mut out = BytesMut::with_capacity(ROOM_WELCOME_HEADER_LEN + self.welcome.len());
        self.room.write(&mut out);
        put_u64(&mut out, self.epoch);
        out.put_slice(&self.welcome);
        Ok(out.freeze())
    }
}

/// A file id field: all zero means none (upload ids are random, never zero).
pub(super) fn read_file_id(r: &mut Reader) -> Result<Option<UploadId>, PayloadError> {
    let id: [u8; 16] = r.array("file id")?;
    Ok((id != [0; 16]).then_some(UploadId(id)))
}

pub(super) fn write_file_id(dst: &mut BytesMut, file: Option<UploadId>) {
    dst.put_slice(&file.map_or([0; 16], |id| id.0));
}
