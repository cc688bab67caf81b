//! A read of a room's log killed at any point loses nothing and shows
//! nothing twice, through the real `client` binary: killed after the rooms
//! engine processed the entries and before the key store recorded them,
//! after the key store recorded them and before the engine let go of them,
//! and before the server was told, the next `inbox` shows every text, the
//! file and the rename once, in order; the one after shows nothing new;
//! `history` holds each once. The same for an entry the client cannot
//! read: its notice comes once, in its place, in the same words (history
//! does not keep such notices).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::rooms_cli::{json, ok, room_events, users};

/// What an entry of `inbox --json` or `history --json` says, in short.
fn said(e: &Value) -> String {
    match (e["type"].as_str(), e["room_event"].as_str()) {
        (Some("text"), _) | (None, Some("text")) => format!("text {}", e["text"].as_str().unwrap()),
        (Some("file"), _) | (None, Some("file")) => format!("file {}", e["name"].as_str().unwrap()),
        (_, Some(event)) => event.to_string(),
        _ => panic!("{e}"),
    }
}

/// Runs `client --json inbox` in `home` made to abort at the point `at`
/// of a read of the rooms' logs (`client::rooms::READ_TEST_CRASH`), as a
/// kill -9 there would stop it.
async fn inbox_crashing_at(addr: std::net::SocketAddr, home: &std::path::Path, at: &str) {
    e2e::run_client_crashing_at(addr, home, &["inbox"], client::rooms::READ_TEST_CRASH, at).await;
}

/// A server with alice and bob, both in alice's room `team`: the server,
/// the folder and the two homes.
async fn team() -> (e2e::TestServer, tempfile::TempDir, PathBuf, PathBuf) {
    let (server, dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    ok(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    ok(addr, &bob, &["inbox"]).await;
    (server, dir, alice, bob)
}

/// The room events of bob's next `inbox` after one killed at `at`, which
/// must be `expected`, and those of the one after, which must be none.
async fn inbox_after_crash(
    addr: std::net::SocketAddr,
    bob: &Path,
    at: &str,
    expected: &[&str],
) -> Vec<Value> {
    inbox_crashing_at(addr, bob, at).await;
    let events = room_events(&json(addr, bob, &["inbox"]).await);
    let shown: Vec<String> = events.iter().map(said).collect();
    assert_eq!(shown, expected, "{at}: {events:?}");
    let again = room_events(&json(addr, bob, &["inbox"]).await);
    assert!(again.is_empty(), "{at}: {again:?}");
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_read_crash_at_any_point_of_a_read_loses_nothing_and_shows_nothing_twice() {
    for at in ["processed", "recorded", "released"] {
        let (server, dir, alice, bob) = team().await;
        let addr = server.addr;
        let note = dir.path().join("note.txt");
        std::fs::write(&note, b"minutes").unwrap();
        ok(addr, &alice, &["room", "send", "team", "one"]).await;
        ok(addr, &alice, &["room", "send", "team", "two"]).await;
        ok(
            addr,
            &alice,
            &["room", "send-file", "team", note.to_str().unwrap()],
        )
        .await;
        ok(addr, &alice, &["room", "rename", "team", "crew"]).await;
        ok(addr, &alice, &["room", "send", "crew", "three"]).await;

        let expected = [
            "text one",
            "text two",
            "file note.txt",
            "renamed",
            "text three",
        ];
        let events = inbox_after_crash(addr, &bob, at, &expected).await;
        // The rename says what the room was called before it, read again
        // or not.
        assert_eq!(events[3]["old_name"], "team", "{at}: {events:?}");
        assert_eq!(events[3]["name"], "crew", "{at}: {events:?}");

        let history = json(addr, &bob, &["history", "#crew"]).await;
        let kept: Vec<String> = history.as_array().unwrap().iter().map(said).collect();
        assert_eq!(kept[0], "joined", "{at}: {history}");
        assert_eq!(kept[1..], expected, "{at}: {history}");
        let plain = ok(addr, &bob, &["history", "#crew"]).await;
        for (what, times) in [
            ("one", 1),
            ("two", 1),
            ("three", 1),
            ("note.txt", 1),
            ("renamed", 1),
        ] {
            let lines = plain.lines().filter(|l| l.contains(what)).count();
            assert_eq!(lines, times, "{at}: {what}: {plain}");
        }
        assert_eq!(
            std::fs::read(bob.join("downloads").join("note.txt")).unwrap(),
            b"minutes",
            "{at}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_read_crash_at_any_point_of_a_read_loses_no_unreadable_notice() {
    for at in ["processed", "recorded", "released"] {
        let (server, dir, alice, bob) = team().await;
        let addr = server.addr;
        // A copy of alice's home (no client runs in it now) used beside the
        // original seals with the keys the original spends: bob's client
        // cannot read the copy's text.
        let copy = dir.path().join("alice-copy");
        crate::healing::copy_dir(&alice, &copy);
        ok(addr, &alice, &["room", "send", "team", "one"]).await;
        ok(addr, &copy, &["room", "send", "team", "from the copy"]).await;
        ok(addr, &alice, &["room", "send", "team", "two"]).await;

        let expected = ["text one", "unreadable", "text two"];
        let events = inbox_after_crash(addr, &bob, at, &expected).await;
        let why = events[1]["error"].as_str().unwrap();
        assert_eq!(why, UNREADABLE, "{at}: {events:?}");

        // History holds each once, the unreadable entry in its place.
        let history = json(addr, &bob, &["history", "#team"]).await;
        let kept: Vec<String> = history.as_array().unwrap().iter().map(said).collect();
        assert_eq!(
            kept,
            ["joined", "text one", "unreadable", "text two"],
            "{at}: {history}"
        );
    }
}

/// What bob's client says of the copy's text, the first time and again.
const UNREADABLE: &str = "a room message did not decrypt (altered, or not for you)";
