//! Create, add, send, remove, leave, and state that survives reopening.

use super::{ROOM, World};
use crate::{Incoming, Observed, Role, RoomEngine, RoomName, RoomsError};

#[test]
fn three_members_create_add_send_and_all_read() {
    let w = World::room_of_three();
    assert_eq!(w.epochs(&[0, 1, 2]), vec![1, 1, 1]);
    for (author, text) in [(0, "hello from the owner"), (1, "hi"), (2, "hey")] {
        let bytes = w.send(author, text);
        for reader in (0..3).filter(|r| *r != author) {
            assert_eq!(w.read(reader, &bytes), (w.cid(author), text.to_string()));
        }
    }
    let members: Vec<_> = w.m[2]
        .engine
        .members(ROOM)
        .unwrap()
        .into_iter()
        .map(|m| (m.client_id, m.role))
        .collect();
    assert_eq!(
        members,
        vec![
            (w.cid(0), crate::Role::Owner),
            (w.cid(1), crate::Role::Member),
            (w.cid(2), crate::Role::Member)
        ]
    );
    assert_eq!(w.server.room(ROOM).unwrap().members.len(), 3);
}

#[test]
fn removed_member_cannot_read_the_next_message_even_with_its_bytes() {
    let w = World::room_of_three();
    let out = w.m[0].engine.remove_members(ROOM, &[w.cid(2)]).unwrap();
    assert_eq!(out.summary.removed, vec![w.cid(2)]);
    w.publish(0, &out, &[1], &[]);
    // The removed member sees its removal...
    match w.m[2].engine.process(&out.commit, &w.book).unwrap() {
        Incoming::Commit { removed_us, .. } => assert!(removed_us),
        other => panic!("{other:?}"),
    }
    assert!(!w.m[2].engine.is_member(ROOM).unwrap());
    // ...and nothing after it.
    let bytes = w.send(0, "after the removal");
    assert_eq!(w.read(1, &bytes).1, "after the removal");
    assert!(matches!(
        w.m[2].engine.process(&bytes, &w.book),
        Err(RoomsError::NotMember)
    ));
    assert!(matches!(
        w.m[2].engine.send(ROOM, b"still here?"),
        Err(RoomsError::NotMember)
    ));
    assert_eq!(w.server.room(ROOM).unwrap().members.len(), 2);
}

#[test]
fn removed_member_that_missed_its_removal_cannot_read_either() {
    // A removed member that never processed the removal commit still holds
    // the old epoch's secrets: the new epoch's message is not for them.
    let w = World::room_of_three();
    let out = w.m[0].engine.remove_members(ROOM, &[w.cid(2)]).unwrap();
    w.publish(0, &out, &[1], &[]);
    let bytes = w.send(1, "secret");
    assert!(matches!(
        w.m[2].engine.process(&bytes, &w.book),
        Err(RoomsError::StaleEpoch {
            message: 2,
            room: 1
        })
    ));
}

#[test]
fn a_member_leaves_and_a_plain_member_commits_it() {
    let w = World::room_of_three();
    let proposal = w.m[2].engine.leave(ROOM).unwrap();
    assert!(matches!(
        w.server.process(&proposal, &w.book).unwrap(),
        Observed::LeaveRequest { .. }
    ));
    for r in [0, 1] {
        assert!(matches!(
            w.m[r].engine.process(&proposal, &w.book).unwrap(),
            Incoming::LeaveRequest { client, .. } if client == w.cid(2)
        ));
    }
    // The leaver sends nothing more, and is told why (not MLS's words).
    assert!(matches!(
        w.m[2].engine.send(ROOM, b"one more"),
        Err(RoomsError::Leaving)
    ));
    // Member 1 is not an admin, but committing a leave is anyone's right.
    let out = w.m[1].engine.commit_pending_proposals(ROOM).unwrap();
    assert_eq!(out.summary.left, vec![w.cid(2)]);
    w.publish(1, &out, &[0, 2], &[]);
    assert!(!w.m[2].engine.is_member(ROOM).unwrap());
    assert_eq!(w.m[0].engine.members(ROOM).unwrap().len(), 2);
}

