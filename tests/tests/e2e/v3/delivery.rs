//! Version-3 acknowledged delivery and push: pulls redeliver until
//! acknowledged, come in bounded batches in id order, ids never repeat, and
//! subscribed connections get pushes within their window.

use e2e::{Engine, TestIdentity, TestServer, V3Conn, pattern, reason_of};
use protocol::v3::{self, AckStatus};
use protocol::{ClientId, MessageKind};

use super::server;

#[tokio::test]
async fn pull_without_ack_redelivers_and_ack_deletes() {
    let server = server().await;
    let addr = server.addr;
    let (mut alice, _) = V3Conn::new_user(addr, "alice").await.unwrap();
    let (mut bob, bob_keys) = V3Conn::new_user(addr, "bob").await.unwrap();
    let (mut carol, _) = V3Conn::new_user(addr, "carol").await.unwrap();
    let first = alice.send_text(bob.client_id, b"one").await.unwrap();
    let second = alice.send_text(bob.client_id, b"two").await.unwrap();
    assert!(second > first);

    let batch = bob.pull().await.unwrap();
    assert_eq!(batch.messages.len(), 2);
    assert!(!batch.more);
    assert_eq!(&batch.messages[0].content[..], b"one");
    assert_eq!(batch.messages[0].sender, alice.client_id);
    // Reconnect without acknowledging: the same messages again.
    let bob_id = bob.client_id;
    drop(bob);
    let mut bob = V3Conn::open(addr).await.unwrap();
    bob.authenticate(bob_id, &bob_keys).await.unwrap();
    let again = bob.pull().await.unwrap();
    assert_eq!(
        again
            .messages
            .iter()
            .map(|m| m.message_id)
            .collect::<Vec<_>>(),
        vec![first, second]
    );
    // Someone else's id is not theirs to remove.
    assert_eq!(
        carol.ack(vec![first]).await.unwrap(),
        vec![AckStatus::NotWaiting]
    );
    assert_eq!(bob.pull().await.unwrap().messages.len(), 2);
    // Acknowledging removes; a second acknowledgement is harmless.
    assert_eq!(
        bob.ack(vec![first, second, 999_999]).await.unwrap(),
        vec![
            AckStatus::Removed,
            AckStatus::Removed,
            AckStatus::NotWaiting
        ]
    );
    assert!(bob.pull().await.unwrap().messages.is_empty());
    assert_eq!(
        bob.ack(vec![first]).await.unwrap(),
        vec![AckStatus::NotWaiting]
    );
}

#[tokio::test]
async fn pulls_are_bounded_batches_in_id_order() {
    let server = server().await;
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let (mut bob, _) = V3Conn::new_user(server.addr, "bob").await.unwrap();
    let mut sent = Vec::new();
    for i in 0..25u32 {
        sent.push(
            alice
                .send_text(bob.client_id, &pattern(i.into(), 1000))
                .await
                .unwrap(),
        );
    }
    let limited = bob
        .call(v3::Request::Pull(v3::Pull {
            max_messages: 10,
            max_bytes: 0,
        }))
        .await
        .unwrap();
    let v3::Response::Messages(batch) = limited else {
        panic!()
    };
    assert_eq!(batch.messages.len(), 10);
    assert!(batch.more);
    // A byte limit smaller than one message still returns one.
    let tiny = bob
        .call(v3::Request::Pull(v3::Pull {
            max_messages: 0,
            max_bytes: 10,
        }))
        .await
        .unwrap();
    let v3::Response::Messages(batch) = tiny else {
        panic!()
    };
    assert_eq!(batch.messages.len(), 1);
    assert!(batch.more);
    // Acknowledge batch by batch until empty; ids come in order.
    let mut seen: Vec<u64> = Vec::new();
    loop {
        let batch = bob
            .call(v3::Request::Pull(v3::Pull {
                max_messages: 7,
                max_bytes: 0,
            }))
            .await
            .unwrap();
        let v3::Response::Messages(batch) = batch else {
            panic!()
        };
        let ids: Vec<u64> = batch.messages.iter().map(|m| m.message_id).collect();
        seen.extend(&ids);
        if ids.is_empty() {
            break;
        }
        bob.ack(ids).await.unwrap();
    }
    assert_eq!(seen, sent);
}

