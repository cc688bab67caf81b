//! Several servers on one PostgreSQL database (a throwaway cluster of the
//! test's own) and one shared file folder: each node serves every client,
//! whichever node it registered or stored through. Also the self-test
//! against a PostgreSQL-backed server binary.

use std::path::Path;
use std::sync::Arc;

use e2e::{
    Postgres, RoomUser, Seen, ServerProcess, TestIdentity, TestServer, V3Conn, bounded, pattern,
    reason_of,
};
use protocol::{ErrorReason, MessageKind, Name, v3};
use sha2::{Digest, Sha256};

use crate::v3::{begin_upload, download_all, upload_range};

async fn postgres() -> Arc<Postgres> {
    Arc::new(
        tokio::task::spawn_blocking(Postgres::start)
            .await
            .unwrap()
            .unwrap(),
    )
}

/// Two nodes on `pg` sharing `files`.
async fn two_nodes(pg: &Arc<Postgres>, files: &Path) -> (TestServer, TestServer) {
    let a = TestServer::start_node(pg, files, |_| {}).await.unwrap();
    let b = TestServer::start_node(pg, files, |_| {}).await.unwrap();
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
    let resumed = match alice
        .call(v3::Request::UploadResume(status.upload_id))
        .await
        .unwrap()
    {
        v3::Response::UploadStatus(s) => s,
        other => panic!("resume on B: {other:?}"),
    };
    assert!(resumed.offset <= 5 << 20, "{}", resumed.offset);
    if files.is_none() {
        assert_eq!(resumed.offset, 5 << 20, "every stored chunk is durable");
    }
    let done = upload_range(
        &mut alice,
        status.upload_id,
        &data,
        resumed.offset as usize,
        SIZE,
    )
    .await;
    let v3::Response::FileSent(sent) = done else {
        panic!("last chunk on B: {done:?}")
    };
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
    assert!(out.contains("15 passed, 0 failed"), "{out}\n{err}");
}
