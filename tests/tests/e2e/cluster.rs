//! Several servers on one PostgreSQL database (a throwaway cluster of the
//! test's own) and one shared file folder: each node serves every client,
//! whichever node it registered or stored through. Also the self-test
//! against a PostgreSQL-backed server binary.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use e2e::{
    Postgres, RoomUser, Seen, ServerProcess, TestIdentity, TestServer, V3Conn, bounded, pattern,
    reason_of,
};
use protocol::{ErrorReason, MessageKind, Name, v3};
use sha2::{Digest, Sha256};

use crate::v3::{begin_upload, download_all, finish_upload, resume_upload, upload_range};

/// A throwaway PostgreSQL for one test.
pub(crate) async fn postgres() -> Arc<Postgres> {
    Arc::new(
        tokio::task::spawn_blocking(Postgres::start)
            .await
            .unwrap()
            .unwrap(),
    )
}

/// Two nodes on `pg` sharing `files`.
pub(crate) async fn two_nodes(pg: &Arc<Postgres>, files: &Path) -> (TestServer, TestServer) {
    two_nodes_with(pg, files, |_| {}).await
}

/// Two nodes on `pg` sharing `files`, both with the defaults changed by `adjust`.
pub(crate) async fn two_nodes_with(
    pg: &Arc<Postgres>,
    files: &Path,
    adjust: fn(&mut server::Options),
) -> (TestServer, TestServer) {
    let a = TestServer::start_node(pg, files, adjust).await.unwrap();
    let b = TestServer::start_node(pg, files, adjust).await.unwrap();
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_through_node_a_is_pushed_to_bob_on_node_b_and_his_ack_on_b_removes_it() {
    let pg = postgres().await;
    let files = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(&pg, files.path()).await;
    let (mut alice, _) = V3Conn::new_user(a.addr, "alice").await.unwrap();
    let (mut bob, bob_keys) = V3Conn::new_user(b.addr, "bob").await.unwrap();
    assert_eq!(
        bob.call(v3::Request::Subscribe).await.unwrap(),
        v3::Response::Subscribed { waiting: 0 }
    );
    // Bob registered through B is found through A.
    let found = alice
        .call(v3::Request::LookupName(Name::new("bob").unwrap()))
        .await
        .unwrap();
    assert!(
        matches!(&found, v3::Response::PublicKey(k) if k.client_id == bob.client_id),
        "{found:?}"
    );
    let id = alice
        .send_text(bob.client_id, b"hello across")
        .await
        .unwrap();
    let pushed = bob.next_push().await.unwrap();
    assert_eq!(pushed.message_id, id);
    assert_eq!(&pushed.content[..], b"hello across");
    assert_eq!(pushed.sender, alice.client_id);
    // Bob through A sees it too, until he acknowledges it through B.
    let mut bob_on_a = bob.again(a.addr, &bob_keys).await.unwrap();
    let waiting = bob_on_a.pull().await.unwrap();
    assert_eq!(
        waiting
            .messages
            .iter()
            .map(|m| m.message_id)
            .collect::<Vec<_>>(),
        vec![id]
    );
    assert_eq!(
        bob.ack(vec![id]).await.unwrap(),
        vec![v3::AckStatus::Removed]
    );
    assert!(bob_on_a.pull().await.unwrap().messages.is_empty());
    assert_eq!(
        bob_on_a.ack(vec![id]).await.unwrap(),
        vec![v3::AckStatus::NotWaiting]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_grow_per_recipient_whichever_node_stores_the_message() {
    let pg = postgres().await;
    let files = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(&pg, files.path()).await;
    let (mut alice, _) = V3Conn::new_user(a.addr, "alice").await.unwrap();
    let (mut carol, _) = V3Conn::new_user(b.addr, "carol").await.unwrap();
    let (mut bob, _) = V3Conn::new_user(a.addr, "bob").await.unwrap();
    let mut sent = Vec::new();
    for i in 0..10u8 {
        let through = if i % 2 == 0 { &mut alice } else { &mut carol };
        sent.push(through.send_text(bob.client_id, &[i]).await.unwrap());
    }
    assert!(sent.windows(2).all(|w| w[0] < w[1]), "{sent:?}");
    let batch = bob.pull().await.unwrap();
    let pulled: Vec<u64> = batch.messages.iter().map(|m| m.message_id).collect();
    assert_eq!(pulled, sent);
    let contents: Vec<u8> = batch.messages.iter().map(|m| m.content[0]).collect();
    assert_eq!(contents, (0..10).collect::<Vec<u8>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_registered_through_one_node_is_taken_on_the_other() {
    let pg = postgres().await;
    let files = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(&pg, files.path()).await;
    V3Conn::new_user(a.addr, "dave").await.unwrap();
    let mut conn = V3Conn::open(b.addr).await.unwrap();
    let err = conn
        .register("DAVE", &TestIdentity::generate())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("NameTaken"), "{err:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbox_quota_counts_messages_stored_through_every_node() {
    let pg = postgres().await;
    let files = tempfile::tempdir().unwrap();
    let limit = |o: &mut server::Options| o.inbox_max_messages = 2;
    let a = TestServer::start_node(&pg, files.path(), limit)
        .await
        .unwrap();
    let b = TestServer::start_node(&pg, files.path(), limit)
        .await
        .unwrap();
    let (mut alice, _) = V3Conn::new_user(a.addr, "alice").await.unwrap();
    let (mut carol, _) = V3Conn::new_user(b.addr, "carol").await.unwrap();
    let (mut bob, _) = V3Conn::new_user(b.addr, "bob").await.unwrap();
    alice.send_text(bob.client_id, b"1").await.unwrap();
    carol.send_text(bob.client_id, b"2").await.unwrap();
    let third = alice
        .call(v3::Request::SendMessage(v3::SendMessage {
            destination: bob.client_id,
            kind: MessageKind::Text,
            content: bytes::Bytes::from_static(b"3"),
        }))
        .await
        .unwrap();
    assert_eq!(reason_of(&third).unwrap(), ErrorReason::InboxFull);
    // An acknowledgement through either node makes room on both.
    let first = bob.pull().await.unwrap().messages[0].message_id;
    bob.ack(vec![first]).await.unwrap();
    alice.send_text(bob.client_id, b"3").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_on_node_a_resumes_on_node_b_and_downloads_from_a() {
    let files = tempfile::tempdir().unwrap();
    upload_cut_on_a_resumed_on_b(Some(files.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_on_node_a_resumes_on_node_b_and_downloads_from_a_bodies_in_postgres() {
    upload_cut_on_a_resumed_on_b(None).await;
}

/// An upload cut after 5 MiB on node A, resumed on node B, downloaded from
/// A and hash-compared; bodies in the shared folder `files` or (`None`) in
/// PostgreSQL, where every stored chunk is committed with the offset, so
/// the resume starts exactly at 5 MiB.
async fn upload_cut_on_a_resumed_on_b(files: Option<&Path>) {
    const SIZE: usize = 12 << 20;
    let pg = postgres().await;
    let a = TestServer::start_node_with(&pg, files, |_| {})
        .await
        .unwrap();
    let b = TestServer::start_node_with(&pg, files, |_| {})
        .await
        .unwrap();
    assert_eq!(a.config.bodies_in_database(), files.is_none());
    let (mut alice, alice_keys) = V3Conn::new_user(a.addr, "alice").await.unwrap();
    let (bob, bob_keys) = V3Conn::new_user(b.addr, "bob").await.unwrap();
    let data = pattern(12, SIZE);
    let status = begin_upload(&mut alice, bob.client_id, SIZE as u64).await;
    let part = upload_range(&mut alice, status.upload_id, &data, 0, 5 << 20).await;
    assert!(matches!(part, v3::Response::ChunkStored(c) if c.next_offset == 5 << 20));
    let alice_id = alice.client_id;
    drop(alice);
    let mut alice = V3Conn::open(b.addr).await.unwrap();
    alice.authenticate(alice_id, &alice_keys).await.unwrap();
    let resumed = resume_upload(&mut alice, status.upload_id).await;
    assert!(resumed.offset <= 5 << 20, "{}", resumed.offset);
    if files.is_none() {
        assert_eq!(resumed.offset, 5 << 20, "every stored chunk is durable");
    }
    let sent = finish_upload(&mut alice, status.upload_id, &data, resumed.offset as usize).await;
    let mut bob_on_a = bob.again(a.addr, &bob_keys).await.unwrap();
    let offer = bob_on_a.pull().await.unwrap().messages[0].clone();
    assert_eq!(offer.kind, MessageKind::File);
    assert_eq!(offer.message_id, sent.message_id);
    let got = download_all(&mut bob_on_a, sent.message_id, SIZE as u64).await;
    assert_eq!(Sha256::digest(&got), Sha256::digest(&data));
    assert_eq!(
        bob_on_a.ack(vec![sent.message_id]).await.unwrap(),
        vec![v3::AckStatus::Removed]
    );
    bounded("the body to be deleted", async {
        while a.bodies().await.unwrap() > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_made_through_node_a_pushes_to_bob_on_node_b_and_a_commit_through_b_reaches_a() {
    let pg = postgres().await;
    let files = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(&pg, files.path()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut alice = RoomUser::new(a.addr, dir.path(), "alice").await.unwrap();
    let mut bob = RoomUser::new(b.addr, dir.path(), "bob").await.unwrap();
    let mut carol = RoomUser::new(a.addr, dir.path(), "carol").await.unwrap();
    alice.trust(&[&bob, &carol]);
    bob.trust(&[&alice, &carol]);
    carol.trust(&[&alice, &bob]);
    // Alice, on A, makes the room and adds bob, who joins through B.
    let room = alice.create().await.unwrap();
    alice.add(room, &[bob.id()]).await.unwrap();
    assert_eq!(
        bob.sync().await.unwrap(),
        vec![Seen::Joined { room, epoch: 1 }]
    );
    assert_eq!(
        bob.conn.call(v3::Request::Subscribe).await.unwrap(),
        v3::Response::Subscribed { waiting: 0 }
    );
    // What alice says through A is pushed to bob's session on B.
    let seq = alice.say(room, "hello across").await.unwrap();
    let pushed = loop {
        match bob.conn.next_frame().await.unwrap() {
            Some(v3::Response::RoomDelivery(entry)) => break entry,
            Some(v3::Response::KeyPackagesLow(_)) => {}
            other => panic!("expected a room entry, got {other:?}"),
        }
    };
    assert_eq!((pushed.room, pushed.seq), (room, seq));
    assert_eq!(
        bob.read(&pushed).unwrap(),
        Seen::Text {
            room,
            sender: alice.id(),
            text: "hello across".into()
        }
    );
    // Bob acknowledges it through B (read once: its keys are spent).
    let acked = bob
        .conn
        .call(v3::Request::RoomAck(vec![v3::RoomCursor { room, seq }]))
        .await
        .unwrap();
    assert!(matches!(acked, v3::Response::RoomAcked(_)), "{acked:?}");
    // Alice commits through B (adding carol); A serves the new epoch, and
    // carol, on A, joins from the welcome stored through B.
    alice.reconnect(b.addr).await.unwrap();
    alice.add(room, &[carol.id()]).await.unwrap();
    assert_eq!(
        carol.sync().await.unwrap(),
        vec![Seen::Joined { room, epoch: 2 }]
    );
    let status = carol.status(room).await.unwrap();
    assert_eq!(status.epoch, 2);
    assert_eq!(status.members.len(), 3);
    // Bob sees the commit and reads what follows it.
    alice.say(room, "three of us").await.unwrap();
    let seen = bob.sync().await.unwrap();
    assert_eq!(
        seen.last(),
        Some(&Seen::Text {
            room,
            sender: alice.id(),
            text: "three of us".into()
        }),
        "{seen:?}"
    );
    assert!(
        seen.contains(&Seen::Commit {
            room,
            epoch: 2,
            removed_us: false
        }),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_packages_claimed_through_two_nodes_at_once_are_each_handed_out_once() {
    let pg = postgres().await;
    let files = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(&pg, files.path()).await;
    let dir = tempfile::tempdir().unwrap();
    // Five one-time packages and a last-resort one, through A.
    let owner = RoomUser::new(a.addr, dir.path(), "owner").await.unwrap();
    let mut claimers = Vec::new();
    for (i, addr) in [a.addr, b.addr, a.addr, b.addr].into_iter().enumerate() {
        let (conn, _) = V3Conn::new_user(addr, &format!("claimer{i}"))
            .await
            .unwrap();
        claimers.push(conn);
    }
    let target = owner.id();
    let tasks: Vec<_> = claimers
        .into_iter()
        .map(|mut conn| {
            tokio::spawn(async move {
                let mut got = Vec::new();
                for _ in 0..3 {
                    match conn
                        .call(v3::Request::KeyPackagesClaim(vec![target]))
                        .await
                        .unwrap()
                    {
                        v3::Response::KeyPackages(mut c) => got.push(c.remove(0)),
                        other => panic!("claim answered {other:?}"),
                    }
                }
                got
            })
        })
        .collect();
    let mut one_time = Vec::new();
    let mut last_resort = 0;
    for t in tasks {
        for claimed in t.await.unwrap() {
            match claimed.status {
                v3::ClaimStatus::OneTime => one_time.push(claimed.key_package),
                v3::ClaimStatus::LastResort => last_resort += 1,
                v3::ClaimStatus::None => panic!("the last-resort package is kept"),
            }
        }
    }
    assert_eq!(one_time.len(), 5);
    let distinct: std::collections::HashSet<_> = one_time.iter().collect();
    assert_eq!(distinct.len(), 5);
    assert_eq!(last_resort, 12 - 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_test_against_a_postgres_backed_server_binary_passes_all() {
    let pg = postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let url = pg.url();
    let server = ServerProcess::start(&dir.path().join("data"), &["--database", &url])
        .await
        .unwrap();
    let home = dir.path().join("runner");
    std::fs::create_dir_all(&home).unwrap();
    let (ok, out, err) = e2e::run_client_with_stdin(server.addr, &home, &["test"], None).await;
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("16 passed, 0 failed"), "{out}\n{err}");
}

/// Sends from many connections through one node share the node's insert
/// transactions (its group commit), and acknowledgements from many
/// sessions share delete transactions; each still gets its own answer. One
/// sender goes over its quota among the others: only its sends past the
/// quota are refused, everyone else's in the same transactions are stored,
/// each once, in each sender's order; and the counts the batched removals
/// give back are exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn senders_sharing_a_transaction_each_get_their_own_answer_when_one_is_over_quota() {
    const SENDERS: usize = 8;
    const EACH: usize = 5;
    // Sender 0 sends 400-byte texts against a quota of 1,000 bytes: its
    // first two are stored, the rest refused. The others send 50 bytes.
    let size = |i: usize| if i == 0 { 400 } else { 50 };
    let text = |i: usize, k: usize| {
        let mut t = format!("{i}:{k}:").into_bytes();
        t.resize(size(i), b'.');
        Bytes::from(t)
    };
    let pg = postgres().await;
    let files = tempfile::tempdir().unwrap();
    let node = TestServer::start_node(&pg, files.path(), |o| o.sender_max_bytes = 1000)
        .await
        .unwrap();
    let (mut bob, bob_keys) = V3Conn::new_user(node.addr, "bob").await.unwrap();
    let mut senders = Vec::new();
    for i in 0..SENDERS {
        let (conn, _) = V3Conn::new_user(node.addr, &format!("sender{i}"))
            .await
            .unwrap();
        senders.push(conn);
    }
    // Every sender queues its sends, then all flush at once: the node
    // receives about forty sends together, from eight connections.
    let to = bob.client_id;
    for (i, s) in senders.iter_mut().enumerate() {
        for k in 0..EACH {
            s.feed(v3::Request::SendMessage(v3::SendMessage {
                destination: to,
                kind: MessageKind::Text,
                content: text(i, k),
            }))
            .await
            .unwrap();
        }
    }
    let answers = futures::future::join_all(senders.iter_mut().map(|s| async move {
        s.flush().await.unwrap();
        let mut got = Vec::new();
        for _ in 0..EACH {
            got.push(s.answer().await.unwrap());
        }
        got
    }))
    .await;
    let mut stored: HashMap<u64, (usize, usize)> = HashMap::new();
    for (i, got) in answers.iter().enumerate() {
        let mut last = 0;
        for (k, answer) in got.iter().enumerate() {
            if i == 0 && k >= 2 {
                assert_eq!(
                    reason_of(answer).unwrap(),
                    ErrorReason::SenderBytesFull,
                    "sender 0, send {k}"
                );
                continue;
            }
            let v3::Response::MessageStored(m) = answer else {
                panic!("sender {i}, send {k}: {answer:?}");
            };
            assert!(m.message_id > last, "sender {i}: ids in the order sent");
            last = m.message_id;
            assert!(stored.insert(m.message_id, (i, k)).is_none());
        }
    }
    assert_eq!(stored.len(), 2 + (SENDERS - 1) * EACH);
    // Bob finds each stored text once, under the id it was answered with.
    let mut found = HashMap::new();
    let mut after = 0;
    for _ in 0..stored.len() {
        let batch = bob.pull().await.unwrap();
        let fresh: Vec<_> = batch
            .messages
            .into_iter()
            .filter(|m| m.message_id > after)
            .collect();
        let Some(last) = fresh.last() else { break };
        after = last.message_id;
        for m in fresh {
            let (i, k) = stored[&m.message_id];
            assert_eq!(m.content, text(i, k));
            assert!(found.insert(m.message_id, (i, k)).is_none());
        }
        if !batch.more {
            break;
        }
    }
    assert_eq!(found, stored);
    // Four sessions of bob acknowledge a quarter each at once; the first
    // also names an id of the second's and one that never was.
    let mut ids: Vec<u64> = stored.keys().copied().collect();
    ids.sort_unstable();
    let quarters: Vec<Vec<u64>> = ids
        .chunks(ids.len().div_ceil(4))
        .map(<[u64]>::to_vec)
        .collect();
    let mut sessions = vec![bob];
    for _ in 1..quarters.len() {
        let session = sessions[0].again(node.addr, &bob_keys).await.unwrap();
        sessions.push(session);
    }
    let mut asks = quarters.clone();
    asks[0].push(quarters[1][0]);
    asks[0].push(u64::MAX >> 2);
    let acks = futures::future::join_all(
        sessions
            .iter_mut()
            .zip(asks.clone())
            .map(|(s, ids)| async move { s.ack(ids).await.unwrap() }),
    )
    .await;
    let removed = |statuses: &[v3::AckStatus]| {
        statuses
            .iter()
            .filter(|s| **s == v3::AckStatus::Removed)
            .count()
    };
    for (q, statuses) in acks.iter().enumerate().skip(2) {
        assert_eq!(removed(statuses), quarters[q].len(), "session {q}");
    }
    assert_eq!(acks[0].len(), quarters[0].len() + 2);
    assert_eq!(acks[0][quarters[0].len() + 1], v3::AckStatus::NotWaiting);
    // The id both named was removed once, by one of them.
    let twice = (acks[0][quarters[0].len()] == v3::AckStatus::Removed) as usize
        + (acks[1][0] == v3::AckStatus::Removed) as usize;
    assert_eq!(twice, 1);
    assert_eq!(acks.iter().map(|s| removed(s)).sum::<usize>(), stored.len());
    assert!(sessions[0].pull().await.unwrap().messages.is_empty());
    assert_eq!(
        sessions[0].call(v3::Request::Subscribe).await.unwrap(),
        v3::Response::Subscribed { waiting: 0 }
    );
    // Sender 0's quota is whole again: two more of its texts fit, not three.
    let greedy = &mut senders[0];
    for k in 0..2 {
        greedy.send_text(to, &text(0, EACH + k)).await.unwrap();
    }
    let over = greedy
        .call(v3::Request::SendMessage(v3::SendMessage {
            destination: to,
            kind: MessageKind::Text,
            content: text(0, EACH + 2),
        }))
        .await
        .unwrap();
    assert_eq!(reason_of(&over).unwrap(), ErrorReason::SenderBytesFull);
}
