//! The payloads of the room requests 130 to 140 (PROTOCOL.md "Rooms"), each
//! with its reader and writer; `v3::Request` names them. Every count and
//! length is checked against its limit before anything is read past it, and
//! the bytes read are slices of the frame, so a peer's numbers never make
//! the decoder allocate.

use bytes::{BufMut, Bytes, BytesMut};

use super::super::layout::limit;
use super::entry::{read_file_id, write_file_id};
use super::{
    KEY_PACKAGES_UPLOAD_HEADER_LEN, ROOM_COMMIT_HEADER_LEN, ROOM_CREATE_HEADER_LEN,
    ROOM_CURSOR_LEN, ROOM_SEND_HEADER_LEN, ROOM_UPLOAD_BEGIN_HEADER_LEN,
};
use crate::error::{PayloadError, ProtocolError};
use crate::types::{ClientId, RoomId, UploadId};
use crate::wire::{Reader, check_range, put_u16, put_u32, put_u64};
use crate::{
    CLIENT_ID_LEN, MAX_ACK_IDS, MAX_CHUNK_LEN, MAX_FILE_META_LEN, MAX_KEY_PACKAGE_LEN,
    MAX_KEY_PACKAGES, MAX_ROOM_MESSAGE_LEN,
};

/// Which stock an upload (130) goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyPackageKind {
    /// 0: one-time packages, each handed out once.
    OneTime,
    /// 1: the last-resort package (at most one per upload; it replaces the
    /// previous one and is handed out when no one-time package is left).
    LastResort,
}

/// Request 130: key packages to store, or (none) a question about the stock.
///
/// ```text
/// kind u8 | count u16 (0..100; 0..1 for last resort) | count × ( len u16 (1..4096) | key package )
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPackagesUpload {
    /// The stock they go to.
    pub kind: KeyPackageKind,
    /// The serialized MLS key packages (`KeyPackage`, not wrapped in an
    /// `MLSMessage`).
    pub packages: Vec<Bytes>,
}

impl KeyPackagesUpload {
    /// The largest payload: 100 packages of the largest size.
    pub(in crate::v3) const MAX_LEN: usize =
        KEY_PACKAGES_UPLOAD_HEADER_LEN + MAX_KEY_PACKAGES * (2 + MAX_KEY_PACKAGE_LEN);

    fn max_count(kind: KeyPackageKind) -> usize {
        match kind {
            KeyPackageKind::OneTime => MAX_KEY_PACKAGES,
            KeyPackageKind::LastResort => 1,
        }
    }

    pub(in crate::v3) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        let kind = match r.u8("key package kind")? {
            0 => KeyPackageKind::OneTime,
            1 => KeyPackageKind::LastResort,
            value => {
                return Err(PayloadError::BadFlag {
                    field: "key package kind",
                    value,
                });
            }
        };
        let count = r.u16("key package count")? as usize;
        check_range(
            "key package count",
            count as u64,
            0,
            Self::max_count(kind) as u64,
        )?;
        let mut packages = Vec::with_capacity(count);
        for _ in 0..count {
            let len = r.u16("key package length")? as usize;
            check_range(
                "key package length",
                len as u64,
                1,
                MAX_KEY_PACKAGE_LEN as u64,
            )?;
            packages.push(r.bytes("key package", len)?);
        }
        Ok(Self { kind, packages })
    }

    pub(in crate::v3) fn write(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        limit(
            "key packages",
            self.packages.len(),
            Self::max_count(self.kind),
        )?;
        dst.put_u8(match self.kind {
            KeyPackageKind::OneTime => 0,
            KeyPackageKind::LastResort => 1,
        });
        put_u16(dst, self.packages.len() as u16);
        for p in &self.packages {
            limit("key package", p.len(), MAX_KEY_PACKAGE_LEN)?;
            put_u16(dst, p.len() as u16);
            dst.put_slice(p);
        }
        Ok(())
    }
}

/// Request 131: claim one key package of each client (1 to 100).
pub(in crate::v3) mod claim {
    use super::*;

    /// The largest payload.
    pub(in crate::v3) const MAX_LEN: usize = 2 + MAX_KEY_PACKAGES * CLIENT_ID_LEN;

    pub(in crate::v3) fn read(r: &mut Reader) -> Result<Vec<ClientId>, PayloadError> {
        let count = r.u16("client count")? as usize;
        check_range("client count", count as u64, 1, MAX_KEY_PACKAGES as u64)?;
        let mut ids = Vec::with_capacity(count);
        for _ in 0..count {
            ids.push(ClientId::read(r, "client id")?);
        }
        Ok(ids)
    }

