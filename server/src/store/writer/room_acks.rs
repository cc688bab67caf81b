//! The writer's statements for reading a room: a member's acknowledgement
//! moves its cursor, and what every member has read and nobody holds
//! (`room_holds.rs`) is deleted with the files it names; retention deletes
//! what is too old, read or not, held or not.

use protocol::v3::RoomCursor;
use protocol::{ClientId, RoomId};
use rusqlite::{OptionalExtension, Transaction, params};

use super::batch::{View, atomically};
use super::{room_files, room_holds};
use crate::error::StoreError;
use crate::store::rows::fixed;
use crate::store::schema;
use crate::store::values::StoreEvent;

/// Moves the caller's cursors (cumulatively); `false` where the caller is
/// not a member. Then deletes what every member has read, and returns the
/// blobs of the room files that went with it.
pub(super) fn ack(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    client: ClientId,
    acks: &[RoomCursor],
) -> Result<(Vec<bool>, Vec<String>), StoreError> {
    // No entry has a number past the last one handed out: a cursor never
    // runs ahead of the log into entries that do not exist yet.
    let last = view.next_id.saturating_sub(1);
    let (moved, freed, files) = atomically(tx, || {
        let mut moved = Vec::with_capacity(acks.len());
        let mut freed = Vec::new();
        let mut files = Vec::new();
        for &RoomCursor { room, seq } in acks {
            let row: Option<(i64, Option<i64>)> = tx
                .prepare_cached(
                    "SELECT cursor, until_seq FROM room_members WHERE room = ?1 AND client = ?2",
                )?
                .query_row(params![&room.0[..], &client.0[..]], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let Some((cursor, until)) = row else {
                moved.push(false);
                continue;
            };
            let target = (seq.min(last) as i64).min(until.unwrap_or(i64::MAX));
            // Entries the member held, now free, may sit behind others'
            // cursors: they are collected whoever else is behind.
            let mut released = false;
            if until.is_some_and(|u| target >= u) {
                // The removed member read its removal: it is gone for good,
                // and its holds with it.
                tx.prepare_cached("DELETE FROM room_members WHERE room = ?1 AND client = ?2")?
                    .execute(params![&room.0[..], &client.0[..]])?;
                released = room_holds::forget_member(tx, room, client)?;
            } else if target > cursor {
                move_cursor(tx, room, client, target as u64)?;
            } else {
                moved.push(true);
                continue;
            }
            moved.push(true);
            if released || held_back(tx, room, client, cursor)? {
                let (entries, room_files) = collect(tx, room)?;
                freed.extend(entries);
                files.extend(room_files);
            }
        }
        Ok((moved, freed, files))
    })?;
    for (sender, bytes) in freed {
        view.staged.tally.add_room_entry(sender, -bytes);
    }
    let blobs = room_files::unstage(view, files);
    for (&RoomCursor { room, seq }, ok) in acks.iter().zip(&moved) {
        if *ok {
            view.staged
                .events
                .push(StoreEvent::RoomAcked { client, room, seq });
        }
    }
    Ok((moved, blobs))
}

/// Retention: deletes every entry stored before `before_ms`, read or not,
/// the files they name (returning their blobs), and the removed members left
/// with nothing to read.
pub(super) fn expire(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    before_ms: u64,
) -> Result<(usize, Vec<String>), StoreError> {
    let (freed, files) = atomically(tx, || {
        let mut stmt = tx.prepare_cached(
            "DELETE FROM room_log WHERE sent_at < ?1 RETURNING sender, length(body)",
        )?;
        let rows = stmt.query_map(params![before_ms as i64], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut freed = Vec::new();
        for row in rows {
            let (sender, bytes) = row?;
            freed.push((ClientId(fixed(&sender, "client id")?), bytes));
        }
        drop(stmt);
        tx.prepare_cached(
            "DELETE FROM room_members WHERE until_seq IS NOT NULL AND NOT EXISTS (
                 SELECT 1 FROM room_log l WHERE l.room = room_members.room
                     AND l.seq > room_members.cursor AND l.seq <= room_members.until_seq)",
        )?
        .execute([])?;
        room_holds::forget_gone(tx)?;
        let files = room_files::delete_orphaned(tx)?;
        Ok((freed, files))
    })?;
    for (sender, bytes) in &freed {
        view.staged.tally.add_room_entry(*sender, -bytes);
    }
    Ok((freed.len(), room_files::unstage(view, files)))
}

/// Deletes the entries of `room` that every member (removed ones still
/// reading up to their removal included) has acknowledged and no member
/// holds, and the files they name.
fn collect(tx: &Transaction<'_>, room: RoomId) -> Result<Collected, StoreError> {
    let Some(upto) = tx
        .prepare_cached(schema::OLDEST_CURSOR)?
        .query_row(params![&room.0[..]], |r| r.get::<_, Option<i64>>(0))?
    else {
        return Ok((Vec::new(), Vec::new()));
    };
    let mut stmt = tx.prepare_cached(
        "DELETE FROM room_log WHERE room = ?1 AND seq <= ?2
             AND NOT EXISTS (SELECT 1 FROM room_holds h
                             WHERE h.room = ?1 AND h.seq = room_log.seq)
         RETURNING sender, length(body)",
    )?;
    let rows = stmt.query_map(params![&room.0[..], upto], |r| {
        Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (sender, bytes) = row?;
        out.push((ClientId(fixed(&sender, "client id")?), bytes));
    }
    Ok((out, room_files::delete_upto(tx, room, upto)?))
}

/// Whether `client`, whose cursor was `was`, may have been the one holding
/// back the room's deletions: no other member is at or behind `was`.
/// Otherwise the oldest cursor did not move, and nothing new can go: in a
/// room of N members acknowledging one entry, only the last one collects
/// rather than every one of them.
fn held_back(
    tx: &Transaction<'_>,
    room: RoomId,
    client: ClientId,
    was: i64,
) -> Result<bool, StoreError> {
    let other_behind = tx
        .prepare_cached(
            "SELECT 1 FROM room_members WHERE room = ?1 AND cursor <= ?2 AND client <> ?3 LIMIT 1",
        )?
        .query_row(params![&room.0[..], was, &client.0[..]], |_| Ok(()))
        .optional()?;
    Ok(other_behind.is_none())
}

/// Deleted entries (sender, bytes) and room files.
type Collected = (Vec<(ClientId, i64)>, Vec<room_files::FreedFile>);

fn move_cursor(
    tx: &Transaction<'_>,
    room: RoomId,
    client: ClientId,
    seq: u64,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE room_members SET cursor = MAX(cursor, ?1) WHERE room = ?2 AND client = ?3",
    )?
    .execute(params![seq as i64, &room.0[..], &client.0[..]])?;
    Ok(())
}
