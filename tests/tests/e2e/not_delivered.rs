//! Type-7 "not delivered" notices through the real binaries (PROTOCOL.md
//! "Type 7: not delivered"): when bob's account is deleted (by bob, or by
//! the operator) with alice's texts still waiting for him, alice's `inbox`
//! or `watch` says so in one line, worded as the server's claim, and her
//! history marks those texts as not delivered (in `--json` too); what was
//! delivered before stays as it was.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use e2e::{ServerProcess, wait_for_line};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::operator::json as server_json;
use crate::rooms_cli::{json, ok, register};

/// A server on a fresh folder, alice and bob registered, bob having read
/// alice's first text and two more waiting for him: the folder, the
/// server's data folder, the server and the two homes.
async fn two_texts_waiting_for_bob() -> (tempfile::TempDir, PathBuf, ServerProcess, PathBuf, PathBuf)
{
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::start(&data, &[]).await.unwrap();
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    register(server.addr, &alice, "alice").await;
    register(server.addr, &bob, "bob").await;
    ok(server.addr, &alice, &["send", "bob", "read before"]).await;
    ok(server.addr, &bob, &["inbox"]).await;
    ok(server.addr, &alice, &["send", "bob", "one"]).await;
    ok(server.addr, &alice, &["send", "bob", "two"]).await;
    (dir, data, server, alice, bob)
}

/// Alice's history with bob: (text, status, reason) of each entry.
async fn history(server: &ServerProcess, alice: &Path) -> Vec<(String, String, Option<String>)> {
    let h = json(server.addr, alice, &["history", "bob"]).await;
    h.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["text"].as_str().unwrap_or_default().to_string(),
                e["status"].as_str().unwrap_or_default().to_string(),
                e["reason"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn assert_not_delivered(entries: &[(String, String, Option<String>)], by: &str) {
    let texts: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(texts, ["read before", "one", "two"], "{entries:?}");
    assert_ne!(entries[0].1, "failed", "{entries:?}");
    for e in &entries[1..] {
        assert_eq!(e.1, "failed", "{entries:?}");
        let reason = e.2.as_deref().unwrap_or_default();
        assert!(
            reason.contains(&format!("the server says bob's account was deleted {by}")),
            "{entries:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_delete_tells_the_sender_its_waiting_texts_were_not_delivered() {
    let (_dir, _data, server, alice, bob) = two_texts_waiting_for_bob().await;
    let addr = server.addr;
    let deleted = json(addr, &bob, &["delete-account", "bob"]).await;
    assert_eq!(deleted["messages_deleted"], 2, "{deleted}");

    let (success, out, err) = e2e::run_client(addr, &alice, &["inbox"]).await;
    assert!(success, "{out}{err}");
    assert!(
        out.contains(
            "the server says bob's account was deleted by its owner: 2 messages to bob were not delivered"
        ),
        "{out}{err}"
    );
    assert_not_delivered(&history(&server, &alice).await, "by its owner");
    let (success, out, err) = e2e::run_client(addr, &alice, &["history", "bob"]).await;
    assert!(success, "{err}");
    assert_eq!(
        out.matches(
            "(failed: not delivered: the server says bob's account was deleted by its owner)"
        )
        .count(),
        2,
        "{out}"
    );
    // Acknowledged: a second read finds nothing.
    let (success, again, _) = e2e::run_client(addr, &alice, &["inbox"]).await;
    assert!(success && !again.contains("not delivered"), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_removal_tells_a_watching_sender_its_texts_were_not_delivered() {
    let (_dir, data, server, alice, _bob) = two_texts_waiting_for_bob().await;
    let mut watch = e2e::client_process(server.addr, &alice, &["watch"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(watch.stderr.take().unwrap()).lines();
    wait_for_line("watch to start", &mut err, |l| l.starts_with("watching"))
        .await
        .unwrap();
    let removed: Value = server_json(&data, &["user", "remove", "bob"]).await;
    assert_eq!(removed["messages_deleted"], 2, "{removed}");
    let mut out = BufReader::new(watch.stdout.take().unwrap()).lines();
    wait_for_line("the not-delivered line", &mut out, |l| {
        l.contains(
            "the server says bob's account was deleted by the server's operator: \
             2 messages to bob were not delivered",
        )
    })
    .await
    .unwrap();
    watch.kill().await.unwrap();
    assert_not_delivered(&history(&server, &alice).await, "by the server's operator");
}
