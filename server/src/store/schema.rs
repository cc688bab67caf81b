//! The database schema and its migrations, versioned by `PRAGMA user_version`.
//!
//! Each migration takes the schema from version N-1 to N inside one
//! transaction; a database newer than this program is refused rather than
//! guessed at.
//!
//! [`migrate`] and [`INSERT_MESSAGE`] are public (the crate root re-exports
//! this module) for one reader outside the server: the load generator
//! measures raw SQLite inserts into the server's own `messages` table, and
//! takes the table and the statement from here rather than keeping a copy.

use rusqlite::{Connection, OptionalExtension};

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
    // 2: messages clustered by recipient (one B-tree instead of a table and
    // an index: about 30% less work per message) with ids allocated by the
    // writer; `meta.next_message_id` keeps ids from ever repeating, even
    // after every message is deleted.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
     INSERT INTO meta (key, value)
         SELECT 'next_message_id', COALESCE(MAX(seq), 0) + 1 FROM sqlite_sequence
         WHERE name = 'messages';
     INSERT OR IGNORE INTO meta (key, value) VALUES ('next_message_id', 1);
     CREATE TABLE messages_v2 (
         recipient BLOB NOT NULL,
         id INTEGER NOT NULL,
         sender BLOB NOT NULL,
         kind INTEGER NOT NULL,
         size INTEGER NOT NULL,
         content BLOB,
         blob TEXT,
         meta BLOB,
         created_at INTEGER NOT NULL,
         PRIMARY KEY (recipient, id)
     ) WITHOUT ROWID;
     INSERT INTO messages_v2 (recipient, id, sender, kind, size, content, blob, meta, created_at)
         SELECT recipient, id, sender, kind, size, content, blob, meta, created_at FROM messages;
     DROP TABLE messages;
     ALTER TABLE messages_v2 RENAME TO messages;",
    // 3: the protocol version each account registered through (0 until
    // `classify_accounts` has decided it for the accounts of older
    // databases), and the confusability key of version-3 names, unique so
    // that the check is atomic with the registration.
    "ALTER TABLE clients ADD COLUMN protocol INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE clients ADD COLUMN skeleton TEXT;
     CREATE UNIQUE INDEX clients_by_skeleton ON clients (skeleton);",
    // 4: rooms (PROTOCOL.md "Rooms"). Key packages, handed out once each
    // (a last-resort one is kept). One log per room, entries numbered from
    // the message id counter and stored once whatever the room's size; a
    // cursor per member (the last entry it acknowledged), and for a removed
    // member the entry that removed it (`until_seq`), the last it receives.
    // The rooms' MLS public state is in openmls's own tables, created by
    // `sealpost_rooms::migrate` after these.
    "CREATE TABLE key_packages (
         id INTEGER PRIMARY KEY,
         owner BLOB NOT NULL,
         last_resort INTEGER NOT NULL,
         package BLOB NOT NULL
     );
     CREATE INDEX key_packages_by_owner ON key_packages (owner, last_resort, id);
     CREATE TABLE rooms (
         id BLOB PRIMARY KEY,
         epoch INTEGER NOT NULL,
         creator BLOB NOT NULL,
         created_at INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE room_members (
         room BLOB NOT NULL,
         client BLOB NOT NULL,
         role INTEGER NOT NULL,
         cursor INTEGER NOT NULL,
         until_seq INTEGER,
         PRIMARY KEY (room, client)
     ) WITHOUT ROWID;
     CREATE INDEX room_members_by_client ON room_members (client);
     CREATE TABLE room_log (
         seq INTEGER PRIMARY KEY,
         room BLOB NOT NULL,
         sender BLOB NOT NULL,
         kind INTEGER NOT NULL,
         epoch INTEGER NOT NULL,
         sent_at INTEGER NOT NULL,
         file_id BLOB,
         body BLOB NOT NULL
     );
     CREATE INDEX room_log_by_room ON room_log (room, seq);",
    // 5: files to a room (PROTOCOL.md "Files to a room"). An upload may go
    // to a room (`to_room`, its destination then the room id); finished, it
    // becomes a room file, one blob whatever the room's size, named by at
    // most one entry (`seq`, NULL until a room message names it) and deleted
    // with that entry. `joined_seq`: the entry after which a member joined,
    // so that it downloads only the files of entries it received.
    "ALTER TABLE uploads ADD COLUMN to_room INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE room_members ADD COLUMN joined_seq INTEGER NOT NULL DEFAULT 0;
     CREATE TABLE room_files (
         id BLOB PRIMARY KEY,
         room BLOB NOT NULL,
         owner BLOB NOT NULL,
         size INTEGER NOT NULL,
         blob TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         seq INTEGER UNIQUE
     ) WITHOUT ROWID;
     CREATE INDEX room_files_by_room ON room_files (room, seq);",
    // 6: the oldest cursor of a room in one index step. Every acknowledgement
    // asks for it to know what every member has read; through the primary key
    // that is a walk over all the room's members, O(N) per acknowledgement
    // and O(N^2) for a room of N members all acknowledging one entry.
    "CREATE INDEX room_members_by_cursor ON room_members (room, cursor);",
    // 7: joining (PROTOCOL.md "Joining (142 to 144)"). A room's join rule
    // as its access extension says (0 invite-only, 1 public, 2 hidden), its
    // name while one may join it (NULL otherwise; unique, so that a name
    // finds one room), the group info members stored for joiners (and its
    // epoch, which may be behind the room's until a member stores anew), the
    // banned ids (so that 144 answers a banned caller as for no room).
    "ALTER TABLE rooms ADD COLUMN rule INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE rooms ADD COLUMN name TEXT;
     ALTER TABLE rooms ADD COLUMN group_info BLOB;
     ALTER TABLE rooms ADD COLUMN group_epoch INTEGER;
     CREATE UNIQUE INDEX rooms_by_name ON rooms (name);
     CREATE INDEX rooms_by_rule ON rooms (rule, name);
     CREATE TABLE room_bans (
         room BLOB NOT NULL,
         client BLOB NOT NULL,
         PRIMARY KEY (room, client)
     ) WITHOUT ROWID;",
    // 8: room passwords (PROTOCOL.md "Passwords (146 to 149)"): the
    // server's OPAQUE setup (one row, made on first start) and each room's
    // OPAQUE registration record (never the password).
    "CREATE TABLE opaque_setup (
         id INTEGER PRIMARY KEY CHECK (id = 1),
         setup BLOB NOT NULL
     );
     CREATE TABLE room_passwords (
         room BLOB PRIMARY KEY,
         record BLOB NOT NULL
     ) WITHOUT ROWID;",
    // 9: held room files (PROTOCOL.md "Holding a room file (150)"): a
    // member's hold keeps an entry naming a file, and its blob, past every
    // cursor; by client, to count a member's holds against its limit.
    "CREATE TABLE room_holds (
         room BLOB NOT NULL,
         seq INTEGER NOT NULL,
         client BLOB NOT NULL,
         PRIMARY KEY (room, seq, client)
     ) WITHOUT ROWID;
     CREATE INDEX room_holds_by_client ON room_holds (client);",
    // 10: an open room's name is unique by the confusability key user
    // names have (`crate::names::skeleton_key`), so that `team` and `tеam`
    // (a Cyrillic e) cannot both be open; rooms named before get theirs at
    // start (`key_room_names`).
    "ALTER TABLE rooms ADD COLUMN name_key TEXT;
     CREATE UNIQUE INDEX rooms_by_name_key ON rooms (name_key);",
    // 11: a room restored from a backup, until its first commit: a member
    // may re-found it (`writer/room_refound.rs`).
    "ALTER TABLE rooms ADD COLUMN restored INTEGER NOT NULL DEFAULT 0;",
    // 12: when an upload last made progress (ms; 0 until its first sync):
    // `--upload-max-age-hours` counts from it or from the start, whichever
    // is later, so that a long transfer still moving is never expired.
    "ALTER TABLE uploads ADD COLUMN active_at INTEGER NOT NULL DEFAULT 0;",
];

