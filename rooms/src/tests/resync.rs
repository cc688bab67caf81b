//! A member whose state file is lost (a home restored from a backup) joins
//! its room again, whatever the room's rule: with its old leaf key
//! (`LeafKey`, in the backup) the external commit removes its old leaf (a
//! resync) and the server and every member accept it, the owner staying
//! owner. With a new leaf key openmls adds no such Remove: the engine says
//! so before anything leaves, and the server refuses the commit as a
//! duplicate member. An external commit may remove no one else's leaf (a
//! newcomer still cannot join an invite-only room: `access`), nor may a
//! resync a server makes from an older group info, whose leaf another
//! member holds now. A member left behind (the server moved past its epoch
//! with the commits between gone) takes its own place again from a later
//! group info, and from no earlier one.

use super::access::room;
use super::{ROOM, World};
use crate::policy::RoomView;
use crate::testing::rogue_external_join;
use crate::{ClientId, Incoming, JoinRule, Observed, PolicyError, Role, RoomEngine, RoomsError};

/// Member `who`'s state file is lost; a new one, of the same identity,
/// takes the leaf key of member `key_of` (its own: a backup that kept it;
/// another's: a forgery) or a new one (`None`: an older backup).
fn restored(w: &World, who: usize, key_of: Option<usize>) -> RoomEngine {
    let leaf = key_of.map(|i| w.m[i].engine.leaf_key().unwrap());
    let fresh = w.dir.path().join(format!("restored-{who}.db"));
    let _ = std::fs::remove_file(&fresh);
    RoomEngine::open_keyed_with(&fresh, &w.m[who].id, None, leaf.as_ref()).unwrap()
}

/// The restored engine of member `who` joins from member `from`'s group
/// info; the server and the members `readers` accept it as a resync.
fn resync(w: &World, who: usize, from: usize, readers: &[usize]) -> RoomEngine {
    let restored = restored(w, who, Some(who));
    let info = w.m[from].engine.group_info(ROOM).unwrap();
    let out = restored.join_external(&info, &w.book).unwrap();
    assert!(out.summary.resync);
    match w.server.process(&out.commit, &w.book).unwrap() {
        Observed::Commit { summary, .. } => {
            assert!(summary.resync && summary.removed.is_empty());
            assert_eq!(summary.added, vec![w.cid(who)]);
        }
        other => panic!("the server saw {other:?}"),
    }
    for &r in readers {
        match w.m[r].engine.process(&out.commit, &w.book).unwrap() {
            Incoming::Commit { summary, .. } => assert!(summary.resync),
            other => panic!("member {r} saw {other:?}"),
        }
    }
    restored
}

fn refused(result: Result<impl std::fmt::Debug, RoomsError>) -> PolicyError {
    match result {
        Err(RoomsError::Policy(e)) => e,
        other => panic!("expected a policy refusal, got {other:?}"),
    }
}

#[test]
fn a_restored_member_with_its_old_leaf_key_joins_again_in_place_of_its_old_leaf() {
    let w = room(JoinRule::Public);
    let leaf = w.m[1].engine.leaf_key().unwrap();
    let restored = resync(&w, 1, 0, &[0]);
    assert_eq!(*restored.leaf_key().unwrap().pair, *leaf.pair);
    // One leaf of member 1, not two; and the restored engine talks.
    assert_eq!(w.m[0].engine.members(ROOM).unwrap().len(), 2);
    assert_eq!(w.server.room(ROOM).unwrap().members.len(), 2);
    let text = restored.send(ROOM, b"back").unwrap();
    assert_eq!(w.read(0, &text), (w.cid(1), "back".into()));
}

#[test]
fn a_listed_member_of_an_invite_only_or_password_room_joins_again_by_itself() {
    for rule in [JoinRule::InviteOnly, JoinRule::Password] {
        let w = room(rule);
        let restored = resync(&w, 1, 0, &[0]);
        assert_eq!(w.m[0].engine.members(ROOM).unwrap().len(), 2);
        assert_eq!(w.server.room(ROOM).unwrap().members.len(), 2);
        let text = restored.send(ROOM, b"back").unwrap();
        assert_eq!(w.read(0, &text), (w.cid(1), "back".into()));
        // The room goes on: the owner adds a newcomer the restored member
        // sees.
        let out = w.m[0]
            .engine
            .add_members(ROOM, &[w.kp(2)], &w.book)
            .unwrap();
        assert!(matches!(
            w.server.process(&out.commit, &w.book).unwrap(),
            Observed::Commit { .. }
        ));
        w.m[0].engine.confirm_commit(ROOM).unwrap();
        assert!(matches!(
            restored.process(&out.commit, &w.book).unwrap(),
            Incoming::Commit { .. }
        ));
        assert_eq!(restored.members(ROOM).unwrap().len(), 3);
    }
}

