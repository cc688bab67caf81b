//! Rooms and key packages as callers see them: every change goes through
//! the writer thread (`writer/rooms.rs`, `writer/key_packages.rs`), every
//! read of a room's log, its members and the caller's rooms through the read
//! pool. On PostgreSQL, each goes to the engine's own (`pg/rooms.rs`,
//! `pg/key_packages.rs`, `pg/room_acks.rs`, `pg/room_reads.rs`).

use bytes::Bytes;
use protocol::v3::{
    ClaimedKeyPackage, CommitAccepted, KeyPackageStock, RoomCursor, RoomEntry, RoomEntryKind,
    RoomMemberRole, RoomRole, RoomStatus, RoomSummary,
};
use protocol::{ClientId, RoomId, UploadId};
use rusqlite::{OptionalExtension, params};

use super::handle::{ROW_OVERHEAD, Store};
use super::rows::fixed;
use super::writer::{RoomDone, RoomWrite, WriteOp};
use crate::error::StoreError;

impl Store {
    async fn room_write(&self, caller: ClientId, op: RoomWrite) -> Result<RoomDone, StoreError> {
        self.write(|reply| WriteOp::Room { caller, op, reply })
            .await
    }

    /// Stores checked key packages of `caller` (or, with none, only reports
    /// the stock).
    ///
    /// # Errors
    /// [`StoreError::KeyPackagesFull`]; the database failed.
    pub async fn upload_key_packages(
        &self,
        caller: ClientId,
        last_resort: bool,
        packages: Vec<Bytes>,
    ) -> Result<KeyPackageStock, StoreError> {
        let bytes: u64 = packages.iter().map(|p| p.len() as u64 + ROW_OVERHEAD).sum();
        self.admit(bytes)?;
        if let Some(pg) = self.pg() {
            return pg.upload_key_packages(caller, last_resort, packages).await;
        }
        let op = RoomWrite::UploadKeyPackages {
            last_resort,
            packages,
        };
        match self.room_write(caller, op).await? {
            RoomDone::Stock(s) => Ok(s),
            other => Err(mismatch(&other)),
        }
    }

