//! SQLite's insert rate as the server commits (the rows of its `messages`
//! table, WAL and a sync per commit), measured beside the scenarios that
//! store messages: `limits` and `cluster`.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::report::per_second;

/// One SQLite measurement.
#[derive(Debug, Clone, Serialize)]
pub struct SqliteRun {
    /// `journal_mode`.
    pub journal: String,
    /// `synchronous`.
    pub synchronous: String,
    /// Rows per transaction.
    pub rows_per_commit: usize,
    /// Rows inserted.
    pub rows: usize,
    /// Seconds taken.
    pub seconds: f64,
    /// Rows per second.
    pub rows_per_s: f64,
    /// Commits per second.
    pub commits_per_s: f64,
}

/// Inserts up to `rows` rows, `per_commit` per transaction, into a fresh
/// database in `dir`, stopping early after `max`.
pub fn sqlite_inserts(
    dir: &Path,
    journal: &str,
    synchronous: &str,
    per_commit: usize,
    rows: usize,
    row_size: usize,
    max: Duration,
) -> anyhow::Result<SqliteRun> {
    let path = dir.join(format!("{journal}-{synchronous}-{per_commit}.db"));
    let mut conn = Connection::open(&path)?;
    conn.pragma_update(None, "journal_mode", journal)?;
    conn.pragma_update(None, "synchronous", synchronous)?;
    server::schema::migrate(&mut conn)?;
    let content = vec![0xabu8; row_size];
    let ids: Vec<[u8; 16]> = (0..100u8).map(|i| [i; 16]).collect();
    let start = Instant::now();
    let mut done = 0usize;
    let mut commits = 0usize;
    while done < rows && start.elapsed() < max {
        let n = per_commit.min(rows - done);
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(server::schema::INSERT_MESSAGE)?;
            for k in done..done + n {
                stmt.execute(params![
                    &ids[k % 100][..],
                    &ids[(k * 7 + 1) % 100][..],
                    3,
                    row_size as i64,
                    &content,
                    None::<String>,
                    None::<Vec<u8>>,
                    k as i64,
                    // Ids are given by the writer, not by SQLite.
                    k as i64 + 1,
                ])?;
            }
        }
        tx.commit()?;
        done += n;
        commits += 1;
    }
    let elapsed = start.elapsed();
    Ok(SqliteRun {
        journal: journal.into(),
        synchronous: synchronous.into(),
        rows_per_commit: per_commit,
        rows: done,
        seconds: elapsed.as_secs_f64(),
        rows_per_s: per_second(done as f64, elapsed),
        commits_per_s: per_second(commits as f64, elapsed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_inserts_the_rows_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let run = sqlite_inserts(
            dir.path(),
            "wal",
            "normal",
            64,
            130,
            100,
            Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!(run.rows, 130);
        let conn = Connection::open(dir.path().join("wal-normal-64.db")).unwrap();
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 130);
    }
}