/// Sends pipelined on one connection are stored, answered and delivered in
/// the order they were sent, on either engine: the PostgreSQL engine once
/// let two of them race for the recipient's next id.
#[tokio::test]
async fn pipelined_sends_arrive_in_the_order_sent() {
    let server = server().await;
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let (mut bob, _) = V3Conn::new_user(server.addr, "bob").await.unwrap();
    const N: u32 = 400;
    for i in 0..N {
        let send = v3::Request::SendMessage(v3::SendMessage {
            destination: bob.client_id,
            kind: MessageKind::Text,
            content: i.to_be_bytes().to_vec().into(),
        });
        // Fed without a flush, then flushed at once: one burst.
        if i + 1 < N {
            alice.feed(send).await.unwrap();
        } else {
            alice.send(send).await.unwrap();
        }
    }
    let mut ids = Vec::new();
    for _ in 0..N {
        match alice.answer().await.unwrap() {
            v3::Response::MessageStored(m) => ids.push(m.message_id),
            other => panic!("send answered {other:?}"),
        }
    }
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids out of order: {ids:?}"
    );
    let mut contents = Vec::new();
    for _ in 0..N {
        let batch = bob.pull().await.unwrap();
        if batch.messages.is_empty() {
            break;
        }
        let got: Vec<u64> = batch.messages.iter().map(|m| m.message_id).collect();
        contents.extend(batch.messages.iter().map(|m| m.content.to_vec()));
        bob.ack(got).await.unwrap();
    }
    let expected: Vec<Vec<u8>> = (0..N).map(|i| i.to_be_bytes().to_vec()).collect();
    assert_eq!(contents, expected);
}

/// An acknowledgement is one statement over its ids (up to 256): it removes
/// exactly the caller's messages it names, whatever their order, gaps
/// between them, repeats, or ids of another recipient, and answers each id
/// in the order given.
#[tokio::test]
async fn one_ack_removes_exactly_the_named_ids_with_gaps_repeats_and_strangers() {
    let server = server().await;
    let [mut alice, mut bob, mut carol] = users(server.addr, ["alice", "bob", "carol"]).await;
    let mut to_bob = Vec::new();
    for i in 0..5u8 {
        to_bob.push(alice.send_text(bob.client_id, &[i]).await.unwrap());
    }
    let to_carol = alice.send_text(carol.client_id, b"c").await.unwrap();
    // Interleaved ids: carol's lies between bob's.
    let between = alice.send_text(bob.client_id, b"5").await.unwrap();
    assert!(between > to_carol);
    let statuses = bob
        .ack(vec![
            to_bob[4], to_bob[0], to_bob[2], to_bob[0], to_carol, between, to_bob[2],
        ])
        .await
        .unwrap();
    use AckStatus::{NotWaiting, Removed};
    assert_eq!(
        statuses,
        vec![
            Removed, Removed, Removed, NotWaiting, NotWaiting, Removed, NotWaiting
        ]
    );
    // The gaps stay, in order, and carol's message is untouched.
    assert_eq!(waiting(&mut bob).await, vec![to_bob[1], to_bob[3]]);
    assert_eq!(&bob.pull().await.unwrap().messages[0].content[..], &[1]);
    assert_eq!(waiting(&mut carol).await, vec![to_carol]);
    assert_eq!(
        bob.ack(vec![to_bob[3], to_bob[1]]).await.unwrap(),
        vec![Removed, Removed]
    );
    assert!(bob.pull().await.unwrap().messages.is_empty());
}

