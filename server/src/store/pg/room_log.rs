//! Statements every room write on PostgreSQL shares: who is a member at
//! which epoch, the copy of the room's rule, name and bans, the log append
//! and who receives an entry. The SQLite writer's are in `writer/rooms.rs`
//! and `writer/room_access.rs`.
//!
//! Entries are numbered from the message id sequence. A session pushes a
//! member's entries across all its rooms in number order and reloads after
//! the highest it pushed (`v3::room_push`), so numbers must commit in the
//! order they are taken, across rooms and nodes: an append takes a
//! transaction-wide advisory lock ([`ROOM_LOG_LOCK`]) before its number and
//! holds it to its commit. It is taken last (after the room's row, the
//! `usage` rows and the storage stripe, the order every room write keeps),
//! so it never waits inside a cycle; the observer's work is done before it.
//!
//! Entries (and welcomes, notices) are announced to this node's sessions as
//! stale, as messages are (`messages.rs`, `Pg::announce`), not with the
//! entry itself: two appends commit in number order, but the tasks that
//! committed them may announce in the other order, and a session that
//! pushed the later entry first would skip the earlier one for good.

use bytes::Bytes;
use protocol::v3::{RoomEntry, RoomEntryKind, RoomRole};
use protocol::{ClientId, RoomId, UploadId};
use sealpost_rooms::{Access, JoinRule, RoomState};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Row, Transaction};

use super::Pg;
use super::channels::{ROOMS_CHANNEL, client_id};
use crate::error::StoreError;
use crate::store::rows::fixed;
use crate::store::writer::MAX_ROOM_ENTRIES;

/// Key of the advisory lock held from an entry's number to its commit
/// ("room" in ASCII).
const ROOM_LOG_LOCK: i64 = 0x726f_6f6d;

/// The columns [`row_to_entry`] reads.
pub(super) const ENTRY_COLUMNS: &str = "l.room, l.seq, l.sender, l.kind, l.epoch, l.sent_at, \
                                        l.file_id, l.body";

/// The room's epoch, if `client` is a current member (else the room is
/// unknown to it: the same answer as for a room that does not exist).
pub(super) async fn member_epoch(
    tx: &Transaction<'_>,
    room: RoomId,
    client: ClientId,
) -> Result<u64, StoreError> {
    tx.query_opt(
        "SELECT r.epoch FROM rooms r JOIN room_members m ON m.room = r.id
         WHERE r.id = $1 AND m.client = $2 AND m.until_seq IS NULL",
        &[&&room.0[..], &&client.0[..]],
    )
    .await?
    .map(|r| r.get::<_, i64>(0) as u64)
    .ok_or(StoreError::UnknownRoom)
}

/// The confusability key an open room named `name` gets, as the SQLite
/// writer's `room_access::name_key`: refused when another open room holds
/// it, unless this room already had the name.
async fn name_key(
    tx: &Transaction<'_>,
    room: RoomId,
    name: &str,
) -> Result<Option<String>, StoreError> {
    let key = crate::names::skeleton_key(name);
    let holder = tx
        .query_opt("SELECT id FROM rooms WHERE name_key = $1", &[&key])
        .await?;
    match holder {
        Some(row) if row.get::<_, Vec<u8>>(0) != room.0[..] => {
            let had = tx
                .query_opt("SELECT name FROM rooms WHERE id = $1", &[&&room.0[..]])
                .await?
                .and_then(|row| row.get::<_, Option<String>>(0));
            if had.as_deref() == Some(name) {
                Ok(None)
            } else {
                Err(StoreError::RoomNameTaken)
            }
        }
        _ => Ok(Some(key)),
    }
}

/// Copies the room's rule and name (the name only while one may join) from
/// `state`, and its banned ids from `access` when a commit changed them.
///
/// # Errors
/// [`StoreError::RoomNameTaken`] if another public or hidden room has the
/// name or one confusable with it; database errors.
pub(super) async fn follow(
    tx: &Transaction<'_>,
    room: RoomId,
    state: &RoomState,
    access: Option<&Access>,
) -> Result<(), StoreError> {
    let name = match state.rule {
        JoinRule::InviteOnly => None,
        JoinRule::Public | JoinRule::Hidden | JoinRule::Password | JoinRule::HiddenPassword => {
            state.name.as_deref()
        }
    };
    let key = match name {
        Some(name) => name_key(tx, room, name).await?,
        None => None,
    };
    let updated = tx
        .execute(
            "UPDATE rooms SET rule = $1, name = $2, name_key = $3 WHERE id = $4",
            &[&i16::from(state.rule.code()), &name, &key, &&room.0[..]],
        )
        .await;
    match updated {
        Ok(_) => {}
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            return Err(StoreError::RoomNameTaken);
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(access) = access {
        tx.execute("DELETE FROM room_bans WHERE room = $1", &[&&room.0[..]])
            .await?;
        for client in access.banned() {
            tx.execute(
                "INSERT INTO room_bans (room, client) VALUES ($1, $2)",
                &[&&room.0[..], &&client.0[..]],
            )
            .await?;
        }
    }
    Ok(())
}

/// Refuses an entry past the room's log limit.
pub(super) async fn check_log_room(tx: &Transaction<'_>, room: RoomId) -> Result<(), StoreError> {
    let entries: i64 = tx
        .query_one(
            "SELECT COUNT(*) FROM room_log WHERE room = $1",
            &[&&room.0[..]],
        )
        .await?
        .get(0);
    if entries >= MAX_ROOM_ENTRIES {
        return Err(StoreError::RoomLogFull(MAX_ROOM_ENTRIES as u64));
    }
    Ok(())
}

/// What an appended entry says.
pub(super) struct NewEntry<'a> {
    pub(super) room: RoomId,
    pub(super) sender: ClientId,
    pub(super) kind: RoomEntryKind,
    pub(super) epoch: u64,
    pub(super) file: Option<UploadId>,
    pub(super) body: &'a Bytes,
    pub(super) now: u64,
}

