//! Holding room files on PostgreSQL (PROTOCOL.md "Holding a room file
//! (150)"): a member keeps an entry naming a file, and its blob, past every
//! cursor until it releases it. The same answers as the SQLite writer's
//! (`writer/room_holds.rs`); collection skipping held entries, and the
//! other ends of a hold, are in `room_acks.rs` and `room_delete.rs`.
//!
//! Lock order, as every room write keeps it: the room's row, then member
//! rows (here all of the caller's, so that two holds of one member at once
//! cannot both pass its limit), then the `usage` rows of those whose bytes
//! come back, then one storage stripe.

use protocol::v3::MAX_ROOM_FILE_HOLDS;
use protocol::{ClientId, RoomId};
use tokio_postgres::Transaction;

use super::Pg;
use super::channels::client_id;
use super::room_acks::{Freed, freed_files};
use super::room_observer::lock_room;
use crate::error::StoreError;

impl Pg {
    /// See `Store::hold_room_file`.
    pub(crate) async fn hold_room_file(
        &self,
        caller: ClientId,
        room: RoomId,
        seq: u64,
        hold: bool,
    ) -> Result<(bool, Vec<String>), StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        lock_room(&tx, room).await?;
        tx.execute(
            "SELECT 1 FROM room_members WHERE client = $1 ORDER BY room FOR UPDATE",
            &[&&caller.0[..]],
        )
        .await?;
        check_entry(&tx, caller, room, seq).await?;
        let seq_i = seq as i64;
        let key: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
            [&&room.0[..], &seq_i, &&caller.0[..]];
        if hold {
            let held = tx
                .query_opt(
                    "SELECT 1 FROM room_holds WHERE room = $1 AND seq = $2 AND client = $3",
                    &key,
                )
                .await?;
            if held.is_none() {
                let count: i64 = tx
                    .query_one(
                        "SELECT COUNT(*) FROM room_holds WHERE client = $1",
                        &[&&caller.0[..]],
                    )
                    .await?
                    .get(0);
                if count >= i64::from(MAX_ROOM_FILE_HOLDS) {
                    return Err(StoreError::TooManyHolds(MAX_ROOM_FILE_HOLDS));
                }
                tx.execute(
                    "INSERT INTO room_holds (room, seq, client) VALUES ($1, $2, $3)",
                    &key,
                )
                .await?;
            }
            tx.commit().await?;
            return Ok((true, Vec::new()));
        }
        tx.execute(
            "DELETE FROM room_holds WHERE room = $1 AND seq = $2 AND client = $3",
            &key,
        )
        .await?;
        let mut freed = Freed::new();
        let mut blobs = Vec::new();
        if is_free(&tx, room, seq_i).await? {
            let rows = tx
                .query(
                    "DELETE FROM room_log WHERE room = $1 AND seq = $2
                     RETURNING sender, octet_length(body)::BIGINT",
                    &[&&room.0[..], &seq_i],
                )
                .await?;
            for r in &rows {
                *freed.entry(client_id(r.get(0))?).or_default() += r.get::<_, i64>(1);
            }
            let files = tx
                .query(
                    "DELETE FROM room_files WHERE room = $1 AND seq = $2
                     RETURNING owner, size, blob",
                    &[&&room.0[..], &seq_i],
                )
                .await?;
            freed_files(&files, &mut freed, &mut blobs)?;
        }
        self.give_back_room_bytes(&tx, caller, freed).await?;
        tx.commit().await?;
        Ok((false, blobs))
    }
}

/// The refusals of 140, in its order: the caller is a member (or a removed
/// one still reading), receives the entry, and the entry names a file.
async fn check_entry(
    tx: &Transaction<'_>,
    caller: ClientId,
    room: RoomId,
    seq: u64,
) -> Result<(), StoreError> {
    let member = tx
        .query_opt(
            "SELECT until_seq, joined_seq FROM room_members WHERE room = $1 AND client = $2",
            &[&&room.0[..], &&caller.0[..]],
        )
        .await?
        .ok_or(StoreError::UnknownRoom)?;
    let (until, joined): (Option<i64>, i64) = (member.get(0), member.get(1));
    let seq_i = seq as i64;
    if seq_i <= joined || until.is_some_and(|u| seq_i > u) {
        return Err(StoreError::NoRoomEntry(seq));
    }
    let entry = tx
        .query_opt(
            "SELECT f.seq IS NOT NULL
             FROM room_log l LEFT JOIN room_files f ON f.room = l.room AND f.seq = l.seq
             WHERE l.room = $1 AND l.seq = $2",
            &[&&room.0[..], &seq_i],
        )
        .await?
        .ok_or(StoreError::NoRoomEntry(seq))?;
    if !entry.get::<_, bool>(0) {
        return Err(StoreError::NoRoomFile(seq));
    }
    Ok(())
}

/// Whether entry `seq` is held by nobody and every cursor is past it.
async fn is_free(tx: &Transaction<'_>, room: RoomId, seq: i64) -> Result<bool, StoreError> {
    let row = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM room_holds WHERE room = $1 AND seq = $2),
                    (SELECT MIN(cursor) FROM room_members WHERE room = $1)",
            &[&&room.0[..], &seq],
        )
        .await?;
    let held: bool = row.get(0);
    let oldest: Option<i64> = row.get(1);
    Ok(!held && oldest.is_some_and(|o| seq <= o))
}
