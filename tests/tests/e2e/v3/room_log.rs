//! Rooms through the real server with real MLS (PROTOCOL.md "Rooms"): the
//! delivery service's guarantees, tested with members built from the
//! `sealpost-rooms` engine and raw version-3 connections ([`RoomUser`]), so
//! that a test can also misbehave on purpose. The scripted client's `room`
//! commands are tested in `rooms.rs`.

use e2e::{Engine, RoomUser, Seen, TestServer};
use protocol::v3::{self, ClaimStatus, RoomRole};
use protocol::{ErrorReason, RoomId};
use sealpost_rooms::RoomsError;

use super::server;

/// Alice (owner), bob and carol in one room; everyone trusts everyone's
/// registered key.
async fn room_of_three(
    server: &TestServer,
    dir: &std::path::Path,
) -> (RoomId, RoomUser, RoomUser, RoomUser) {
    let mut alice = RoomUser::new(server.addr, dir, "alice").await.unwrap();
    let mut bob = RoomUser::new(server.addr, dir, "bob").await.unwrap();
    let mut carol = RoomUser::new(server.addr, dir, "carol").await.unwrap();
    alice.trust(&[&bob, &carol]);
    bob.trust(&[&alice, &carol]);
    carol.trust(&[&alice, &bob]);
    let room = alice.create().await.unwrap();
    alice.add(room, &[bob.id(), carol.id()]).await.unwrap();
    for m in [&mut bob, &mut carol] {
        assert_eq!(
            m.sync().await.unwrap(),
            vec![Seen::Joined { room, epoch: 1 }]
        );
    }
    (room, alice, bob, carol)
}

/// A server on SQLite whatever `SEALPOST_TEST_ENGINE` says.
async fn sqlite_server() -> TestServer {
    TestServer::start_on(Engine::Sqlite, |_| {}).await.unwrap()
}

fn text(room: RoomId, sender: &RoomUser, text: &str) -> Seen {
    Seen::Text {
        room,
        sender: sender.id(),
        text: text.into(),
    }
}

#[tokio::test]
async fn a_removed_member_gets_nothing_after_its_removal_and_cannot_read_what_follows() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let (room, mut alice, mut bob, mut carol) = room_of_three(&server, dir.path()).await;

    alice.say(room, "hello, both").await.unwrap();
    assert_eq!(
        bob.sync().await.unwrap(),
        vec![text(room, &alice, "hello, both")]
    );
    assert_eq!(
        carol.sync().await.unwrap(),
        vec![text(room, &alice, "hello, both")]
    );

    alice.remove(room, &[carol.id()]).await.unwrap();
    let secret = alice.say(room, "carol is gone").await.unwrap();
    assert_eq!(
        bob.sync().await.unwrap(),
        vec![
            Seen::Commit {
                room,
                epoch: 2,
                removed_us: false
            },
            text(room, &alice, "carol is gone"),
        ]
    );
    // Carol learns of her removal and nothing after it.
    assert_eq!(
        carol.sync().await.unwrap(),
        vec![Seen::Commit {
            room,
            epoch: 2,
            removed_us: true
        }]
    );
    assert!(carol.sync().await.unwrap().is_empty());
    assert_eq!(
        e2e::reason_of(&carol.conn.call(v3::Request::RoomState(room)).await.unwrap()).unwrap(),
        ErrorReason::UnknownRoom
    );
    assert_eq!(bob.status(room).await.unwrap().members.len(), 2);
    // Given the bytes of what followed anyway (a message of the new epoch,
    // as the server stores it), she cannot read them.
    let message = alice
        .engine
        .send(
            sealpost_rooms::RoomId(room.0),
            &client::rooms::RoomContent::Text("for bob only".into())
                .encode()
                .unwrap(),
        )
        .unwrap();
    let entry = v3::RoomEntry {
        room,
        seq: secret + 1,
        sender: alice.id(),
        kind: v3::RoomEntryKind::Application,
        epoch: 2,
        sent_at_ms: 0,
        file: None,
        message: message.into(),
    };
    assert!(carol.read(&entry).is_err());
    assert!(bob.read(&entry).is_ok());
}

