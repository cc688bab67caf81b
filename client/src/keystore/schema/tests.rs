use super::*;
use crate::keystore::fixtures::home;
use crate::keystore::{KeyStore, KeyStoreError};

#[test]
fn a_newer_schema_is_refused() {
    let (_dir, home) = home();
    let store = KeyStore::open(&home).unwrap();
    store
        .conn
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(store);
    assert!(matches!(
        KeyStore::open(&home),
        Err(KeyStoreError::SchemaTooNew { .. })
    ));
}

#[test]
fn migration_8_keeps_held_files_and_allows_a_stopped_download() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    for sql in &MIGRATIONS[..7] {
        conn.execute_batch(sql).unwrap();
    }
    let insert = |id: i64, reason: i64| {
        conn.execute(
            "INSERT INTO held_files VALUES (?1, zeroblob(16), 'a.bin', 1, 17, zeroblob(32),
                 zeroblob(19), ?2, 5, 6)",
            [id, reason],
        )
    };
    insert(1, 2).unwrap();
    assert!(insert(2, 3).is_err(), "version 7 refuses reason 3");
    conn.execute_batch(MIGRATIONS[7]).unwrap();
    insert(2, 3).unwrap();
    assert!(insert(3, 4).is_err(), "still checked");
    let mut stmt = conn
        .prepare("SELECT message_id, reason, name, held_at FROM held_files ORDER BY message_id")
        .unwrap();
    let rows: Vec<(i64, i64, String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows, [(1, 2, "a.bin".into(), 6), (2, 3, "a.bin".into(), 6)]);
}

#[test]
fn migration_11_keeps_history_and_held_files_without_their_new_times() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    for sql in &MIGRATIONS[..10] {
        conn.execute_batch(sql).unwrap();
    }
    conn.execute(
        "INSERT INTO held_files VALUES (7, zeroblob(16), 'a.bin', 1, 17, zeroblob(32),
             zeroblob(19), 1, 5, 6)",
        [],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO history (conv_kind, conv, direction, sender, kind, body, arrived_at,
             status, status_at) VALUES (1, 'x', 1, zeroblob(16), 1, 'hi', 9, 5, 9)",
        [],
    )
    .unwrap();
    conn.execute_batch(MIGRATIONS[10]).unwrap();
    let held: (i64, i64, Option<i64>) = conn
        .query_row(
            "SELECT message_id, sent_at, sender_time FROM held_files",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(held, (7, 5, None));
    let entry: (String, i64, Option<i64>) = conn
        .query_row(
            "SELECT body, arrived_at, server_time FROM history",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(entry, ("hi".into(), 9, None));
}

#[test]
fn migration_13_keeps_history_and_its_numbers_and_allows_a_declined_file() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    for sql in &MIGRATIONS[..12] {
        conn.execute_batch(sql).unwrap();
    }
    let insert = |status: i64| {
        conn.execute(
            "INSERT INTO history (conv_kind, conv, direction, sender, kind, body, arrived_at,
                 status, status_at, server_time) VALUES (1, 'x', 2, zeroblob(16), 2, 'a.bin',
                 9, ?1, 9, 8)",
            [status],
        )
    };
    for _ in 0..3 {
        insert(2).unwrap();
    }
    // The newest entry deleted: its number is never given again.
    conn.execute("DELETE FROM history WHERE entry = 3", [])
        .unwrap();
    assert!(insert(7).is_err(), "version 12 refuses status 7");
    conn.execute_batch(MIGRATIONS[12]).unwrap();
    insert(7).unwrap();
    assert!(insert(8).is_err(), "still checked");
    let mut stmt = conn
        .prepare("SELECT entry, status, body, server_time FROM history ORDER BY entry")
        .unwrap();
    let rows: Vec<(i64, i64, String, Option<i64>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let file = |entry, status| (entry, status, "a.bin".to_string(), Some(8));
    assert_eq!(rows, [file(1, 2), file(2, 2), file(4, 7)]);
    let indexes: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'history'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 4);
}

#[test]
fn times_and_ids_convert_both_ways() {
    for v in [0, 1, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
        assert_eq!(from_sql_u64(to_sql_u64(v)), v);
    }
    for ms in [0, 1_767_225_600_000, -5_000] {
        assert_eq!(system_time_to_ms(ms_to_system_time(ms)), ms);
    }
}

#[test]
fn migration_15_allows_a_held_status_and_keeps_room_recipients() {
    let (_dir, home) = home();
    std::fs::create_dir_all(&home).unwrap();
    {
        let conn = rusqlite::Connection::open(home.join(super::super::STORE_FILE)).unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        for sql in &MIGRATIONS[..14] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 14).unwrap();
        conn.execute(
            "INSERT INTO history (conv_kind, conv, direction, sender, kind, body, arrived_at,
                 status, status_at) VALUES (2, 'room', 2, zeroblob(16), 1, 'hi', 1, 2, 1)",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO room_recipients VALUES (1, zeroblob(16), 3)",
            [],
        )
        .unwrap();
        let held =
            "INSERT INTO history (conv_kind, conv, direction, sender, kind, body, arrived_at,
                 status, status_at) VALUES (1, 'p', 1, zeroblob(16), 2, 'a.bin', 2, 8, 2)";
        assert!(
            conn.execute(held, []).is_err(),
            "version 14 refuses status 8"
        );
    }
    let store = KeyStore::open(&home).unwrap();
    let count = |sql: &str| -> i64 { store.conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM room_recipients"), 1);
    assert_eq!(count("PRAGMA foreign_keys"), 1);
    store
        .conn
        .execute(
            "INSERT INTO history (conv_kind, conv, direction, sender, kind, body, arrived_at,
                 status, status_at) VALUES (1, 'p', 1, zeroblob(16), 2, 'a.bin', 2, 8, 2)",
            [],
        )
        .unwrap();
    // The new entry numbers go on after the old ones, and deleting an
    // entry still takes its recipients with it.
    assert_eq!(count("SELECT max(entry) FROM history"), 2);
    store
        .conn
        .execute("DELETE FROM history WHERE entry = 1", [])
        .unwrap();
    assert_eq!(count("SELECT count(*) FROM room_recipients"), 0);
}

