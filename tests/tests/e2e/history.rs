//! Conversations that persist (issue 16): every text and file, both ways,
//! kept in the client's store in order with its status; read back after
//! restarts through the library and the real `client` binary (`history`,
//! `--json`, `--limit`, `--search`, `forget`, `retention`), a message
//! the peer refused shown as failed with the peer's reason, and receipts
//! turning stored into delivered and read; `conversations` listing them
//! newest first with what is unread (what `inbox` printed is read, rooms'
//! texts too).

use std::net::SocketAddr;
use std::path::Path;

use client::keystore::{Body, Direction, HistoryEntry, HistoryQuery, Status};
use client::{Client, Rejection, What};
use e2e::{TestServer, user};
use e2e::{open_client, run_client};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// (direction, text or file name, status) of each entry.
fn summary(entries: &[HistoryEntry]) -> Vec<(Direction, String, Status)> {
    entries
        .iter()
        .map(|e| {
            let what = match &e.body {
                Body::Text { text } => text.clone(),
                Body::File { name, .. } => format!("file {name}"),
                Body::Event { change } => format!("event {change:?}"),
                Body::Key { change } => format!("key {change:?}"),
            };
            (e.direction, what, e.status)
        })
        .collect()
}

async fn history_json(server: SocketAddr, home: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--json", "history"];
    all.extend_from_slice(args);
    let (ok, out, err) = run_client(server, home, &all).await;
    assert!(ok, "{err}");
    // One answer, one line (as `watch` prints each event).
    assert_eq!(out.lines().count(), 1, "{out}");
    serde_json::from_str::<Vec<Value>>(&out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_survives_restarts_in_order_with_statuses() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (alice_home, bob_home) = (dir.path().join("alice"), dir.path().join("bob"));
    let alice = user(&addr, &alice_home, "alice").await;
    let bob = user(&addr, &bob_home, "bob").await;
    bob.fetch_key("alice").await.unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, b"hello file").unwrap();

    alice.send_text("bob", "one").await.unwrap();
    bob.inbox().await.unwrap();
    bob.send_text("alice", "two").await.unwrap();
    alice
        .send_file("bob", &file, CancellationToken::new())
        .await
        .unwrap();
    alice.send_text("bob", "three ünï").await.unwrap();
    alice.inbox().await.unwrap();
    bob.inbox().await.unwrap();
    drop((alice, bob));

    // Alice's side, read by the binary after her client stopped.
    let json = history_json(server.addr, &alice_home, &["bob"]).await;
    let seen: Vec<(&str, &str, &str)> = json
        .iter()
        .map(|e| {
            let what = e["text"].as_str().or(e["name"].as_str()).unwrap();
            (
                e["direction"].as_str().unwrap(),
                what,
                e["status"].as_str().unwrap(),
            )
        })
        .collect();
    // Local order: "two" arrived here only when alice read her inbox,
    // after she had sent the file and "three". "one" was delivered (bob's
    // receipt came with "two"); the other two stay stored until alice
    // reads bob's receipts for them.
    assert_eq!(
        seen,
        vec![
            ("out", "one", "delivered"),
            ("out", "notes.txt", "stored"),
            ("out", "three ünï", "stored"),
            ("in", "two", "received"),
        ]
    );
    for e in &json {
        assert!(e["message_id"].as_u64().is_some(), "{e}");
        assert!(e["sender_time_ms"].as_u64().is_some(), "{e}");
        assert!(e["arrived_at_ms"].as_u64().is_some(), "{e}");
        assert_eq!(e["conversation"]["kind"], "person");
    }
    assert_eq!(json[1]["type"], "file");
    assert_eq!(json[1]["size"], 10);
    let entries = |v: &Vec<Value>| v.len();
    assert_eq!(
        entries(&history_json(server.addr, &alice_home, &["bob", "--search", "THREE"]).await),
        1
    );
    let last = history_json(server.addr, &alice_home, &["bob", "--limit", "2"]).await;
    assert_eq!(last[0]["text"], "three ünï");
    assert_eq!(last[1]["text"], "two");
    assert_eq!(last.len(), 2);
    assert_eq!(
        entries(&history_json(server.addr, &alice_home, &["BOB", "--since", "1h"]).await),
        4
    );
    let (ok, text, _) = run_client(server.addr, &alice_home, &["history", "bob"]).await;
    assert!(ok);
    assert!(text.contains("] you  (delivered)\n    one\n"), "{text}");
    assert!(text.contains("] bob\n    two\n"), "{text}");
    let (ok, _, err) = run_client(server.addr, &alice_home, &["history", "carol"]).await;
    assert!(!ok);
    assert!(err.contains("no conversation with \"carol\""), "{err}");

    // Bob's side, through a reopened library client: the file has its path.
    let bob = open_client(&addr, &bob_home).await;
    let (_, got) = bob.history("alice", HistoryQuery::default()).await.unwrap();
    assert_eq!(
        summary(&got),
        vec![
            (Direction::In, "one".into(), Status::Received),
            (Direction::Out, "two".into(), Status::Delivered),
            (Direction::In, "file notes.txt".into(), Status::Received),
            (Direction::In, "three ünï".into(), Status::Received),
        ]
    );
    let Body::File { path, .. } = &got[2].body else {
        unreachable!()
    };
    assert_eq!(std::fs::read(path).unwrap(), b"hello file");
    assert!(got.windows(2).all(|w| w[0].entry < w[1].entry));

    // Forgetting a conversation keeps the contact: sending still works and
    // starts the history again.
    let (ok, out, err) = run_client(server.addr, &alice_home, &["forget", "bob"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("forgot 4 entries"), "{out}");
    assert!(
        history_json(server.addr, &alice_home, &["bob"])
            .await
            .is_empty()
    );
    let (ok, _, err) = run_client(server.addr, &alice_home, &["send", "bob", "again"]).await;
    assert!(ok, "{err}");
    assert_eq!(
        history_json(server.addr, &alice_home, &["bob"]).await.len(),
        1
    );

    // The retention setting is kept in the store and shown.
    let (ok, out, _) = run_client(server.addr, &alice_home, &["retention"]).await;
    assert!(ok && out.contains("until you forget it"), "{out}");
    let (ok, out, _) = run_client(server.addr, &alice_home, &["retention", "30"]).await;
    assert!(ok && out.contains("kept 30 days"), "{out}");
    let (ok, out, _) = run_client(server.addr, &alice_home, &["--json", "retention"]).await;
    assert!(ok && out.contains("\"retention_days\":30"), "{out}");
    let (ok, _, err) = run_client(server.addr, &alice_home, &["retention", "soon"]).await;
    assert!(
        !ok && err.contains("\"soon\" is neither a number of days nor `forever`"),
        "{err}"
    );
    let (ok, _, err) = run_client(server.addr, &alice_home, &["retention", "0"]).await;
    assert!(
        !ok && err.contains("history cannot be kept 0 days: give 1 or more"),
        "{err}"
    );
    let (ok, out, _) = run_client(server.addr, &alice_home, &["retention"]).await;
    assert!(ok && out.contains("kept 30 days"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_message_shows_failed_with_the_reason() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let alice_home = dir.path().join("alice");
    let alice = user(&addr, &alice_home, "alice").await;
    let bob = user(&addr, &dir.path().join("bob"), "bob").await;
    alice.send_text("bob", "hello").await.unwrap();
    bob.inbox().await.unwrap();

    // Alice's store goes back in time (as a restored copy would): her next
    // counter is far below what bob has received, so bob refuses it as too
    // old, and tells her.
    let store = e2e::open_store_db(&alice_home);
    store
        .execute("UPDATE sessions SET send_counter = 3000", [])
        .unwrap();
    alice.send_text("bob", "far ahead").await.unwrap();
    bob.inbox().await.unwrap();
    store
        .execute("UPDATE sessions SET send_counter = 1", [])
        .unwrap();
    let stale = alice.send_text("bob", "stale").await.unwrap();
    let events = bob.inbox().await.unwrap();
    assert!(
        events.iter().any(|e| matches!(
            e.what,
            What::Rejected {
                reason: Rejection::TooOld
            }
        )),
        "{events:?}"
    );
    alice.inbox().await.unwrap();

    let (_, got) = alice.history("bob", HistoryQuery::default()).await.unwrap();
    let failed = got
        .iter()
        .find(|e| e.message_id == Some(stale))
        .expect("the stale text is in history");
    assert_eq!(failed.status, Status::Failed);
    assert!(
        failed.reason.as_deref().unwrap_or("").contains("too old"),
        "{failed:?}"
    );
    // The refusal said the session forked (a restored copy's counters):
    // alice's client healed it, the text went out again as a new entry.
    let summary = summary(&got);
    assert_eq!(
        summary.iter().map(|(_, _, s)| *s).collect::<Vec<_>>(),
        vec![
            Status::Delivered,
            Status::Delivered,
            Status::Failed,
            Status::Stored
        ]
    );
    assert_eq!(summary[2].1, summary[3].1);
    let (ok, text, _) = run_client(server.addr, &alice_home, &["history", "bob"]).await;
    assert!(ok);
    assert!(text.contains("(failed: too old"), "{text}");
}

/// The status of alice's entries in her history with bob.
async fn statuses(alice: &Client) -> Vec<Status> {
    let (_, got) = alice.history("bob", HistoryQuery::default()).await.unwrap();
    got.iter().map(|e| e.status).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_turns_stored_into_delivered_and_read() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let bob_home = dir.path().join("bob");
    let alice = user(&addr, &dir.path().join("alice"), "alice").await;
    let bob = user(&addr, &bob_home, "bob").await;

    alice.send_text("bob", "hi").await.unwrap();
    assert_eq!(statuses(&alice).await, vec![Status::Stored]);
    // Bob's client opens it: delivered.
    let events = bob.inbox().await.unwrap();
    let at_alice = alice.inbox().await.unwrap();
    assert!(
        at_alice
            .iter()
            .all(|e| matches!(e.what, What::SessionConfirmed)),
        "receipts are silent: {at_alice:?}"
    );
    assert_eq!(statuses(&alice).await, vec![Status::Delivered]);
    // Bob is shown it: read, on both sides.
    bob.shown(&events).await;
    alice.inbox().await.unwrap();
    assert_eq!(statuses(&alice).await, vec![Status::Read]);
    let (_, at_bob) = bob.history("alice", HistoryQuery::default()).await.unwrap();
    assert_eq!(at_bob.len(), 1, "receipts are not kept as texts");
    assert_eq!(at_bob[0].status, Status::Read);
    // Receipts are never receipted: nothing waits for bob.
    assert_eq!(bob.waiting().await.unwrap().messages, 0);

    // Read receipts off: delivered only, though bob's own copy is read.
    bob.set_read_receipts(false).await.unwrap();
    alice.send_text("bob", "quietly").await.unwrap();
    let events = bob.inbox().await.unwrap();
    bob.shown(&events).await;
    alice.inbox().await.unwrap();
    assert_eq!(
        statuses(&alice).await,
        vec![Status::Read, Status::Delivered]
    );
    let (_, at_bob) = bob.history("alice", HistoryQuery::default()).await.unwrap();
    assert_eq!(at_bob[1].status, Status::Read);
    bob.set_read_receipts(true).await.unwrap();
    drop(bob);

    // The binary: `inbox` prints, so the sender sees read; `receipts`
    // shows and changes the setting.
    alice.send_text("bob", "via the binary").await.unwrap();
    let (ok, out, err) = run_client(server.addr, &bob_home, &["inbox"]).await;
    assert!(ok && out.contains("via the binary"), "{out}{err}");
    alice.inbox().await.unwrap();
    assert_eq!(
        statuses(&alice).await,
        vec![Status::Read, Status::Delivered, Status::Read]
    );
    let (ok, out, _) = run_client(server.addr, &bob_home, &["receipts"]).await;
    assert!(ok && out.contains("read receipts: on"), "{out}");
    let (ok, out, _) = run_client(server.addr, &bob_home, &["--json", "receipts", "off"]).await;
    assert!(ok && out.contains("\"read_receipts\":false"), "{out}");
    let json = history_json(server.addr, &dir.path().join("alice"), &["bob"]).await;
    let words: Vec<&str> = json.iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(words, vec!["read", "delivered", "read"]);
}

/// `client conversations --json` as (name, room, unread), checked to be
/// newest first (by when each last recorded an entry here), sorted by name.
async fn conversations(server: SocketAddr, home: &Path) -> Vec<(String, bool, u64)> {
    let (ok, out, err) = run_client(server, home, &["--json", "conversations"]).await;
    assert!(ok, "{err}");
    let list = serde_json::from_str::<Vec<Value>>(&out).unwrap();
    let times: Vec<u64> = list
        .iter()
        .map(|c| c["last_ms"].as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{out}");
    let mut list: Vec<(String, bool, u64)> = list
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["room"].as_bool().unwrap(),
                c["unread"].as_u64().unwrap(),
            )
        })
        .collect();
    list.sort();
    list
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_lists_rooms_and_people_with_what_is_unread_and_what_inbox_or_history_printed_is_read()
 {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (alice_home, bob_home) = (dir.path().join("alice"), dir.path().join("bob"));
    let alice = user(&addr, &alice_home, "alice").await;
    let bob = user(&addr, &bob_home, "bob").await;
    let (ok, out, _) = run_client(server.addr, &bob_home, &["conversations"]).await;
    assert!(ok && out.contains("no conversations yet"), "{out}");

    // Received through the library, which shows nothing: unread.
    alice.send_text("bob", "hi").await.unwrap();
    alice.room_create("team").await.unwrap();
    alice.room_add("team", &["bob".into()]).await.unwrap();
    alice.room_send("team", "hello team").await.unwrap();
    bob.inbox().await.unwrap();
    drop(bob);
    assert_eq!(
        conversations(server.addr, &bob_home).await,
        vec![("alice".into(), false, 1), ("team".into(), true, 1)]
    );

    // What `inbox` prints is read, in a room as with a person (before,
    // room texts stayed unread: #team would count 2).
    alice.room_send("team", "again").await.unwrap();
    alice.send_text("bob", "hey").await.unwrap();
    let (ok, out, err) = run_client(server.addr, &bob_home, &["inbox"]).await;
    assert!(
        ok && out.contains("again") && out.contains("hey"),
        "{out}{err}"
    );
    assert_eq!(
        conversations(server.addr, &bob_home).await,
        vec![("alice".into(), false, 1), ("team".into(), true, 1)]
    );
    let (ok, out, _) = run_client(server.addr, &bob_home, &["conversations"]).await;
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert!(ok && lines.len() == 2, "{out}");
    assert!(
        lines[0].starts_with("#team ") && lines[0].ends_with("1 unread"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("alice ") && lines[1].ends_with("1 unread"),
        "{out}"
    );

    // A room's name typed without its `#`: the refusal names the room.
    let (ok, _, err) = run_client(server.addr, &bob_home, &["history", "TEAM"]).await;
    assert!(!ok);
    assert!(
        err.contains("nobody of that name is pinned here; did you mean the room #team?"),
        "{err}"
    );
    let (ok, out, err) = run_client(server.addr, &bob_home, &["history", "#TEAM"]).await;
    assert!(
        ok && out.contains("hello team") && out.contains("again"),
        "{out}{err}"
    );
    // What was never shown is marked new: the line above the text.
    let lines: Vec<&str> = out.lines().collect();
    let above = |text: &str| lines[lines.iter().position(|l| l.ends_with(text)).unwrap() - 1];
    assert!(above("hello team").ends_with("(new)"), "{out}");
    assert!(!above("again").contains("(new)"), "{out}");
    let (ok, _, err) = run_client(server.addr, &bob_home, &["history", "teams"]).await;
    assert!(!ok && !err.contains("did you mean"), "{err}");

    // What `history` printed is read too; what it did not print (another
    // search) stays unread. Alice's client hears of it by receipt.
    let (ok, out, err) = run_client(
        server.addr,
        &bob_home,
        &["history", "alice", "--search", "hey"],
    )
    .await;
    assert!(
        ok && out.contains("hey") && !out.contains("hi"),
        "{out}{err}"
    );
    assert_eq!(
        conversations(server.addr, &bob_home).await,
        vec![("alice".into(), false, 1), ("team".into(), true, 0)]
    );
    let (ok, out, err) = run_client(server.addr, &bob_home, &["history", "alice"]).await;
    assert!(ok && out.contains("hi"), "{out}{err}");
    assert_eq!(
        conversations(server.addr, &bob_home).await,
        vec![("alice".into(), false, 0), ("team".into(), true, 0)]
    );
    alice.inbox().await.unwrap();
    let (_, sent) = alice.history("bob", HistoryQuery::default()).await.unwrap();
    let statuses: Vec<Status> = sent.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [Status::Read, Status::Read], "{sent:?}");
}
