//! What reading a log entry came to, kept in the state file from the
//! transaction that processed the entry until the client says it has
//! recorded it ([`crate::RoomEngine::release_entries`]).
//!
//! The client records what it read in a database of its own (its key
//! store): two databases, two transactions. Without this, a crash between
//! the two would lose the entry for good: it comes again (not
//! acknowledged), but its keys are spent and it is already marked read.
//! Kept here, it is handed out again instead, marked as a replay. An entry
//! the client refused ([`crate::RoomEngine::refuse_entry`]) is kept the same
//! way, with the reason it gave, so that its notice is not lost either.
//!
//! Rows are JSON of [`Incoming`] with the room's name before and after the
//! entry (a commit may rename the room, and only the name before it tells
//! what the rename was), but for a message's plaintext, a BLOB of its own:
//! in JSON bytes are an array of numbers, three to four times their size,
//! and a text of 64 KiB was written, synced and deleted as 200 to 230 KB
//! (BENCHMARKS.md, "What keeping a room entry's result costs"). A row of an
//! older version has the plaintext in its JSON and no BLOB, and is read as
//! it is. A refusal's row has its reason in `refused`, no incoming (empty)
//! and the room's name then as the name after. They live for one read of
//! the logs: the client releases them once it has recorded them (the table
//! is made by `crate::kept_table`, and emptied of a room it forgets).
//! Left out: the entries the client skips unread (its own messages), which
//! keep nothing.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::RoomsError;
use crate::ids::RoomId;
use crate::incoming::Incoming;
use crate::name::RoomName;

/// An entry of a room's log as processed here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRead {
    /// What the entry was.
    pub incoming: Incoming,
    /// The room's name before the entry.
    pub name_before: Option<RoomName>,
    /// The room's name right after it.
    pub name_after: Option<RoomName>,
    /// True if the entry was processed by an earlier read whose result
    /// was not released: the caller may have recorded it already.
    pub replay: bool,
}

/// What an entry of a room's log came to, as
/// [`crate::RoomEngine::process_entry`] hands it out.
// One is handed out per entry and moved, never stored in bulk: no box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryOutcome {
    /// Processed.
    Read(EntryRead),
    /// Refused by an earlier read ([`crate::RoomEngine::refuse_entry`]),
    /// whose notice the caller may not have recorded: always a replay (a
    /// refusal is first the error of [`crate::RoomEngine::process_entry`]).
    Refused {
        /// The reason the caller gave then, word for word.
        reason: String,
        /// The room's name then.
        name: Option<RoomName>,
    },
}

/// Keeps `outcome`, what entry `seq` of `room` came to.
pub(crate) fn keep(
    conn: &Connection,
    room: RoomId,
    seq: u64,
    outcome: &EntryOutcome,
) -> Result<(), RoomsError> {
    let name = |n: &Option<RoomName>| n.as_ref().map(|n| n.as_str().to_string());
    let (incoming, plaintext, before, after, refused) = match outcome {
        EntryOutcome::Read(read) => {
            let (incoming, plaintext) = match &read.incoming {
                Incoming::Message {
                    room,
                    sender,
                    plaintext,
                } => (
                    serde_json::to_string(&Incoming::Message {
                        room: *room,
                        sender: *sender,
                        plaintext: Vec::new(),
                    }),
                    Some(plaintext.as_slice()),
                ),
                other => (serde_json::to_string(other), None),
            };
            (
                incoming.map_err(|_| RoomsError::Malformed)?,
                plaintext,
                name(&read.name_before),
                name(&read.name_after),
                None,
            )
        }
        EntryOutcome::Refused { reason, name: now } => {
            (String::new(), None, None, name(now), Some(reason.as_str()))
        }
    };
    conn.execute(
        "INSERT OR REPLACE INTO sealpost_rooms_kept
             (room_id, seq, incoming, plaintext, name_before, name_after, refused)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        // Stored from a u64 with the same bits.
        params![
            &room.0[..],
            seq as i64,
            incoming,
            plaintext,
            before,
            after,
            refused
        ],
    )?;
    Ok(())
}

/// The kept result of entry `seq` of `room`, as a replay; `None` if it was
/// released (or never kept).
///
/// # Errors
/// Database errors; [`RoomsError::Malformed`] for a row that does not
/// parse (written by another version).
pub(crate) fn kept(
    conn: &Connection,
    room: RoomId,
    seq: u64,
) -> Result<Option<EntryOutcome>, RoomsError> {
    type Row = (
        String,
        Option<Vec<u8>>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let row: Option<Row> = conn
        .query_row(
            "SELECT incoming, plaintext, name_before, name_after, refused
             FROM sealpost_rooms_kept WHERE room_id = ?1 AND seq = ?2",
            params![&room.0[..], seq as i64],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let Some((incoming, blob, before, after, refused)) = row else {
        return Ok(None);
    };
    let name = |n: Option<String>| -> Result<Option<RoomName>, RoomsError> {
        n.map(|n| RoomName::new(&n).map_err(|_| RoomsError::Malformed))
            .transpose()
    };
    if let Some(reason) = refused {
        let name = name(after)?;
        return Ok(Some(EntryOutcome::Refused { reason, name }));
    }
    let mut incoming = serde_json::from_str(&incoming).map_err(|_| RoomsError::Malformed)?;
    if let Some(blob) = blob {
        // Only a message's plaintext is kept apart (an older row has none).
        match &mut incoming {
            Incoming::Message { plaintext, .. } if plaintext.is_empty() => *plaintext = blob,
            _ => return Err(RoomsError::Malformed),
        }
    }
    Ok(Some(EntryOutcome::Read(EntryRead {
        incoming,
        name_before: name(before)?,
        name_after: name(after)?,
        replay: true,
    })))
}

/// Drops the kept results of `room`'s entries up to `seq`.
pub(crate) fn release(conn: &Connection, room: RoomId, seq: u64) -> Result<(), RoomsError> {
    conn.execute(
        "DELETE FROM sealpost_rooms_kept WHERE room_id = ?1 AND seq <= ?2",
        params![&room.0[..], seq as i64],
    )?;
    Ok(())
}

/// How many results of `room` are kept (for tests).
#[cfg(test)]
pub(crate) fn count(conn: &Connection, room: RoomId) -> Result<u64, RoomsError> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM sealpost_rooms_kept WHERE room_id = ?1",
        params![&room.0[..]],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}
