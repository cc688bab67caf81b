//! Room receipts through the real `client` binary (PROTOCOL.md "Room
//! receipts"): the sender's history counts the members who opened and read
//! each message; a member with read receipts off tells only that it opened
//! them; a member added later counts only for what was sent after; a
//! receipt is never shown to anyone; `watch` tells the room what it showed,
//! even when stopped at once, and so does the menu leaving at once;
//! a library reader that shows nothing tells it what it opened; a burst
//! read together is one receipt; a room over the limit has none.

use std::time::Duration;

use e2e::bounded;

use crate::rooms_cli::{
    WatchLines, inbox_room_texts, interrupt_watch, json, next_room_event, ok, room_events,
    stop_watch, texts, users, watch_json,
};

/// Alice's room entry of text `text`: its status and receipt counts
/// (members, delivered, read), after reading what waits for her.
async fn at_alice(
    addr: std::net::SocketAddr,
    alice: &std::path::Path,
    text: &str,
) -> (String, [u64; 3]) {
    // Receipts come in the room's log; nothing of them is shown (what
    // others said is).
    let events = room_events(&json(addr, alice, &["inbox"]).await);
    assert!(
        events.iter().all(|e| e["room_event"] == "text"),
        "{events:?}"
    );
    let history = json(addr, alice, &["history", "#team"]).await;
    let entry = history
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["text"] == text)
        .unwrap_or_else(|| panic!("no {text:?} in {history}"))
        .clone();
    let r = &entry["receipts"];
    let count = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{entry}"));
    (
        entry["status"].as_str().unwrap().to_string(),
        [count("members"), count("delivered"), count("read")],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_message_counts_who_opened_and_read_it_and_a_later_member_only_what_followed() {
    let (server, _dir, [alice, bob, carol, dave]) = users(["alice", "bob", "carol", "dave"]).await;
    let addr = server.addr;
    ok(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob", "carol"]).await;
    ok(addr, &alice, &["room", "send", "team", "one"]).await;
    assert_eq!(
        at_alice(addr, &alice, "one").await,
        ("stored".into(), [2, 0, 0])
    );

    // Bob reads it: opened and read by one of two.
    let at_bob = room_events(&json(addr, &bob, &["inbox"]).await);
    assert_eq!(texts(&at_bob), ["one"]);
    assert_eq!(
        at_alice(addr, &alice, "one").await,
        ("stored".into(), [2, 1, 1])
    );
    let history = ok(addr, &alice, &["history", "#team"]).await;
    assert!(history.contains("you  (read by 1 of 2)"), "{history}");

    // Carol turned read receipts off: she tells only that she opened it.
    ok(addr, &carol, &["receipts", "off"]).await;
    assert_eq!(inbox_room_texts(addr, &carol).await, ["one"]);
    assert_eq!(
        at_alice(addr, &alice, "one").await,
        ("delivered".into(), [2, 2, 1])
    );

    // Dave joins after it: his receipts count for what follows only.
    ok(addr, &alice, &["room", "add", "team", "dave"]).await;
    ok(addr, &alice, &["room", "send", "team", "two"]).await;
    assert_eq!(inbox_room_texts(addr, &dave).await, ["two"]);
    assert_eq!(
        at_alice(addr, &alice, "one").await,
        ("delivered".into(), [2, 2, 1])
    );
    assert_eq!(
        at_alice(addr, &alice, "two").await,
        ("stored".into(), [3, 1, 1])
    );

    // Everyone's receipts reach the others too, and none of them is shown:
    // each reads only texts.
    for home in [&bob, &carol] {
        let events = room_events(&json(addr, home, &["inbox"]).await);
        assert_eq!(
            events
                .iter()
                .map(|e| e["room_event"].as_str().unwrap())
                .collect::<Vec<_>>(),
            ["added", "text"],
            "{events:?}"
        );
    }
    ok(addr, &carol, &["receipts", "on"]).await;
    // Carol's read mark moves when she is shown something new.
    ok(addr, &bob, &["room", "send", "team", "three"]).await;
    assert_eq!(inbox_room_texts(addr, &carol).await, ["three"]);
    assert_eq!(
        at_alice(addr, &alice, "two").await,
        ("read".into(), [3, 3, 3])
    );
    let history = ok(addr, &alice, &["history", "#team"]).await;
    assert!(history.contains("you  (read)\n    two"), "{history}");
    // Bob's own message counts alice, carol and dave; the first two read
    // it (his inbox brings their receipts).
    json(addr, &bob, &["inbox"]).await;
    let mine = json(addr, &bob, &["history", "#team"]).await;
    let three = mine
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["text"] == "three")
        .unwrap()
        .clone();
    assert_eq!(three["receipts"]["members"], 3, "{three}");
    assert_eq!(three["receipts"]["read"], 2, "{three}");
}

/// Alice's room `team` with bob in it, bob's `watch --json` running and
/// having shown alice's `text`: the server, the folder, alice's home and
/// the watch with its lines (kept open: a watch whose output is closed
/// fails on its next line).
async fn bob_watches_alice_say(
    text: &str,
) -> (
    e2e::TestServer,
    tempfile::TempDir,
    std::path::PathBuf,
    tokio::process::Child,
    WatchLines,
) {
    let (server, dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    ok(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    let (watch, mut lines) = watch_json(addr, &bob);
    assert_eq!(next_room_event(&mut lines).await["room_event"], "joined");
    ok(addr, &alice, &["room", "send", "team", text]).await;
    assert_eq!(next_room_event(&mut lines).await["text"], text);
    (server, dir, alice, watch, lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_tells_the_room_what_it_showed() {
    let (server, _dir, alice, watch, _lines) = bob_watches_alice_say("live").await;
    let addr = server.addr;
    // The receipt follows the showing; bounded wait for it to be stored.
    let mut seen = at_alice(addr, &alice, "live").await;
    for _ in 0..50 {
        if seen.1 == [1, 1, 1] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        seen = at_alice(addr, &alice, "live").await;
    }
    assert_eq!(seen, ("read".into(), [1, 1, 1]));
    stop_watch(watch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_stopped_right_after_showing_a_text_has_told_the_room_before_it_exits() {
    let (server, _dir, alice, watch, _lines) = bob_watches_alice_say("quick look").await;
    let addr = server.addr;
    // Ctrl-C at once: well within the moment a live reader waits before
    // telling the room. Once it exited, the receipt is on the server.
    interrupt_watch(watch).await;
    assert_eq!(
        at_alice(addr, &alice, "quick look").await,
        ("read".into(), [1, 1, 1])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_menu_leaving_right_after_showing_a_text_has_told_the_room() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    ok(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    ok(addr, &alice, &["room", "send", "team", "menu look"]).await;
    // `4` shows what waits, and the script's end leaves at once.
    let (success, out, err) = e2e::run_client_with_stdin(addr, &bob, &[], Some("4\n")).await;
    assert!(success, "the menu failed:\n{out}\n{err}");
    assert!(out.contains("menu look"), "{out}");
    assert_eq!(
        at_alice(addr, &alice, "menu look").await,
        ("read".into(), [1, 1, 1])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_shows_nothing_still_tells_the_room_it_opened_the_text() {
    let server = e2e::TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let alice = e2e::user(&addr, &dir.path().join("alice"), "alice").await;
    let bob = e2e::user(&addr, &dir.path().join("bob"), "bob").await;
    alice.room_create("team").await.unwrap();
    alice.room_add("team", &["bob".into()]).await.unwrap();
    bounded("bob joins", bob.inbox()).await.unwrap().unwrap();
    alice.room_send("team", "quietly read").await.unwrap();
    // Bob's library reads it and shows nothing (no `shown`): his client
    // tells the room in a moment that it opened it, and nothing more.
    let events = bounded("bob's inbox", bob.inbox()).await.unwrap().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let mut seen = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        seen = last_entry(&alice, "#team").await;
        if seen.is_some_and(|(_, r)| r.is_some_and(|r| r.delivered == 1)) {
            break;
        }
    }
    let (status, receipts) = seen.expect("alice's text is in her history");
    let receipts = receipts.expect("it has its recipient");
    assert_eq!(
        (status, receipts.members, receipts.delivered, receipts.read),
        (client::keystore::Status::Delivered, 1, 1, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_tells_the_room_of_a_burst_in_one_receipt() {
    // SQLite: the test counts bob's entries in the room's log.
    let server = e2e::TestServer::start_on(e2e::Engine::Sqlite, |_| {})
        .await
        .unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let [alice, bob] = ["alice", "bob"].map(|n| dir.path().join(n));
    crate::rooms_cli::register(addr, &alice, "alice").await;
    let bob_id = crate::rooms_cli::register(addr, &bob, "bob").await;
    ok(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    for text in ["one", "two", "three"] {
        ok(addr, &alice, &["room", "send", "team", text]).await;
    }
    // Bob's watch reads the three at once, shows them, and sends one
    // receipt for them (not one a text); alice has not read it, so it
    // stays in the log.
    let (watch, mut lines) = watch_json(addr, &bob);
    assert_eq!(next_room_event(&mut lines).await["room_event"], "joined");
    for text in ["one", "two", "three"] {
        assert_eq!(next_room_event(&mut lines).await["text"], text);
    }
    for _ in 0..50 {
        if entries_from(&server, bob_id) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A moment more than the live reader's delay, for any late one.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(entries_from(&server, bob_id), 1);
    assert_eq!(
        at_alice(addr, &alice, "three").await,
        ("read".into(), [1, 1, 1])
    );
    stop_watch(watch).await;
}

/// The status and receipt counts of the last entry of `room` in `reader`'s
/// history (through the client library), after reading what waits.
async fn last_entry(
    reader: &client::Client,
    room: &str,
) -> Option<(
    client::keystore::Status,
    Option<client::keystore::RoomReceipts>,
)> {
    bounded("the inbox", reader.inbox()).await.unwrap().unwrap();
    let (_, entries) = reader
        .history(room, client::keystore::HistoryQuery::default())
        .await
        .unwrap();
    entries.last().map(|e| (e.status, e.receipts))
}

/// Entries `sender` put in the room logs that are still there.
fn entries_from(server: &e2e::TestServer, sender: protocol::ClientId) -> i64 {
    let db = rusqlite::Connection::open(server.config.data_dir.join("server.db")).unwrap();
    db.query_row(
        "SELECT count(*) FROM room_log WHERE sender = ?1",
        [&sender.0[..]],
        |r| r.get(0),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_over_the_receipt_limit_has_none_and_its_messages_stay_stored() {
    let server = e2e::TestServer::start_on(e2e::Engine::Sqlite, |_| {})
        .await
        .unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let alice = e2e::user(&addr, &dir.path().join("alice"), "alice").await;
    // One member more than the limit, alice included.
    let mut members = Vec::new();
    for i in 1..=client::rooms::MAX_RECEIPT_MEMBERS {
        let name = format!("m{i}");
        members.push((
            name.clone(),
            e2e::user(&addr, &dir.path().join(&name), &name).await,
        ));
    }
    alice.room_create("big").await.unwrap();
    let names: Vec<String> = members.iter().map(|(n, _)| n.clone()).collect();
    alice.room_add("big", &names).await.unwrap();
    alice.room_send("big", "to everyone").await.unwrap();
    let (first, reader) = &members[0];
    let events = bounded("a member's inbox", reader.inbox())
        .await
        .unwrap()
        .unwrap();
    reader.shown(&events).await;
    assert!(
        events
            .iter()
            .any(|e| client::output::event(e).ends_with("alice: to everyone")),
        "{first} read {events:?}"
    );
    // A moment more than the live reader's delay: nothing was sent.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let reader_id = reader.me().unwrap().id;
    assert_eq!(entries_from(&server, reader_id), 0);
    assert_eq!(
        last_entry(&alice, "#big").await,
        Some((client::keystore::Status::Stored, None))
    );
}
