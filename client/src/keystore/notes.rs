//! The end of a note of ours on a room (a creation, `creates.rs`; a join
//! by name, `joins.rs`): the note is deleted, and what its end records
//! happens in the same transaction, told whether the note was there, so
//! that of two runs (or two processes of one home) that finish one note,
//! one records it.

use rusqlite::{Connection, Transaction, TransactionBehavior};
use sealpost_rooms::RoomId;

use super::KeyStoreError;
use super::room_events::show_only;
use crate::rooms::event::RoomEvent;

/// Deletes the note of `room` (`delete`, with the room as `?1`) and runs
/// `then` with whether it was there, in one transaction.
pub(super) fn end_note<T>(
    conn: &mut Connection,
    delete: &str,
    room: RoomId,
    then: impl FnOnce(&Transaction<'_>, bool) -> Result<T, KeyStoreError>,
) -> Result<T, KeyStoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let noted = tx.execute(delete, [&room.0[..]])? == 1;
    let done = then(&tx, noted)?;
    tx.commit()?;
    Ok(done)
}

/// Ends a note that never came to be, queueing `shown`, its notice, if the
/// note was there: once.
pub(super) fn drop_note(
    conn: &mut Connection,
    delete: &str,
    room: RoomId,
    shown: Option<&RoomEvent>,
) -> Result<(), KeyStoreError> {
    end_note(conn, delete, room, |tx, noted| match shown {
        Some(event) if noted => show_only(tx, [event]),
        _ => Ok(()),
    })
}
