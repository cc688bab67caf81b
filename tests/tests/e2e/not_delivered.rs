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

/// A server on a fresh folder with alice and bob registered: the folder,
/// the server's data folder, the server and the two homes.
async fn alice_and_bob() -> (tempfile::TempDir, PathBuf, ServerProcess, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::start(&data, &[]).await.unwrap();
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    register(server.addr, &alice, "alice").await;
    register(server.addr, &bob, "bob").await;
    (dir, data, server, alice, bob)
}

/// A server on a fresh folder, alice and bob registered, bob having read
/// alice's first text and two more waiting for him: the folder, the
/// server's data folder, the server and the two homes.
async fn two_texts_waiting_for_bob() -> (tempfile::TempDir, PathBuf, ServerProcess, PathBuf, PathBuf)
{
    let (dir, data, server, alice, bob) = alice_and_bob().await;
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

/// A pull without bit 15 (a client that predates type 7) is never given a
/// notice, and reads on past notices to what follows them, so that it is
/// never stuck behind them; a pull with the bit gets the notice, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_pull_that_reads_type_7_is_given_notices_and_an_older_one_reads_past_them() {
    use protocol::MessageKind;
    use protocol::v3::{self, PULL_READS_NOT_DELIVERED};

    let server = e2e::TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr;
    let (mut alice, alice_id) = e2e::V3Conn::new_user(addr, "alice").await.unwrap();
    let (mut bob, _) = e2e::V3Conn::new_user(addr, "bob").await.unwrap();
    let (mut carol, _) = e2e::V3Conn::new_user(addr, "carol").await.unwrap();
    let to_bob = [
        alice.send_text(bob.client_id, b"one").await.unwrap(),
        alice.send_text(bob.client_id, b"two").await.unwrap(),
    ];
    let deleted = bob
        .call(v3::Request::DeleteAccount(
            protocol::Name::new("bob").unwrap(),
        ))
        .await
        .unwrap();
    assert!(
        matches!(deleted, v3::Response::AccountDeleted(_)),
        "{deleted:?}"
    );
    let after = carol.send_text(alice.client_id, b"later").await.unwrap();

    let pull = |max_messages| {
        v3::Request::Pull(v3::Pull {
            max_messages,
            max_bytes: 0,
        })
    };
    // One message at a time, as an older client might ask: the notice
    // comes first in the inbox and is read past, never handed out.
    let mut older = alice.again(addr, &alice_id).await.unwrap();
    let v3::Response::Messages(batch) = older.call(pull(1)).await.unwrap() else {
        panic!("not a batch")
    };
    let ids: Vec<u64> = batch.messages.iter().map(|m| m.message_id).collect();
    assert_eq!(ids, [after], "{batch:?}");
    assert!(!batch.more, "{batch:?}");

    let v3::Response::Messages(batch) = alice.call(pull(PULL_READS_NOT_DELIVERED)).await.unwrap()
    else {
        panic!("not a batch")
    };
    let kinds: Vec<MessageKind> = batch.messages.iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        [MessageKind::NotDelivered, MessageKind::Text],
        "{batch:?}"
    );
    let notice = v3::NotDelivered::decode(batch.messages[0].content.clone()).unwrap();
    assert_eq!(notice.message_ids, to_bob, "{notice:?}");
}

/// A file offer waiting for bob is a message like a text: deleting his
/// account tells alice it was not delivered, her history's file entry says
/// so, and its body leaves the server's files folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_delete_tells_the_sender_its_waiting_file_offer_was_not_delivered() {
    let (dir, data, server, alice, bob) = alice_and_bob().await;
    let report = dir.path().join("report.bin");
    std::fs::write(&report, vec![7u8; 300_000]).unwrap();
    ok(
        server.addr,
        &alice,
        &["send-file", "bob", report.to_str().unwrap()],
    )
    .await;
    let bodies = || {
        std::fs::read_dir(data.join("files")).map_or(0, |d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "blob"))
            })
            .count()
        })
    };
    assert_eq!(bodies(), 1);

    let deleted = json(server.addr, &bob, &["delete-account", "bob"]).await;
    // The offer and the session offer that went before it.
    assert_eq!(deleted["messages_deleted"], 2, "{deleted}");
    assert_eq!(bodies(), 0, "the offer's body left with the account");
    let (success, out, err) = e2e::run_client(server.addr, &alice, &["inbox"]).await;
    assert!(
        success
            && out.contains(
                "the server says bob's account was deleted by its owner: 1 message to bob was not delivered"
            ),
        "{out}{err}"
    );
    let h = json(server.addr, &alice, &["history", "bob"]).await;
    let entries = h.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{h}");
    assert_eq!(entries[0]["type"], "file", "{h}");
    assert_eq!(entries[0]["name"], "report.bin", "{h}");
    assert_eq!(entries[0]["status"], "failed", "{h}");
    assert!(
        entries[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("the server says bob's account was deleted by its owner"),
        "{h}"
    );
}