impl Pg {
    /// Appends an entry (numbered in commit order: see the module's doc)
    /// and announces its room to the other nodes (delivered at commit).
    pub(super) async fn append(
        &self,
        tx: &Transaction<'_>,
        e: NewEntry<'_>,
    ) -> Result<RoomEntry, StoreError> {
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ROOM_LOG_LOCK])
            .await?;
        let seq: i64 = tx
            .query_one(
                "INSERT INTO room_log (seq, room, sender, kind, epoch, sent_at, file_id, body)
                 VALUES (nextval('message_ids'), $1, $2, $3, $4, $5, $6, $7) RETURNING seq",
                &[
                    &&e.room.0[..],
                    &&e.sender.0[..],
                    &i16::from(e.kind.code()),
                    &(e.epoch as i64),
                    &(e.now as i64),
                    &e.file.as_ref().map(|f| &f.0[..]),
                    &&e.body[..],
                ],
            )
            .await?
            .get(0);
        let payload = format!("{}:{}", self.node, hex::encode(e.room.0));
        tx.execute("SELECT pg_notify($1, $2)", &[&ROOMS_CHANNEL, &payload])
            .await?;
        Ok(RoomEntry {
            room: e.room,
            seq: seq as u64,
            sender: e.sender,
            kind: e.kind,
            epoch: e.epoch,
            sent_at_ms: e.now,
            file: e.file,
            message: e.body.clone(),
        })
    }
}

/// Who receives entry `seq`: current members and those it removes, except
/// `author` when given (the author of a message; a committer reads its own
/// commit back).
pub(super) async fn readers_of(
    tx: &Transaction<'_>,
    room: RoomId,
    seq: u64,
    author: Option<ClientId>,
) -> Result<Vec<ClientId>, StoreError> {
    let author = author.map_or([0; 16], |a| a.0);
    let rows = tx
        .query(
            "SELECT client FROM room_members
             WHERE room = $1 AND client != $2 AND cursor < $3
                 AND (until_seq IS NULL OR until_seq >= $3)",
            &[&&room.0[..], &&author[..], &(seq as i64)],
        )
        .await?;
    rows.iter().map(|r| client_id(r.get(0))).collect()
}

/// Moves the author's cursor past its own new message, if it has read
/// everything before it (as on SQLite: its cursor never jumps over entries
/// it has not read).
pub(super) async fn advance_author(
    tx: &Transaction<'_>,
    room: RoomId,
    author: ClientId,
    seq: u64,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE room_members m SET cursor = $1 WHERE m.room = $2 AND m.client = $3
             AND NOT EXISTS (SELECT 1 FROM room_log l
                             WHERE l.room = $2 AND l.seq > m.cursor AND l.seq < $1)",
        &[&(seq as i64), &&room.0[..], &&author.0[..]],
    )
    .await?;
    Ok(())
}

/// A room entry from the columns [`ENTRY_COLUMNS`].
pub(super) fn row_to_entry(r: &Row) -> Result<RoomEntry, StoreError> {
    let kind: i16 = r.get(3);
    let file: Option<&[u8]> = r.get(6);
    Ok(RoomEntry {
        room: RoomId(fixed(r.get(0), "room id")?),
        seq: r.get::<_, i64>(1) as u64,
        sender: client_id(r.get(2))?,
        kind: u8::try_from(kind)
            .ok()
            .and_then(|k| RoomEntryKind::from_code(k).ok())
            .ok_or_else(|| StoreError::Corrupt(format!("room entry kind {kind}")))?,
        epoch: r.get::<_, i64>(4) as u64,
        sent_at_ms: r.get::<_, i64>(5) as u64,
        file: file
            .map(|f| fixed(f, "room file id").map(UploadId))
            .transpose()?,
        message: Bytes::from(r.get::<_, Vec<u8>>(7)),
    })
}

/// A role from its stored code.
pub(super) fn role_of(code: i16) -> Result<RoomRole, StoreError> {
    match code {
        0 => Ok(RoomRole::Member),
        1 => Ok(RoomRole::Admin),
        2 => Ok(RoomRole::Owner),
        _ => Err(StoreError::Corrupt(format!("room role {code}"))),
    }
}