/// The statement that stores a message row (the writer's, in
/// `writer/messages.rs`): ?1 recipient, ?2 sender, ?3 kind, ?4 size,
/// ?5 inline content, ?6 blob name, ?7 file meta, ?8 created at (ms), ?9 id.
pub const INSERT_MESSAGE: &str =
    "INSERT INTO messages (id, recipient, sender, kind, size, content, blob, meta, created_at)
     VALUES (?9, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// The oldest cursor of a room (?1), what every member has acknowledged:
/// asked on every room acknowledgement, answered through migration 6's
/// index in one step whatever the room's size.
pub(crate) const OLDEST_CURSOR: &str = "SELECT MIN(cursor) FROM room_members WHERE room = ?1";

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
    // Pulls read many small rows; mapping the file saves a read system call
    // per page (measured: about 4x fewer reads and 7-10% less server CPU).
    conn.pragma_update(None, "mmap_size", MMAP_SIZE)?;
    Ok(())
}

/// Bytes of the database file read through a memory map.
const MMAP_SIZE: i64 = 256 * 1024 * 1024;

/// Brings the schema up to date (creates it in an empty database).
///
/// # Errors
/// The database failed, or its schema is newer than this program.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
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
    // openmls's tables for the rooms' public state (idempotent, versioned by
    // its own migration table).
    sealpost_rooms::migrate(conn).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(())
}