#[test]
fn the_restored_owner_of_an_invite_only_room_stays_owner_and_adds_members() {
    let w = room(JoinRule::InviteOnly);
    let owner = resync(&w, 0, 1, &[1]);
    let members = w.m[1].engine.members(ROOM).unwrap();
    let role = |c| members.iter().find(|m| m.client_id == c).unwrap().role;
    assert_eq!(role(w.cid(0)), Role::Owner);
    assert_eq!(w.server.room(ROOM).unwrap().members.len(), 2);
    let out = owner.add_members(ROOM, &[w.kp(2)], &w.book).unwrap();
    assert!(matches!(
        w.server.process(&out.commit, &w.book).unwrap(),
        Observed::Commit { .. }
    ));
    owner.confirm_commit(ROOM).unwrap();
    assert!(matches!(
        w.m[1].engine.process(&out.commit, &w.book).unwrap(),
        Incoming::Commit { .. }
    ));
    assert_eq!(w.m[1].engine.members(ROOM).unwrap().len(), 3);
}

#[test]
fn a_restored_member_with_a_new_leaf_key_is_told_so_and_its_commit_is_refused() {
    for rule in [JoinRule::Public, JoinRule::InviteOnly] {
        let w = room(rule);
        let restored = restored(&w, 1, None);
        let info = w.m[0].engine.group_info(ROOM).unwrap();
        assert!(matches!(
            restored.join_external(&info, &w.book),
            Err(RoomsError::LeafKeyLost)
        ));
        // Sent anyway (a modified client): the room would hold member 1
        // twice.
        let rogue = rogue_external_join(&restored, &info);
        assert_eq!(
            refused(w.server.process(&rogue, &w.book)),
            PolicyError::DuplicateMember(w.cid(1))
        );
    }
}

#[test]
fn an_external_commit_removing_someone_elses_leaf_is_refused() {
    // In an open room by a newcomer (2) and by a member (1); in an
    // invite-only room by a member (1). Each holds the victim's leaf key,
    // so openmls puts the victim's leaf in the Remove.
    for (rule, joiner, victim) in [
        (JoinRule::Public, 2, 1),
        (JoinRule::Public, 1, 0),
        (JoinRule::InviteOnly, 1, 0),
    ] {
        let w = room(rule);
        let forger = restored(&w, joiner, Some(victim));
        let info = w.m[0].engine.group_info(ROOM).unwrap();
        let rogue = rogue_external_join(&forger, &info);
        assert_eq!(
            refused(w.server.process(&rogue, &w.book)),
            PolicyError::JoinRefused,
            "{rule} {joiner} {victim}"
        );
        // Member 0 (the victim or not) refuses it too, before merging.
        assert_eq!(
            refused(w.m[0].engine.process(&rogue, &w.book)),
            PolicyError::JoinRefused
        );
        assert_eq!(w.server.room(ROOM).unwrap().members.len(), 2);
    }
}

/// The leaf `engine`'s copy of the room has `client` at.
fn leaf_of(engine: &RoomEngine, client: ClientId) -> Option<openmls::prelude::LeafNodeIndex> {
    engine
        .store
        .transact(|provider, _| {
            let group = crate::engine::load_group(provider, ROOM)?;
            Ok(RoomView::new(group.members(), group.extensions())?.leaf_of(&client))
        })
        .unwrap()
}