#[tokio::test]
async fn of_two_commits_for_one_epoch_exactly_one_wins_and_the_loser_retries_on_the_next() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let (room, mut alice, mut bob, mut carol) = room_of_three(&server, dir.path()).await;
    let mut dave = RoomUser::new(server.addr, dir.path(), "dave")
        .await
        .unwrap();
    // Bob becomes an admin, so both may add.
    let out = alice
        .engine
        .set_role(
            sealpost_rooms::RoomId(room.0),
            sealpost_rooms::ClientId(bob.id().0),
            sealpost_rooms::Role::Admin,
        )
        .unwrap();
    alice.publish(out).await.unwrap().unwrap();
    bob.sync().await.unwrap();
    carol.sync().await.unwrap();
    for m in [&mut alice, &mut bob, &mut carol] {
        m.trust(&[&dave]);
    }
    dave.trust(&[&alice, &bob, &carol]);

    // Both make a commit on epoch 2 before either is sent.
    let kp = |u: &mut RoomUser| u.engine.generate_key_packages(1).unwrap().remove(0).bytes;
    let dave_kp = kp(&mut dave);
    let from_alice = alice
        .engine
        .add_members(
            sealpost_rooms::RoomId(room.0),
            std::slice::from_ref(&dave_kp),
            &alice.book,
        )
        .unwrap();
    let from_bob = bob
        .engine
        .remove_members(
            sealpost_rooms::RoomId(room.0),
            &[sealpost_rooms::ClientId(carol.id().0)],
        )
        .unwrap();
    let (a, b) = tokio::join!(alice.publish(from_alice), bob.publish(from_bob));
    let outcomes = [a.unwrap(), b.unwrap()];
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes.contains(&Err(ErrorReason::StaleEpoch)),
        "{outcomes:?}"
    );
    // The loser reads the winner's commit and makes its change again.
    let loser_is_alice = outcomes[0].is_err();
    if loser_is_alice {
        alice.sync().await.unwrap();
        alice.add(room, &[dave.id()]).await.unwrap();
    } else {
        bob.sync().await.unwrap();
        bob.remove(room, &[carol.id()]).await.unwrap();
    }
    alice.sync().await.unwrap();
    bob.sync().await.unwrap();
    carol.sync().await.unwrap();
    dave.sync().await.unwrap();
    let status = alice.status(room).await.unwrap();
    assert_eq!(status.epoch, 4);
    let mut ids: Vec<_> = status.members.iter().map(|m| m.client).collect();
    ids.sort();
    let mut expected = vec![alice.id(), bob.id(), dave.id()];
    expected.sort();
    assert_eq!(ids, expected);
    for m in [&alice, &bob, &dave] {
        assert_eq!(m.engine.epoch(sealpost_rooms::RoomId(room.0)).unwrap(), 4);
        let mut members: Vec<_> = m
            .engine
            .members(sealpost_rooms::RoomId(room.0))
            .unwrap()
            .iter()
            .map(|x| protocol::ClientId(x.client_id.0))
            .collect();
        members.sort();
        assert_eq!(members, expected);
    }
}

