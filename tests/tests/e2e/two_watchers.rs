//! Two `watch`es of one home folder (the README allows several processes
//! of a home at once) are both pushed every message: whichever takes a
//! message handles it, and the other leaves it alone. Before, the second
//! stopped with an error when the first held the file's part, or refused
//! the message as a replay and made the sender send it again.

use std::collections::HashSet;
use std::time::Duration;

use e2e::bounded;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::presence::{Watch, wait_until_online};
use crate::rooms_cli::{ok, users};

const TEXTS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_watches_of_one_home_receive_each_message_once_and_both_keep_running() {
    let (server, dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    // Contacts both ways: bob's client downloads alice's file at once.
    ok(addr, &alice, &["key", "bob"]).await;
    ok(addr, &bob, &["key", "alice"]).await;

    let mut first = Watch::start(addr, &bob, &[]);
    let mut second = Watch::start(addr, &bob, &[]);
    wait_until_online(addr, &alice, &["bob"]).await;
    // The other may still be subscribing: a moment makes it likely both are
    // pushed the same messages. What is asserted holds either way.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let file = dir.path().join("big.bin");
    let body: Vec<u8> = (0..24u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &body).unwrap();
    ok(addr, &alice, &["send-file", "bob", file.to_str().unwrap()]).await;
    for i in 0..TEXTS {
        ok(addr, &alice, &["send", "bob", &format!("text {i}")]).await;
    }

    // What the two print together: the file once, every text once.
    let (mut files, mut texts) = (Vec::new(), Vec::new());
    bounded("both watches to show everything", async {
        while files.is_empty() || texts.len() < TEXTS {
            let v = tokio::select! {
                v = first.next_where(is_message) => v,
                v = second.next_where(is_message) => v,
            };
            match v["event"].as_str() {
                Some("file") => files.push(v),
                Some("text") => texts.push(v["text"].as_str().unwrap().to_string()),
                _ => {}
            }
        }
    })
    .await
    .unwrap();
    // Anything printed twice would come now: give it a moment to show.
    let late = tokio::time::timeout(Duration::from_millis(800), async {
        tokio::select! {
            v = first.next_where(is_message) => v,
            v = second.next_where(is_message) => v,
        }
    })
    .await;
    assert!(late.is_err(), "shown again: {late:?}");
    assert_eq!(files.len(), 1, "{files:?}");
    let unique: HashSet<_> = texts.iter().collect();
    assert_eq!(unique.len(), TEXTS, "{texts:?}");
    assert!(
        first.running() && second.running(),
        "a watch of bob stopped"
    );

    let saved = files[0]["path"].as_str().unwrap();
    let got = std::fs::read(saved).unwrap();
    assert_eq!(Sha256::digest(&got), Sha256::digest(&body));
    let downloads: Vec<_> = std::fs::read_dir(bob.join("downloads"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| !n.to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(downloads.len(), 1, "{downloads:?}");

    // Nothing was refused, so nothing was sent twice.
    let told = ok(addr, &alice, &["inbox"]).await;
    assert!(!told.contains("refused"), "{told}");
    first.stop().await;
    second.stop().await;
}

fn is_message(v: &Value) -> bool {
    matches!(v["event"].as_str(), Some("file" | "text"))
}
