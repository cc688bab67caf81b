//! The history entry of a file offer held for the user's answer: recorded
//! (status `held`) when the offer is held, and turned into what became of
//! it when the user answers: the received file (`received`, with where it
//! was saved), `declined`, or `failed` when the file did not authenticate.
//! One entry all along, so `history` shows the offer where it arrived.
//!
//! Left out: holding and answering themselves (`keystore::files`).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

use super::KeyStoreError;
use super::files::HeldFile;
use super::history::{Body, Conversation, Direction, NewEntry, Status, insert};
use super::schema::{now_ms, to_sql_u64};

/// What became of a held offer.
#[derive(Debug, Clone)]
pub enum HeldEnd {
    /// Downloaded and saved at this path.
    Saved(PathBuf),
    /// The user declined it.
    Declined,
    /// It did not authenticate (why, in a few words); nothing was saved.
    Rejected(String),
}

/// The entry a held offer starts with (or, for one held by a version that
/// recorded none, ends with).
fn entry(held: &HeldFile, status: Status, path: &Path) -> NewEntry {
    NewEntry {
        conversation: Conversation::Person { id: held.sender },
        direction: Direction::In,
        sender: held.sender,
        body: Body::File {
            name: held.name.clone(),
            size: held.size,
            path: path.to_path_buf(),
        },
        sender_time_ms: held.sender_time_ms,
        server_time_ms: Some(held.sent_at_ms),
        message_id: Some(held.message_id),
        status,
    }
}

/// Records `held` in history as held, unless it is already (inside the
/// caller's transaction).
pub(super) fn record_held(conn: &Connection, held: &HeldFile) -> Result<(), KeyStoreError> {
    let (kind, key) = Conversation::Person { id: held.sender }.key();
    let known: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM history WHERE conv_kind = ?1 AND conv = ?2
             AND direction = 1 AND message_id = ?3)",
        params![kind, key, to_sql_u64(held.message_id)],
        |r| r.get(0),
    )?;
    if !known {
        insert(conn, &entry(held, Status::Held, Path::new("")))?;
    }
    Ok(())
}

/// Turns `held`'s entry into what became of it (inside the caller's
/// transaction); an offer with no held entry gets one now.
pub(super) fn end_held(
    conn: &Connection,
    held: &HeldFile,
    end: &HeldEnd,
) -> Result<(), KeyStoreError> {
    let (status, path, reason) = match end {
        HeldEnd::Saved(path) => (Status::Received, path.as_path(), None),
        HeldEnd::Declined => (Status::Declined, Path::new(""), None),
        HeldEnd::Rejected(why) => (Status::Failed, Path::new(""), Some(why.as_str())),
    };
    let (kind, key) = Conversation::Person { id: held.sender }.key();
    let changed = conn.execute(
        "UPDATE history SET status = ?1, status_at = ?2, file_path = ?3, reason = ?4
         WHERE conv_kind = ?5 AND conv = ?6 AND direction = 1 AND message_id = ?7
           AND status = ?8",
        params![
            status.code(),
            now_ms(),
            path.as_os_str().as_encoded_bytes(),
            reason,
            kind,
            key,
            to_sql_u64(held.message_id),
            Status::Held.code(),
        ],
    )?;
    if changed == 0 {
        let entry = insert(conn, &entry(held, status, path))?;
        if let Some(reason) = reason {
            conn.execute(
                "UPDATE history SET reason = ?2 WHERE entry = ?1",
                params![to_sql_u64(entry), reason],
            )?;
        }
    }
    Ok(())
}