    pub(in crate::v3) fn write(ids: &[ClientId], dst: &mut BytesMut) -> Result<(), ProtocolError> {
        limit("claimed clients", ids.len(), MAX_KEY_PACKAGES)?;
        put_u16(dst, ids.len() as u16);
        for id in ids {
            id.write(dst);
        }
        Ok(())
    }
}

/// Request 132: create a room at epoch 0 with the caller as its one member.
/// Request 151 (re-found a room a restored server holds behind) has the
/// same layout, with the group info and tree of the caller's current epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomCreate {
    /// The new room's id (16 random bytes).
    pub room: RoomId,
    /// The MLS `GroupInfo` of epoch 0, as an `MLSMessage`.
    pub group_info: Bytes,
    /// The MLS ratchet tree of epoch 0.
    pub ratchet_tree: Bytes,
}

impl RoomCreate {
    /// The largest payload.
    pub(in crate::v3) const MAX_LEN: usize = ROOM_CREATE_HEADER_LEN + MAX_ROOM_MESSAGE_LEN;

    pub(in crate::v3) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        let room = RoomId::read(r)?;
        let group_info = read_u32_bytes(r, "group info", 1, MAX_ROOM_MESSAGE_LEN)?;
        let ratchet_tree = read_u32_bytes(
            r,
            "ratchet tree",
            1,
            MAX_ROOM_MESSAGE_LEN - group_info.len(),
        )?;
        Ok(Self {
            room,
            group_info,
            ratchet_tree,
        })
    }

    pub(in crate::v3) fn write(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        limit(
            "group info and ratchet tree",
            self.group_info.len() + self.ratchet_tree.len(),
            MAX_ROOM_MESSAGE_LEN,
        )?;
        self.room.write(dst);
        write_u32_bytes(dst, &self.group_info);
        write_u32_bytes(dst, &self.ratchet_tree);
        Ok(())
    }
}

/// Request 133: a commit for the room's current epoch, with the welcome of
/// the members it adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomCommit {
    /// The room.
    pub room: RoomId,
    /// The epoch the commit is made in (the room's current one).
    pub epoch: u64,
    /// The commit, an MLS public message.
    pub commit: Bytes,
    /// The MLS welcome for the added members; empty when it adds none.
    pub welcome: Bytes,
}

impl RoomCommit {
    /// The largest payload.
    pub(in crate::v3) const MAX_LEN: usize = ROOM_COMMIT_HEADER_LEN + MAX_ROOM_MESSAGE_LEN;

    pub(in crate::v3) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        let room = RoomId::read(r)?;
        let epoch = r.u64("epoch")?;
        let commit = read_u32_bytes(r, "commit", 1, MAX_ROOM_MESSAGE_LEN)?;
        let welcome = read_u32_bytes(r, "welcome", 0, MAX_ROOM_MESSAGE_LEN - commit.len())?;
        Ok(Self {
            room,
            epoch,
            commit,
            welcome,
        })
    }

    pub(in crate::v3) fn write(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        limit(
            "commit and welcome",
            self.commit.len() + self.welcome.len(),
            MAX_ROOM_MESSAGE_LEN,
        )?;
        self.room.write(dst);
        put_u64(dst, self.epoch);
        write_u32_bytes(dst, &self.commit);
        write_u32_bytes(dst, &self.welcome);
        Ok(())
    }
}

/// Request 134: a room message (an application message, or a leave proposal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSend {
    /// The room.
    pub room: RoomId,
    /// The room's current epoch, the one the message is made in.
    pub epoch: u64,
    /// The finished room upload the message announces, if any.
    pub file: Option<UploadId>,
    /// The MLS message, 1 to [`MAX_ROOM_MESSAGE_LEN`] bytes.
    pub message: Bytes,
}

impl RoomSend {
    /// The largest payload.
    pub(in crate::v3) const MAX_LEN: usize = ROOM_SEND_HEADER_LEN + MAX_ROOM_MESSAGE_LEN;

    pub(in crate::v3) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        Ok(Self {
            room: RoomId::read(r)?,
            epoch: r.u64("epoch")?,
            file: read_file_id(r)?,
            message: read_u32_bytes(r, "room message", 1, MAX_ROOM_MESSAGE_LEN)?,
        })
    }

    pub(in crate::v3) fn write(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        limit("room message", self.message.len(), MAX_ROOM_MESSAGE_LEN)?;
        self.room.write(dst);
        put_u64(dst, self.epoch);
        write_file_id(dst, self.file);
        write_u32_bytes(dst, &self.message);
        Ok(())
    }
}