#[test]
fn a_leave_request_overtaken_by_a_commit_lapses_and_the_leaver_is_told_to_ask_again() {
    let w = World::room_of_three();
    let proposal = w.m[2].engine.leave(ROOM).unwrap();
    w.server.process(&proposal, &w.book).unwrap();
    assert!(w.m[2].engine.lapsed_leaves().unwrap().is_empty());
    // The owner commits a promotion before reading the request: the
    // request was for the epoch that commit ended.
    let out = w.m[0].engine.set_role(ROOM, w.cid(1), Role::Admin).unwrap();
    w.publish(0, &out, &[1, 2], &[]);
    assert!(w.m[2].engine.is_member(ROOM).unwrap());
    assert_eq!(w.m[2].engine.lapsed_leaves().unwrap(), vec![ROOM]);
    // Asked again, and this time committed: out, and nothing lapses.
    let again = w.m[2].engine.leave(ROOM).unwrap();
    assert!(w.m[2].engine.lapsed_leaves().unwrap().is_empty());
    member_2_leaves_by_member_1s_commit(&w, &again);
    assert!(!w.m[2].engine.is_member(ROOM).unwrap());
    assert!(w.m[2].engine.lapsed_leaves().unwrap().is_empty());
}

/// Member 2's leave request `proposal` reaches everyone and member 1
/// commits it.
fn member_2_leaves_by_member_1s_commit(w: &World, proposal: &[u8]) {
    w.server.process(proposal, &w.book).unwrap();
    for r in [0, 1] {
        w.m[r].engine.process(proposal, &w.book).unwrap();
    }
    let out = w.m[1].engine.commit_pending_proposals(ROOM).unwrap();
    assert_eq!(out.summary.left, vec![w.cid(2)]);
    w.publish(1, &out, &[0, 2], &[]);
}

/// A room of three where member 2 asked to leave and only member 1 (not
/// the owner) read the request.
fn leave_read_by_member_1_only() -> World {
    let w = World::room_of_three();
    let proposal = w.m[2].engine.leave(ROOM).unwrap();
    w.server.process(&proposal, &w.book).unwrap();
    w.m[1].engine.process(&proposal, &w.book).unwrap();
    w
}

#[test]
fn a_lapsed_leave_request_is_honoured_by_an_admin_who_saw_it() {
    let w = leave_read_by_member_1_only();
    // The owner commits a promotion of member 1 before reading the
    // request, so the request lapses.
    let out = w.m[0].engine.set_role(ROOM, w.cid(1), Role::Admin).unwrap();
    assert!(w.m[1].engine.lapsed_leavers(ROOM).unwrap().is_empty());
    w.publish(0, &out, &[1, 2], &[]);
    // The owner never saw the request; member 1, now an admin, did.
    assert!(w.m[0].engine.lapsed_leavers(ROOM).unwrap().is_empty());
    assert_eq!(w.m[1].engine.lapsed_leavers(ROOM).unwrap(), vec![w.cid(2)]);
    // The leaver never asks again (its account is gone): the admin removes it.
    let out = w.m[1].engine.remove_members(ROOM, &[w.cid(2)]).unwrap();
    assert_eq!(out.summary.removed, vec![w.cid(2)]);
    w.server.process(&out.commit, &w.book).unwrap();
    // Told as carol leaving by the admin who saw her ask, as a removal by
    // the owner who did not.
    let told = w.m[1].engine.confirm_commit(ROOM).unwrap();
    assert_eq!((told.left, told.removed), (vec![w.cid(2)], vec![]));
    match w.m[0].engine.process(&out.commit, &w.book).unwrap() {
        Incoming::Commit { summary, .. } => assert_eq!(summary, out.summary),
        other => panic!("the owner saw {other:?}"),
    }
    w.m[2].engine.process(&out.commit, &w.book).unwrap();
    assert!(!w.m[2].engine.is_member(ROOM).unwrap());
    assert_eq!(w.m[0].engine.members(ROOM).unwrap().len(), 2);
    assert!(w.m[1].engine.lapsed_leavers(ROOM).unwrap().is_empty());
}

#[test]
fn a_lapsed_leave_request_is_not_for_a_plain_member_nor_held_against_a_leaver_who_returns() {
    let w = leave_read_by_member_1_only();
    let out = w.m[0]
        .engine
        .rename(ROOM, &RoomName::new("moved-on").unwrap())
        .unwrap();
    w.publish(0, &out, &[1, 2], &[]);
    // Member 1 saw it lapse but may remove no one.
    assert!(w.m[1].engine.lapsed_leavers(ROOM).unwrap().is_empty());
    assert_eq!(
        w.m[1].engine.rooms_with_lapsed_leaves().unwrap(),
        vec![ROOM]
    );
    // The leaver asks again and is committed out, then is added back.
    let again = w.m[2].engine.leave(ROOM).unwrap();
    member_2_leaves_by_member_1s_commit(&w, &again);
    assert!(w.m[1].engine.rooms_with_lapsed_leaves().unwrap().is_empty());
    let out = w.m[0]
        .engine
        .add_members(ROOM, &[w.kp(2)], &w.book)
        .unwrap();
    w.publish(0, &out, &[1], &[2]);
    let out = w.m[0].engine.set_role(ROOM, w.cid(1), Role::Admin).unwrap();
    w.publish(0, &out, &[1, 2], &[]);
    // Member 1, an admin now, has nothing against the returned member.
    assert!(w.m[1].engine.lapsed_leavers(ROOM).unwrap().is_empty());
    assert_eq!(w.m[0].engine.members(ROOM).unwrap().len(), 3);
}

