//! The payloads of the room answers 1300 to 1308 (PROTOCOL.md "Rooms"),
//! each with its reader and writer; `v3::Response` names them, and the two
//! notices (1310 a [`super::RoomEntry`], 1311 a stock u32) need no struct.

use bytes::{BufMut, Bytes, BytesMut};

use super::super::layout::limit;
use super::entry::RoomEntry;
use super::{
    CLAIMED_HEADER_LEN, MEMBER_ROLE_LEN, ROOM_ENTRY_HEADER_LEN, ROOM_STATUS_HEADER_LEN,
    ROOM_SUMMARY_LEN,
};
use crate::error::{PayloadError, ProtocolError};
use crate::types::{ClientId, RoomId};
use crate::wire::{Reader, check_range, put_u16, put_u32, put_u64};
use crate::{
    MAX_ACK_IDS, MAX_KEY_PACKAGE_LEN, MAX_KEY_PACKAGES, MAX_PULL_MESSAGES, MAX_ROOM_LIST,
    MAX_ROOM_MEMBERS,
};

/// Response 1300: the caller's key package stock after the upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPackageStock {
    /// One-time packages stored.
    pub one_time: u32,
    /// Whether a last-resort package is stored.
    pub last_resort: bool,
}

/// What a claim found for one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimStatus {
    /// 0: a one-time package, now deleted from the server.
    OneTime,
    /// 1: the last-resort package (kept; no one-time package was left).
    LastResort,
    /// 2: none (the key package is empty).
    None,
}

/// One client's answer in a 1301 payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedKeyPackage {
    /// The client asked for.
    pub client: ClientId,
    /// What was found.
    pub status: ClaimStatus,
    /// The key package: 1 to [`MAX_KEY_PACKAGE_LEN`] bytes, empty with
    /// [`ClaimStatus::None`].
    pub key_package: Bytes,
}

impl ClaimedKeyPackage {
    /// The largest 1301 payload.
    pub(in crate::v3) const MAX_ANSWER_LEN: usize =
        2 + MAX_KEY_PACKAGES * (CLAIMED_HEADER_LEN + MAX_KEY_PACKAGE_LEN);

    pub(in crate::v3) fn read_all(r: &mut Reader) -> Result<Vec<Self>, PayloadError> {
        let count = r.u16("count")? as usize;
        check_range("count", count as u64, 0, MAX_KEY_PACKAGES as u64)?;
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let client = ClientId::read(r, "client id")?;
            let code = r.u8("claim status")?;
            check_range("claim status", code.into(), 0, 2)?;
            let status = [
                ClaimStatus::OneTime,
                ClaimStatus::LastResort,
                ClaimStatus::None,
            ][usize::from(code)];
            let len = r.u16("key package length")? as usize;
            let (min, max) = match status {
                ClaimStatus::None => (0, 0),
                _ => (1, MAX_KEY_PACKAGE_LEN),
            };
            check_range("key package length", len as u64, min, max as u64)?;
            out.push(Self {
                client,
                status,
                key_package: r.bytes("key package", len)?,
            });
        }
        Ok(out)
    }

    pub(in crate::v3) fn write_all(all: &[Self], dst: &mut BytesMut) -> Result<(), ProtocolError> {
        limit("claimed key packages", all.len(), MAX_KEY_PACKAGES)?;
        put_u16(dst, all.len() as u16);
        for c in all {
            let max = match c.status {
                ClaimStatus::None => 0,
                _ => MAX_KEY_PACKAGE_LEN,
            };
            limit("key package", c.key_package.len(), max)?;
            c.client.write(dst);
            dst.put_u8(match c.status {
                ClaimStatus::OneTime => 0,
                ClaimStatus::LastResort => 1,
                ClaimStatus::None => 2,
            });
            put_u16(dst, c.key_package.len() as u16);
            dst.put_slice(&c.key_package);
        }
        Ok(())
    }
}