/// One cursor of a room acknowledgement (136): every entry of `room` up to
/// and including `seq` is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoomCursor {
    /// The room.
    pub room: RoomId,
    /// The last entry acknowledged.
    pub seq: u64,
}

impl RoomCursor {
    /// The largest 136 payload.
    pub(in crate::v3) const MAX_ACK_LEN: usize = 2 + MAX_ACK_IDS * ROOM_CURSOR_LEN;

    pub(in crate::v3) fn read_all(r: &mut Reader) -> Result<Vec<Self>, PayloadError> {
        let count = r.u16("cursor count")? as usize;
        check_range("cursor count", count as u64, 1, MAX_ACK_IDS as u64)?;
        let mut cursors = Vec::with_capacity(count);
        for _ in 0..count {
            cursors.push(Self {
                room: RoomId::read(r)?,
                seq: r.u64("seq")?,
            });
        }
        Ok(cursors)
    }

    pub(in crate::v3) fn write_all(
        cursors: &[Self],
        dst: &mut BytesMut,
    ) -> Result<(), ProtocolError> {
        limit("room cursors", cursors.len(), MAX_ACK_IDS)?;
        put_u16(dst, cursors.len() as u16);
        for c in cursors {
            c.room.write(dst);
            put_u64(dst, c.seq);
        }
        Ok(())
    }
}

/// Request 139: begin uploading a file to a room (then 121 to 123 as for 120).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomUploadBegin {
    /// The room.
    pub room: RoomId,
    /// Exact size of the encrypted file (at least 1).
    pub file_size: u64,
    /// Opaque metadata, at most [`MAX_FILE_META_LEN`] bytes.
    pub meta: Bytes,
}

impl RoomUploadBegin {
    /// The largest payload.
    pub(in crate::v3) const MAX_LEN: usize = ROOM_UPLOAD_BEGIN_HEADER_LEN + MAX_FILE_META_LEN;

    pub(in crate::v3) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        let room = RoomId::read(r)?;
        let file_size = r.u64("file size")?;
        check_range("file size", file_size, 1, u64::MAX)?;
        let meta_len = r.u16("meta length")? as usize;
        check_range("meta length", meta_len as u64, 0, MAX_FILE_META_LEN as u64)?;
        let meta = r.bytes("meta", meta_len)?;
        Ok(Self {
            room,
            file_size,
            meta,
        })
    }

    pub(in crate::v3) fn write(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        limit("file meta", self.meta.len(), MAX_FILE_META_LEN)?;
        self.room.write(dst);
        put_u64(dst, self.file_size);
        put_u16(dst, self.meta.len() as u16);
        dst.put_slice(&self.meta);
        Ok(())
    }
}

/// Request 140: read part of the file a room entry names (answered by 1204
/// with the entry's `seq` as its message id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomDownload {
    /// The room.
    pub room: RoomId,
    /// The entry naming the file.
    pub seq: u64,
    /// First byte wanted.
    pub offset: u64,
    /// At most this many bytes, 1 to [`MAX_CHUNK_LEN`].
    pub max_len: u32,
}

impl RoomDownload {
    pub(in crate::v3) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        let room = RoomId::read(r)?;
        let seq = r.u64("seq")?;
        let offset = r.u64("offset")?;
        let max_len = r.u32("max length")?;
        check_range("max length", max_len.into(), 1, MAX_CHUNK_LEN as u64)?;
        Ok(Self {
            room,
            seq,
            offset,
            max_len,
        })
    }

    pub(in crate::v3) fn write(&self, dst: &mut BytesMut) {
        self.room.write(dst);
        put_u64(dst, self.seq);
        put_u64(dst, self.offset);
        put_u32(dst, self.max_len);
    }
}

/// A `len u32 | bytes` field with `min..=max` bytes.
fn read_u32_bytes(
    r: &mut Reader,
    field: &'static str,
    min: usize,
    max: usize,
) -> Result<Bytes, PayloadError> {
    let len = r.u32(field)? as usize;
    check_range(field, len as u64, min as u64, max as u64)?;
    r.bytes(field, len)
}

fn write_u32_bytes(dst: &mut BytesMut, bytes: &[u8]) {
    put_u32(dst, bytes.len() as u32);
    dst.put_slice(bytes);
}
