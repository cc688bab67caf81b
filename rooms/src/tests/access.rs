//! Joining without an invitation (external commits) and bans: a public or
//! hidden room is joined from its `GroupInfo` and every member and the
//! server accept the join; an invite-only room and a banned joiner are
//! refused by the joiner's engine, and a modified joiner's commit by the
//! server and every member; an admin cannot add a banned id; unbanning lets
//! the id join again; a plain member cannot change who may join.

use super::{ROOM, World};
use crate::testing::rogue_external_join;
use crate::{Incoming, JoinRule, Observed, PolicyError, RoomName, RoomsError};

/// Member 0 owns a room of rule `rule` with member 1 in it; member 2 and
/// 3 are outside.
pub(super) fn room(rule: JoinRule) -> World {
    let w = World::new(4);
    let name = RoomName::new("lobby").unwrap();
    let created = w.m[0]
        .engine
        .create_room_with_rule(ROOM, &name, rule)
        .unwrap();
    w.server
        .track(&created.group_info, &created.ratchet_tree, &w.book)
        .unwrap();
    let out = w.m[0]
        .engine
        .add_members(ROOM, &[w.kp(1)], &w.book)
        .unwrap();
    w.publish(0, &out, &[], &[1]);
    w
}

/// `joiner` joins from member 0's group info; the server and `readers`
/// accept it. (The joiner's engine merged its own commit already.)
fn join(w: &World, joiner: usize, readers: &[usize]) {
    let info = w.m[0].engine.group_info(ROOM).unwrap();
    let out = w.m[joiner].engine.join_external(&info, &w.book).unwrap();
    assert!(matches!(
        w.server.process(&out.commit, &w.book).unwrap(),
        Observed::Commit { .. }
    ));
    for &r in readers {
        assert!(matches!(
            w.m[r].engine.process(&out.commit, &w.book).unwrap(),
            Incoming::Commit { .. }
        ));
    }
}

fn refused(result: Result<impl std::fmt::Debug, RoomsError>) -> PolicyError {
    match result {
        Err(RoomsError::Policy(e)) => e,
        other => panic!("expected a policy refusal, got {other:?}"),
    }
}

#[test]
fn a_public_or_hidden_room_is_joined_from_its_group_info_and_everyone_accepts_it() {
    for rule in [JoinRule::Public, JoinRule::Hidden] {
        let w = room(rule);
        assert_eq!(w.m[1].engine.access(ROOM).unwrap().rule, rule);
        let info = w.m[1].engine.group_info(ROOM).unwrap();
        // What the server checks before keeping it for joiners.
        crate::check_group_info(&info, ROOM, 1).unwrap();
        assert!(crate::check_group_info(&info, ROOM, 2).is_err());
        assert!(crate::check_group_info(&info, crate::RoomId([1; 16]), 1).is_err());
        let state = w.server.room(ROOM).unwrap();
        assert_eq!((state.rule, state.name.as_deref()), (rule, Some("lobby")));
        let out = w.m[2].engine.join_external(&info, &w.book).unwrap();
        assert!(out.summary.external_join);
        assert_eq!(out.summary.added, vec![w.cid(2)]);
        match w.server.process(&out.commit, &w.book).unwrap() {
            Observed::Commit { summary, .. } => assert_eq!(summary, out.summary),
            other => panic!("server saw {other:?}"),
        }
        for reader in [0, 1] {
            match w.m[reader].engine.process(&out.commit, &w.book).unwrap() {
                Incoming::Commit { summary, .. } => {
                    assert!(summary.external_join);
                    assert_eq!(summary.added, vec![w.cid(2)]);
                }
                other => panic!("member {reader} saw {other:?}"),
            }
        }
        assert_eq!(w.epochs(&[0, 1, 2]), vec![2, 2, 2]);
        let text = w.send(2, "hello from the joiner");
        assert_eq!(w.read(0, &text), (w.cid(2), "hello from the joiner".into()));
        assert_eq!(w.server.room(ROOM).unwrap().members.len(), 3);
    }
}

#[test]
fn an_invite_only_room_refuses_a_join_in_the_engine_the_server_and_every_member() {
    let w = room(JoinRule::InviteOnly);
    let info = w.m[0].engine.group_info(ROOM).unwrap();
    assert_eq!(
        refused(w.m[2].engine.join_external(&info, &w.book)),
        PolicyError::JoinRefused
    );
    let rogue = rogue_external_join(&w.m[3].engine, &info);
    assert_eq!(
        refused(w.server.process(&rogue, &w.book)),
        PolicyError::JoinRefused
    );
    assert_eq!(
        refused(w.m[1].engine.process(&rogue, &w.book)),
        PolicyError::JoinRefused
    );
    assert_eq!(w.epochs(&[0, 1]), vec![1, 1]);
}

#[test]
fn a_banned_id_cannot_join_or_be_added_until_unbanned() {
    let w = room(JoinRule::Public);
    // Banning a member removes it.
    let out = w.m[0].engine.set_banned(ROOM, w.cid(1), true).unwrap();
    assert_eq!(out.summary.removed, vec![w.cid(1)]);
    assert!(out.summary.access.as_ref().unwrap().is_banned(&w.cid(1)));
    w.publish(0, &out, &[], &[]);
    let out = w.m[0].engine.set_banned(ROOM, w.cid(2), true).unwrap();
    w.publish(0, &out, &[], &[]);

    let info = w.m[0].engine.group_info(ROOM).unwrap();
    assert_eq!(
        refused(w.m[2].engine.join_external(&info, &w.book)),
        PolicyError::Banned(w.cid(2))
    );
    let rogue = rogue_external_join(&w.m[2].engine, &info);
    assert_eq!(
        refused(w.server.process(&rogue, &w.book)),
        PolicyError::Banned(w.cid(2))
    );
    // Nor can an admin add a banned id.
    assert_eq!(
        refused(w.m[0].engine.add_members(ROOM, &[w.kp(1)], &w.book)),
        PolicyError::Banned(w.cid(1))
    );

    // A plain member may not change the rules.
    join(&w, 3, &[0]);
    assert!(matches!(
        refused(w.m[3].engine.set_join_rule(ROOM, JoinRule::InviteOnly)),
        PolicyError::NotPermitted { .. }
    ));
    assert!(matches!(
        refused(w.m[3].engine.set_banned(ROOM, w.cid(2), false)),
        PolicyError::NotPermitted { .. }
    ));

    // Unbanned, 2 joins.
    let out = w.m[0].engine.set_banned(ROOM, w.cid(2), false).unwrap();
    w.publish(0, &out, &[3], &[]);
    w.m[2].engine.forget_room(ROOM).unwrap();
    join(&w, 2, &[0, 3]);
    assert_eq!(w.server.room(ROOM).unwrap().members.len(), 3);
}