/// An acknowledgement larger than one removal statement (256 ids) is
/// answered id by id the same way: a repeat in a later statement than its
/// first occurrence, another recipient's id and an unknown id are not
/// waiting, every named message of the caller is removed once, and nothing
/// else is touched.
#[tokio::test]
async fn an_ack_of_more_ids_than_one_statement_takes_answers_each_id_once() {
    let server = server().await;
    let [mut alice, mut bob, mut carol] = users(server.addr, ["alice", "bob", "carol"]).await;
    let to_bob = send_numbered(&mut alice, bob.client_id, 600).await;
    let to_carol = alice.send_text(carol.client_id, b"c").await.unwrap();
    // Newest first, the oldest left waiting, repeats and strangers spread
    // over the statements: positions 0..=589 name 590 of bob's ids.
    let mut asked: Vec<u64> = to_bob[10..].iter().rev().copied().collect();
    asked.insert(300, to_bob[599]);
    asked.insert(100, to_carol);
    asked.push(to_bob[11]);
    asked.push(u64::MAX);
    asked.push(i64::MAX as u64 + 5);
    let statuses = bob.ack(asked.clone()).await.unwrap();
    assert_eq!(statuses.len(), asked.len());
    let mut seen = std::collections::HashSet::new();
    for (id, status) in asked.iter().zip(&statuses) {
        let expected = if to_bob[10..].contains(id) && seen.insert(*id) {
            AckStatus::Removed
        } else {
            AckStatus::NotWaiting
        };
        assert_eq!(*status, expected, "id {id}");
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == AckStatus::Removed)
            .count(),
        590
    );
    assert_eq!(waiting(&mut bob).await, to_bob[..10].to_vec());
    assert_eq!(waiting(&mut carol).await, vec![to_carol]);
}

