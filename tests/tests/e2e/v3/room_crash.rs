//! `kill -9` of the real server binary while a room's members send and its
//! owner commits: after a restart every answered room message reaches every
//! other member, the owner settles its pending commit from the server's
//! state, and every member ends in the server's epoch with the same members.

use std::collections::HashSet;

use e2e::{RoomUser, Seen, ServerProcess};
use protocol::{ErrorReason, RoomId};

/// Sends numbered texts until the connection is gone; reports each answered
/// one. A stale epoch (the owner committed) means: read the log, send again.
/// Returns the user and everything it read meanwhile.
async fn keep_saying(
    mut user: RoomUser,
    room: RoomId,
    answered: tokio::sync::mpsc::UnboundedSender<String>,
) -> (RoomUser, Vec<Seen>) {
    let mut seen = Vec::new();
    for n in 0u32.. {
        let text = format!("{} {n}", user.id());
        loop {
            match user.try_say(room, &text).await {
                Ok(Ok(_)) => {
                    let _ = answered.send(text);
                    break;
                }
                Ok(Err(ErrorReason::StaleEpoch)) => match user.sync().await {
                    Ok(more) => seen.extend(more),
                    Err(_) => return (user, seen),
                },
                _ => return (user, seen),
            }
        }
    }
    (user, seen)
}

/// The owner adds and removes dave over and over until the connection is
/// gone, reading the log between commits.
async fn keep_committing(
    mut owner: RoomUser,
    room: RoomId,
    dave: protocol::ClientId,
) -> (RoomUser, Vec<Seen>) {
    let mut seen = Vec::new();
    for round in 0u32.. {
        let step = if round % 2 == 0 {
            owner.add(room, &[dave]).await
        } else {
            owner.remove(room, &[dave]).await
        };
        match (step, owner.sync().await) {
            (Ok(_), Ok(more)) => seen.extend(more),
            _ => return (owner, seen),
        }
    }
    (owner, seen)
}

fn texts(seen: &[Seen]) -> HashSet<String> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Text { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_while_the_owner_commits_and_members_send_loses_no_answered_room_message_and_forks_nothing()
 {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    let addr = server.addr;
    let mut alice = RoomUser::new(addr, dir.path(), "alice").await.unwrap();
    let mut bob = RoomUser::new(addr, dir.path(), "bob").await.unwrap();
    let mut carol = RoomUser::new(addr, dir.path(), "carol").await.unwrap();
    let mut dave = RoomUser::new(addr, dir.path(), "dave").await.unwrap();
    alice.trust(&[&bob, &carol, &dave]);
    bob.trust(&[&alice, &carol, &dave]);
    carol.trust(&[&alice, &bob, &dave]);
    dave.trust(&[&alice, &bob, &carol]);
    let room = alice.create().await.unwrap();
    alice.add(room, &[bob.id(), carol.id()]).await.unwrap();
    bob.sync().await.unwrap();
    carol.sync().await.unwrap();
    let dave_id = dave.id();

    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let senders = vec![
        tokio::spawn(keep_saying(bob, room, tx.clone())),
        tokio::spawn(keep_saying(carol, room, tx)),
        tokio::spawn(keep_committing(alice, room, dave_id)),
    ];
    let (answered, mut stopped) = server.kill9_after(60, rx, senders).await.unwrap();
    let (mut alice, mut seen_by_alice) = stopped.pop().unwrap();
    let (mut carol, mut seen_by_carol) = stopped.pop().unwrap();
    let (mut bob, mut seen_by_bob) = stopped.pop().unwrap();

    let server = ServerProcess::start(&data, &[]).await.unwrap();
    for u in [&mut alice, &mut bob, &mut carol, &mut dave] {
        u.reconnect(server.addr).await.unwrap();
    }
    alice.settle(room).await.unwrap();
    seen_by_alice.extend(alice.sync().await.unwrap());
    seen_by_bob.extend(bob.sync().await.unwrap());
    seen_by_carol.extend(carol.sync().await.unwrap());
    // Dave may be in the room or not, depending on where the crash fell.
    dave.sync().await.unwrap();

    let bob_prefix = format!("{} ", bob.id());
    let carol_prefix = format!("{} ", carol.id());
    let (got_alice, got_bob, got_carol) = (
        texts(&seen_by_alice),
        texts(&seen_by_bob),
        texts(&seen_by_carol),
    );
    for text in &answered {
        assert!(got_alice.contains(text), "alice lost {text:?}");
        if text.starts_with(&bob_prefix) {
            assert!(got_carol.contains(text), "carol lost {text:?}");
        }
        if text.starts_with(&carol_prefix) {
            assert!(got_bob.contains(text), "bob lost {text:?}");
        }
    }
    let status = alice.status(room).await.unwrap();
    let mut members: Vec<_> = status.members.iter().map(|m| m.client).collect();
    members.sort();
    for u in [&alice, &bob, &carol] {
        let engine_room = sealpost_rooms::RoomId(room.0);
        assert_eq!(
            u.engine.epoch(engine_room).unwrap(),
            status.epoch,
            "{} forked",
            u.id()
        );
        let mut theirs: Vec<_> = u
            .engine
            .members(engine_room)
            .unwrap()
            .iter()
            .map(|m| protocol::ClientId(m.client_id.0))
            .collect();
        theirs.sort();
        assert_eq!(theirs, members, "{} sees other members", u.id());
    }
    // And the room still works.
    alice.say(room, "after the crash").await.unwrap();
    assert!(texts(&bob.sync().await.unwrap()).contains("after the crash"));
    eprintln!(
        "room crash: {} answered before SIGKILL, room at epoch {} after restart",
        answered.len(),
        status.epoch
    );
}
