//! Two admins committing on one epoch, and a member catching up in order.

use super::{ROOM, World};
use crate::{Incoming, Observed, Role, RoomsError};

#[test]
fn two_admins_commit_on_one_epoch_and_only_one_is_merged() {
    let mut w = World::room_of_three();
    let out = w.m[0].engine.set_role(ROOM, w.cid(1), Role::Admin).unwrap();
    w.publish(0, &out, &[1, 2], &[]);
    let dave = w.join_world(4);
    let erin = w.join_world(5);
    let erin_kp = w.kp(erin);

    // Both admins commit on epoch 2 at once.
    let first = w.m[0]
        .engine
        .add_members(ROOM, &[w.kp(dave)], &w.book)
        .unwrap();
    let second = w.m[1]
        .engine
        .add_members(ROOM, std::slice::from_ref(&erin_kp), &w.book)
        .unwrap();
    assert_eq!((first.epoch, second.epoch), (2, 2));

    // The server takes the first; the second is stale (the compare-and-set).
    assert!(matches!(
        w.server.process(&first.commit, &w.book).unwrap(),
        Observed::Commit { .. }
    ));
    assert!(matches!(
        w.server.process(&second.commit, &w.book),
        Err(RoomsError::StaleEpoch {
            message: 2,
            room: 3
        })
    ));
    w.m[0].engine.confirm_commit(ROOM).unwrap();
    w.m[dave]
        .engine
        .join(first.welcome.as_ref().unwrap(), &w.book)
        .unwrap();

    // A member that saw both in the wrong order can merge only one of them.
    assert!(matches!(
        w.m[2].engine.process(&first.commit, &w.book).unwrap(),
        Incoming::Commit { .. }
    ));
    assert!(matches!(
        w.m[2].engine.process(&second.commit, &w.book),
        Err(RoomsError::StaleEpoch {
            message: 2,
            room: 3
        })
    ));

    // The loser learns it lost when the winner's commit reaches it, ...
    match w.m[1].engine.process(&first.commit, &w.book).unwrap() {
        Incoming::Commit { discarded_ours, .. } => assert!(discarded_ours),
        other => panic!("{other:?}"),
    }
    // ...and makes its commit again on the new epoch (Erin's key package was
    // never consumed: the stale welcome went nowhere).
    let again = w.m[1]
        .engine
        .add_members(ROOM, &[erin_kp], &w.book)
        .unwrap();
    assert_eq!(again.epoch, 3);
    w.publish(1, &again, &[0, 2, dave], &[erin]);

    let all = [0, 1, 2, dave, erin];
    assert_eq!(w.epochs(&all), vec![4; 5]);
    let reference = w.m[0].engine.members(ROOM).unwrap();
    assert_eq!(reference.len(), 5);
    for i in all {
        assert_eq!(w.m[i].engine.members(ROOM).unwrap(), reference);
    }
    assert_eq!(w.server.room(ROOM).unwrap().members, reference);
    let bytes = w.send(erin, "hello all");
    for r in [0, 1, 2, dave] {
        assert_eq!(w.read(r, &bytes).1, "hello all");
    }
}

#[test]
fn offline_member_processes_ten_messages_and_two_commits_in_order() {
    let mut w = World::room_of_three();
    let dave = w.join_world(4);
    // Member 2 is offline; the log accumulates what it will read later.
    let mut log: Vec<Vec<u8>> = Vec::new();
    let mut expected = Vec::new();
    for n in 0..4 {
        let text = format!("message {n}");
        let bytes = w.send(n % 2, &text);
        w.read(1 - n % 2, &bytes);
        expected.push((w.cid(n % 2), text));
        log.push(bytes);
    }
    let add = w.m[0]
        .engine
        .add_members(ROOM, &[w.kp(dave)], &w.book)
        .unwrap();
    w.publish(0, &add, &[1], &[dave]);
    log.push(add.commit.clone());
    for n in 4..7 {
        let text = format!("message {n}");
        let bytes = w.send(dave, &text);
        w.read(0, &bytes);
        w.read(1, &bytes);
        expected.push((w.cid(dave), text));
        log.push(bytes);
    }
    let promote = w.m[0]
        .engine
        .set_role(ROOM, w.cid(dave), Role::Admin)
        .unwrap();
    w.publish(0, &promote, &[1, dave], &[]);
    log.push(promote.commit.clone());
    for n in 7..10 {
        let text = format!("message {n}");
        let bytes = w.send(1, &text);
        expected.push((w.cid(1), text));
        log.push(bytes);
    }

    // Out of order does not work: the last message needs both commits first.
    assert!(matches!(
        w.m[2].engine.process(log.last().unwrap(), &w.book),
        Err(RoomsError::StaleEpoch {
            message: 3,
            room: 1
        })
    ));
    // In order, everything arrives.
    let mut got = Vec::new();
    let mut commits = 0;
    for bytes in &log {
        match w.m[2].engine.process(bytes, &w.book).unwrap() {
            Incoming::Message {
                sender, plaintext, ..
            } => got.push((sender, String::from_utf8(plaintext).unwrap())),
            Incoming::Commit { .. } => commits += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, expected);
    assert_eq!(commits, 2);
    assert_eq!(w.epochs(&[0, 1, 2, dave]), vec![3; 4]);
    assert_eq!(
        w.m[2].engine.members(ROOM).unwrap(),
        w.m[0].engine.members(ROOM).unwrap()
    );
    // A replay of an old message is refused.
    assert!(matches!(
        w.m[2].engine.process(&log[0], &w.book),
        Err(RoomsError::StaleEpoch { .. })
    ));
}
