//! The writer's statements for holding room files (PROTOCOL.md "Holding a
//! room file (150)"): a member keeps an entry that names a file, and its
//! blob, past every cursor until it releases it. Collection
//! (`room_acks.rs`) skips held entries; the last release of an entry every
//! cursor is past deletes it here. The other ends of a hold (retention, the
//! room's deletion, a member's departure or account removal) are in the
//! files that make them, through [`forget_member`] and [`forget_gone`].

use protocol::v3::MAX_ROOM_FILE_HOLDS;
use protocol::{ClientId, RoomId};
use rusqlite::{OptionalExtension, Transaction, params};

use super::batch::{View, atomically};
use super::room_files;
use crate::error::StoreError;
use crate::store::rows::fixed;
use crate::store::schema;

/// Holds (`hold`) or releases entry `seq` of `room` for `caller`, who must
/// receive it and whose file it must name. Returns whether the caller holds
/// it now, and the blobs of a file its release deleted.
pub(super) fn hold(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    caller: ClientId,
    room: RoomId,
    seq: u64,
    hold: bool,
) -> Result<(bool, Vec<String>), StoreError> {
    let (freed, files) = atomically(tx, || {
        check_entry(tx, caller, room, seq)?;
        let key = params![&room.0[..], seq as i64, &caller.0[..]];
        if hold {
            let held = tx
                .prepare_cached(
                    "SELECT 1 FROM room_holds WHERE room = ?1 AND seq = ?2 AND client = ?3",
                )?
                .exists(key)?;
            if !held {
                let count: i64 = tx
                    .prepare_cached("SELECT COUNT(*) FROM room_holds WHERE client = ?1")?
                    .query_row([&caller.0[..]], |r| r.get(0))?;
                if count >= i64::from(MAX_ROOM_FILE_HOLDS) {
                    return Err(StoreError::TooManyHolds(MAX_ROOM_FILE_HOLDS));
                }
                tx.prepare_cached(
                    "INSERT INTO room_holds (room, seq, client) VALUES (?1, ?2, ?3)",
                )?
                .execute(key)?;
            }
            return Ok((Vec::new(), Vec::new()));
        }
        tx.prepare_cached("DELETE FROM room_holds WHERE room = ?1 AND seq = ?2 AND client = ?3")?
            .execute(key)?;
        delete_if_free(tx, room, seq)
    })?;
    for (sender, bytes) in freed {
        view.staged.tally.add_room_entry(sender, -bytes);
    }
    Ok((hold, room_files::unstage(view, files)))
}

/// The refusals of 140, in its order: the caller is a member (or a removed
/// one still reading), receives the entry, and the entry names a file.
fn check_entry(
    tx: &Transaction<'_>,
    caller: ClientId,
    room: RoomId,
    seq: u64,
) -> Result<(), StoreError> {
    let member: Option<(Option<i64>, i64)> = tx
        .prepare_cached(
            "SELECT until_seq, joined_seq FROM room_members WHERE room = ?1 AND client = ?2",
        )?
        .query_row(params![&room.0[..], &caller.0[..]], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let Some((until, joined)) = member else {
        return Err(StoreError::UnknownRoom);
    };
    let seq_i = seq as i64;
    if seq_i <= joined || until.is_some_and(|u| seq_i > u) {
        return Err(StoreError::NoRoomEntry(seq));
    }
    let exists = tx
        .prepare_cached("SELECT 1 FROM room_log WHERE room = ?1 AND seq = ?2")?
        .exists(params![&room.0[..], seq_i])?;
    if !exists {
        return Err(StoreError::NoRoomEntry(seq));
    }
    let file = tx
        .prepare_cached("SELECT 1 FROM room_files WHERE room = ?1 AND seq = ?2")?
        .exists(params![&room.0[..], seq_i])?;
    if !file {
        return Err(StoreError::NoRoomFile(seq));
    }
    Ok(())
}

/// Deletes entry `seq` and its file when nobody holds it and every cursor
/// of the room is past it.
fn delete_if_free(tx: &Transaction<'_>, room: RoomId, seq: u64) -> Result<Freed, StoreError> {
    let held = tx
        .prepare_cached("SELECT 1 FROM room_holds WHERE room = ?1 AND seq = ?2")?
        .exists(params![&room.0[..], seq as i64])?;
    let oldest: Option<i64> = tx
        .prepare_cached(schema::OLDEST_CURSOR)?
        .query_row(params![&room.0[..]], |r| r.get(0))?;
    if held || oldest.is_none_or(|o| (seq as i64) > o) {
        return Ok((Vec::new(), Vec::new()));
    }
    let entry: Option<(Vec<u8>, i64)> = tx
        .prepare_cached(
            "DELETE FROM room_log WHERE room = ?1 AND seq = ?2 RETURNING sender, length(body)",
        )?
        .query_row(params![&room.0[..], seq as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let mut freed = Vec::new();
    if let Some((sender, bytes)) = entry {
        freed.push((ClientId(fixed(&sender, "client id")?), bytes));
    }
    Ok((freed, room_files::delete_one(tx, room, seq)?))
}

/// Deleted entries (sender, bytes) and room files.
type Freed = (Vec<(ClientId, i64)>, Vec<room_files::FreedFile>);

/// Ends `client`'s holds in `room` (it stopped receiving the room); `true`
/// if it had any, so that the caller collects what they kept.
pub(super) fn forget_member(
    tx: &Transaction<'_>,
    room: RoomId,
    client: ClientId,
) -> Result<bool, StoreError> {
    let ended = tx
        .prepare_cached("DELETE FROM room_holds WHERE room = ?1 AND client = ?2")?
        .execute(params![&room.0[..], &client.0[..]])?;
    Ok(ended > 0)
}

/// Ends the holds whose entry is gone (retention) or whose member no longer
/// receives the room (its cursor dropped, its account removed).
pub(super) fn forget_gone(tx: &Transaction<'_>) -> Result<(), StoreError> {
    tx.prepare_cached(
        "DELETE FROM room_holds WHERE
             NOT EXISTS (SELECT 1 FROM room_log l
                         WHERE l.room = room_holds.room AND l.seq = room_holds.seq)
             OR NOT EXISTS (SELECT 1 FROM room_members m
                            WHERE m.room = room_holds.room AND m.client = room_holds.client)",
    )?
    .execute([])?;
    Ok(())
}