    /// Hands out one key package of each client.
    ///
    /// # Errors
    /// The database failed.
    pub async fn claim_key_packages(
        &self,
        caller: ClientId,
        clients: Vec<ClientId>,
    ) -> Result<Vec<ClaimedKeyPackage>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.claim_key_packages(clients).await;
        }
        match self
            .room_write(caller, RoomWrite::ClaimKeyPackages { clients })
            .await?
        {
            RoomDone::Claimed(c) => Ok(c),
            other => Err(mismatch(&other)),
        }
    }

    /// Creates a room whose only member, its owner, is `caller`.
    ///
    /// # Errors
    /// [`StoreError::RoomExists`], [`StoreError::RoomRefused`],
    /// [`StoreError::RoomIdentity`].
    pub async fn create_room(
        &self,
        caller: ClientId,
        room: RoomId,
        group_info: Bytes,
        tree: Bytes,
    ) -> Result<RoomId, StoreError> {
        self.admit((group_info.len() + tree.len()) as u64 + ROW_OVERHEAD)?;
        if let Some(pg) = self.pg() {
            return pg.create_room(caller, room, group_info, tree).await;
        }
        let op = RoomWrite::Create {
            room,
            group_info,
            tree,
        };
        match self.room_write(caller, op).await? {
            RoomDone::Created(room) => Ok(room),
            other => Err(mismatch(&other)),
        }
    }

    /// Appends a commit of `caller` for the room's current epoch.
    /// `proven`: the caller's connection proved the room's password a
    /// moment ago (a join of a room with a password needs it).
    ///
    /// # Errors
    /// [`StoreError::StaleEpoch`] for a lost race, [`StoreError::WrongPassword`]
    /// for an unproven join of a room with a password, and every room refusal.
    pub async fn commit_room(
        &self,
        caller: ClientId,
        room: RoomId,
        epoch: u64,
        commit: Bytes,
        welcome: Option<Bytes>,
        proven: bool,
    ) -> Result<CommitAccepted, StoreError> {
        let welcome_len = welcome.as_ref().map_or(0, Bytes::len);
        self.admit((commit.len() + welcome_len) as u64 + ROW_OVERHEAD)?;
        if let Some(pg) = self.pg() {
            return pg
                .commit_room(caller, room, epoch, commit, welcome, proven)
                .await;
        }
        let op = RoomWrite::Commit {
            room,
            epoch,
            commit,
            welcome,
            proven,
        };
        match self.room_write(caller, op).await? {
            RoomDone::Committed(c) => Ok(c),
            other => Err(mismatch(&other)),
        }
    }

    /// Appends an application message (or a leave) of `caller`.
    ///
    /// # Errors
    /// [`StoreError::StaleEpoch`], room refusals, quotas.
    pub async fn send_room(
        &self,
        caller: ClientId,
        room: RoomId,
        epoch: u64,
        file: Option<UploadId>,
        message: Bytes,
    ) -> Result<u64, StoreError> {
        self.admit(message.len() as u64 + ROW_OVERHEAD)?;
        if let Some(pg) = self.pg() {
            return pg.send_room(caller, room, epoch, file, message).await;
        }
        let op = RoomWrite::Send {
            room,
            epoch,
            file,
            message,
        };
        match self.room_write(caller, op).await? {
            RoomDone::Sent(seq) => Ok(seq),
            other => Err(mismatch(&other)),
        }
    }

    /// Moves `caller`'s cursors; `false` for each room it is not in. Also
    /// returns the blobs of the room files deleted with the entries every
    /// member has now read: the caller deletes them from disk.
    ///
    /// # Errors
    /// The database failed.
    pub async fn ack_rooms(
        &self,
        caller: ClientId,
        acks: Vec<RoomCursor>,
    ) -> Result<(Vec<bool>, Vec<String>), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.ack_rooms(caller, acks).await;
        }
        match self.room_write(caller, RoomWrite::Ack { acks }).await? {
            RoomDone::Acked(a, blobs) => Ok((a, blobs)),
            other => Err(mismatch(&other)),
        }
    }

    /// Retention: deletes the room entries stored before `before_ms`, read
    /// or not, with the files they name; returns how many entries, and the
    /// files' blobs for the caller to delete.
    ///
    /// # Errors
    /// The database failed.
    pub async fn expire_room_entries(
        &self,
        before_ms: u64,
    ) -> Result<(usize, Vec<String>), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.expire_room_entries(before_ms).await;
        }
        // The writer needs a caller for room writes; retention has none.
        match self
            .room_write(ClientId([0; 16]), RoomWrite::Expire { before_ms })
            .await?
        {
            RoomDone::Expired(n, blobs) => Ok((n, blobs)),
            other => Err(mismatch(&other)),
        }
    }

    /// The blob and size of the file that entry `seq` of `room` names, if
    /// `caller` receives that entry (PROTOCOL.md "Files to a room").
    ///
    /// # Errors
    /// The database failed.
    pub async fn room_file(
        &self,
        caller: ClientId,
        room: RoomId,
        seq: u64,
    ) -> Result<Result<(String, u64), RoomFileRefusal>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.room_file(caller, room, seq).await;
        }
        self.read(move |conn| {
            let member: Option<(Option<i64>, i64)> = conn
                .prepare_cached(
                    "SELECT until_seq, joined_seq FROM room_members
                     WHERE room = ?1 AND client = ?2",
                )?
                .query_row(params![&room.0[..], &caller.0[..]], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let Some((until, joined)) = member else {
                return Ok(Err(RoomFileRefusal::NotMember));
            };
            let seq_i = seq as i64;
            if seq_i <= joined || until.is_some_and(|u| seq_i > u) {
                return Ok(Err(RoomFileRefusal::NoEntry));
            }
            let entry: Option<Option<Vec<u8>>> = conn
                .prepare_cached("SELECT file_id FROM room_log WHERE room = ?1 AND seq = ?2")?
                .query_row(params![&room.0[..], seq_i], |r| r.get(0))
                .optional()?;
            match entry {
                None => return Ok(Err(RoomFileRefusal::NoEntry)),
                Some(None) => return Ok(Err(RoomFileRefusal::NoFile)),
                Some(Some(_)) => {}
            }
            let file: Option<(String, i64)> = conn
                .prepare_cached("SELECT blob, size FROM room_files WHERE room = ?1 AND seq = ?2")?
                .query_row(params![&room.0[..], seq_i], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            // An entry and its file go in one transaction, so a file id
            // without a file is from a server before room files (which
            // stored the id unchecked): it names nothing served.
            Ok(file
                .map(|(blob, size)| (blob, size as u64))
                .ok_or(RoomFileRefusal::NoFile))
        })
        .await
    }

    /// Entries after `caller`'s cursors (and after `after`, for push), across
    /// its rooms, oldest first: at most `max_count` and about `max_bytes`
    /// (the first always). Also says whether more wait.
    ///
    /// # Errors
    /// The database failed.
    pub async fn room_entries(
        &self,
        caller: ClientId,
        after: u64,
        max_count: usize,
        max_bytes: usize,
    ) -> Result<(Vec<RoomEntry>, bool), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.room_entries(caller, after, max_count, max_bytes).await;
        }
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT l.room, l.seq, l.sender, l.kind, l.epoch, l.sent_at, l.file_id, l.body
                 FROM room_members m JOIN room_log l ON l.room = m.room
                 WHERE m.client = ?1 AND l.seq > m.cursor AND l.seq > ?2
                     AND (m.until_seq IS NULL OR l.seq <= m.until_seq)
                 ORDER BY l.seq LIMIT ?3",
            )?;
            let rows = stmt.query_map(
                params![&caller.0[..], after as i64, max_count as i64 + 1],
                row_to_entry,
            )?;
            let mut out = Vec::new();
            let mut bytes = 0usize;
            for row in rows {
                let entry = row??;
                let size = entry.encoded_len();
                if out.len() == max_count || (!out.is_empty() && bytes + size > max_bytes) {
                    return Ok((out, true));
                }
                bytes += size;
                out.push(entry);
            }
            Ok((out, false))
        })
        .await
    }

    /// A room as its member `caller` may see it.
    ///
    /// # Errors
    /// [`StoreError::UnknownRoom`] if it does not exist or `caller` is not a
    /// member.
    pub async fn room_status(
        &self,
        caller: ClientId,
        room: RoomId,
    ) -> Result<RoomStatus, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.room_status(caller, room).await;
        }
        self.read(move |conn| {
            let epoch: i64 = conn
                .prepare_cached(
                    "SELECT r.epoch FROM rooms r JOIN room_members m ON m.room = r.id
                     WHERE r.id = ?1 AND m.client = ?2 AND m.until_seq IS NULL",
                )?
                .query_row(params![&room.0[..], &caller.0[..]], |r| r.get(0))
                .optional()?
                .ok_or(StoreError::UnknownRoom)?;
            let last_seq: i64 = conn
                .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM room_log WHERE room = ?1")?
                .query_row(params![&room.0[..]], |r| r.get(0))?;
            let mut stmt = conn.prepare_cached(
                "SELECT client, role FROM room_members
                 WHERE room = ?1 AND until_seq IS NULL ORDER BY client",
            )?;
            let rows = stmt.query_map(params![&room.0[..]], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, u8>(1)?))
            })?;
            let mut members = Vec::new();
            for row in rows {
                let (client, role) = row?;
                members.push(RoomMemberRole {
                    client: ClientId(fixed(&client, "client id")?),
                    role: role_of(role)?,
                });
            }
            Ok(RoomStatus {
                room,
                epoch: epoch as u64,
                last_seq: last_seq as u64,
                members,
            })
        })
        .await
    }

    /// The rooms `caller` is a member of (the first [`protocol::MAX_ROOM_LIST`]
    /// by id).
    ///
    /// # Errors
    /// The database failed.
    pub async fn rooms_of(&self, caller: ClientId) -> Result<Vec<RoomSummary>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.rooms_of(caller).await;
        }
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT r.id, r.epoch, m.role,
                        (SELECT COUNT(*) FROM room_members o
                         WHERE o.room = r.id AND o.until_seq IS NULL)
                 FROM room_members m JOIN rooms r ON r.id = m.room
                 WHERE m.client = ?1 AND m.until_seq IS NULL ORDER BY r.id LIMIT ?2",
            )?;
            // The list answer holds at most this many (PROTOCOL.md).
            let max = protocol::MAX_ROOM_LIST as i64;
            let rows = stmt.query_map(params![&caller.0[..], max], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, u8>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (room, epoch, role, members) = row?;
                out.push(RoomSummary {
                    room: RoomId(fixed(&room, "room id")?),
                    epoch: epoch as u64,
                    members: members.try_into().unwrap_or(u16::MAX),
                    role: role_of(role)?,
                });
            }
            Ok(out)
        })
        .await
    }
}