#[tokio::test]
async fn a_plain_members_add_is_refused_by_the_server_and_by_members_when_slipped_in() {
    // SQLite: the test slips the commit into server.db itself.
    let server = sqlite_server().await;
    let dir = tempfile::tempdir().unwrap();
    let (room, mut alice, mut bob, _carol) = room_of_three(&server, dir.path()).await;
    let mut mallory = RoomUser::new(server.addr, dir.path(), "mallory")
        .await
        .unwrap();
    bob.trust(&[&mallory]);
    mallory.trust(&[&alice]);
    // Bob's own engine refuses to make the commit at all.
    let kp = mallory
        .engine
        .generate_key_packages(1)
        .unwrap()
        .remove(0)
        .bytes;
    assert!(matches!(
        bob.engine.add_members(
            sealpost_rooms::RoomId(room.0),
            std::slice::from_ref(&kp),
            &bob.book
        ),
        Err(RoomsError::Policy(_))
    ));
    // A modified client makes it anyway; the server refuses it.
    let rogue =
        sealpost_rooms::testing::rogue_add(&bob.engine, sealpost_rooms::RoomId(room.0), &kp);
    let answer = bob
        .conn
        .call(v3::Request::RoomCommit(v3::RoomCommit {
            room,
            epoch: 1,
            commit: rogue.clone().into(),
            welcome: bytes::Bytes::new(),
        }))
        .await
        .unwrap();
    assert_eq!(e2e::reason_of(&answer).unwrap(), ErrorReason::RoomRefused);
    let status = alice.status(room).await.unwrap();
    assert_eq!((status.epoch, status.members.len()), (1, 3));
    assert!(mallory.sync().await.unwrap().is_empty());

    // A malicious server slips the same commit into the log behind the
    // members' backs (a direct edit of its database): every member refuses
    // it and stays where it was.
    let db = server.config.db_path();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let next: i64 = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'next_message_id'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute(
        "INSERT INTO room_log (seq, room, sender, kind, epoch, sent_at, body)
         VALUES (?1, ?2, ?3, 2, 1, 0, ?4)",
        rusqlite::params![next + 1000, &room.0[..], &bob.id().0[..], &rogue],
    )
    .unwrap();
    drop(conn);
    let refused = alice.sync().await.unwrap_err();
    assert!(
        format!("{refused:#}").contains("may not"),
        "alice's refusal: {refused:#}"
    );
    assert_eq!(
        alice.engine.epoch(sealpost_rooms::RoomId(room.0)).unwrap(),
        1
    );
    assert_eq!(
        alice
            .engine
            .members(sealpost_rooms::RoomId(room.0))
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn a_member_offline_through_a_hundred_messages_and_two_commits_gets_all_in_order() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let (room, mut alice, mut bob, mut carol) = room_of_three(&server, dir.path()).await;
    let dave = RoomUser::new(server.addr, dir.path(), "dave")
        .await
        .unwrap();
    alice.trust(&[&dave]);
    carol.trust(&[&dave]);
    bob.trust(&[&dave]);
    // Bob goes away: his authenticated connection closes (an unauthenticated
    // one takes its place); his state stays on disk.
    bob.conn = e2e::V3Conn::open(server.addr).await.unwrap();
    let mut expected = Vec::new();
    for i in 0..50 {
        alice.say(room, &format!("message {i}")).await.unwrap();
        expected.push(text(room, &alice, &format!("message {i}")));
    }
    alice.add(room, &[dave.id()]).await.unwrap();
    expected.push(Seen::Commit {
        room,
        epoch: 2,
        removed_us: false,
    });
    carol.sync().await.unwrap();
    for i in 50..100 {
        carol.say(room, &format!("message {i}")).await.unwrap();
        expected.push(text(room, &carol, &format!("message {i}")));
    }
    alice.sync().await.unwrap();
    alice.remove(room, &[dave.id()]).await.unwrap();
    expected.push(Seen::Commit {
        room,
        epoch: 3,
        removed_us: false,
    });

    bob.reconnect(server.addr).await.unwrap();
    assert_eq!(bob.sync().await.unwrap(), expected);
    assert!(bob.sync().await.unwrap().is_empty());
}

#[tokio::test]
async fn each_key_package_is_handed_out_once_under_concurrent_claims_and_low_stock_is_told() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let mut owner = RoomUser::new(server.addr, dir.path(), "owner")
        .await
        .unwrap();
    owner.conn.call(v3::Request::Subscribe).await.unwrap();
    let mut claimers = Vec::new();
    for i in 0..4 {
        claimers.push(
            RoomUser::new(server.addr, dir.path(), &format!("claimer{i}"))
                .await
                .unwrap(),
        );
    }
    // 5 one-time packages (uploaded by `new`) and 4 claimers claiming twice
    // each at once: 5 distinct one-time packages, then the last resort.
    let target = owner.id();
    let claims = claimers.iter_mut().map(|c| async move {
        let mut got = Vec::new();
        for _ in 0..2 {
            match c
                .conn
                .call(v3::Request::KeyPackagesClaim(vec![target]))
                .await
                .unwrap()
            {
                v3::Response::KeyPackages(k) => got.push((k[0].status, k[0].key_package.clone())),
                other => panic!("{other:?}"),
            }
        }
        got
    });
    let all: Vec<_> = futures::future::join_all(claims)
        .await
        .into_iter()
        .flatten()
        .collect();
    let one_time: Vec<_> = all
        .iter()
        .filter(|(s, _)| *s == ClaimStatus::OneTime)
        .map(|(_, k)| k.clone())
        .collect();
    let distinct: std::collections::HashSet<_> = one_time.iter().collect();
    assert_eq!(one_time.len(), 5);
    assert_eq!(distinct.len(), 5);
    assert_eq!(
        all.iter()
            .filter(|(s, _)| *s == ClaimStatus::LastResort)
            .count(),
        3
    );
    // The owner was told its stock is low, and refills.
    let told = e2e::bounded("a key packages low notice", async {
        loop {
            let frame = match owner.conn.notices.pop_front() {
                Some(f) => Some(f),
                None => owner.conn.next_frame().await.unwrap(),
            };
            match frame {
                Some(v3::Response::KeyPackagesLow(n)) => break n,
                Some(_) => continue,
                None => panic!("connection closed"),
            }
        }
    })
    .await
    .unwrap();
    assert!(told < 10);
    let stock = owner.upload_key_packages(20).await.unwrap();
    assert_eq!(stock.one_time, 20);
    assert!(stock.last_resort);
}

