//! The writer's statements for room passwords (PROTOCOL.md "Passwords (146
//! to 149)"): the server's OPAQUE setup, made once per database, and a
//! room's OPAQUE record, replaced by an admin or the owner.
//!
//! Left out: OPAQUE itself (`sealpost_rooms::password`) and guess limits
//! (`crate::v3::guesses`, in memory).

use protocol::{ClientId, RoomId};
use rusqlite::{OptionalExtension, Transaction, params};

use crate::error::StoreError;

/// Keeps `fresh` as the server's OPAQUE setup unless one is kept already;
/// returns the one kept.
pub(super) fn setup(tx: &Transaction<'_>, fresh: &[u8]) -> Result<Vec<u8>, StoreError> {
    tx.prepare_cached("INSERT OR IGNORE INTO opaque_setup (id, setup) VALUES (1, ?1)")?
        .execute(params![fresh])?;
    Ok(tx
        .prepare_cached("SELECT setup FROM opaque_setup WHERE id = 1")?
        .query_row([], |r| r.get(0))?)
}

/// Replaces `room`'s record for `caller`, a current admin or owner (by the
/// roles the server follows from the room's commits).
///
/// # Errors
/// [`StoreError::UnknownRoom`] (not a current member),
/// [`StoreError::RoomRefused`] (a plain member).
pub(super) fn set(
    tx: &Transaction<'_>,
    caller: ClientId,
    room: RoomId,
    record: &[u8],
) -> Result<(), StoreError> {
    let role: i64 = tx
        .prepare_cached(
            "SELECT role FROM room_members
             WHERE room = ?1 AND client = ?2 AND until_seq IS NULL",
        )?
        .query_row(params![&room.0[..], &caller.0[..]], |r| r.get(0))
        .optional()?
        .ok_or(StoreError::UnknownRoom)?;
    if role < 1 {
        return Err(StoreError::RoomRefused(
            "only an admin or the owner sets the room's password".into(),
        ));
    }
    tx.prepare_cached(
        "INSERT INTO room_passwords (room, record) VALUES (?1, ?2)
         ON CONFLICT (room) DO UPDATE SET record = excluded.record",
    )?
    .execute(params![&room.0[..], record])?;
    Ok(())
}
