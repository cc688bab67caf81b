//! What reading a log entry came to is kept until the client releases it:
//! an entry that comes again (its acknowledgement never sent, the client
//! killed before it recorded the entry) is handed out again, marked as a
//! replay, with the room's names from its first reading, across a restart
//! of the engine; released or forgotten with its room, it is gone.

use super::{ROOM, World};
use crate::{Incoming, RoomEngine, RoomName};

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

    let first = w.m[1]
        .engine
        .process_entry(ROOM, 1, &rename.commit, &w.book)
        .unwrap()
        .unwrap();
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
    let said = w.m[1]
        .engine
        .process_entry(ROOM, 2, &text, &w.book)
        .unwrap()
        .unwrap();

    // The engine restarts (a kill -9 before the client recorded them): both
    // come again as they were read, the names included.
    let path = w.m[1].path.clone();
    w.m[1].engine = RoomEngine::open(&path, &w.m[1].id).unwrap();
    let engine = &w.m[1].engine;
    let again = engine
        .process_entry(ROOM, 1, &rename.commit, &w.book)
        .unwrap()
        .unwrap();
    assert!(again.replay);
    assert_eq!(
        (again.incoming, again.name_before, again.name_after),
        (first.incoming, None, Some(crew))
    );
    let said_again = engine
        .process_entry(ROOM, 2, &text, &w.book)
        .unwrap()
        .unwrap();
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
    engine
        .process_entry(ROOM, 1, &text, &w.book)
        .unwrap()
        .unwrap();
    assert_eq!(kept_rows(engine), 1);
    engine.forget_room(ROOM).unwrap();
    assert_eq!(kept_rows(engine), 0);
}
