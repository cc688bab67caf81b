//! A subscriber that does not read: the server holds a bounded number of
//! bytes of pushes for its connection (`hub::MAX_QUEUED_BYTES`), not every
//! message stored for it meanwhile; the rest waits in the database, and once
//! the subscriber reads, every message is pushed, in order. Measured on a
//! server process, by its anonymous resident memory (heap; the database's
//! mapped file is not in it).

use std::collections::BTreeSet;
use std::time::Duration;

use e2e::{ServerProcess, V3Conn};
use protocol::{MAX_MESSAGE_LEN, v3};

/// Messages of the largest size stored while the subscriber does not read:
/// 60 MiB, far more than the socket buffers take in.
const MESSAGES: usize = 240;

/// Anonymous resident memory of a process, in bytes (Linux).
fn rss_anon(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("RssAnon:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_does_not_read_holds_bounded_memory_and_later_gets_everything() {
    let dir = tempfile::tempdir().unwrap();
    // Writes to the subscriber may wait longer than the test takes.
    let mut server = ServerProcess::start(&dir.path().join("data"), &["--stall-timeout", "120"])
        .await
        .unwrap();
    let pid = server.child.id().unwrap();
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let (mut bob, _) = V3Conn::new_user(server.addr, "bob").await.unwrap();
    assert!(matches!(
        bob.call(v3::Request::Subscribe).await.unwrap(),
        v3::Response::Subscribed { waiting: 0 }
    ));
    // A first message, so that the server's buffers have their working size.
    let content = vec![0x5a; MAX_MESSAGE_LEN];
    let mut sent = vec![alice.send_text(bob.client_id, &content).await.unwrap()];
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_anon(pid);
    let storing = async {
        for _ in 1..MESSAGES {
            sent.push(alice.send_text(bob.client_id, &content).await.unwrap());
        }
    };
    tokio::time::timeout(Duration::from_secs(120), storing)
        .await
        .expect("storing the messages took over two minutes");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let grown = rss_anon(pid).saturating_sub(before);
    let stored = (MESSAGES * MAX_MESSAGE_LEN) as u64;
    assert!(
        grown < stored / 2,
        "the server grew by {} MiB while storing {} MiB for a subscriber that does not read",
        grown >> 20,
        stored >> 20
    );

    // Bob reads now: every message is pushed to him, oldest first.
    let mut seen = BTreeSet::new();
    let mut last = 0;
    while seen.len() < sent.len() {
        let d = bob.next_push().await.unwrap();
        if seen.insert(d.message_id) {
            assert!(d.message_id > last, "{} pushed after {last}", d.message_id);
            last = d.message_id;
        }
    }
    assert_eq!(seen, sent.iter().copied().collect::<BTreeSet<u64>>());
    server.kill9().await.unwrap();
}
