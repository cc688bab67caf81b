//! The payloads of joining a room (PROTOCOL.md "Joining (142 to 144)"): a
//! member stores the room's group info (142, answered by 1314), anyone
//! lists the public rooms (143, 1315) or finds a public or hidden room by
//! its exact name (144, answered by 1316 with the group info to join from).
//!
//! ```text
//! 142:   room id [16] | epoch u64 | len u32 | group info [len]       len 1..1048512
//! 1314:  room id [16] | epoch u64
//! 1315:  count u16 (0..1000) | count × ( room id [16] | members u16 | online u16 | lock u8 | name len u8 | name )
//! 144:   name len u8 (1..64) | name
//! 1316:  the layout of 142
//! ```
//!
//! The group info is opaque here (the `sealpost-rooms` crate reads it); a
//! room name is checked as text (UTF-8, 1 to 64 bytes, no control
//! characters), never interpreted.

use bytes::{BufMut, Bytes, BytesMut};

use super::super::layout::{COUNT_LEN, SIZE_LEN, limit};
use super::{EPOCH_LEN, ROOM_ID_LEN};
use crate::MAX_ROOM_MESSAGE_LEN;
use crate::error::{PayloadError, ProtocolError};
use crate::types::RoomId;
use crate::wire::{Reader, check_range, put_u16, put_u32, put_u64};

/// Longest room name, in bytes (the name extension's limit).
pub const MAX_ROOM_NAME_LEN: usize = 64;
/// Most rooms in a 1315 answer.
pub const MAX_LISTED_ROOMS: usize = 1000;
/// Size of a 1314 payload: room id, epoch.
pub(in crate::v3) const GROUP_INFO_STORED_LEN: usize = ROOM_ID_LEN + EPOCH_LEN;
/// Size of a 144 payload at most: name length, name.
pub(in crate::v3) const FIND_ROOM_MAX_LEN: usize = 1 + MAX_ROOM_NAME_LEN;
/// Size of one listed room's fixed part: room id, members, online, lock, name length.
const LISTED_HEADER_LEN: usize = ROOM_ID_LEN + 2 * COUNT_LEN + 2;

/// Request 142 and answer 1316: a room's group info at an epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomGroupInfo {
    /// The room.
    pub room: RoomId,
    /// The epoch the group info is of.
    pub epoch: u64,
    /// The `GroupInfo` `MLSMessage` with its ratchet tree, 1 to
    /// [`MAX_ROOM_MESSAGE_LEN`] bytes.
    pub group_info: Bytes,
}

impl RoomGroupInfo {
    /// The largest payload.
    pub(in crate::v3) const MAX_LEN: usize =
        ROOM_ID_LEN + EPOCH_LEN + SIZE_LEN + MAX_ROOM_MESSAGE_LEN;

    pub(in crate::v3) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        let room = RoomId::read(r)?;
        let epoch = r.u64("epoch")?;
        let len = r.u32("group info length")? as usize;
        check_range(
            "group info length",
            len as u64,
            1,
            MAX_ROOM_MESSAGE_LEN as u64,
        )?;
        Ok(Self {
            room,
            epoch,
            group_info: r.bytes("group info", len)?,
        })
    }

    pub(in crate::v3) fn write(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        limit("group info", self.group_info.len(), MAX_ROOM_MESSAGE_LEN)?;
        self.room.write(dst);
        put_u64(dst, self.epoch);
        put_u32(dst, self.group_info.len() as u32);
        dst.put_slice(&self.group_info);
        Ok(())
    }
}

/// Answer 1314: the group info is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupInfoStored {
    /// The room.
    pub room: RoomId,
    /// The epoch of the group info now kept.
    pub epoch: u64,
}

impl GroupInfoStored {
    pub(in crate::v3) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        Ok(Self {
            room: RoomId::read(r)?,
            epoch: r.u64("epoch")?,
        })
    }

    pub(in crate::v3) fn write(&self, dst: &mut BytesMut) {
        self.room.write(dst);
        put_u64(dst, self.epoch);
    }
}

/// A room name on the wire: UTF-8, 1 to [`MAX_ROOM_NAME_LEN`] bytes, no
/// control characters (request 144, answer 1315). It is a member's word:
/// escape it before printing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoomLabel(String);

impl RoomLabel {
    /// Checks `name`.
    ///
    /// # Errors
    /// [`PayloadError::NameEmpty`], [`PayloadError::NameTooLong`],
    /// [`PayloadError::NameControlChar`].
    pub fn new(name: &str) -> Result<Self, PayloadError> {
        if name.is_empty() {
            return Err(PayloadError::NameEmpty);
        }
        if name.len() > MAX_ROOM_NAME_LEN {
            return Err(PayloadError::NameTooLong(name.len()));
        }
        if name.chars().any(char::is_control) {
            return Err(PayloadError::NameControlChar);
        }
        Ok(Self(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        let len = r.u8("room name length")? as usize;
        check_range("room name length", len as u64, 1, MAX_ROOM_NAME_LEN as u64)?;
        let bytes = r.bytes("room name", len)?;
        Self::new(std::str::from_utf8(&bytes).map_err(|_| PayloadError::NameNotUtf8)?)
    }

    fn write(&self, dst: &mut BytesMut) {
        // At most MAX_ROOM_NAME_LEN (64) bytes: `new` checked it.
        dst.put_u8(self.0.len() as u8);
        dst.put_slice(self.0.as_bytes());
    }
}

impl std::fmt::Display for RoomLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Request 144: the room of this exact name.
pub(in crate::v3) fn read_find(r: &mut Reader) -> Result<RoomLabel, PayloadError> {
    RoomLabel::read(r)
}

/// Writes a 144 payload.
pub(in crate::v3) fn write_find(name: &RoomLabel, dst: &mut BytesMut) {
    name.write(dst);
}

/// One room of a 1315 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedRoom {
    /// The room.
    pub room: RoomId,
    /// Its current members.
    pub members: u16,
    /// How many of them are shown online.
    pub online: u16,
    /// Whether joining needs the room's password (rule 3).
    pub locked: bool,
    /// Its name.
    pub name: RoomLabel,
}

impl ListedRoom {
    /// The largest 1315 payload.
    pub(in crate::v3) const MAX_LIST_LEN: usize =
        COUNT_LEN + MAX_LISTED_ROOMS * (LISTED_HEADER_LEN + MAX_ROOM_NAME_LEN);

    pub(in crate::v3) fn read_all(r: &mut Reader) -> Result<Vec<Self>, PayloadError> {
        let count = r.u16("room count")? as usize;
        check_range("room count", count as u64, 0, MAX_LISTED_ROOMS as u64)?;
        let mut out = Vec::with_capacity(count.min(r.remaining() / (LISTED_HEADER_LEN + 1)));
        for _ in 0..count {
            out.push(Self {
                room: RoomId::read(r)?,
                members: r.u16("members")?,
                online: r.u16("online")?,
                locked: match r.u8("lock")? {
                    0 => false,
                    1 => true,
                    value => {
                        return Err(PayloadError::BadFlag {
                            field: "lock",
                            value,
                        });
                    }
                },
                name: RoomLabel::read(r)?,
            });
        }
        Ok(out)
    }

    pub(in crate::v3) fn write_all(
        rooms: &[Self],
        dst: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        limit("listed rooms", rooms.len(), MAX_LISTED_ROOMS)?;
        put_u16(dst, rooms.len() as u16);
        for room in rooms {
            room.room.write(dst);
            put_u16(dst, room.members);
            put_u16(dst, room.online);
            dst.put_u8(u8::from(room.locked));
            room.name.write(dst);
        }
        Ok(())
    }
}
