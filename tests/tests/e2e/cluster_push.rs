//! What a session on one node of a cluster hears of what its client does
//! through another (issue 15): an acknowledgement of room entries or of
//! direct messages through node B frees the push window of the session on
//! node A, and a claim
//! through B that leaves an owner few key packages reaches the owner's
//! session on A.

use std::time::Duration;

use e2e::{RoomUser, V3Conn};
use protocol::v3;

use crate::cluster::{postgres, two_nodes, two_nodes_with};
use crate::v3::room_of_two;

/// How long a push may take once the window has room: far less than the
/// harness's 30 s, so that a stall fails rather than waits.
const PROMPT: Duration = Duration::from_secs(5);

/// The next frame of `conn` within [`PROMPT`], skipping key package notices.
async fn next_room_entry(conn: &mut V3Conn) -> v3::RoomEntry {
    loop {
        match tokio::time::timeout(PROMPT, conn.next_frame()).await {
            Err(_) => panic!("no room entry pushed within {PROMPT:?}"),
            Ok(frame) => match frame.unwrap() {
                Some(v3::Response::RoomDelivery(entry)) => return entry,
                Some(v3::Response::KeyPackagesLow(_)) => {}
                other => panic!("expected a room entry, got {other:?}"),
            },
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_pushed_on_node_a_and_acknowledging_through_node_b_gets_past_the_window() {
    const WINDOW: usize = 3;
    const ENTRIES: usize = 12;
    let pg = postgres().await;
    let files = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes_with(&pg, files.path(), |o| o.push_window = WINDOW).await;
    let dir = tempfile::tempdir().unwrap();
    let mut alice = RoomUser::new(a.addr, dir.path(), "alice").await.unwrap();
    let mut bob = RoomUser::new(a.addr, dir.path(), "bob").await.unwrap();
    let room = room_of_two(&mut alice, &mut bob).await;
    let mut bob_on_b = bob.conn.again(b.addr, &bob.keys).await.unwrap();
    let mut said = Vec::new();
    for i in 0..ENTRIES {
        said.push(alice.say(room, &format!("entry {i}")).await.unwrap());
    }
    // Bob subscribes on A and acknowledges each pushed entry through B
    // only: A must hear of it to push past its window.
    assert!(matches!(
        bob.conn.call(v3::Request::Subscribe).await.unwrap(),
        v3::Response::Subscribed { .. }
    ));
    let mut pushed = Vec::new();
    while pushed.len() < ENTRIES {
        let entry = next_room_entry(&mut bob.conn).await;
        assert_eq!(entry.room, room);
        pushed.push(entry.seq);
        let acked = bob_on_b
            .call(v3::Request::RoomAck(vec![v3::RoomCursor {
                room,
                seq: entry.seq,
            }]))
            .await
            .unwrap();
        assert!(matches!(acked, v3::Response::RoomAcked(_)), "{acked:?}");
    }
    assert_eq!(pushed, said);
    // And what is said now, with the window free, is pushed at once.
    let seq = alice.say(room, "one more").await.unwrap();
    assert_eq!(next_room_entry(&mut bob.conn).await.seq, seq);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_pushed_on_node_a_and_acknowledging_through_node_b_gets_past_the_window() {
    const WINDOW: usize = 3;
    const MESSAGES: u32 = 12;
    let pg = postgres().await;
    let files = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes_with(&pg, files.path(), |o| o.push_window = WINDOW).await;
    let (mut alice, _) = V3Conn::new_user(a.addr, "alice").await.unwrap();
    let (mut bob, bob_keys) = V3Conn::new_user(a.addr, "bob").await.unwrap();
    let mut bob_on_b = bob.again(b.addr, &bob_keys).await.unwrap();
    let mut sent = Vec::new();
    for i in 0..MESSAGES {
        sent.push(
            alice
                .send_text(bob.client_id, &i.to_le_bytes())
                .await
                .unwrap(),
        );
    }
    // Bob subscribes on A and acknowledges each pushed message through B
    // only: A must hear of the removal to push past its window.
    assert!(matches!(
        bob.call(v3::Request::Subscribe).await.unwrap(),
        v3::Response::Subscribed { .. }
    ));
    let mut pushed = Vec::new();
    while pushed.len() < sent.len() {
        let id = next_message(&mut bob).await;
        pushed.push(id);
        assert_eq!(
            bob_on_b.ack(vec![id]).await.unwrap(),
            vec![v3::AckStatus::Removed]
        );
    }
    assert_eq!(pushed, sent);
    // And what is sent now, with the window free, is pushed at once.
    let id = alice.send_text(bob.client_id, b"one more").await.unwrap();
    assert_eq!(next_message(&mut bob).await, id);
}

/// The id of the next message pushed to `conn` within [`PROMPT`].
async fn next_message(conn: &mut V3Conn) -> u64 {
    match tokio::time::timeout(PROMPT, conn.next_push()).await {
        Err(_) => panic!("no message pushed within {PROMPT:?}"),
        Ok(delivery) => delivery.unwrap().message_id,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_through_node_b_that_leaves_few_key_packages_tells_the_owner_on_node_a() {
    let pg = postgres().await;
    let files = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(&pg, files.path()).await;
    let dir = tempfile::tempdir().unwrap();
    // Five one-time packages and a last-resort one, through A.
    let mut owner = RoomUser::new(a.addr, dir.path(), "owner").await.unwrap();
    assert_eq!(
        owner.conn.call(v3::Request::Subscribe).await.unwrap(),
        v3::Response::Subscribed { waiting: 0 }
    );
    let (mut claimer, _) = V3Conn::new_user(b.addr, "claimer").await.unwrap();
    let claimed = claimer
        .call(v3::Request::KeyPackagesClaim(vec![owner.id()]))
        .await
        .unwrap();
    assert!(
        matches!(&claimed, v3::Response::KeyPackages(c) if c[0].status == v3::ClaimStatus::OneTime),
        "{claimed:?}"
    );
    let notice = tokio::time::timeout(PROMPT, owner.conn.next_frame())
        .await
        .expect("no key packages notice on A")
        .unwrap();
    assert_eq!(notice, Some(v3::Response::KeyPackagesLow(4)));
}
