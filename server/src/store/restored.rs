//! A data folder restored from a backup (`server restore`) knows the
//! message-id counter as it stood at the snapshot, not the ids the original
//! server handed out after it. Recipients that fetched those messages keep
//! their ids as handled and would drop a new message that came with one as a
//! redelivery. So the restore leaves a marker holding the snapshot's time,
//! and the first start on the folder moves the counter past every id the
//! original could have given since: 2^31, plus one id for each microsecond
//! since the snapshot (more than any server stores; this one's measured
//! maximum is under 200,000 a second). Counting from the snapshot's time
//! means that restoring the same archive again later also skips what the
//! first restored server handed out.
//!
//! The same start drops every one-time key package: the original handed
//! out some of them after the snapshot, which the restored server would
//! hand out again, and an invitation made for one its owner has used is
//! one it cannot open. Their owners refill their stock when they next
//! connect; a last-resort package, which may be handed out any number of
//! times, stays.
//!
//! And it marks every room restored: one changed after the snapshot is held
//! at an older epoch than its members', and a member may re-found it
//! (`writer/room_refound.rs`) until its first commit.

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::Connection;

use crate::datadir::private_file_options;
use crate::error::StoreError;

/// The marker's file name, beside the database.
pub const MARKER: &str = "restored-from-backup";

/// Why a room that is not marked restored cannot be re-founded.
pub(crate) const NOT_RESTORED: &str =
    "this room was not restored from a backup, or has changed since";

/// Ids skipped however soon after the snapshot the restored server starts.
const MIN_SKIP: u64 = 1 << 31;

/// Leaves the marker in `data_dir`: the snapshot was taken at
/// `created_at_ms` (ms since the Unix epoch).
///
/// # Errors
/// The file cannot be written.
pub fn mark(data_dir: &Path, created_at_ms: u64) -> io::Result<()> {
    let mut file = private_file_options()
        .write(true)
        .create_new(true)
        .open(data_dir.join(MARKER))?;
    file.write_all(created_at_ms.to_string().as_bytes())?;
    file.sync_all()
}

/// The counter to start from: `next_id`, or, when `db_path`'s folder holds
/// the marker, past every id handed out since the snapshot (and the
/// one-time key packages dropped, the rooms marked restored). All are
/// committed before the marker goes, so a crash in between only does them
/// again.
pub(super) fn settle_restore(
    conn: &Connection,
    db_path: &Path,
    next_id: u64,
) -> Result<u64, StoreError> {
    let marker = db_path.with_file_name(MARKER);
    let created_at_ms = match fs::read_to_string(&marker) {
        Ok(text) => text.trim().parse::<u64>().unwrap_or(0),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(next_id),
        Err(e) => return Err(e.into()),
    };
    let next = next_id.saturating_add(skip(created_at_ms, now_ms()));
    let tx = conn.unchecked_transaction()?;
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'next_message_id'",
        [i64::try_from(next).unwrap_or(i64::MAX)],
    )?;
    let dropped = tx.execute("DELETE FROM key_packages WHERE last_resort = 0", [])?;
    let rooms = tx.execute("UPDATE rooms SET restored = 1", [])?;
    tx.commit()?;
    fs::remove_file(&marker)?;
    tracing::info!(
        next_id = next,
        one_time_key_packages_dropped = dropped,
        rooms_marked_restored = rooms,
        "restored from a backup: message ids continue past the original's"
    );
    Ok(next)
}

/// Ids to skip for a snapshot taken at `created_at_ms`, now being `now_ms`.
fn skip(created_at_ms: u64, now_ms: u64) -> u64 {
    MIN_SKIP.saturating_add(now_ms.saturating_sub(created_at_ms).saturating_mul(1000))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_skip_grows_with_the_time_since_the_snapshot() {
        assert_eq!(skip(5_000, 5_000), MIN_SKIP);
        assert_eq!(skip(5_000, 6_000), MIN_SKIP + 1_000_000);
        // A clock behind the snapshot's still skips the minimum.
        assert_eq!(skip(9_000, 1_000), MIN_SKIP);
        assert_eq!(skip(0, u64::MAX), u64::MAX);
    }

    #[test]
    fn a_marked_folder_moves_the_counter_drops_one_time_key_packages_and_marks_rooms_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("server.db");
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
             INSERT INTO meta VALUES ('next_message_id', 42);
             CREATE TABLE key_packages (id INTEGER PRIMARY KEY, owner BLOB NOT NULL,
                 last_resort INTEGER NOT NULL, package BLOB NOT NULL);
             INSERT INTO key_packages VALUES (1, x'01', 0, x'aa'), (2, x'01', 1, x'bb'),
                 (3, x'02', 0, x'cc');
             CREATE TABLE rooms (id BLOB PRIMARY KEY, restored INTEGER NOT NULL DEFAULT 0);
             INSERT INTO rooms (id) VALUES (x'0a'), (x'0b');",
        )
        .unwrap();
        let kinds = |conn: &Connection| -> Vec<(i64, i64)> {
            let mut stmt = conn
                .prepare("SELECT id, last_resort FROM key_packages ORDER BY id")
                .unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let marked = |conn: &Connection| -> i64 {
            conn.query_row("SELECT SUM(restored) FROM rooms", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(settle_restore(&conn, &db, 42).unwrap(), 42);
        assert_eq!(
            kinds(&conn),
            [(1, 0), (2, 1), (3, 0)],
            "no marker, nothing dropped"
        );
        assert_eq!(marked(&conn), 0, "no marker, no room marked");
        mark(dir.path(), now_ms()).unwrap();
        let next = settle_restore(&conn, &db, 42).unwrap();
        assert!(next >= 42 + MIN_SKIP, "{next}");
        let stored: i64 = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'next_message_id'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stored as u64, next);
        assert!(!dir.path().join(MARKER).exists());
        assert_eq!(kinds(&conn), [(2, 1)], "only the last-resort package stays");
        assert_eq!(marked(&conn), 2, "every room is marked restored");
        conn.execute("UPDATE rooms SET restored = 0", []).unwrap();
        assert_eq!(settle_restore(&conn, &db, next).unwrap(), next);
        assert_eq!(marked(&conn), 0, "marked once only");
    }
}
