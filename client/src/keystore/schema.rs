//! The key store's tables, how Rust values are kept in their columns, and
//! bringing an older database up to date.
//!
//! [`MIGRATIONS`] is the schema's history: migration `i` takes
//! `user_version` from `i` to `i + 1`. A new element goes at the end; an
//! existing one is never edited, since databases already on disk went
//! through it. The column helpers (`columns`: fixed-size blobs, secrets
//! copied straight into wiped memory, u64 values and times as SQLite
//! integers) are beside it because they are the other half of the table
//! definitions.
//!
//! Left out: what any table means to the client (each room of the store
//! documents its own tables).

mod columns;
mod migrate;
pub(super) use columns::*;

/// Schema version this client writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Schema migrations; migration `i` takes `user_version` from `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema. Counters and ids are SQLite integers (i64); see
    // `to_sql_u64` for how u64 values are kept.
    r#"
    CREATE TABLE identity (
        only_row   INTEGER PRIMARY KEY CHECK (only_row = 1),
        name       TEXT NOT NULL,
        client_id  BLOB NOT NULL CHECK (length(client_id) = 16),
        secret     BLOB NOT NULL CHECK (length(secret) = 96)
    ) STRICT;

    CREATE TABLE server_pins (
        address    TEXT PRIMARY KEY,
        server_key BLOB NOT NULL CHECK (length(server_key) = 32),
        pinned_at  INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE peers (
        client_id      BLOB PRIMARY KEY CHECK (length(client_id) = 16),
        name           TEXT NOT NULL,
        bundle         BLOB NOT NULL CHECK (length(bundle) = 160),
        pinned_at      INTEGER NOT NULL,
        verified       INTEGER NOT NULL DEFAULT 0,
        pending_bundle BLOB CHECK (pending_bundle IS NULL OR length(pending_bundle) = 160),
        pending_at     INTEGER
    ) STRICT;

    CREATE TABLE sessions (
        sid             BLOB PRIMARY KEY CHECK (length(sid) = 16),
        peer            BLOB NOT NULL REFERENCES peers (client_id) ON DELETE CASCADE,
        local_id        BLOB NOT NULL CHECK (length(local_id) = 16),
        role            INTEGER NOT NULL CHECK (role IN (1, 2)),
        send_key        BLOB NOT NULL CHECK (length(send_key) = 32),
        receive_key     BLOB NOT NULL CHECK (length(receive_key) = 32),
        confirm_key     BLOB CHECK (confirm_key IS NULL OR length(confirm_key) = 32),
        confirmed       INTEGER NOT NULL,
        send_counter    INTEGER NOT NULL DEFAULT 0 CHECK (send_counter >= 0),
        receive_counter INTEGER NOT NULL DEFAULT 0 CHECK (receive_counter >= 0),
        created_at      INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX sessions_by_peer ON sessions (peer, created_at);

    CREATE TABLE pending_messages (
        message_id  INTEGER PRIMARY KEY,
        sid         BLOB NOT NULL CHECK (length(sid) = 16),
        sender      BLOB NOT NULL CHECK (length(sender) = 16),
        kind        INTEGER NOT NULL,
        content     BLOB NOT NULL,
        sent_at     INTEGER NOT NULL,
        received_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX pending_by_sid ON pending_messages (sid);

    CREATE TABLE handled_messages (
        message_id INTEGER PRIMARY KEY,
        handled_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX handled_by_time ON handled_messages (handled_at);

    CREATE TABLE uploads (
        upload_id      BLOB PRIMARY KEY CHECK (length(upload_id) = 16),
        destination    BLOB NOT NULL CHECK (length(destination) = 16),
        path           BLOB NOT NULL,
        plaintext_size INTEGER NOT NULL,
        mtime_ns       INTEGER NOT NULL,
        file_key       BLOB NOT NULL CHECK (length(file_key) = 32),
        nonce_prefix   BLOB NOT NULL CHECK (length(nonce_prefix) = 19),
        meta           BLOB NOT NULL,
        created_at     INTEGER NOT NULL
    ) STRICT;
    "#,
    // 2: what bounds what a peer can make this client keep (see
    // `keystore::files` and `keystore::bounds`): contacts (whose files are
    // downloaded without asking), file offers held for the user's decision,
    // interrupted downloads, and the plaintext an upload has read.
    r#"
    CREATE TABLE contacts (
        client_id BLOB PRIMARY KEY CHECK (length(client_id) = 16),
        since     INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE held_files (
        message_id   INTEGER PRIMARY KEY,
        sender       BLOB NOT NULL CHECK (length(sender) = 16),
        name         TEXT NOT NULL,
        size         INTEGER NOT NULL,
        offer_size   INTEGER NOT NULL,
        file_key     BLOB NOT NULL CHECK (length(file_key) = 32),
        nonce_prefix BLOB NOT NULL CHECK (length(nonce_prefix) = 19),
        reason       INTEGER NOT NULL CHECK (reason IN (1, 2)),
        sent_at      INTEGER NOT NULL,
        held_at      INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE partial_downloads (
        message_id   INTEGER PRIMARY KEY,
        key_digest   BLOB NOT NULL CHECK (length(key_digest) = 32),
        verified_len INTEGER NOT NULL CHECK (verified_len >= 0),
        updated_at   INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE upload_prefixes (
        upload_id  BLOB PRIMARY KEY REFERENCES uploads (upload_id) ON DELETE CASCADE,
        hashed_len INTEGER NOT NULL CHECK (hashed_len >= 0),
        sha256     BLOB NOT NULL CHECK (length(sha256) = 32)
    ) STRICT;

    CREATE INDEX pending_by_sender ON pending_messages (sender);
    CREATE INDEX pending_by_time ON pending_messages (received_at);
    "#,
    // 3: the name the server last gave each peer, beside the name the user
    // pinned it under (`name`, the authority for lookups; empty when the
    // server's name was already pinned for someone else).
    "ALTER TABLE peers ADD COLUMN server_name TEXT;",
    // 4: each session's replay window (see `crypto::window`): which counters
    // below receive_counter were received, so that messages may arrive out
    // of order. NULL for sessions stored before: everything up to
    // receive_counter counts as received, as it did then.
    r#"
    ALTER TABLE sessions ADD COLUMN receive_window BLOB
        CHECK (receive_window IS NULL OR length(receive_window) = 256);
    "#,
    // 5: the history of conversations (see `keystore::history`) and the
    // user's settings (the retention of history, in days).
    r#"
    CREATE TABLE history (
        entry       INTEGER PRIMARY KEY AUTOINCREMENT,
        conv_kind   INTEGER NOT NULL CHECK (conv_kind IN (1, 2)),
        conv        TEXT NOT NULL,
        direction   INTEGER NOT NULL CHECK (direction IN (1, 2)),
        sender      BLOB NOT NULL CHECK (length(sender) = 16),
        kind        INTEGER NOT NULL CHECK (kind IN (1, 2)),
        body        TEXT NOT NULL,
        file_size   INTEGER,
        file_path   BLOB,
        sender_time INTEGER,
        arrived_at  INTEGER NOT NULL,
        message_id  INTEGER,
        status      INTEGER NOT NULL CHECK (status BETWEEN 1 AND 6),
        status_at   INTEGER NOT NULL,
        reason      TEXT,
        upload_id   BLOB CHECK (upload_id IS NULL OR length(upload_id) = 16)
    ) STRICT;
    CREATE INDEX history_by_conv ON history (conv_kind, conv, entry);
    CREATE INDEX history_by_message ON history (message_id) WHERE message_id IS NOT NULL;
    CREATE INDEX history_by_upload ON history (upload_id) WHERE upload_id IS NOT NULL;
    CREATE INDEX history_by_time ON history (arrived_at);

    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;
    "#,
    // 6: room events read from a room's log but not shown yet (a room
    // command reads the log before it acts; the next inbox shows them).
    r#"
    CREATE TABLE room_events (
        entry INTEGER PRIMARY KEY AUTOINCREMENT,
        event TEXT NOT NULL
    ) STRICT;
    "#,
    // 7: room files announced and not downloaded yet (see
    // `keystore::room_downloads`): the announcement (with the file's key) is
    // read once, so it waits here until its download ends, before the entry
    // is acknowledged.
    r#"
    CREATE TABLE room_downloads (
        room  BLOB NOT NULL,
        seq   INTEGER NOT NULL,
        event TEXT NOT NULL,
        file  BLOB NOT NULL,
        PRIMARY KEY (room, seq)
    ) STRICT;
    "#,
    // 8: a held file's reason may be 3, an automatic download the user
    // stopped (`HoldReason::Cancelled`); SQLite cannot change a CHECK in
    // place, so the table is copied into one that allows it.
    r#"
    CREATE TABLE held_files_v8 (
        message_id   INTEGER PRIMARY KEY,
        sender       BLOB NOT NULL CHECK (length(sender) = 16),
        name         TEXT NOT NULL,
        size         INTEGER NOT NULL,
        offer_size   INTEGER NOT NULL,
        file_key     BLOB NOT NULL CHECK (length(file_key) = 32),
        nonce_prefix BLOB NOT NULL CHECK (length(nonce_prefix) = 19),
        reason       INTEGER NOT NULL CHECK (reason IN (1, 2, 3)),
        sent_at      INTEGER NOT NULL,
        held_at      INTEGER NOT NULL
    ) STRICT;
    INSERT INTO held_files_v8 (message_id, sender, name, size, offer_size, file_key,
        nonce_prefix, reason, sent_at, held_at)
        SELECT message_id, sender, name, size, offer_size, file_key, nonce_prefix, reason,
            sent_at, held_at FROM held_files;
    DROP TABLE held_files;
    ALTER TABLE held_files_v8 RENAME TO held_files;
    "#,
    // 9: uploads to a room that stopped part-way (cancelled, or a
    // connection that stayed lost), kept to resume, also after a restart;
    // `read_*` is the plaintext read when it stopped (NULL while sending: a
    // crash leaves no record of it, and the file is then sent again).
    r#"
    CREATE TABLE room_uploads (
        upload_id    BLOB PRIMARY KEY CHECK (length(upload_id) = 16),
        room         BLOB NOT NULL CHECK (length(room) = 16),
        path         BLOB NOT NULL,
        name         TEXT NOT NULL,
        plaintext_size INTEGER NOT NULL,
        mtime_ns     INTEGER NOT NULL,
        file_key     BLOB NOT NULL CHECK (length(file_key) = 32),
        nonce_prefix BLOB NOT NULL CHECK (length(nonce_prefix) = 19),
        read_len     INTEGER,
        read_sha256  BLOB CHECK (read_sha256 IS NULL OR length(read_sha256) = 32),
        created_at   INTEGER NOT NULL
    ) STRICT;
    "#,
    // 10: room files over the automatic download limit, held on the server
    // (150) for the user's decision (see `keystore::room_offers`); `file`
    // is the announcement, with the file's key.
    r#"
    CREATE TABLE room_offers (
        seq       INTEGER PRIMARY KEY,
        room      BLOB NOT NULL CHECK (length(room) = 16),
        room_name TEXT NOT NULL,
        sender    BLOB NOT NULL CHECK (length(sender) = 16),
        name      TEXT NOT NULL,
        size      INTEGER NOT NULL,
        file      BLOB NOT NULL,
        sent_at   INTEGER NOT NULL,
        held_at   INTEGER NOT NULL
    ) STRICT;
    "#,
    // 11: when the server stored a history entry (its word: a room's log
    // time, a message's arrival), shown when the sender sealed no time of
    // their own, so that what was read late is not dated by its reading;
    // and the sender's sealed time of a held file, for the entry its
    // acceptance makes. NULL in rows from before.
    r#"
    ALTER TABLE history ADD COLUMN server_time INTEGER;
    ALTER TABLE held_files ADD COLUMN sender_time INTEGER;
    "#,
    // 12: a room's history is kept by the room's id, not its name (two
    // rooms may share a name; see `keystore::conversation`), with the last
    // name each room had. Rows from before keep a key made of their name
    // (`name:`), which ids never look like, until the client, with its
    // rooms at hand, moves them to the id of the room that has the name.
    r#"
    CREATE TABLE room_names (
        room     TEXT PRIMARY KEY,
        name     TEXT NOT NULL,
        named_at INTEGER NOT NULL
    ) STRICT;
    INSERT INTO room_names (room, name, named_at)
        SELECT 'name:' || conv, conv, MAX(arrived_at) FROM history
        WHERE conv_kind = 2 GROUP BY conv;
    UPDATE history SET conv = 'name:' || conv WHERE conv_kind = 2;
    "#,
    // 13: a history status may be 7, a file the peer declined
    // (`Status::Declined`); the table is copied into one whose CHECK allows
    // it (as 8 did), keeping its entry numbers and the counter that never
    // gives a deleted entry's number again.
    r#"
    CREATE TABLE history_v13 (
        entry       INTEGER PRIMARY KEY AUTOINCREMENT,
        conv_kind   INTEGER NOT NULL CHECK (conv_kind IN (1, 2)),
        conv        TEXT NOT NULL,
        direction   INTEGER NOT NULL CHECK (direction IN (1, 2)),
        sender      BLOB NOT NULL CHECK (length(sender) = 16),
        kind        INTEGER NOT NULL CHECK (kind IN (1, 2)),
        body        TEXT NOT NULL,
        file_size   INTEGER,
        file_path   BLOB,
        sender_time INTEGER,
        arrived_at  INTEGER NOT NULL,
        message_id  INTEGER,
        status      INTEGER NOT NULL CHECK (status BETWEEN 1 AND 7),
        status_at   INTEGER NOT NULL,
        reason      TEXT,
        upload_id   BLOB CHECK (upload_id IS NULL OR length(upload_id) = 16),
        server_time INTEGER
    ) STRICT;
    INSERT INTO history_v13 (entry, conv_kind, conv, direction, sender, kind, body, file_size,
        file_path, sender_time, arrived_at, message_id, status, status_at, reason, upload_id,
        server_time)
        SELECT entry, conv_kind, conv, direction, sender, kind, body, file_size, file_path,
            sender_time, arrived_at, message_id, status, status_at, reason, upload_id,
            server_time FROM history;
    INSERT INTO sqlite_sequence (name, seq) SELECT 'history_v13', 0
        WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'history_v13');
    UPDATE sqlite_sequence SET seq = max(seq,
        coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'history'), 0))
        WHERE name = 'history_v13';
    DROP TABLE history;
    ALTER TABLE history_v13 RENAME TO history;
    CREATE INDEX history_by_conv ON history (conv_kind, conv, entry);
    CREATE INDEX history_by_message ON history (message_id) WHERE message_id IS NOT NULL;
    CREATE INDEX history_by_upload ON history (upload_id) WHERE upload_id IS NOT NULL;
    CREATE INDEX history_by_time ON history (arrived_at);
    "#,
    // 14: room receipts (PROTOCOL.md "Room receipts", see
    // `keystore::room_receipts`): whom each of our room messages went to
    // and how far each read it (a status code: 2 stored, 3 delivered, 4
    // read), gone with its history entry; and, per room, how far we read
    // (watermarks over the log) against what we told the room.
    r#"
    CREATE TABLE room_recipients (
        entry  INTEGER NOT NULL REFERENCES history (entry) ON DELETE CASCADE,
        member BLOB NOT NULL CHECK (length(member) = 16),
        status INTEGER NOT NULL CHECK (status IN (2, 3, 4)),
        PRIMARY KEY (entry, member)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX room_recipients_pending ON room_recipients (member, status);
    CREATE TABLE room_marks (
        room           BLOB PRIMARY KEY CHECK (length(room) = 16),
        delivered      INTEGER NOT NULL DEFAULT 0,
        read           INTEGER NOT NULL DEFAULT 0,
        sent_delivered INTEGER NOT NULL DEFAULT 0,
        sent_read      INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    "#,
    // 15: a history status may be 8, a file offer held for the user's
    // answer (`Status::Held`), copied as 13 did; and the messages handled
    // but not shown (`keystore::received`). `migrate` turns foreign
    // keys off around it, so that dropping the old table does not empty
    // `room_recipients`, which then refers to the new one.
    r#"
    CREATE TABLE history_v15 (
        entry       INTEGER PRIMARY KEY AUTOINCREMENT,
        conv_kind   INTEGER NOT NULL CHECK (conv_kind IN (1, 2)),
        conv        TEXT NOT NULL,
        direction   INTEGER NOT NULL CHECK (direction IN (1, 2)),
        sender      BLOB NOT NULL CHECK (length(sender) = 16),
        kind        INTEGER NOT NULL CHECK (kind IN (1, 2)),
        body        TEXT NOT NULL,
        file_size   INTEGER,
        file_path   BLOB,
        sender_time INTEGER,
        arrived_at  INTEGER NOT NULL,
        message_id  INTEGER,
        status      INTEGER NOT NULL CHECK (status BETWEEN 1 AND 8),
        status_at   INTEGER NOT NULL,
        reason      TEXT,
        upload_id   BLOB CHECK (upload_id IS NULL OR length(upload_id) = 16),
        server_time INTEGER
    ) STRICT;
    INSERT INTO history_v15 SELECT entry, conv_kind, conv, direction, sender, kind, body,
        file_size, file_path, sender_time, arrived_at, message_id, status, status_at, reason,
        upload_id, server_time FROM history;
    INSERT INTO sqlite_sequence (name, seq) SELECT 'history_v15', 0
        WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'history_v15');
    UPDATE sqlite_sequence SET seq = max(seq,
        coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'history'), 0))
        WHERE name = 'history_v15';
    DROP TABLE history;
    ALTER TABLE history_v15 RENAME TO history;
    CREATE INDEX history_by_conv ON history (conv_kind, conv, entry);
    CREATE INDEX history_by_message ON history (message_id) WHERE message_id IS NOT NULL;
    CREATE INDEX history_by_upload ON history (upload_id) WHERE upload_id IS NOT NULL;
    CREATE INDEX history_by_time ON history (arrived_at);

    -- Messages handled but not shown (the output failed): shown from
    -- history when the server delivers them again.
    CREATE TABLE unshown_messages (message_id INTEGER PRIMARY KEY) STRICT;
    "#,
    // 16: the rooms a member removed or banned us from, by whom and when,
    // so that a later command on the room says so (`keystore::departures`).
    r#"
    CREATE TABLE room_departures (
        room      BLOB PRIMARY KEY CHECK (length(room) = 16),
        name      TEXT NOT NULL,
        by_client BLOB NOT NULL CHECK (length(by_client) = 16),
        banned    INTEGER NOT NULL CHECK (banned IN (0, 1)),
        at_ms     INTEGER NOT NULL
    ) STRICT;
    "#,
    // 17: the rooms a backup said this home was in, whose keys a backup
    // does not hold (`keystore::restored`): named until we are in them again.
    r#"
    CREATE TABLE restored_rooms (
        room   BLOB PRIMARY KEY CHECK (length(room) = 16),
        name   TEXT NOT NULL,
        rule   INTEGER NOT NULL CHECK (rule BETWEEN 0 AND 255),
        admins BLOB NOT NULL CHECK (length(admins) % 16 = 0),
        owned  INTEGER NOT NULL DEFAULT 0 CHECK (owned IN (0, 1))
    ) STRICT;
    -- The backed-up home's MLS leaf key, for a rooms state made here.
    CREATE TABLE restored_leaf_key (
        only INTEGER PRIMARY KEY CHECK (only = 1),
        pair BLOB NOT NULL
    ) STRICT;
    "#,
    // 18: a history entry may be of kind 3, a room event (someone added,
    // removed, a rename: `history::Body::Event`, its JSON in `body`), kept
    // between the room's texts; copied as 15 did, since SQLite cannot
    // change a CHECK in place.
    r#"
    CREATE TABLE history_v18 (
        entry       INTEGER PRIMARY KEY AUTOINCREMENT,
        conv_kind   INTEGER NOT NULL CHECK (conv_kind IN (1, 2)),
        conv        TEXT NOT NULL,
        direction   INTEGER NOT NULL CHECK (direction IN (1, 2)),
        sender      BLOB NOT NULL CHECK (length(sender) = 16),
        kind        INTEGER NOT NULL CHECK (kind IN (1, 2, 3)),
        body        TEXT NOT NULL,
        file_size   INTEGER,
        file_path   BLOB,
        sender_time INTEGER,
        arrived_at  INTEGER NOT NULL,
        message_id  INTEGER,
        status      INTEGER NOT NULL CHECK (status BETWEEN 1 AND 8),
        status_at   INTEGER NOT NULL,
        reason      TEXT,
        upload_id   BLOB CHECK (upload_id IS NULL OR length(upload_id) = 16),
        server_time INTEGER
    ) STRICT;
    INSERT INTO history_v18 SELECT entry, conv_kind, conv, direction, sender, kind, body,
        file_size, file_path, sender_time, arrived_at, message_id, status, status_at, reason,
        upload_id, server_time FROM history;
    INSERT INTO sqlite_sequence (name, seq) SELECT 'history_v18', 0
        WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'history_v18');
    UPDATE sqlite_sequence SET seq = max(seq,
        coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'history'), 0))
        WHERE name = 'history_v18';
    DROP TABLE history;
    ALTER TABLE history_v18 RENAME TO history;
    CREATE INDEX history_by_conv ON history (conv_kind, conv, entry);
    CREATE INDEX history_by_message ON history (message_id) WHERE message_id IS NOT NULL;
    CREATE INDEX history_by_upload ON history (upload_id) WHERE upload_id IS NOT NULL;
    CREATE INDEX history_by_time ON history (arrived_at);
    "#,
    // 19: joins from a welcome, noted before the rooms engine makes them
    // and marked once their "you joined" entry is recorded
    // (`keystore::joins`).
    r#"
    CREATE TABLE pending_joins (
        welcome  INTEGER PRIMARY KEY,
        room     BLOB NOT NULL CHECK (length(room) = 16),
        recorded INTEGER NOT NULL CHECK (recorded IN (0, 1))
    ) STRICT;
    "#,
    // 20: notices an `inbox` could not print that nothing else brings back
    // (a session started, a room's events, ...), as `--json` gives them,
    // for the next read to show (`keystore::received`).
    r#"
    CREATE TABLE unshown_events (
        entry INTEGER PRIMARY KEY AUTOINCREMENT,
        event TEXT NOT NULL
    ) STRICT;
    "#,
    // 21: joins by name noted as well (no welcome; the name joined by,
    // then the epoch the commit was made at and whether it was a resync).
    r#"
    CREATE TABLE pending_joins_v21 (
        welcome INTEGER UNIQUE, room BLOB NOT NULL CHECK (length(room) = 16),
        recorded INTEGER NOT NULL CHECK (recorded IN (0, 1)),
        name TEXT, epoch INTEGER, resync INTEGER CHECK (resync IN (0, 1)),
        CHECK ((welcome IS NULL) = (name IS NOT NULL))
    ) STRICT;
    INSERT INTO pending_joins_v21 (welcome, room, recorded)
        SELECT welcome, room, recorded FROM pending_joins;
    DROP TABLE pending_joins;
    ALTER TABLE pending_joins_v21 RENAME TO pending_joins;
    CREATE UNIQUE INDEX pending_joins_by_name ON pending_joins (room)
        WHERE welcome IS NULL AND recorded = 0;
    "#,
    // 22: per room, the last log entry whose events are recorded here, in
    // their transaction (`keystore::room_log`).
    r#"
    CREATE TABLE room_log_read (
        room BLOB PRIMARY KEY CHECK (length(room) = 16),
        seq  INTEGER NOT NULL
    ) STRICT;
    "#,
    // 23: room creations noted before the rooms engine makes the room,
    // until recorded or forgotten (`keystore::creates`).
    r#"
    CREATE TABLE pending_creates (
        room BLOB PRIMARY KEY CHECK (length(room) = 16),
        name TEXT NOT NULL,
        rule TEXT NOT NULL
    ) STRICT;
    "#,
    // 24: one server key for the home (`keystore::pins`), no longer one
    // per address list: every list it is given must present that key.
    // Where the lists had come to hold different keys, the most recently
    // pinned key is the home's and the lists pinned to another are
    // forgotten (the next use of one is refused as a changed key).
    r#"
    DELETE FROM server_pins WHERE server_key <> (
        SELECT server_key FROM server_pins ORDER BY pinned_at DESC, address DESC LIMIT 1
    );
    "#,
    // 25: what each handled message was (a digest of its sender, kind and
    // content), so that a server whose data went back to an older copy
    // and gives a new message an id used before is not taken for a
    // redelivery (`keystore::received`); NULL for those handled before.
    r#"
    ALTER TABLE handled_messages ADD COLUMN digest BLOB CHECK (length(digest) = 32);
    "#,
    // 26: a person's history may hold kind 4, a key event (their key
    // changed, the user accepted it: `keystore::key_events`, its JSON in
    // `body`); copied as 18 did, since SQLite cannot change a CHECK in
    // place.
    r#"
    CREATE TABLE history_v26 (
        entry       INTEGER PRIMARY KEY AUTOINCREMENT,
        conv_kind   INTEGER NOT NULL CHECK (conv_kind IN (1, 2)),
        conv        TEXT NOT NULL,
        direction   INTEGER NOT NULL CHECK (direction IN (1, 2)),
        sender      BLOB NOT NULL CHECK (length(sender) = 16),
        kind        INTEGER NOT NULL CHECK (kind IN (1, 2, 3, 4)),
        body        TEXT NOT NULL,
        file_size   INTEGER,
        file_path   BLOB,
        sender_time INTEGER,
        arrived_at  INTEGER NOT NULL,
        message_id  INTEGER,
        status      INTEGER NOT NULL CHECK (status BETWEEN 1 AND 8),
        status_at   INTEGER NOT NULL,
        reason      TEXT,
        upload_id   BLOB CHECK (upload_id IS NULL OR length(upload_id) = 16),
        server_time INTEGER
    ) STRICT;
    INSERT INTO history_v26 SELECT entry, conv_kind, conv, direction, sender, kind, body,
        file_size, file_path, sender_time, arrived_at, message_id, status, status_at, reason,
        upload_id, server_time FROM history;
    INSERT INTO sqlite_sequence (name, seq) SELECT 'history_v26', 0
        WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'history_v26');
    UPDATE sqlite_sequence SET seq = max(seq,
        coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'history'), 0))
        WHERE name = 'history_v26';
    DROP TABLE history;
    ALTER TABLE history_v26 RENAME TO history;
    CREATE INDEX history_by_conv ON history (conv_kind, conv, entry);
    CREATE INDEX history_by_message ON history (message_id) WHERE message_id IS NOT NULL;
    CREATE INDEX history_by_upload ON history (upload_id) WHERE upload_id IS NOT NULL;
    CREATE INDEX history_by_time ON history (arrived_at);
    "#,
];

#[cfg(test)]
mod tests;