/// Response 1302: the room exists, at epoch 0. Response 1323 (the room is
/// re-founded) has the same layout, with the epoch the server holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomCreated {
    /// The room.
    pub room: RoomId,
    /// Its epoch (0).
    pub epoch: u64,
}

/// Response 1303: the commit is the room's log entry `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitAccepted {
    /// The room.
    pub room: RoomId,
    /// The room's new epoch.
    pub epoch: u64,
    /// The commit's position in the log.
    pub seq: u64,
}

/// Response 1304: the room message is the room's log entry `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomMessageStored {
    /// The room.
    pub room: RoomId,
    /// The message's position in the log.
    pub seq: u64,
}

/// Response 1305: room entries after the caller's cursors, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoomBatch {
    /// Whether more entries wait after these.
    pub more: bool,
    /// Up to [`MAX_PULL_MESSAGES`] entries.
    pub entries: Vec<RoomEntry>,
}

impl RoomBatch {
    pub(in crate::v3) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        let more = r.flag("more")?;
        let count = r.u16("count")? as usize;
        check_range("count", count as u64, 0, MAX_PULL_MESSAGES.into())?;
        let mut entries = Vec::with_capacity(count.min(r.remaining() / ROOM_ENTRY_HEADER_LEN));
        for _ in 0..count {
            entries.push(RoomEntry::read(r)?);
        }
        Ok(Self { more, entries })
    }

    pub(in crate::v3) fn write(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        limit("room entries", self.entries.len(), MAX_PULL_MESSAGES.into())?;
        dst.put_u8(self.more.into());
        put_u16(dst, self.entries.len() as u16);
        for e in &self.entries {
            e.write(dst)?;
        }
        Ok(())
    }
}

/// The outcome for one cursor of a room acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoomAckStatus {
    /// 0: the cursor moved.
    Moved,
    /// 1: not a member, or nothing to move (the cursor is already there).
    NotMoved,
}

impl RoomAckStatus {
    /// The largest 1306 payload.
    pub(in crate::v3) const MAX_ANSWER_LEN: usize = 2 + MAX_ACK_IDS;

    pub(in crate::v3) fn read_all(r: &mut Reader) -> Result<Vec<Self>, PayloadError> {
        let count = r.u16("count")? as usize;
        check_range("count", count as u64, 1, MAX_ACK_IDS as u64)?;
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(match r.u8("room ack status")? {
                0 => Self::Moved,
                1 => Self::NotMoved,
                value => {
                    return Err(PayloadError::BadFlag {
                        field: "room ack status",
                        value,
                    });
                }
            });
        }
        Ok(out)
    }

    pub(in crate::v3) fn write_all(all: &[Self], dst: &mut BytesMut) -> Result<(), ProtocolError> {
        limit("room ack statuses", all.len(), MAX_ACK_IDS)?;
        put_u16(dst, all.len() as u16);
        for s in all {
            dst.put_u8(match s {
                Self::Moved => 0,
                Self::NotMoved => 1,
            });
        }
        Ok(())
    }
}

/// A member's role, as 1307 and 1308 carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoomRole {
    /// 0: a plain member.
    Member,
    /// 1: an admin (adds, removes, changes roles).
    Admin,
    /// 2: an owner (also makes and removes admins and owners).
    Owner,
}

impl RoomRole {
    /// The wire value.
    pub fn code(self) -> u8 {
        match self {
            Self::Member => 0,
            Self::Admin => 1,
            Self::Owner => 2,
        }
    }

    fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        match r.u8("role")? {
            0 => Ok(Self::Member),
            1 => Ok(Self::Admin),
            2 => Ok(Self::Owner),
            other => Err(PayloadError::OutOfRange {
                field: "role",
                value: other.into(),
                min: 0,
                max: 2,
            }),
        }
    }
}

/// One member of a 1307 answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoomMemberRole {
    /// The member.
    pub client: ClientId,
    /// Its role.
    pub role: RoomRole,
}