/// Gives each open room named before schema 10 its name's confusability key,
/// oldest first; where two such names are confusable, the older keeps the
/// key and the newer is logged and left without one (it keeps its name; it
/// blocks no other). Idempotent: only rooms with a name and no key are read.
pub(crate) fn key_room_names(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    let rows: Vec<(Vec<u8>, String)> = tx
        .prepare(
            "SELECT id, name FROM rooms WHERE name IS NOT NULL AND name_key IS NULL
             ORDER BY created_at, id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, name) in rows {
        let key = crate::names::skeleton_key(&name);
        let holder: Option<String> = tx
            .query_row("SELECT name FROM rooms WHERE name_key = ?1", [&key], |r| {
                r.get(0)
            })
            .optional()?;
        match holder {
            Some(holder) => tracing::warn!(
                room = %name,
                confusable_with = %holder,
                "two open rooms named before the confusable check look alike"
            ),
            None => {
                tx.execute(
                    "UPDATE rooms SET name_key = ?1 WHERE id = ?2",
                    rusqlite::params![key, id],
                )?;
            }
        }
    }
    tx.commit()?;
    Ok(())
}

/// Decides the protocol version of accounts registered before it was
/// recorded (schema 3): an account whose key field is a valid signed key
/// bundle registered through version 3 (a version-3 server refuses any other
/// key), the others through version 2. Version-3 accounts get their name's
/// confusability key; where two existing names are confusable, the older
/// keeps the key and the newer is logged and left without one.
pub(crate) fn classify_accounts(
    conn: &mut Connection,
    is_v3_bundle: impl Fn(&[u8]) -> bool,
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    let rows: Vec<(i64, String, Vec<u8>)> = tx
        .prepare("SELECT seq, name, public_key FROM clients WHERE protocol = 0 ORDER BY seq")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (seq, name, key) in rows {
        if !is_v3_bundle(&key) {
            tx.execute("UPDATE clients SET protocol = 2 WHERE seq = ?1", [seq])?;
            continue;
        }
        let skeleton = crate::names::skeleton_key(&name);
        let holder: Option<String> = tx
            .query_row(
                "SELECT name FROM clients WHERE skeleton = ?1",
                [&skeleton],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(holder) = &holder {
            tracing::warn!(
                name = %name,
                confusable_with = %holder,
                "two version-3 names registered before the confusable check look alike"
            );
        }
        tx.execute(
            "UPDATE clients SET protocol = 3, skeleton = ?1 WHERE seq = ?2",
            rusqlite::params![holder.is_none().then_some(skeleton), seq],
        )?;
    }
    tx.commit()?;
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
    fn the_oldest_cursor_of_a_room_is_one_index_step_not_a_walk_over_its_members() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        migrate(&mut conn).unwrap();
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {OLDEST_CURSOR}"))
            .unwrap();
        let plan: Vec<String> = stmt
            .query_map([&[7u8; 16][..]], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        // "SEARCH ... USING COVERING INDEX room_members_by_cursor (room=?)"
        // with MIN: SQLite reads the first index entry of the room and stops.
        assert!(
            plan.iter()
                .any(|step| step.contains("room_members_by_cursor")),
            "{plan:?}"
        );
    }

    #[test]
    fn version_2_keeps_messages_and_never_reuses_their_ids() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        configure(&conn, Durability::Normal).unwrap();
        // A database of schema 1 with two messages, the newer one deleted.
        let tx = conn.transaction().unwrap();
        tx.execute_batch(MIGRATIONS[0]).unwrap();
        tx.pragma_update(None, "user_version", 1).unwrap();
        tx.execute_batch(
            "INSERT INTO messages (recipient, sender, kind, size, content, created_at)
                 VALUES (x'01', x'02', 3, 2, x'6869', 5);
             INSERT INTO messages (recipient, sender, kind, size, content, created_at)
                 VALUES (x'01', x'02', 3, 2, x'6869', 6);
             DELETE FROM messages WHERE id = 2;",
        )
        .unwrap();
        tx.commit().unwrap();
        migrate(&mut conn).unwrap();
        let (id, content): (i64, Vec<u8>) = conn
            .query_row(
                "SELECT id, content FROM messages WHERE recipient = x'01'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((id, content), (1, b"hi".to_vec()));
        let next: i64 = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'next_message_id'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(next, 3, "id 2 was used once and must not come back");
    }

    #[test]
    fn version_3_classifies_old_accounts_by_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        configure(&conn, Durability::Normal).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute_batch(MIGRATIONS[0]).unwrap();
        tx.execute_batch(MIGRATIONS[1]).unwrap();
        tx.pragma_update(None, "user_version", 2).unwrap();
        // A version-2 account (any key), two version-3 accounts (a bundle,
        // here marked by a first byte of 3) whose names look alike (the
        // second with a Cyrillic o).
        tx.execute_batch(
            "INSERT INTO clients (id, name, name_key, public_key, registered_at, last_seen)
                 VALUES (x'01', 'old', 'old', zeroblob(160), 1, 1);
             INSERT INTO clients (id, name, name_key, public_key, registered_at, last_seen)
                 VALUES (x'02', 'bob', 'bob', x'03', 2, 2);
             INSERT INTO clients (id, name, name_key, public_key, registered_at, last_seen)
                 VALUES (x'03', 'bоb', 'bоb', x'03', 3, 3);",
        )
        .unwrap();
        tx.commit().unwrap();
        migrate(&mut conn).unwrap();
        classify_accounts(&mut conn, |key| key.first() == Some(&3)).unwrap();
        let rows: Vec<(String, u8, Option<String>)> = conn
            .prepare("SELECT name, protocol, skeleton FROM clients ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows[0], ("old".into(), 2, None));
        assert_eq!(rows[1], ("bob".into(), 3, Some("bob".into())));
        assert_eq!(rows[2].1, 3);
        assert_eq!(rows[2].2, None, "the younger look-alike keeps no key");
        // Nothing is left to classify; a second run changes nothing.
        classify_accounts(&mut conn, |_| true).unwrap();
        let v2: i64 = conn
            .query_row("SELECT COUNT(*) FROM clients WHERE protocol = 2", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(v2, 1);
    }

    #[test]
    fn version_10_keys_the_names_of_open_rooms_the_older_look_alike_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        configure(&conn, Durability::Normal).unwrap();
        let tx = conn.transaction().unwrap();
        for sql in &MIGRATIONS[..9] {
            tx.execute_batch(sql).unwrap();
        }
        tx.pragma_update(None, "user_version", 9).unwrap();
        // Two open rooms whose names look alike (the older with a Cyrillic
        // е), another open one, and an invite-only one (no name kept).
        tx.execute_batch(
            "INSERT INTO rooms (id, epoch, creator, created_at, rule, name)
                 VALUES (x'01', 1, x'00', 5, 1, 'team');
             INSERT INTO rooms (id, epoch, creator, created_at, rule, name)
                 VALUES (x'02', 1, x'00', 3, 2, 't\u{435}am');
             INSERT INTO rooms (id, epoch, creator, created_at, rule, name)
                 VALUES (x'03', 1, x'00', 9, 1, 'ops');
             INSERT INTO rooms (id, epoch, creator, created_at, rule, name)
                 VALUES (x'04', 1, x'00', 1, 0, NULL);",
        )
        .unwrap();
        tx.commit().unwrap();
        migrate(&mut conn).unwrap();
        key_room_names(&mut conn).unwrap();
        key_room_names(&mut conn).unwrap();
        let keys: Vec<(Vec<u8>, Option<String>)> = conn
            .prepare("SELECT id, name_key FROM rooms ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let team = crate::names::skeleton_key("team");
        assert_eq!(
            keys[0],
            (vec![1], None),
            "the younger look-alike keeps no key"
        );
        assert_eq!(keys[1], (vec![2], Some(team)));
        assert_eq!(keys[2], (vec![3], Some(crate::names::skeleton_key("ops"))));
        assert_eq!(keys[3], (vec![4], None));
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(migrate(&mut conn), Err(StoreError::Corrupt(_))));
    }
}
