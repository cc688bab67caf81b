//! The rooms an engine keeps in memory between operations (`crate::cache`)
//! never hide what the state file holds.

use super::{ROOM, World};
use crate::{Role, RoomEngine};

#[test]
fn a_second_engine_on_the_same_file_is_seen_by_the_first() {
    let w = World::room_of_three();
    // Member 0's engine keeps the room after this operation.
    assert_eq!(w.epochs(&[0]), [1]);
    // Another process opens the same file and commits there.
    let other = RoomEngine::open(&w.m[0].path, &w.m[0].id).unwrap();
    let out = other.set_role(ROOM, w.cid(1), Role::Admin).unwrap();
    w.server.process(&out.commit, &w.book).unwrap();
    other.confirm_commit(ROOM).unwrap();
    assert_eq!(other.epoch(ROOM).unwrap(), 2);
    // The first engine reads the file's room, not the one it kept.
    assert_eq!(w.epochs(&[0]), [2]);
    for r in [1, 2] {
        w.m[r].engine.process(&out.commit, &w.book).unwrap();
    }
    let bytes = w.send(0, "after the other process's commit");
    assert_eq!(w.read(1, &bytes).1, "after the other process's commit");
    assert_eq!(w.read(2, &bytes).1, "after the other process's commit");
}
