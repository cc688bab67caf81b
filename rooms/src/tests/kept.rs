//! What reading a log entry came to is kept until the client releases it:
//! an entry that comes again (its acknowledgement never sent, the client
//! killed before it recorded the entry) is handed out again, marked as a
//! replay, with the room's names from its first reading, across a restart
//! of the engine; a refused entry, with the client's reason; released or
//! forgotten with its room, it is gone. State files made before refusals
//! were kept upgrade.

use super::{ROOM, World};
use crate::{EntryOutcome, EntryRead, Incoming, RoomEngine, RoomName, RoomsError};

/// The entry processed, as a read (not a refusal).
fn read(outcome: Result<Option<EntryOutcome>, RoomsError>) -> EntryRead {
    match outcome {
        Ok(Some(EntryOutcome::Read(read))) => read,
        other => panic!("not a read: {other:?}"),
    }
}

fn kept_rows(engine: &RoomEngine) -> u64 {
    engine
        .store
        .transact(|_, conn| crate::kept::count(conn, ROOM))
        .unwrap()
}

#[test]
fn an_entry_read_comes_again_as_kept_until_released_even_after_a_restart() {
    let mut w = World::room_of_three();
    let crew = RoomName::new("crew").unwrap();
    let rename = w.m[0].engine.rename(ROOM, &crew).unwrap();
    w.publish(0, &rename, &[], &[]);
    let text = w.send(0, "after the rename");

    let first = read(
        w.m[1]
            .engine
            .process_entry(ROOM, 1, &rename.commit, &w.book),
    );
    assert!(!first.replay);
    assert!(
        matches!(&first.incoming, Incoming::Commit { summary, .. }
            if summary.renamed.as_deref() == Some("crew")),
        "{first:?}"
    );
    assert_eq!(
        (first.name_before.as_ref(), first.name_after.as_ref()),
        (None, Some(&crew))
    );
    let said = read(w.m[1].engine.process_entry(ROOM, 2, &text, &w.book));

    // The engine restarts (a kill -9 before the client recorded them): both
    // come again as they were read, the names included.
    let path = w.m[1].path.clone();
    w.m[1].engine = RoomEngine::open(&path, &w.m[1].id).unwrap();
    let engine = &w.m[1].engine;
    let again = read(engine.process_entry(ROOM, 1, &rename.commit, &w.book));
    assert!(again.replay);
    assert_eq!(
        (again.incoming, again.name_before, again.name_after),
        (first.incoming, None, Some(crew))
    );
    let said_again = read(engine.process_entry(ROOM, 2, &text, &w.book));
    assert!(said_again.replay);
    assert_eq!(said_again.incoming, said.incoming);
    assert!(
        matches!(&said.incoming, Incoming::Message { plaintext, .. } if plaintext == b"after the rename")
    );

    // Released up to the rename: it is read and gone, the text still kept.
    engine.release_entries(ROOM, 1).unwrap();
    assert_eq!(
        engine
            .process_entry(ROOM, 1, &rename.commit, &w.book)
            .unwrap(),
        None
    );
    assert!(
        engine
            .process_entry(ROOM, 2, &text, &w.book)
            .unwrap()
            .is_some()
    );
    assert_eq!(kept_rows(engine), 1);
    engine.release_entries(ROOM, 2).unwrap();
    assert_eq!(engine.process_entry(ROOM, 2, &text, &w.book).unwrap(), None);
    assert_eq!(kept_rows(engine), 0);
}

#[test]
fn a_forgotten_room_keeps_nothing_it_read() {
    let w = World::room_of_three();
    let text = w.send(0, "hello");
    let engine = &w.m[1].engine;
    read(engine.process_entry(ROOM, 1, &text, &w.book));
    assert_eq!(kept_rows(engine), 1);
    engine.forget_room(ROOM).unwrap();
    assert_eq!(kept_rows(engine), 0);
}

/// The kept row of `seq` as stored: the length of its JSON and its BLOB.
fn kept_row(engine: &RoomEngine, seq: u64) -> (usize, Option<Vec<u8>>) {
    engine
        .store
        .transact(|_, conn| {
            Ok(conn.query_row(
                "SELECT length(incoming), plaintext FROM sealpost_rooms_kept
                 WHERE room_id = ?1 AND seq = ?2",
                rusqlite::params![&ROOM.0[..], seq as i64],
                |r| Ok((r.get::<_, i64>(0)? as usize, r.get(1)?)),
            )?)
        })
        .unwrap()
}

#[test]
fn a_kept_message_keeps_its_plaintext_as_bytes_not_as_json_numbers() {
    let w = World::room_of_three();
    let text = "x".repeat(crate::incoming::MAX_PLAINTEXT_LEN);
    let bytes = w.send(0, &text);
    let engine = &w.m[1].engine;
    let first = read(engine.process_entry(ROOM, 1, &bytes, &w.book));
    assert!(
        matches!(&first.incoming, Incoming::Message { plaintext, .. } if plaintext == text.as_bytes())
    );
    let (json, blob) = kept_row(engine, 1);
    // As JSON numbers the 64 KiB would take 4 bytes each ("120,").
    assert!(json < 200, "the row's JSON is {json} bytes");
    assert_eq!(blob.as_deref(), Some(text.as_bytes()));
    let again = read(engine.process_entry(ROOM, 1, &bytes, &w.book));
    assert!(again.replay);
    assert_eq!(again.incoming, first.incoming);
}