#[test]
fn state_survives_reopening_from_the_sqlite_file() {
    let mut w = World::room_of_three();
    // A key package made before the restart is still usable after it.
    let kp = w.kp(1);
    let bytes = w.send(0, "before");
    // Close every engine and open the same files again.
    for i in 0..3 {
        let path = w.m[i].path.clone();
        let placeholder =
            RoomEngine::open(&w.dir.path().join(format!("tmp-{i}.db")), &w.m[i].id).unwrap();
        drop(std::mem::replace(&mut w.m[i].engine, placeholder));
        w.m[i].engine = RoomEngine::open(&path, &w.m[i].id).unwrap();
    }
    assert_eq!(w.read(1, &bytes).1, "before");
    assert_eq!(w.m[2].engine.rooms().unwrap(), vec![ROOM]);
    let bytes = w.send(2, "after");
    assert_eq!(w.read(0, &bytes).1, "after");
    // Member 1's old key package can still join it to a second room.
    let second = crate::RoomId([0xCD; 16]);
    w.m[0].engine.create_room(second).unwrap();
    let out = w.m[0].engine.add_members(second, &[kp], &w.book).unwrap();
    w.m[0].engine.confirm_commit(second).unwrap();
    let joined = w.m[1]
        .engine
        .join(out.welcome.as_ref().unwrap(), &w.book)
        .unwrap();
    assert_eq!(joined.room, second);
    assert_eq!(joined.inviter, w.cid(0));
    // A state file refuses another identity.
    let stranger = super::TestId::new(99);
    assert!(matches!(
        RoomEngine::open(&w.m[0].path, &stranger),
        Err(RoomsError::IdentityMismatch)
    ));
}

#[test]
fn a_plain_member_commits_a_leave_after_an_admin_left_without_touching_the_roles() {
    let w = World::room_of_three();
    let out = w.m[0].engine.set_role(ROOM, w.cid(1), Role::Admin).unwrap();
    w.publish(0, &out, &[1, 2], &[]);
    // The admin leaves by the owner's commit: its role entry stays behind,
    // stale, in the roles table.
    let proposal = w.m[1].engine.leave(ROOM).unwrap();
    w.server.process(&proposal, &w.book).unwrap();
    for r in [0, 2] {
        w.m[r].engine.process(&proposal, &w.book).unwrap();
    }
    let out = w.m[0].engine.commit_pending_proposals(ROOM).unwrap();
    w.publish(0, &out, &[1, 2], &[]);
    // The owner asks to leave; member 2, not an admin, commits it. Were
    // the stale entry dropped, the roles would change, which only an
    // admin may do: the server and every member would refuse it.
    let proposal = w.m[0].engine.leave(ROOM).unwrap();
    w.server.process(&proposal, &w.book).unwrap();
    w.m[2].engine.process(&proposal, &w.book).unwrap();
    let out = w.m[2].engine.commit_pending_proposals(ROOM).unwrap();
    assert_eq!(out.summary.left, vec![w.cid(0)]);
    w.publish(2, &out, &[0], &[]);
    assert_eq!(w.m[2].engine.members(ROOM).unwrap().len(), 1);
}

#[test]
fn a_member_whose_own_leave_waits_commits_no_one_elses() {
    let w = World::room_of_three();
    // Members 1 and 2 ask to leave in the same epoch.
    let first = w.m[1].engine.leave(ROOM).unwrap();
    let second = w.m[2].engine.leave(ROOM).unwrap();
    for proposal in [&first, &second] {
        w.server.process(proposal, &w.book).unwrap();
        w.m[0].engine.process(proposal, &w.book).unwrap();
    }
    w.m[1].engine.process(&second, &w.book).unwrap();
    w.m[2].engine.process(&first, &w.book).unwrap();
    // Member 1's commit would remove itself, which MLS forbids: it is told
    // that it is leaving, and the owner commits both.
    assert!(matches!(
        w.m[1].engine.commit_pending_proposals(ROOM),
        Err(RoomsError::Leaving)
    ));
    let out = w.m[0].engine.commit_pending_proposals(ROOM).unwrap();
    assert_eq!(out.summary.left.len(), 2);
    w.publish(0, &out, &[1, 2], &[]);
    assert_eq!(w.m[0].engine.members(ROOM).unwrap().len(), 1);
}
