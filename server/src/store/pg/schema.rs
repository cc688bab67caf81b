//! The PostgreSQL schema and its migrations, versioned in `sealpost_schema`
//! as the SQLite ones are by `user_version`: the pending migrations run in
//! one transaction, and a database newer than this program is refused.
//!
//! Nodes of a cluster may start together: an advisory lock makes one
//! migrate while the others wait, then find nothing left to do.

use deadpool_postgres::Object;

use crate::error::StoreError;

/// Key of the advisory lock held while migrating ("seal" in ASCII).
const MIGRATION_LOCK: i64 = 0x7365_616c;

/// Migrations in order; `MIGRATIONS[i]` produces schema version `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: clients, messages, unfinished uploads, and the quota counts.
    // Messages are keyed by recipient and id (every read is one recipient's);
    // ids come from one sequence for the whole cluster. `usage` holds what
    // the SQLite writer keeps in memory, one row per client (its lock is
    // what makes a quota check and its change atomic); `storage` is the
    // total, in stripes so that unrelated sends do not all wait on one row.
    "CREATE TABLE clients (
         seq BIGSERIAL PRIMARY KEY,
         id BYTEA NOT NULL UNIQUE,
         name TEXT NOT NULL,
         name_key TEXT NOT NULL UNIQUE,
         public_key BYTEA NOT NULL,
         registered_at BIGINT NOT NULL,
         last_seen BIGINT NOT NULL,
         protocol SMALLINT NOT NULL,
         skeleton TEXT UNIQUE
     );
     CREATE SEQUENCE message_ids;
     CREATE TABLE messages (
         recipient BYTEA NOT NULL,
         id BIGINT NOT NULL,
         sender BYTEA NOT NULL,
         kind SMALLINT NOT NULL,
         size BIGINT NOT NULL,
         content BYTEA,
         blob TEXT,
         meta BYTEA,
         created_at BIGINT NOT NULL,
         PRIMARY KEY (recipient, id)
     );
     CREATE TABLE uploads (
         id BYTEA PRIMARY KEY,
         owner BYTEA NOT NULL,
         destination BYTEA NOT NULL,
         file_size BIGINT NOT NULL,
         meta BYTEA NOT NULL,
         durable_offset BIGINT NOT NULL,
         created_at BIGINT NOT NULL
     );
     CREATE INDEX uploads_by_created ON uploads (created_at);
     CREATE TABLE usage (
         client BYTEA PRIMARY KEY,
         inbox_messages BIGINT NOT NULL DEFAULT 0,
         inbox_bytes BIGINT NOT NULL DEFAULT 0,
         sent_bytes BIGINT NOT NULL DEFAULT 0,
         uploads BIGINT NOT NULL DEFAULT 0
     );
     CREATE TABLE storage (stripe SMALLINT PRIMARY KEY, bytes BIGINT NOT NULL);
     INSERT INTO storage (stripe, bytes) SELECT s, 0 FROM generate_series(0, 15) AS s;",
    // 2: rooms and key packages, as SQLite's migrations 4 to 7 leave them
    // (PROTOCOL.md "Rooms", "Joining"); entries take their numbers from the
    // message id sequence. `room_mls`: the observer's openmls state of each
    // room, its key/value entries (`pg/room_observer.rs`), changed only by
    // a transaction that holds the room's row.
    "CREATE TABLE key_packages (
         id BIGSERIAL PRIMARY KEY,
         owner BYTEA NOT NULL,
         last_resort BOOLEAN NOT NULL,
         package BYTEA NOT NULL
     );
     CREATE INDEX key_packages_by_owner ON key_packages (owner, last_resort, id);
     CREATE TABLE rooms (
         id BYTEA PRIMARY KEY,
         epoch BIGINT NOT NULL,
         creator BYTEA NOT NULL,
         created_at BIGINT NOT NULL,
         rule SMALLINT NOT NULL DEFAULT 0,
         name TEXT UNIQUE,
         group_info BYTEA,
         group_epoch BIGINT
     );
     CREATE INDEX rooms_by_rule ON rooms (rule, name);
     CREATE TABLE room_members (
         room BYTEA NOT NULL,
         client BYTEA NOT NULL,
         role SMALLINT NOT NULL,
         cursor BIGINT NOT NULL,
         until_seq BIGINT,
         joined_seq BIGINT NOT NULL DEFAULT 0,
         PRIMARY KEY (room, client)
     );
     CREATE INDEX room_members_by_client ON room_members (client);
     CREATE INDEX room_members_by_cursor ON room_members (room, cursor);
     CREATE TABLE room_log (
         seq BIGINT PRIMARY KEY,
         room BYTEA NOT NULL,
         sender BYTEA NOT NULL,
         kind SMALLINT NOT NULL,
         epoch BIGINT NOT NULL,
         sent_at BIGINT NOT NULL,
         file_id BYTEA,
         body BYTEA NOT NULL
     );
     CREATE INDEX room_log_by_room ON room_log (room, seq);
     CREATE INDEX room_log_by_sent ON room_log (sent_at);
     CREATE TABLE room_bans (
         room BYTEA NOT NULL,
         client BYTEA NOT NULL,
         PRIMARY KEY (room, client)
     );
     CREATE TABLE room_mls (
         room BYTEA NOT NULL,
         key BYTEA NOT NULL,
         value BYTEA NOT NULL,
         PRIMARY KEY (room, key)
     );
     ALTER TABLE uploads ADD COLUMN to_room BOOLEAN NOT NULL DEFAULT false;
     CREATE TABLE room_files (
         id BYTEA PRIMARY KEY,
         room BYTEA NOT NULL,
         owner BYTEA NOT NULL,
         size BIGINT NOT NULL,
         blob TEXT NOT NULL,
         created_at BIGINT NOT NULL,
         seq BIGINT UNIQUE
     );
     CREATE INDEX room_files_by_room ON room_files (room, seq);",
    // 3: room passwords, as SQLite's migration 8 (PROTOCOL.md "Passwords
    // (146 to 149)"): one OPAQUE setup for every node of the cluster, and
    // each room's OPAQUE record.
    "CREATE TABLE opaque_setup (
         id SMALLINT PRIMARY KEY CHECK (id = 1),
         setup BYTEA NOT NULL
     );
     CREATE TABLE room_passwords (
         room BYTEA PRIMARY KEY,
         record BYTEA NOT NULL
     );",
    // 4: held room files, as SQLite's migration 9 (PROTOCOL.md "Holding a
    // room file (150)").
    "CREATE TABLE room_holds (
         room BYTEA NOT NULL,
         seq BIGINT NOT NULL,
         client BYTEA NOT NULL,
         PRIMARY KEY (room, seq, client)
     );
     CREATE INDEX room_holds_by_client ON room_holds (client);",
    // 5: file bodies in the database (`crate::blobs::pg`), for nodes not
    // given --files-dir: rows of at most 1 MiB keyed by body and position.
    // Ciphertext does not compress: stored out of line, uncompressed.
    "CREATE TABLE body_chunks (
         body BYTEA NOT NULL,
         pos BIGINT NOT NULL,
         data BYTEA NOT NULL,
         written_at BIGINT NOT NULL,
         PRIMARY KEY (body, pos)
     );
     ALTER TABLE body_chunks ALTER COLUMN data SET STORAGE EXTERNAL;",
    // 6: failed password guesses at rooms, counted for the whole cluster
    // (`room_guesses.rs`); a row lives as long as the guess counts.
    "CREATE TABLE room_guesses (
         id BIGSERIAL PRIMARY KEY,
         room BYTEA NOT NULL,
         client BYTEA NOT NULL,
         at TIMESTAMPTZ NOT NULL DEFAULT now()
     );
     CREATE INDEX room_guesses_by_room ON room_guesses (room);
     CREATE INDEX room_guesses_by_time ON room_guesses (at);",
    // 7: who each node shows online, for the others (`presence.rs`):
    // unlogged, since a restart of the database ends every connection.
    "CREATE UNLOGGED TABLE presence_nodes (
         node TEXT PRIMARY KEY,
         seen TIMESTAMPTZ NOT NULL
     );
     CREATE UNLOGGED TABLE presence (
         node TEXT NOT NULL REFERENCES presence_nodes ON DELETE CASCADE,
         client BYTEA NOT NULL,
         PRIMARY KEY (node, client)
     );",
    // 8: who each node has connected, shown online or not, for the
    // operator's view of the cluster (`presence.rs`).
    "CREATE UNLOGGED TABLE connected (
         node TEXT NOT NULL REFERENCES presence_nodes ON DELETE CASCADE,
         client BYTEA NOT NULL,
         PRIMARY KEY (node, client)
     );",
    // 9: an open room's name is unique by its confusability key, as in
    // SQLite's migration 10; rooms named before get theirs at start.
    "ALTER TABLE rooms ADD COLUMN name_key TEXT UNIQUE;",
    // 10: when an upload last made progress, as SQLite's migration 12.
    "ALTER TABLE uploads ADD COLUMN active_at BIGINT NOT NULL DEFAULT 0;",
    // 11: who the cluster is (`cluster.rs`): the server key every node must
    // hold and where its file bodies live, recorded by the first node that
    // starts (on a database from before, the first after the upgrade).
    "CREATE TABLE cluster (
         id SMALLINT PRIMARY KEY CHECK (id = 1),
         server_key BYTEA NOT NULL,
         bodies TEXT NOT NULL CHECK (bodies IN ('database', 'folder'))
     );",
];

