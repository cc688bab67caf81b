//! A member whose state file is lost (a home restored from a backup) joins
//! its public room again: with its old leaf key (`LeafKey`, in the backup)
//! the external commit removes its old leaf (a resync) and the server and
//! every member accept it; with a new leaf key the old leaf is still there
//! and the join is refused as a duplicate member.

use super::ROOM;
use super::access::room;
use crate::{Incoming, JoinRule, Observed, PolicyError, RoomEngine, RoomsError};

#[test]
fn a_restored_member_with_its_old_leaf_key_joins_again_in_place_of_its_old_leaf() {
    let w = room(JoinRule::Public);
    let leaf = w.m[1].engine.leaf_key().unwrap();
    // Member 1's state file is lost; a new one keeps the old leaf key.
    let fresh = w.dir.path().join("restored.db");
    let restored = RoomEngine::open_keyed_with(&fresh, &w.m[1].id, None, Some(&leaf)).unwrap();
    assert_eq!(*restored.leaf_key().unwrap().pair, *leaf.pair);
    let info = w.m[0].engine.group_info(ROOM).unwrap();
    let out = restored.join_external(&info, &w.book).unwrap();
    match w.server.process(&out.commit, &w.book).unwrap() {
        Observed::Commit { summary, .. } => {
            assert!(summary.resync && summary.removed.is_empty());
            assert_eq!(summary.added, vec![w.cid(1)]);
        }
        other => panic!("the server saw {other:?}"),
    }
    assert!(matches!(
        w.m[0].engine.process(&out.commit, &w.book).unwrap(),
        Incoming::Commit { .. }
    ));
    // One leaf of member 1, not two; and the restored engine talks.
    assert_eq!(w.m[0].engine.members(ROOM).unwrap().len(), 2);
    assert_eq!(w.server.room(ROOM).unwrap().members.len(), 2);
    let text = restored.send(ROOM, b"back").unwrap();
    assert_eq!(w.read(0, &text), (w.cid(1), "back".into()));
}

#[test]
fn a_restored_member_with_a_new_leaf_key_is_refused_as_a_member_already() {
    let w = room(JoinRule::Public);
    let fresh = w.dir.path().join("restored.db");
    let restored = RoomEngine::open(&fresh, &w.m[1].id).unwrap();
    let info = w.m[0].engine.group_info(ROOM).unwrap();
    let out = restored.join_external(&info, &w.book).unwrap();
    match w.server.process(&out.commit, &w.book) {
        Err(RoomsError::Policy(PolicyError::DuplicateMember(id))) => assert_eq!(id, w.cid(1)),
        other => panic!("the server answered {other:?}"),
    }
}