/// Why a room file is not served to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomFileRefusal {
    /// The caller is no member of the room.
    NotMember,
    /// No such entry for the caller: never, deleted, before it joined or
    /// after its removal.
    NoEntry,
    /// The entry names no file.
    NoFile,
}

fn row_to_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<RoomEntry, StoreError>> {
    let room: Vec<u8> = r.get(0)?;
    let seq: i64 = r.get(1)?;
    let sender: Vec<u8> = r.get(2)?;
    let kind: u8 = r.get(3)?;
    let epoch: i64 = r.get(4)?;
    let sent_at: i64 = r.get(5)?;
    let file_id: Option<Vec<u8>> = r.get(6)?;
    let body: Vec<u8> = r.get(7)?;
    Ok((|| {
        Ok(RoomEntry {
            room: RoomId(fixed(&room, "room id")?),
            seq: seq as u64,
            sender: ClientId(fixed(&sender, "client id")?),
            kind: RoomEntryKind::from_code(kind)
                .map_err(|_| StoreError::Corrupt(format!("room entry kind {kind}")))?,
            epoch: epoch as u64,
            sent_at_ms: sent_at as u64,
            file: match file_id {
                None => None,
                Some(f) => Some(UploadId(fixed(&f, "room file id")?)),
            },
            message: Bytes::from(body),
        })
    })())
}

fn role_of(code: u8) -> Result<RoomRole, StoreError> {
    match code {
        0 => Ok(RoomRole::Member),
        1 => Ok(RoomRole::Admin),
        2 => Ok(RoomRole::Owner),
        _ => Err(StoreError::Corrupt(format!("room role {code}"))),
    }
}

pub(super) fn mismatch(done: &RoomDone) -> StoreError {
    StoreError::Corrupt(format!("the writer answered a room request with {done:?}"))
}