#[test]
fn a_row_kept_by_the_version_before_the_blob_is_handed_out_again_after_the_upgrade() {
    let mut w = World::room_of_three();
    let old_text = w.send(0, "read just before the upgrade");
    let new_text = w.send(0, "read after it");
    let first = read(w.m[1].engine.process_entry(ROOM, 1, &old_text, &w.book));
    // The state file as the version before left it, killed between its two
    // commits: the table without the BLOB, the plaintext in the JSON.
    let path = w.m[1].path.clone();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "DROP TABLE sealpost_rooms_kept;
         CREATE TABLE sealpost_rooms_kept (
             room_id BLOB NOT NULL,
             seq INTEGER NOT NULL,
             incoming TEXT NOT NULL,
             name_before TEXT,
             name_after TEXT,
             PRIMARY KEY (room_id, seq)
         );",
    )
    .unwrap();
    conn.execute(
        "INSERT INTO sealpost_rooms_kept (room_id, seq, incoming) VALUES (?1, 1, ?2)",
        rusqlite::params![&ROOM.0[..], serde_json::to_string(&first.incoming).unwrap()],
    )
    .unwrap();
    drop(conn);

    w.m[1].engine = RoomEngine::open(&path, &w.m[1].id).unwrap();
    let engine = &w.m[1].engine;
    let again = read(engine.process_entry(ROOM, 1, &old_text, &w.book));
    assert!(again.replay);
    assert_eq!(again.incoming, first.incoming);
    assert!(
        matches!(&again.incoming, Incoming::Message { plaintext, .. } if plaintext == b"read just before the upgrade")
    );
    // The upgraded table keeps the next one's plaintext apart.
    let said = read(engine.process_entry(ROOM, 2, &new_text, &w.book));
    assert_eq!(
        kept_row(engine, 2).1.as_deref(),
        Some(&b"read after it"[..])
    );
    let said_again = read(engine.process_entry(ROOM, 2, &new_text, &w.book));
    assert_eq!(said_again.incoming, said.incoming);
    engine.release_entries(ROOM, 2).unwrap();
    assert_eq!(kept_rows(engine), 0);
}

#[test]
fn a_refused_entry_comes_again_with_its_reason_until_released_even_after_a_restart() {
    let mut w = World::room_of_three();
    let before = w.send(0, "before");
    let after = w.send(0, "after");
    let garbage = b"not a room message".to_vec();
    read(w.m[1].engine.process_entry(ROOM, 1, &before, &w.book));
    let refused = w.m[1].engine.process_entry(ROOM, 2, &garbage, &w.book);
    assert!(matches!(refused, Err(RoomsError::Malformed)), "{refused:?}");
    let reason = "a room message that does not parse";
    assert!(w.m[1].engine.refuse_entry(ROOM, 2, reason).unwrap());
    read(w.m[1].engine.process_entry(ROOM, 3, &after, &w.book));

    // The engine restarts (a kill -9 before the client recorded the
    // notice): the refusal comes again, in the same words.
    let path = w.m[1].path.clone();
    w.m[1].engine = RoomEngine::open(&path, &w.m[1].id).unwrap();
    let engine = &w.m[1].engine;
    let name = engine.name(ROOM).unwrap();
    for _ in 0..2 {
        assert_eq!(
            engine.process_entry(ROOM, 2, &garbage, &w.book).unwrap(),
            Some(EntryOutcome::Refused {
                reason: reason.to_string(),
                name: name.clone(),
            })
        );
    }
    // Read already: refused again, it keeps nothing new.
    assert!(!engine.refuse_entry(ROOM, 2, "other words").unwrap());
    assert!(read(engine.process_entry(ROOM, 3, &after, &w.book)).replay);
    assert_eq!(kept_rows(engine), 3);

    engine.release_entries(ROOM, 2).unwrap();
    assert_eq!(
        engine.process_entry(ROOM, 2, &garbage, &w.book).unwrap(),
        None
    );
    assert_eq!(kept_rows(engine), 1);
    engine.release_entries(ROOM, 3).unwrap();
    assert_eq!(kept_rows(engine), 0);
}

#[test]
fn a_state_file_from_before_refusals_were_kept_upgrades_with_its_kept_rows() {
    let w = World::room_of_three();
    let text = w.send(0, "kept across the upgrade");
    let engine = &w.m[1].engine;
    let first = read(engine.process_entry(ROOM, 1, &text, &w.book));
    // The table without its `refused` column (the plaintext's BLOB kept:
    // the row was written with it).
    engine
        .store
        .transact(|_, conn| {
            conn.execute_batch(
                "CREATE TABLE old_kept AS
                     SELECT room_id, seq, incoming, name_before, name_after, plaintext
                     FROM sealpost_rooms_kept;
                 DROP TABLE sealpost_rooms_kept;
                 ALTER TABLE old_kept RENAME TO sealpost_rooms_kept;",
            )?;
            Ok(())
        })
        .unwrap();
    let path = w.m[1].path.clone();
    let engine = RoomEngine::open(&path, &w.m[1].id).unwrap();
    let again = read(engine.process_entry(ROOM, 1, &text, &w.book));
    assert!(again.replay);
    assert_eq!(again.incoming, first.incoming);
    let garbage = b"not a room message";
    assert!(engine.process_entry(ROOM, 2, garbage, &w.book).is_err());
    assert!(engine.refuse_entry(ROOM, 2, "unreadable").unwrap());
    assert!(matches!(
        engine.process_entry(ROOM, 2, garbage, &w.book).unwrap(),
        Some(EntryOutcome::Refused { reason, .. }) if reason == "unreadable"
    ));
}