/// Response 1307: a room as the server follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomStatus {
    /// The room.
    pub room: RoomId,
    /// Its current epoch.
    pub epoch: u64,
    /// The `seq` of its last log entry (0: none).
    pub last_seq: u64,
    /// Every member, 1 to [`MAX_ROOM_MEMBERS`], by client id.
    pub members: Vec<RoomMemberRole>,
}

impl RoomStatus {
    /// The largest payload.
    pub(in crate::v3) const MAX_LEN: usize =
        ROOM_STATUS_HEADER_LEN + MAX_ROOM_MEMBERS * MEMBER_ROLE_LEN;

    pub(in crate::v3) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        let room = RoomId::read(r)?;
        let epoch = r.u64("epoch")?;
        let last_seq = r.u64("last seq")?;
        let count = r.u16("member count")? as usize;
        check_range("member count", count as u64, 1, MAX_ROOM_MEMBERS as u64)?;
        let mut members = Vec::with_capacity(count);
        for _ in 0..count {
            members.push(RoomMemberRole {
                client: ClientId::read(r, "member")?,
                role: RoomRole::read(r)?,
            });
        }
        Ok(Self {
            room,
            epoch,
            last_seq,
            members,
        })
    }

    pub(in crate::v3) fn write(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        limit("room members", self.members.len(), MAX_ROOM_MEMBERS)?;
        self.room.write(dst);
        put_u64(dst, self.epoch);
        put_u64(dst, self.last_seq);
        put_u16(dst, self.members.len() as u16);
        for m in &self.members {
            m.client.write(dst);
            dst.put_u8(m.role.code());
        }
        Ok(())
    }
}

/// One room of a 1308 answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoomSummary {
    /// The room.
    pub room: RoomId,
    /// Its current epoch.
    pub epoch: u64,
    /// How many members it has.
    pub members: u16,
    /// The caller's role in it.
    pub role: RoomRole,
}

impl RoomSummary {
    /// The largest 1308 payload.
    pub(in crate::v3) const MAX_LIST_LEN: usize = 2 + MAX_ROOM_LIST * ROOM_SUMMARY_LEN;

    pub(in crate::v3) fn read_all(r: &mut Reader) -> Result<Vec<Self>, PayloadError> {
        let count = r.u16("room count")? as usize;
        check_range("room count", count as u64, 0, MAX_ROOM_LIST as u64)?;
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(Self {
                room: RoomId::read(r)?,
                epoch: r.u64("epoch")?,
                members: r.u16("members")?,
                role: RoomRole::read(r)?,
            });
        }
        Ok(out)
    }

    pub(in crate::v3) fn write_all(all: &[Self], dst: &mut BytesMut) -> Result<(), ProtocolError> {
        limit("rooms", all.len(), MAX_ROOM_LIST)?;
        put_u16(dst, all.len() as u16);
        for s in all {
            s.room.write(dst);
            put_u64(dst, s.epoch);
            put_u16(dst, s.members);
            dst.put_u8(s.role.code());
        }
        Ok(())
    }
}

impl KeyPackageStock {
    pub(in crate::v3) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        Ok(Self {
            one_time: r.u32("one-time stock")?,
            last_resort: r.flag("has last resort")?,
        })
    }

    pub(in crate::v3) fn write(&self, dst: &mut BytesMut) {
        put_u32(dst, self.one_time);
        dst.put_u8(self.last_resort.into());
    }
}

impl RoomCreated {
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

impl CommitAccepted {
    pub(in crate::v3) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        Ok(Self {
            room: RoomId::read(r)?,
            epoch: r.u64("epoch")?,
            seq: r.u64("seq")?,
        })
    }

    pub(in crate::v3) fn write(&self, dst: &mut BytesMut) {
        self.room.write(dst);
        put_u64(dst, self.epoch);
        put_u64(dst, self.seq);
    }
}

impl RoomMessageStored {
    pub(in crate::v3) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        Ok(Self {
            room: RoomId::read(r)?,
            seq: r.u64("seq")?,
        })
    }

    pub(in crate::v3) fn write(&self, dst: &mut BytesMut) {
        self.room.write(dst);
        put_u64(dst, self.seq);
    }
}