#[test]
fn migration_18_keeps_history_and_its_numbers_and_allows_room_events() {
    let (_dir, home) = home();
    std::fs::create_dir_all(&home).unwrap();
    let event = "INSERT INTO history (conv_kind, conv, direction, sender, kind, body,
        arrived_at, status, status_at) VALUES (2, 'room', 1, zeroblob(16), 3,
        '{\"room_event\":\"password_changed\"}', 3, 4, 3)";
    {
        let conn = rusqlite::Connection::open(home.join(super::super::STORE_FILE)).unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        for sql in &MIGRATIONS[..17] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 17).unwrap();
        for body in ["one", "two"] {
            conn.execute(
                "INSERT INTO history (conv_kind, conv, direction, sender, kind, body,
                     arrived_at, status, status_at) VALUES (2, 'room', 2, zeroblob(16), 1, ?1,
                     1, 2, 1)",
                [body],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO room_recipients VALUES (1, zeroblob(16), 3)",
            [],
        )
        .unwrap();
        conn.execute("DELETE FROM history WHERE entry = 2", [])
            .unwrap();
        assert!(
            conn.execute(event, []).is_err(),
            "version 17 refuses kind 3"
        );
    }
    let store = KeyStore::open(&home).unwrap();
    let count = |sql: &str| -> i64 { store.conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM room_recipients"), 1);
    store.conn.execute(event, []).unwrap();
    let rows: Vec<(i64, i64, String)> = store
        .conn
        .prepare("SELECT entry, kind, body FROM history ORDER BY entry")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // The old entry kept; the deleted one's number never given again.
    assert_eq!(rows[0], (1, 1, "one".to_string()));
    assert_eq!((rows[1].0, rows[1].1), (3, 3));
    assert_eq!(rows.len(), 2);
}

#[test]
fn migration_24_keeps_one_server_key_the_most_recent_where_lists_disagreed() {
    let pins = |conn: &rusqlite::Connection| -> Vec<(String, u8)> {
        let mut stmt = conn
            .prepare("SELECT address, server_key FROM server_pins ORDER BY address")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, Vec<u8>>(1)?[0])))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let insert = |conn: &rusqlite::Connection, address: &str, key: u8, at: i64| {
        conn.execute(
            "INSERT INTO server_pins VALUES (?1, ?2, ?3)",
            rusqlite::params![address, vec![key; 32], at],
        )
        .unwrap();
    };
    // Lists that agree keep every address.
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    for sql in &MIGRATIONS[..23] {
        conn.execute_batch(sql).unwrap();
    }
    insert(&conn, "a:1,b:1", 1, 10);
    insert(&conn, "b:1,a:1", 1, 20);
    conn.execute_batch(MIGRATIONS[23]).unwrap();
    assert_eq!(pins(&conn), [("a:1,b:1".into(), 1), ("b:1,a:1".into(), 1)]);
    // Lists that disagree: the most recent pin is the home's key.
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    for sql in &MIGRATIONS[..23] {
        conn.execute_batch(sql).unwrap();
    }
    insert(&conn, "a:1,b:1", 1, 10);
    insert(&conn, "c:1", 2, 30);
    insert(&conn, "b:1,a:1", 1, 20);
    conn.execute_batch(MIGRATIONS[23]).unwrap();
    assert_eq!(pins(&conn), [("c:1".into(), 2)]);
}

#[test]
fn migration_26_keeps_history_and_room_recipients_and_allows_key_events() {
    let (_dir, home) = home();
    std::fs::create_dir_all(&home).unwrap();
    let key_event = "INSERT INTO history (conv_kind, conv, direction, sender, kind, body,
        arrived_at, status, status_at) VALUES (1, 'bob', 1, zeroblob(16), 4,
        '{\"key_event\":\"changed\",\"fingerprint\":\"1\",\"pinned\":\"2\"}', 3, 4, 3)";
    {
        let conn = rusqlite::Connection::open(home.join(super::super::STORE_FILE)).unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        for sql in &MIGRATIONS[..25] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 25).unwrap();
        for (kind, body) in [(1, "one"), (3, "{\"room_event\":\"password_changed\"}")] {
            conn.execute(
                "INSERT INTO history (conv_kind, conv, direction, sender, kind, body,
                     arrived_at, status, status_at) VALUES (2, 'room', 2, zeroblob(16), ?1, ?2,
                     1, 2, 1)",
                rusqlite::params![kind, body],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO room_recipients VALUES (1, zeroblob(16), 3)",
            [],
        )
        .unwrap();
        assert!(
            conn.execute(key_event, []).is_err(),
            "version 25 refuses kind 4"
        );
    }
    let store = KeyStore::open(&home).unwrap();
    let count = |sql: &str| -> i64 { store.conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM room_recipients"), 1);
    store.conn.execute(key_event, []).unwrap();
    let kinds: Vec<(i64, i64)> = store
        .conn
        .prepare("SELECT entry, kind FROM history ORDER BY entry")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kinds, vec![(1, 1), (2, 3), (3, 4)]);
    // The recipients still follow their entry.
    store
        .conn
        .execute("DELETE FROM history WHERE entry = 1", [])
        .unwrap();
    assert_eq!(count("SELECT count(*) FROM room_recipients"), 0);
}
