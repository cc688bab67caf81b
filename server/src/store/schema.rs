//! The database schema and its migrations, versioned by `PRAGMA user_version`.
//!
//! Each migration takes the schema from version N-1 to N inside one
//! transaction; a database newer than this program is refused rather than
//! guessed at.

use rusqlite::Connection;

use crate::config::Durability;
use crate::error::StoreError;

/// Migrations in order; `MIGRATIONS[i]` produces schema version `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: clients, messages (inline or blob-backed), unfinished uploads.
    "CREATE TABLE clients (
         seq INTEGER PRIMARY KEY,
         id BLOB NOT NULL UNIQUE,
         name TEXT NOT NULL,
         name_key TEXT NOT NULL UNIQUE,
         public_key BLOB NOT NULL,
         registered_at INTEGER NOT NULL,
         last_seen INTEGER NOT NULL
     );
     CREATE TABLE messages (
         id INTEGER PRIMARY KEY AUTOINCREMENT,
         recipient BLOB NOT NULL,
         sender BLOB NOT NULL,
         kind INTEGER NOT NULL,
         size INTEGER NOT NULL,
         content BLOB,
         blob TEXT,
         meta BLOB,
         created_at INTEGER NOT NULL
     );
     CREATE INDEX messages_by_recipient ON messages (recipient, id);
     CREATE TABLE uploads (
         id BLOB PRIMARY KEY,
         owner BLOB NOT NULL,
         destination BLOB NOT NULL,
         file_size INTEGER NOT NULL,
         meta BLOB NOT NULL,
         durable_offset INTEGER NOT NULL,
         created_at INTEGER NOT NULL
     );
     CREATE INDEX uploads_by_owner ON uploads (owner);",
];

/// Settings every connection gets.
pub(crate) fn configure(conn: &Connection, durability: Durability) -> Result<(), StoreError> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        },
    )?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Readers and the writer never wait long on each other in WAL mode; a
    // short timeout covers checkpoints.
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

/// Settings of a read-only connection (the journal mode is the file's own).
pub(crate) fn configure_reader(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

/// Brings the schema up to date.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "database schema version {current} is newer than this server ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_a_fresh_database_and_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        configure(&conn, Durability::Normal).unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let v: usize = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len());
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(migrate(&mut conn), Err(StoreError::Corrupt(_))));
    }
}