#[tokio::test]
async fn a_room_message_is_stored_once_and_deleted_when_every_member_has_read_it() {
    // SQLite: the test counts the rows of server.db.
    let server = sqlite_server().await;
    let dir = tempfile::tempdir().unwrap();
    let (room, mut alice, mut bob, mut carol) = room_of_three(&server, dir.path()).await;
    alice.say(room, "one copy").await.unwrap();
    let db = server.config.db_path();
    let rows = |sql: &str| -> i64 {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    };
    // One row for the text, whatever the number of members.
    assert_eq!(rows("SELECT COUNT(*) FROM room_log WHERE kind = 1"), 1);
    bob.sync().await.unwrap();
    assert_eq!(rows("SELECT COUNT(*) FROM room_log WHERE kind = 1"), 1);
    carol.sync().await.unwrap();
    assert_eq!(rows("SELECT COUNT(*) FROM room_log"), 0);
    let list = match alice.call_ok(v3::Request::RoomList).await.unwrap() {
        v3::Response::RoomList(l) => l,
        other => panic!("{other:?}"),
    };
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].room, list[0].members, list[0].role),
        (room, 3, RoomRole::Owner)
    );
}

#[tokio::test]
async fn room_entries_past_their_retention_are_deleted_even_unread() {
    let mut server = TestServer::start(|c| c.room_retention = std::time::Duration::from_millis(1))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (room, mut alice, mut bob, _carol) = room_of_three(&server, dir.path()).await;
    alice.say(room, "soon gone").await.unwrap();
    let said = server::now_ms();
    e2e::bounded("the clock to pass the retention", async {
        while server::now_ms() <= said + 1 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    // Retention runs at startup and then now and then.
    server.restart().await.unwrap();
    bob.reconnect(server.addr).await.unwrap();
    alice.reconnect(server.addr).await.unwrap();
    // The log is empty once retention ran: the room's last entry is none
    // (asked through the protocol, so that both engines are tested).
    e2e::bounded("retention to run", async {
        while alice.status(room).await.unwrap().last_seq > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    assert!(bob.sync().await.unwrap().is_empty());
    // The room goes on.
    alice.say(room, "still here").await.unwrap();
    assert_eq!(
        bob.sync().await.unwrap(),
        vec![text(room, &alice, "still here")]
    );
}
