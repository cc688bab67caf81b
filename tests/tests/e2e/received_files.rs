//! Files received, as the recipient sees them through the real binaries:
//! an offer held for an answer is in `history` from the moment it arrives
//! (held, then declined or the received file: one entry all along).

use std::net::SocketAddr;
use std::path::Path;

use e2e::{ServerProcess, pattern};
use serde_json::Value;

use crate::inbox_unshown::output_into_full_disk;
use crate::rooms_cli::ok;

async fn history(server: SocketAddr, home: &Path, peer: &str) -> Vec<Value> {
    let out = ok(server, home, &["--json", "history", peer]).await;
    serde_json::from_str(&out).unwrap()
}

/// Two registered users, `alice` and `bob`, each in a home of its own.
async fn two_users(dir: &Path, server: SocketAddr) -> (std::path::PathBuf, std::path::PathBuf) {
    let (alice, bob) = (dir.join("alice"), dir.join("bob"));
    for (home, name) in [(&alice, "alice"), (&bob, "bob")] {
        std::fs::create_dir_all(home).unwrap();
        ok(server, home, &["register", name]).await;
    }
    (alice, bob)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_offers_are_in_history_and_counted_as_waiting_until_answered() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &[])
        .await
        .unwrap();
    let (alice, bob) = two_users(dir.path(), server.addr).await;
    for (name, seed) in [("first.bin", 1), ("second.bin", 2)] {
        let path = dir.path().join(name);
        std::fs::write(&path, pattern(seed, 200_000)).unwrap();
        ok(
            server.addr,
            &alice,
            &["send-file", "bob", path.to_str().unwrap()],
        )
        .await;
    }
    // From a stranger: both held.
    let out = ok(server.addr, &bob, &["inbox"]).await;
    assert_eq!(out.matches("offers a file").count(), 2, "{out}");
    let entries = history(server.addr, &bob, "alice").await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    for (e, name) in entries.iter().zip(["first.bin", "second.bin"]) {
        assert_eq!(e["name"], name);
        assert_eq!(e["size"], 200_000);
        assert_eq!(e["status"], "held");
        assert_eq!(e["direction"], "in");
        assert!(e.get("path").is_none(), "nothing saved yet: {e}");
    }
    let (first, second) = (
        entries[0]["message_id"].as_u64().unwrap(),
        entries[1]["message_id"].as_u64().unwrap(),
    );
    let out = ok(server.addr, &bob, &["history", "alice"]).await;
    assert!(
        out.contains(&format!(
            "alice sent a file: first.bin (200.00 kB); held, waiting for your answer: \
             accept-file {first} downloads it"
        )),
        "{out}"
    );

    // Shown by `history`, the offers still wait for an answer: counted.
    let waiting = |out: &str| -> Vec<(String, u64)> {
        let list: Vec<Value> = serde_json::from_str(out).unwrap();
        list.iter()
            .map(|c| {
                let n = c["files_waiting"].as_u64().unwrap();
                (c["name"].as_str().unwrap().to_string(), n)
            })
            .collect()
    };
    let out = ok(server.addr, &bob, &["--json", "conversations"]).await;
    assert_eq!(waiting(&out), vec![("alice".to_string(), 2)], "{out}");
    let out = ok(server.addr, &bob, &["conversations"]).await;
    assert!(
        out.contains("2 files waiting for your answer (`files`)"),
        "{out}"
    );

    ok(server.addr, &bob, &["decline-file", &second.to_string()]).await;
    let out = ok(server.addr, &bob, &["conversations"]).await;
    assert!(out.contains("1 file waiting for your answer"), "{out}");
    ok(server.addr, &bob, &["accept-file", &first.to_string()]).await;
    let out = ok(server.addr, &bob, &["--json", "conversations"]).await;
    assert_eq!(waiting(&out), vec![("alice".to_string(), 0)], "{out}");
    let after = history(server.addr, &bob, "alice").await;
    assert_eq!(after.len(), 2, "accepting adds no second entry: {after:?}");
    assert_eq!(after[0]["entry"], entries[0]["entry"]);
    assert_eq!(after[0]["name"], "first.bin");
    // Received, and read: `accept-file` printed it.
    assert_eq!(after[0]["status"], "read");
    assert_eq!(
        after[0]["path"].as_str().map(Path::new),
        Some(bob.join("downloads").join("first.bin").as_path())
    );
    assert_eq!(after[1]["entry"], entries[1]["entry"]);
    assert_eq!(after[1]["status"], "declined");
    assert!(after[1].get("path").is_none(), "{after:?}");
    let out = ok(server.addr, &bob, &["history", "alice"]).await;
    assert!(
        out.contains("alice sent a file: second.bin (200.00 kB); you declined it"),
        "{out}"
    );
    assert!(out.contains("first.bin (200.00 kB), saved as"), "{out}");

    // Alice is told of the declined one, once, naming it; the accepted
    // one says nothing (its history moves to read).
    let out = ok(server.addr, &alice, &["--json", "inbox"]).await;
    let events: Vec<Value> = serde_json::from_str(&out).unwrap();
    let declined: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "offer_declined")
        .collect();
    assert_eq!(declined.len(), 1, "{out}");
    assert_eq!(declined[0]["offer_id"], second, "{out}");
    assert_eq!(declined[0]["name"], "second.bin", "{out}");
    let again = ok(server.addr, &alice, &["inbox"]).await;
    assert!(!again.contains("declined"), "{again}");
    let sent = history(server.addr, &alice, "bob").await;
    assert_eq!(sent[1]["status"], "declined", "{sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_offer_is_announced_to_the_senders_inbox_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &[])
        .await
        .unwrap();
    let (alice, bob) = two_users(dir.path(), server.addr).await;
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, pattern(3, 2_000)).unwrap();
    ok(
        server.addr,
        &alice,
        &["send-file", "bob", path.to_str().unwrap()],
    )
    .await;
    ok(server.addr, &bob, &["inbox"]).await;
    let id = history(server.addr, &bob, "alice").await[0]["message_id"]
        .as_u64()
        .unwrap();
    ok(server.addr, &bob, &["decline-file", &id.to_string()]).await;
    let out = ok(server.addr, &alice, &["inbox"]).await;
    assert!(
        out.contains(&format!(
            "bob declined your file report.pdf (2.00 kB, offer {id}): never downloaded, deleted \
             from the server"
        )),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_an_inbox_could_not_print_are_shown_by_the_next_once_and_kept_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &[])
        .await
        .unwrap();
    let (alice, bob) = two_users(dir.path(), server.addr).await;
    let texts = ["one", "two", "three"];
    for text in texts {
        ok(server.addr, &alice, &["send", "bob", text]).await;
    }
    // Standard output that refuses every write: `inbox` fails, and
    // removes nothing from the server that it did not show.
    for json in [false, true] {
        let args: &[&str] = if json {
            &["--json", "inbox"]
        } else {
            &["inbox"]
        };
        output_into_full_disk(server.addr, &bob, args).await;
    }
    let out = ok(server.addr, &bob, &["inbox"]).await;
    for text in texts {
        assert_eq!(out.matches(&format!("\n    {text}\n")).count(), 1, "{out}");
    }
    let out = ok(server.addr, &bob, &["inbox"]).await;
    assert!(out.contains("no new messages"), "{out}");
    let entries = history(server.addr, &bob, "alice").await;
    let kept: Vec<&str> = entries.iter().filter_map(|e| e["text"].as_str()).collect();
    assert_eq!(kept, texts, "{entries:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backslash_in_a_received_file_name_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &[])
        .await
        .unwrap();
    let (alice, bob) = two_users(dir.path(), server.addr).await;
    // A contact's file downloads at once.
    ok(server.addr, &bob, &["key", "alice"]).await;
    let sent = dir.path().join("a\\b.txt");
    std::fs::write(&sent, b"one name").unwrap();
    ok(
        server.addr,
        &alice,
        &["send-file", "bob", sent.to_str().unwrap()],
    )
    .await;
    let out = ok(server.addr, &bob, &["--json", "inbox"]).await;
    let events: Vec<Value> = serde_json::from_str(&out).unwrap();
    let file = events.iter().find(|e| e["event"] == "file").unwrap();
    assert_eq!(file["name"], "a\\b.txt");
    let saved = bob.join("downloads").join("a\\b.txt");
    assert_eq!(file["path"].as_str().map(Path::new), Some(saved.as_path()));
    assert_eq!(std::fs::read(&saved).unwrap(), b"one name");
    assert_eq!(e2e::names_in(&bob.join("downloads")), ["a\\b.txt"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_dates_an_offer_as_inbox_did_by_its_senders_clock() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &[])
        .await
        .unwrap();
    let (alice, bob) = two_users(dir.path(), server.addr).await;
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, b"pdf").unwrap();
    ok(
        server.addr,
        &alice,
        &["send-file", "bob", path.to_str().unwrap()],
    )
    .await;
    let out = ok(server.addr, &bob, &["inbox"]).await;
    let line = out.lines().find(|l| l.contains("offers a file")).unwrap();
    let shown = &line[1..line.find(']').unwrap()];
    // The server's clock an hour behind the sender's: its time is only a
    // remark, as it would be in `inbox`.
    let db = e2e::open_store_db(&bob);
    let moved = db
        .execute("UPDATE held_files SET sent_at = sent_at - 3600000", [])
        .unwrap();
    assert_eq!(moved, 1);
    drop(db);
    let listed = ok(server.addr, &bob, &["files"]).await;
    assert!(
        listed.contains(&format!("from alice, {shown} (server: ")),
        "inbox said {shown}: {listed}"
    );
    let offers: Vec<Value> =
        serde_json::from_str(&ok(server.addr, &bob, &["--json", "files"]).await).unwrap();
    let (sender, server_ms) = (
        offers[0]["sender_time_ms"].as_u64().unwrap(),
        offers[0]["sent_at_ms"].as_u64().unwrap(),
    );
    assert!(sender.abs_diff(server_ms) > 3_500_000, "{offers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deciding_an_offer_again_says_what_became_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &[])
        .await
        .unwrap();
    let (alice, bob) = two_users(dir.path(), server.addr).await;
    for name in ["kept.txt", "gone.txt"] {
        let path = dir.path().join(name);
        std::fs::write(&path, name).unwrap();
        ok(
            server.addr,
            &alice,
            &["send-file", "bob", path.to_str().unwrap()],
        )
        .await;
    }
    ok(server.addr, &alice, &["send", "bob", "a text"]).await;
    let events: Vec<Value> =
        serde_json::from_str(&ok(server.addr, &bob, &["--json", "inbox"]).await).unwrap();
    let id = |what: &str| {
        events
            .iter()
            .find(|e| e["name"] == what || e["text"] == what)
            .and_then(|e| e["message_id"].as_u64())
            .unwrap_or_else(|| panic!("{what}: {events:?}"))
            .to_string()
    };
    let (kept, gone, text) = (id("kept.txt"), id("gone.txt"), id("a text"));
    ok(server.addr, &bob, &["accept-file", &kept]).await;
    ok(server.addr, &bob, &["decline-file", &gone]).await;

    let saved = bob.join("downloads").join("kept.txt");
    for (args, says) in [
        (
            ["accept-file", &kept],
            format!(
                "file offer {kept} (kept.txt from alice) was accepted already: saved as {}",
                saved.display()
            ),
        ),
        (
            ["decline-file", &kept],
            format!("file offer {kept} (kept.txt from alice) was accepted already"),
        ),
        (
            ["accept-file", &gone],
            format!("file offer {gone} (gone.txt from alice) was declined already"),
        ),
        (
            ["decline-file", &gone],
            format!("file offer {gone} (gone.txt from alice) was declined already"),
        ),
        (
            ["accept-file", &text],
            format!("message {text} from alice is a text, not a file offer"),
        ),
        (
            ["accept-file", "999999"],
            "no file offer 999999 waits for a decision".to_string(),
        ),
    ] {
        let v = crate::rooms_cli::refusal(server.addr, &bob, &args).await;
        assert_eq!(v["code"], "no_such_offer", "{args:?}: {v}");
        assert!(
            v["error"].as_str().unwrap().starts_with(&says),
            "{args:?}: {v}"
        );
    }
    assert_eq!(std::fs::read(&saved).unwrap(), b"kept.txt");
}

/// A file from a contact pinned without a name (bob's name went to a new
/// account while the old bob stays pinned under it) is said to come from
/// `client ID`, never from an empty name: in `files`, its `--json`
/// (`from_name` null) and the download's line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_from_a_contact_pinned_without_a_name_names_its_client_id() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::start(&data, &[]).await.unwrap();
    let (alice, bob) = two_users(dir.path(), server.addr).await;
    ok(server.addr, &bob, &["send", "alice", "hi"]).await;
    ok(server.addr, &alice, &["inbox"]).await;
    // Bob's account goes; a new one takes his name in another home.
    ok(server.addr, &bob, &["delete-account", "bob"]).await;
    let new_bob = dir.path().join("new-bob");
    std::fs::create_dir_all(&new_bob).unwrap();
    let registered = ok(server.addr, &new_bob, &["--json", "register", "bob"]).await;
    let registered: Value = serde_json::from_str(&registered).unwrap();
    let new_id = registered["id"].as_str().unwrap().to_string();
    let path = dir.path().join("report.bin");
    std::fs::write(&path, pattern(3, 100_000)).unwrap();
    ok(
        server.addr,
        &new_bob,
        &["send-file", "alice", path.to_str().unwrap()],
    )
    .await;

    ok(server.addr, &alice, &["inbox"]).await;
    let out = ok(server.addr, &alice, &["files"]).await;
    assert!(
        out.contains(&format!("report.bin (100.00 kB) from client {new_id}")),
        "{out}"
    );
    let listed: Value =
        serde_json::from_str(&ok(server.addr, &alice, &["--json", "files"]).await).unwrap();
    assert_eq!(listed[0]["from"], new_id.as_str(), "{listed}");
    assert!(listed[0]["from_name"].is_null(), "{listed}");
    let offer = listed[0]["message_id"].as_u64().unwrap().to_string();
    let (success, out, err) = e2e::run_client(server.addr, &alice, &["accept-file", &offer]).await;
    assert!(success, "{out}{err}");
    assert!(!format!("{out}{err}").contains("from  "), "{out}{err}");
}
