//! The payloads of deleting a room (PROTOCOL.md "Deleting (145)"): the
//! owner's request carries the notice every member gets as a type-6
//! message, and the server answers 1317 with the room id.
//!
//! ```text
//! 145:             room id [16] | epoch u64 | len u32 | notice [len]     len 1..1048512
//! 1317:            room id [16]
//! type-6 content:  room id [16] | epoch u64 | notice [rest]
//! ```
//!
//! The notice is opaque here (an MLS private message the `sealpost-rooms`
//! crate reads).

use bytes::{BufMut, Bytes, BytesMut};

use super::super::layout::{SIZE_LEN, limit};
use super::{EPOCH_LEN, ROOM_ID_LEN};
use crate::MAX_ROOM_MESSAGE_LEN;
use crate::error::{PayloadError, ProtocolError};
use crate::types::RoomId;
use crate::wire::{Reader, check_range, put_u32, put_u64};

/// Size of a type-6 content's fixed part, before the notice: room id, epoch.
pub const ROOM_NOTICE_HEADER_LEN: usize = ROOM_ID_LEN + EPOCH_LEN;
/// Largest content of a type-6 message.
pub const MAX_ROOM_NOTICE_LEN: usize = ROOM_NOTICE_HEADER_LEN + MAX_ROOM_MESSAGE_LEN;

/// Request 145: the owner deletes the room, with its notice to the members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomDelete {
    /// The room.
    pub room: RoomId,
    /// The room's current epoch, the one the notice is encrypted in.
    pub epoch: u64,
    /// The private MLS message of room content kind 3, 1 to
    /// [`MAX_ROOM_MESSAGE_LEN`] bytes.
    pub notice: Bytes,
}

impl RoomDelete {
    /// The largest payload.
    pub(in crate::v3) const MAX_LEN: usize =
        ROOM_ID_LEN + EPOCH_LEN + SIZE_LEN + MAX_ROOM_MESSAGE_LEN;

    pub(in crate::v3) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        let room = RoomId::read(r)?;
        let epoch = r.u64("epoch")?;
        let len = r.u32("notice length")? as usize;
        check_range("notice length", len as u64, 1, MAX_ROOM_MESSAGE_LEN as u64)?;
        Ok(Self {
            room,
            epoch,
            notice: r.bytes("notice", len)?,
        })
    }

    pub(in crate::v3) fn write(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        limit("notice", self.notice.len(), MAX_ROOM_MESSAGE_LEN)?;
        self.room.write(dst);
        put_u64(dst, self.epoch);
        put_u32(dst, self.notice.len() as u32);
        dst.put_slice(&self.notice);
        Ok(())
    }
}

/// The content of a type-6 message: the owner's notice that a room is
/// deleted, stored by the server for each other member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomNotice {
    /// The room deleted.
    pub room: RoomId,
    /// The room's epoch when it was deleted: the notice's.
    pub epoch: u64,
    /// The notice, 1 to [`MAX_ROOM_MESSAGE_LEN`] bytes.
    pub notice: Bytes,
}

impl RoomNotice {
    /// Parses a type-6 message's content.
    ///
    /// # Errors
    /// Shorter than 25 bytes, or longer than [`MAX_ROOM_NOTICE_LEN`].
    pub fn decode(content: Bytes) -> Result<Self, PayloadError> {
        check_range(
            "room notice size",
            content.len() as u64,
            ROOM_NOTICE_HEADER_LEN as u64 + 1,
            MAX_ROOM_NOTICE_LEN as u64,
        )?;
        let mut r = Reader::new(content);
        Ok(Self {
            room: RoomId::read(&mut r)?,
            epoch: r.u64("epoch")?,
            notice: r.rest(),
        })
    }

    /// The content bytes.
    ///
    /// # Errors
    /// A notice over [`MAX_ROOM_MESSAGE_LEN`].
    pub fn encode(&self) -> Result<Bytes, ProtocolError> {
        limit("room notice", self.notice.len(), MAX_ROOM_MESSAGE_LEN)?;
        let mut out = BytesMut::with_capacity(ROOM_NOTICE_HEADER_LEN + self.notice.len());
        self.room.write(&mut out);
        put_u64(&mut out, self.epoch);
        out.put_slice(&self.notice);
        Ok(out.freeze())
    }
}
