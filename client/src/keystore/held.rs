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
use super::history::{Body, NewEntry, Status, insert};
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

/// Records a held offer's `entry` (status held) in history, unless it is
/// already (inside the caller's transaction).
pub(super) fn record_held(conn: &Connection, entry: &NewEntry) -> Result<(), KeyStoreError> {
    let (kind, key) = entry.conversation.key();
    let known: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM history WHERE conv_kind = ?1 AND conv = ?2
             AND direction = 1 AND message_id = ?3)",
        params![kind, key, entry.message_id.map(to_sql_u64)],
        |r| r.get(0),
    )?;
    if !known {
        insert(conn, entry)?;
    }
    Ok(())
}

/// Turns a held offer's entry (`entry`, as [`record_held`] got it) into
/// what became of it (inside the caller's transaction); an offer with no
/// held entry (held by an older version) gets one now.
pub(super) fn end_held(
    conn: &Connection,
    mut entry: NewEntry,
    end: &HeldEnd,
) -> Result<(), KeyStoreError> {
    let (status, path, reason) = match end {
        HeldEnd::Saved(path) => (Status::Received, path.as_path(), None),
        HeldEnd::Declined => (Status::Declined, Path::new(""), None),
        HeldEnd::Rejected(why) => (Status::Failed, Path::new(""), Some(why.as_str())),
    };
    let (kind, key) = entry.conversation.key();
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
            entry.message_id.map(to_sql_u64),
            Status::Held.code(),
        ],
    )?;
    if changed == 0 {
        entry.status = status;
        if let Body::File { path: saved, .. } = &mut entry.body {
            *saved = path.to_path_buf();
        }
        let entry = insert(conn, &entry)?;
        if let Some(reason) = reason {
            conn.execute(
                "UPDATE history SET reason = ?2 WHERE entry = ?1",
                params![to_sql_u64(entry), reason],
            )?;
        }
    }
    Ok(())
}
