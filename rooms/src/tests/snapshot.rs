//! The observer over one room's entries in memory ([`RoomSnapshot`]), as a
//! server on PostgreSQL runs it: entries loaded, checked, changes written
//! back; the same answers as the observer over SQLite.

use std::collections::HashMap;

use super::{ROOM, World};
use crate::{Observed, RoomSnapshot, RoomsError};

/// A room's stored entries, as the server's table keeps them.
#[derive(Default)]
struct Table(HashMap<Vec<u8>, Vec<u8>>);

impl Table {
    fn snapshot(&self) -> RoomSnapshot {
        RoomSnapshot::new(self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    fn write_back(&mut self, snapshot: &RoomSnapshot) {
        let changes = snapshot.changes();
        for key in changes.deleted {
            self.0.remove(&key);
        }
        self.0.extend(changes.written);
    }
}

#[test]
fn a_room_followed_through_snapshots_written_back_agrees_with_the_sqlite_observer() {
    let w = World::new(3);
    let mut table = Table::default();
    let created = w.m[0].engine.create_room(ROOM).unwrap();
    let first = table.snapshot();
    let state = first
        .track(&created.group_info, &created.ratchet_tree, &w.book)
        .unwrap();
    assert_eq!((state.epoch, state.members.len()), (0, 1));
    table.write_back(&first);
    w.server
        .track(&created.group_info, &created.ratchet_tree, &w.book)
        .unwrap();
    // Tracking it again is refused, as on SQLite.
    assert!(matches!(
        table
            .snapshot()
            .track(&created.group_info, &created.ratchet_tree, &w.book),
        Err(RoomsError::RoomExists)
    ));

    let out = w.m[0]
        .engine
        .add_members(ROOM, &[w.kp(1), w.kp(2)], &w.book)
        .unwrap();
    let second = table.snapshot();
    match second.process(&out.commit, &w.book).unwrap() {
        Observed::Commit { summary, .. } => assert_eq!(summary, out.summary),
        other => panic!("saw {other:?}"),
    }
    assert!(!second.changes().is_empty());
    table.write_back(&second);
    w.server.process(&out.commit, &w.book).unwrap();
    w.m[0].engine.confirm_commit(ROOM).unwrap();
    assert_eq!(
        table.snapshot().room(ROOM).unwrap(),
        w.server.room(ROOM).unwrap()
    );

    // A replayed commit is stale and changes nothing; so does a message.
    let replay = table.snapshot();
    assert!(matches!(
        replay.process(&out.commit, &w.book),
        Err(RoomsError::StaleEpoch {
            message: 0,
            room: 1
        })
    ));
    assert!(replay.changes().is_empty());
    let text = w.m[0].engine.send(ROOM, b"hello").unwrap();
    let read = table.snapshot();
    assert!(matches!(
        read.process(&text, &w.book).unwrap(),
        Observed::Application { epoch: 1, .. }
    ));
    assert!(read.changes().is_empty());

    // Forgetting the room deletes its entries.
    let gone = table.snapshot();
    gone.forget(ROOM).unwrap();
    table.write_back(&gone);
    assert!(matches!(
        table.snapshot().room(ROOM),
        Err(RoomsError::UnknownRoom)
    ));
}