/// Gives each open room named before schema 9 its name's confusability key,
/// as SQLite's `schema::key_room_names` does (the older of two confusable
/// names keeps the key), under the migration lock so that nodes starting
/// together do it once.
///
/// # Errors
/// The database failed.
pub(super) async fn key_room_names(conn: &mut Object) -> Result<(), StoreError> {
    let tx = conn.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let rows = tx
        .query(
            "SELECT id, name FROM rooms WHERE name IS NOT NULL AND name_key IS NULL
             ORDER BY created_at, id",
            &[],
        )
        .await?;
    for row in rows {
        let (id, name): (Vec<u8>, String) = (row.get(0), row.get(1));
        let key = crate::names::skeleton_key(&name);
        let holder = tx
            .query_opt("SELECT name FROM rooms WHERE name_key = $1", &[&key])
            .await?;
        match holder {
            Some(holder) => tracing::warn!(
                room = %name,
                confusable_with = %holder.get::<_, String>(0),
                "two open rooms named before the confusable check look alike"
            ),
            None => {
                tx.execute("UPDATE rooms SET name_key = $1 WHERE id = $2", &[&key, &id])
                    .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Brings the schema up to date (creates it in an empty database).
///
/// # Errors
/// The database failed, or its schema is newer than this program.
pub(super) async fn migrate(conn: &mut Object) -> Result<(), StoreError> {
    let tx = conn.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    // Without the notice PostgreSQL sends when the table is there already,
    // which every node after the first would log as news.
    tx.batch_execute(
        "SET LOCAL client_min_messages TO warning;
         CREATE TABLE IF NOT EXISTS sealpost_schema (version INTEGER NOT NULL)",
    )
    .await?;
    let current: i32 = tx
        .query_opt("SELECT version FROM sealpost_schema", &[])
        .await?
        .map_or(0, |r| r.get(0));
    let known = MIGRATIONS.len() as i32;
    if current > known {
        return Err(StoreError::Corrupt(format!(
            "database schema version {current} is newer than this server ({known})"
        )));
    }
    for sql in MIGRATIONS.iter().skip(current as usize) {
        tx.batch_execute(sql).await?;
    }
    if current < known {
        tx.execute("DELETE FROM sealpost_schema", &[]).await?;
        tx.execute(
            "INSERT INTO sealpost_schema (version) VALUES ($1)",
            &[&known],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