/// An acknowledgement that meets a damaged row (a sender of the wrong
/// size in `server.db`) is refused whole: nothing it names is removed, the
/// refusal is an error answer, and the connection and the healthy rows
/// carry on. The messages are stored before a restart, so that the writer
/// reads them back rather than knowing them (`store::writer::recent`).
/// SQLite whatever `SEALPOST_TEST_ENGINE` says: it edits `server.db`.
#[tokio::test]
async fn an_ack_that_meets_a_damaged_row_removes_nothing() {
    let mut server = TestServer::start_on(Engine::Sqlite, |_| {}).await.unwrap();
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let (bob, bob_keys) = V3Conn::new_user(server.addr, "bob").await.unwrap();
    let bob_id = bob.client_id;
    let good = alice.send_text(bob_id, b"good").await.unwrap();
    let damaged = alice.send_text(bob_id, b"damaged").await.unwrap();
    drop((alice, bob));
    server.restart().await.unwrap();
    let mut bob = V3Conn::open(server.addr).await.unwrap();
    bob.authenticate(bob_id, &bob_keys).await.unwrap();
    let db = rusqlite::Connection::open(server.config.data_dir.join("server.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    let stored = || -> Vec<u64> {
        let mut ids = db
            .prepare("SELECT id FROM messages WHERE recipient = ?1 ORDER BY id")
            .unwrap();
        ids.query_map([&bob_id.0[..]], |r| r.get::<_, i64>(0))
            .unwrap()
            .map(|id| id.unwrap() as u64)
            .collect()
    };
    assert_eq!(
        db.execute(
            "UPDATE messages SET sender = x'0102' WHERE id = ?1",
            [damaged as i64]
        )
        .unwrap(),
        1
    );

    let answer = bob
        .call(v3::Request::Ack(vec![good, damaged]))
        .await
        .unwrap();
    assert!(reason_of(&answer).is_ok(), "answered {answer:?}");
    assert_eq!(stored(), vec![good, damaged]);

    assert_eq!(bob.ack(vec![good]).await.unwrap(), vec![AckStatus::Removed]);
    assert_eq!(stored(), vec![damaged]);
}

/// Messages the writer stored in this run are acknowledged without being
/// read back: each acknowledgement still removes each named message once
/// and gives back exactly its place in the inbox, also when the same id is
/// acknowledged twice in one pipelined burst (one batch) or in one
/// acknowledgement, and after a restart (read back then).
#[tokio::test]
async fn acknowledging_fresh_messages_gives_back_their_inbox_places_once() {
    let mut server = TestServer::start(|c| c.inbox_max_messages = 3)
        .await
        .unwrap();
    let (mut alice, alice_keys) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let (mut bob, bob_keys) = V3Conn::new_user(server.addr, "bob").await.unwrap();
    let (alice_id, bob_id) = (alice.client_id, bob.client_id);
    let first = fill_inbox(&mut alice, bob_id).await;
    assert_eq!(first.len(), 3);
    use AckStatus::{NotWaiting, Removed};
    // Two acknowledgements of the same id in one burst: removed once.
    bob.feed(v3::Request::Ack(vec![first[0]])).await.unwrap();
    bob.feed(v3::Request::Ack(vec![first[0], first[1]]))
        .await
        .unwrap();
    bob.flush().await.unwrap();
    let answers = [bob.answer().await.unwrap(), bob.answer().await.unwrap()];
    assert_eq!(
        answers,
        [
            v3::Response::Acked(vec![Removed]),
            v3::Response::Acked(vec![NotWaiting, Removed]),
        ]
    );
    // Two places free, not three.
    let second = fill_inbox(&mut alice, bob_id).await;
    assert_eq!(second.len(), 2);
    // One acknowledgement naming an id twice.
    assert_eq!(
        bob.ack(vec![second[0], second[0], first[2]]).await.unwrap(),
        vec![Removed, NotWaiting, Removed]
    );
    let third = fill_inbox(&mut alice, bob_id).await;
    assert_eq!(third.len(), 2);
    assert_eq!(waiting(&mut bob).await, vec![second[1], third[0], third[1]]);
    // After a restart the writer knows none of them: read, then removed.
    drop((alice, bob));
    server.restart().await.unwrap();
    let mut bob = V3Conn::open(server.addr).await.unwrap();
    bob.authenticate(bob_id, &bob_keys).await.unwrap();
    assert_eq!(
        bob.ack(vec![third[1], second[1]]).await.unwrap(),
        vec![Removed, Removed]
    );
    let mut alice = V3Conn::open(server.addr).await.unwrap();
    alice.authenticate(alice_id, &alice_keys).await.unwrap();
    assert_eq!(fill_inbox(&mut alice, bob_id).await.len(), 2);
}

/// New users on `addr`, connected and authenticated, one per name.
async fn users<const N: usize>(addr: std::net::SocketAddr, names: [&str; N]) -> [V3Conn; N] {
    let mut conns = Vec::with_capacity(N);
    for name in names {
        conns.push(V3Conn::new_user(addr, name).await.unwrap().0);
    }
    conns.try_into().unwrap_or_else(|_| unreachable!())
}

/// Sends `to` the texts 0, 1, ... `n - 1` (little-endian u32) from `from`,
/// one after the other; their ids in order.
async fn send_numbered(from: &mut V3Conn, to: ClientId, n: u32) -> Vec<u64> {
    let mut ids = Vec::with_capacity(n as usize);
    for i in 0..n {
        ids.push(from.send_text(to, &i.to_le_bytes()).await.unwrap());
    }
    ids
}

/// Sends `to` texts until its inbox is full (at most 3 of them): their ids.
async fn fill_inbox(from: &mut V3Conn, to: ClientId) -> Vec<u64> {
    let mut ids = Vec::new();
    while let Ok(id) = from.send_text(to, b"m").await {
        ids.push(id);
        assert!(ids.len() <= 3, "more than the inbox holds");
    }
    ids
}

/// The ids of the messages a pull hands `conn` (its first batch).
async fn waiting(conn: &mut V3Conn) -> Vec<u64> {
    let batch = conn.pull().await.unwrap();
    batch.messages.iter().map(|m| m.message_id).collect()
}

#[tokio::test]
async fn message_ids_never_repeat_after_deletion_and_restart() {
    let mut server = server().await;
    let alice_keys = TestIdentity::generate();
    let bob_keys = TestIdentity::generate();
    let mut conn = V3Conn::open(server.addr).await.unwrap();
    let alice = conn.register("alice", &alice_keys).await.unwrap();
    let bob = conn.register("bob", &bob_keys).await.unwrap();
    conn.authenticate(alice, &alice_keys).await.unwrap();
    let first = conn.send_text(bob, b"x").await.unwrap();
    let mut b = V3Conn::open(server.addr).await.unwrap();
    b.authenticate(bob, &bob_keys).await.unwrap();
    b.ack(vec![first]).await.unwrap();
    drop((conn, b));
    server.restart().await.unwrap();
    let mut conn = V3Conn::open(server.addr).await.unwrap();
    conn.authenticate(alice, &alice_keys).await.unwrap();
    let next = conn.send_text(bob, b"y").await.unwrap();
    assert!(next > first, "id {next} after {first}");
}

#[tokio::test]
async fn subscribed_client_gets_pushes_without_pulling() {
    let server = server().await;
    let addr = server.addr;
    let (mut alice, _) = V3Conn::new_user(addr, "alice").await.unwrap();
    let (mut bob, bob_keys) = V3Conn::new_user(addr, "bob").await.unwrap();
    // One message waiting before the subscription comes first.
    let early = alice.send_text(bob.client_id, b"early").await.unwrap();
    assert_eq!(
        bob.call(v3::Request::Subscribe).await.unwrap(),
        v3::Response::Subscribed { waiting: 1 }
    );
    let pushed = bob.next_push().await.unwrap();
    assert_eq!(pushed.message_id, early);
    // A second connection of bob, also subscribed.
    let mut bob2 = bob.again(addr, &bob_keys).await.unwrap();
    assert_eq!(
        bob2.call(v3::Request::Subscribe).await.unwrap(),
        v3::Response::Subscribed { waiting: 1 }
    );
    assert_eq!(bob2.next_push().await.unwrap().message_id, early);
    // A new message reaches both connections, with no pull.
    let live = alice.send_text(bob.client_id, b"live").await.unwrap();
    for conn in [&mut bob, &mut bob2] {
        let d = conn.next_push().await.unwrap();
        assert_eq!(d.message_id, live);
        assert_eq!(&d.content[..], b"live");
        assert_eq!(d.sender, alice.client_id);
        assert_eq!(d.kind, MessageKind::Text);
    }
    // The first acknowledgement removes; the other connection's then says so.
    assert_eq!(
        bob.ack(vec![early, live]).await.unwrap(),
        vec![AckStatus::Removed; 2]
    );
    assert_eq!(
        bob2.ack(vec![live]).await.unwrap(),
        vec![AckStatus::NotWaiting]
    );
}

#[tokio::test]
async fn push_window_holds_back_until_acknowledged() {
    let server = TestServer::start(|c| c.push_window = 5).await.unwrap();
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let (mut bob, _) = V3Conn::new_user(server.addr, "bob").await.unwrap();
    bob.call(v3::Request::Subscribe).await.unwrap();
    let sent = send_numbered(&mut alice, bob.client_id, 20).await;
    let mut received: Vec<u64> = Vec::new();
    for round in 0u64.. {
        if received.len() >= 20 {
            break;
        }
        // Read what arrives: never more than the window before an ack. A
        // ping answered after the first push brings along (set aside by
        // `call`) whatever else the server pushed before answering it.
        let mut burst = vec![bob.next_push().await.unwrap().message_id];
        assert_eq!(
            bob.call(v3::Request::Ping(round)).await.unwrap(),
            v3::Response::Pong(round)
        );
        burst.extend(bob.pushed.drain(..).map(|d| d.message_id));
        assert!(
            burst.len() <= 5,
            "{} pushed while the window is 5",
            burst.len()
        );
        received.extend(&burst);
        bob.ack(burst).await.unwrap();
    }
    assert_eq!(received, sent);
}