#[test]
fn a_resync_from_an_older_group_info_removes_no_one_who_holds_that_leaf_now() {
    // Member 1 is removed and member 2 added in its place (the same leaf);
    // a server that kept the group info of when member 1 was in serves it
    // to member 1's restored home, which takes that leaf for its own.
    let w = room(JoinRule::InviteOnly);
    let older = w.m[0].engine.group_info(ROOM).unwrap();
    let leaf = leaf_of(&w.m[0].engine, w.cid(1)).unwrap();
    let out = w.m[0].engine.remove_members(ROOM, &[w.cid(1)]).unwrap();
    w.publish(0, &out, &[], &[]);
    let out = w.m[0]
        .engine
        .add_members(ROOM, &[w.kp(2)], &w.book)
        .unwrap();
    w.publish(0, &out, &[], &[2]);
    assert_eq!(leaf_of(&w.m[0].engine, w.cid(2)), Some(leaf));

    let restored = restored(&w, 1, Some(1));
    let made = restored.join_external(&older, &w.book).unwrap();
    assert!(made.summary.resync);
    // The room has moved on: the server and every member refuse it.
    let stale = |r: Result<_, RoomsError>| matches!(r, Err(RoomsError::StaleEpoch { .. }));
    assert!(stale(w.server.process(&made.commit, &w.book).map(|_| ())));
    for m in [0, 2] {
        let seen = w.m[m].engine.process(&made.commit, &w.book);
        assert!(stale(seen.map(|_| ())), "member {m}");
    }
    let members: Vec<_> = w.m[0]
        .engine
        .members(ROOM)
        .unwrap()
        .into_iter()
        .map(|m| m.client_id)
        .collect();
    assert_eq!(members, [w.cid(0), w.cid(2)]);
    assert_eq!(w.server.room(ROOM).unwrap().members.len(), 2);
    let text = w.send(2, "still here");
    assert_eq!(w.read(0, &text), (w.cid(2), "still here".into()));
}

#[test]
fn a_member_left_behind_takes_its_own_place_again_from_a_later_group_info_only() {
    let w = room(JoinRule::InviteOnly);
    // Member 1 holds the room at the epoch of the group info taken now.
    let its_own_epoch = w.m[0].engine.group_info(ROOM).unwrap();
    assert!(matches!(
        w.m[1].engine.rejoin_external(&its_own_epoch, &w.book),
        Err(RoomsError::RoomExists)
    ));
    // Member 0 adds member 2; member 1 never reads the commit (it is gone
    // from the server's log), so it cannot follow the room any more.
    let out = w.m[0]
        .engine
        .add_members(ROOM, &[w.kp(2)], &w.book)
        .unwrap();
    w.publish(0, &out, &[], &[2]);
    let behind = w.m[1].engine.epoch(ROOM).unwrap();
    assert!(behind < w.m[0].engine.epoch(ROOM).unwrap());
    let info = w.m[0].engine.group_info(ROOM).unwrap();
    // A plain join is refused: it holds the room.
    assert!(matches!(
        w.m[1].engine.join_external(&info, &w.book),
        Err(RoomsError::RoomExists)
    ));
    let out = w.m[1].engine.rejoin_external(&info, &w.book).unwrap();
    assert!(out.summary.resync);
    match w.server.process(&out.commit, &w.book).unwrap() {
        Observed::Commit { summary, .. } => {
            assert!(summary.resync && summary.removed.is_empty());
        }
        other => panic!("the server saw {other:?}"),
    }
    for r in [0, 2] {
        assert!(matches!(
            w.m[r].engine.process(&out.commit, &w.book).unwrap(),
            Incoming::Commit { .. }
        ));
    }
    // One leaf of member 1 in every copy, and it talks both ways again.
    assert_eq!(w.m[1].engine.members(ROOM).unwrap().len(), 3);
    assert_eq!(w.m[2].engine.members(ROOM).unwrap().len(), 3);
    assert_eq!(w.server.room(ROOM).unwrap().members.len(), 3);
    assert_eq!(w.epochs(&[0, 1, 2]), [behind + 2; 3]);
    let text = w.send(1, "back");
    assert_eq!(w.read(2, &text), (w.cid(1), "back".into()));
    let text = w.send(0, "welcome back");
    assert_eq!(w.read(1, &text), (w.cid(0), "welcome back".into()));
}

#[test]
fn a_rejoin_into_a_room_that_no_longer_lists_us_is_refused_and_keeps_our_state() {
    let w = room(JoinRule::Public);
    let out = w.m[0].engine.remove_members(ROOM, &[w.cid(1)]).unwrap();
    w.publish(0, &out, &[], &[]);
    let before = w.m[1].engine.epoch(ROOM).unwrap();
    let info = w.m[0].engine.group_info(ROOM).unwrap();
    assert_eq!(
        refused(w.m[1].engine.rejoin_external(&info, &w.book)),
        PolicyError::JoinRefused
    );
    assert_eq!(w.m[1].engine.epoch(ROOM).unwrap(), before);
    assert!(w.m[1].engine.is_member(ROOM).unwrap());
}
