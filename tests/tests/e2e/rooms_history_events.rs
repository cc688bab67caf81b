//! Room events kept in the room's history, through the real `client`
//! binary: who joined, who was removed and the rename are entries between
//! the texts, in the order they happened, recorded once however often the
//! inbox is read, and read back the same by a later run; the changes our
//! own commands made are recorded too, without the inbox showing them
//! again. Our own join is recorded once, before the first text: by name
//! (an open room, a password room), and, when the client was killed
//! between joining the room and recording it, by the next command, from an
//! invitation and by name (or, if the server never took a join by name,
//! the next join makes it).

use serde_json::Value;

use crate::rooms_cli::{json, ok, room_events, run, texts, users};

/// Each entry of a `history --json` as (type, room_event or text).
pub(crate) fn entries(history: &Value) -> Vec<(String, String)> {
    history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let kind = e["type"].as_str().unwrap().to_string();
            let what = match kind.as_str() {
                "event" => e["room_event"].as_str().unwrap(),
                _ => e["text"].as_str().unwrap(),
            };
            (kind, what.to_string())
        })
        .collect()
}

/// The lines of a text `history` that say a room event, without their
/// time.
pub(crate) fn event_lines(history: &str) -> Vec<&str> {
    history
        .lines()
        .filter(|l| l.starts_with('['))
        .map(e2e::untimed)
        .filter_map(|l| l.strip_prefix("-- "))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_history_events_are_kept_between_the_texts_once_and_in_order() {
    let (server, _dir, [alice, bob, _carol]) = users(["alice", "bob", "carol"]).await;
    let addr = server.addr;
    ok(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob", "carol"]).await;
    ok(addr, &bob, &["room", "send", "team", "hello from bob"]).await;
    ok(addr, &alice, &["room", "remove", "team", "carol"]).await;
    ok(addr, &alice, &["room", "rename", "team", "crew"]).await;
    ok(addr, &alice, &["room", "send", "crew", "after the changes"]).await;

    // Bob's inbox shows the removal and the rename once each; read twice,
    // they are recorded once.
    let shown = room_events(&json(addr, &bob, &["inbox"]).await);
    let kinds: Vec<&str> = shown
        .iter()
        .map(|e| e["room_event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["removed", "renamed", "text"], "{shown:?}");
    assert!(room_events(&json(addr, &bob, &["inbox"]).await).is_empty());

    let event = |what: &str| ("event".to_string(), what.to_string());
    let text = |what: &str| ("text".to_string(), what.to_string());
    let expected = vec![
        event("joined"),
        text("hello from bob"),
        event("removed"),
        event("renamed"),
        text("after the changes"),
    ];
    let history = json(addr, &bob, &["history", "#crew"]).await;
    assert_eq!(entries(&history), expected, "{history}");
    // Alice, who sent the last text, acted.
    let removed = &history[2];
    assert_eq!(removed["sender"], history[4]["sender"], "{removed}");
    assert_eq!(removed["direction"], "in", "{removed}");
    assert_eq!(removed["members"][0]["name"], "carol", "{removed}");
    assert_eq!(removed["status"], "read", "{removed}");
    assert!(removed["arrived_at_ms"].as_u64().unwrap() > 0, "{removed}");
    assert_eq!(history[3]["old_name"], "team", "{history}");
    assert_eq!(history[3]["name"], "crew", "{history}");

    let plain = ok(addr, &bob, &["history", "#crew"]).await;
    assert_eq!(
        event_lines(&plain),
        [
            "you joined, invited by alice; members: alice, you, carol",
            "alice removed carol",
            "alice renamed #team to #crew",
        ],
        "{plain}"
    );
    // Between the texts, as they happened.
    let at = |what: &str| {
        plain
            .find(what)
            .unwrap_or_else(|| panic!("{what}: {plain}"))
    };
    assert!(at("hello from bob") < at("alice removed carol"), "{plain}");
    assert!(
        at("alice renamed #team to #crew") < at("after the changes"),
        "{plain}"
    );

    // A later run reads the same, and events are never unread.
    assert_eq!(json(addr, &bob, &["history", "#crew"]).await, history);
    let list = json(addr, &bob, &["conversations"]).await;
    let crew = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["room"] == true)
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(crew["unread"], 0, "{list}");

    // The admin's own changes are in her history; her inbox shows only
    // bob's text, read by her commands, and nothing of her changes (each
    // command said what it did).
    let shown = room_events(&json(addr, &alice, &["inbox"]).await);
    let kinds: Vec<&str> = shown
        .iter()
        .map(|e| e["room_event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["text"], "{shown:?}");
    let plain = ok(addr, &alice, &["history", "#crew"]).await;
    assert_eq!(
        event_lines(&plain),
        [
            "you created #team",
            "you added bob, carol",
            "you removed carol",
            "you renamed #team to #crew",
        ],
        "{plain}"
    );
}

/// Joins `room` by name in `bob`'s home (with `password` on standard
/// input, if any), then checks that his history of the room records the
/// join once, before the first text, in JSON and in plain text: right
/// after the join, after the `inbox` that reads the room's log (his own
/// join in it), read again, and after a command of his own in the room.
async fn joined_by_name_is_recorded_once_before_the_first_text(
    addr: std::net::SocketAddr,
    alice: &std::path::Path,
    bob: &std::path::Path,
    room: &str,
    password: Option<&str>,
) {
    let join = ["room", "join", room];
    match password {
        Some(p) => {
            let (success, _, err) =
                crate::rooms_password::with_stdin(addr, bob, &join, &format!("{p}\n")).await;
            assert!(success, "{err}");
        }
        None => {
            json(addr, bob, &join).await;
        }
    }
    let conversation = format!("#{room}");
    let history = ["history", conversation.as_str()];
    let joined = ("event".to_string(), "joined_by_name".to_string());
    let text = |what: &str| ("text".to_string(), what.to_string());

    let right_after = json(addr, bob, &history).await;
    assert_eq!(
        entries(&right_after),
        std::slice::from_ref(&joined),
        "{right_after}"
    );
    let join_entry = &right_after[0];
    assert_eq!(join_entry["you"], true, "{join_entry}");
    assert_eq!(join_entry["member"], "bob", "{join_entry}");
    assert_eq!(join_entry["direction"], "out", "{join_entry}");
    assert_eq!(join_entry["status"], "read", "{join_entry}");

    ok(addr, alice, &["room", "send", room, "welcome, bob"]).await;
    let shown = room_events(&json(addr, bob, &["inbox"]).await);
    assert_eq!(texts(&shown), ["welcome, bob"], "{shown:?}");
    let expected = vec![joined.clone(), text("welcome, bob")];
    let first = json(addr, bob, &history).await;
    assert_eq!(entries(&first), expected, "{first}");
    assert_eq!(first[0], right_after[0], "{first}");
    let plain = ok(addr, bob, &history).await;
    assert_eq!(event_lines(&plain), ["you joined"], "{plain}");
    let at = |what: &str| {
        plain
            .find(what)
            .unwrap_or_else(|| panic!("{what}: {plain}"))
    };
    assert!(at("you joined") < at("welcome, bob"), "{plain}");

    // Later runs read the same: again, after another inbox, and after a
    // command of his in the room.
    assert_eq!(json(addr, bob, &history).await, first);
    assert!(room_events(&json(addr, bob, &["inbox"]).await).is_empty());
    assert_eq!(json(addr, bob, &history).await, first);
    ok(addr, bob, &["room", "send", room, "thanks"]).await;
    let after = json(addr, bob, &history).await;
    assert_eq!(
        entries(&after),
        [joined, text("welcome, bob"), text("thanks")],
        "{after}"
    );
    assert_eq!(event_lines(&ok(addr, bob, &history).await), ["you joined"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_history_events_a_join_by_name_is_recorded_once_before_the_first_text() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    ok(addr, &alice, &["room", "create", "lobby", "--public"]).await;
    joined_by_name_is_recorded_once_before_the_first_text(addr, &alice, &bob, "lobby", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_history_events_a_join_of_a_password_room_is_recorded_once_before_the_first_text() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    let (success, _, err) = crate::rooms_password::with_stdin(
        addr,
        &alice,
        &["room", "create", "vault", "--password"],
        "open sesame\n",
    )
    .await;
    assert!(success, "{err}");
    joined_by_name_is_recorded_once_before_the_first_text(
        addr,
        &alice,
        &bob,
        "vault",
        Some("open sesame"),
    )
    .await;
}

/// Runs `client --json inbox` in `home` made to abort at the point `at`
/// of a join from a welcome (`client::rooms::TEST_CRASH`), as a kill -9
/// there would stop it.
async fn inbox_crashing_at(addr: std::net::SocketAddr, home: &std::path::Path, at: &str) {
    crashing_at(addr, home, &["inbox"], at).await;
}

/// Runs `client --json ARGS` in `home` made to abort at the point `at` of
/// a join (`client::rooms::TEST_CRASH`), as a kill -9 there would stop it.
async fn crashing_at(addr: std::net::SocketAddr, home: &std::path::Path, args: &[&str], at: &str) {
    e2e::run_client_crashing_at(addr, home, args, client::rooms::TEST_CRASH, at).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_history_events_a_join_cut_short_by_a_crash_is_recorded_once_before_what_waited() {
    // Killed after the engine joined, and after the entry was recorded
    // but before the welcome was marked handled: the welcome comes again.
    for at in ["joined", "recorded"] {
        let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
        let addr = server.addr;
        ok(addr, &alice, &["room", "create", "team"]).await;
        ok(addr, &alice, &["room", "add", "team", "bob"]).await;
        ok(addr, &alice, &["room", "send", "team", "waited for bob"]).await;
        inbox_crashing_at(addr, &bob, at).await;

        let shown = room_events(&json(addr, &bob, &["inbox"]).await);
        let kinds: Vec<&str> = shown
            .iter()
            .map(|e| e["room_event"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["joined", "text"], "{at}: {shown:?}");
        assert!(room_events(&json(addr, &bob, &["inbox"]).await).is_empty());

        let event = |what: &str| ("event".to_string(), what.to_string());
        let text = |what: &str| ("text".to_string(), what.to_string());
        let history = json(addr, &bob, &["history", "#team"]).await;
        assert_eq!(
            entries(&history),
            [event("joined"), text("waited for bob")],
            "{at}: {history}"
        );
        let plain = ok(addr, &bob, &["history", "#team"]).await;
        assert_eq!(
            event_lines(&plain),
            ["you joined, invited by alice; members: alice, you"],
            "{at}: {plain}"
        );
        assert_eq!(json(addr, &bob, &["history", "#team"]).await, history);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_history_events_a_join_by_name_cut_short_by_a_crash_is_finished_by_the_next_command()
{
    // Killed with the join made here but not sent (the server never took
    // it), or taken by the server but not recorded; then the next command
    // is another join, an inbox or a text to the room.
    let cases = [
        ("made", "join"),
        ("made", "inbox"),
        ("sent", "join"),
        ("sent", "inbox"),
        ("sent", "send"),
    ];
    let kinds = |shown: &[Value]| -> Vec<String> {
        shown
            .iter()
            .map(|e| e["room_event"].as_str().unwrap().to_string())
            .collect()
    };
    for (at, next) in cases {
        let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
        let addr = server.addr;
        let case = format!("{at}, then {next}");
        ok(addr, &alice, &["room", "create", "lobby", "--public"]).await;
        crashing_at(addr, &bob, &["room", "join", "lobby"], at).await;
        // No command said what became of it: the next inbox does, once.
        let (notice, line) = match at {
            "made" => (
                "join_cut_short",
                "[#lobby] a join of yours was cut short before the server took it: it was not made",
            ),
            _ => ("joined_by_name", "[#lobby] you joined"),
        };

        match next {
            "join" if at == "sent" => {
                let (success, _, err) = run(addr, &bob, &["room", "join", "lobby"]).await;
                assert!(!success, "{case}");
                assert!(
                    err.contains("you are already a member of #lobby"),
                    "{case}: {err}"
                );
            }
            "inbox" => {
                let shown = ok(addr, &bob, &["inbox"]).await;
                let lines: Vec<&str> = shown.lines().filter(|l| l.contains("#lobby")).collect();
                assert_eq!(lines.len(), 1, "{case}: {shown}");
                assert!(lines[0].ends_with(line), "{case}: {shown}");
            }
            "send" => {
                ok(addr, &bob, &["room", "send", "lobby", "from bob"]).await;
            }
            _ => {}
        }
        // Never taken: a new join makes it.
        if at == "made" {
            let joined = json(addr, &bob, &["room", "join", "lobby"]).await;
            assert_eq!(joined["members"], 2, "{case}: {joined}");
        }

        // Texts go both ways after it.
        if next != "send" {
            ok(addr, &bob, &["room", "send", "lobby", "from bob"]).await;
        }
        let seen = room_events(&json(addr, &alice, &["inbox"]).await);
        assert_eq!(kinds(&seen), ["joined_by_name", "text"], "{case}: {seen:?}");
        assert_eq!(texts(&seen), ["from bob"], "{case}");
        ok(addr, &alice, &["room", "send", "lobby", "from alice"]).await;
        let shown = room_events(&json(addr, &bob, &["inbox"]).await);
        assert_eq!(texts(&shown), ["from alice"], "{case}: {shown:?}");
        let expected: &[&str] = match next {
            "inbox" => &["text"],
            _ => &[notice, "text"],
        };
        assert_eq!(kinds(&shown), expected, "{case}: {shown:?}");
        if notice == "joined_by_name" && next != "inbox" {
            assert_eq!(shown[0]["you"], true, "{case}: {shown:?}");
        }

        // Bob's history records his join once, before both texts.
        let text = |what: &str| ("text".to_string(), what.to_string());
        let joined = ("event".to_string(), "joined_by_name".to_string());
        let history = json(addr, &bob, &["history", "#lobby"]).await;
        assert_eq!(
            entries(&history),
            [joined, text("from bob"), text("from alice")],
            "{case}: {history}"
        );
        let plain = ok(addr, &bob, &["history", "#lobby"]).await;
        assert_eq!(event_lines(&plain), ["you joined"], "{case}: {plain}");
        assert!(room_events(&json(addr, &bob, &["inbox"]).await).is_empty());
        assert_eq!(json(addr, &bob, &["history", "#lobby"]).await, history);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_history_events_a_join_by_name_another_process_holds_is_left_to_it() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    ok(addr, &alice, &["room", "create", "lobby", "--public"]).await;
    // Made here, never sent: what a join in flight in another process of
    // the home looks like while that process holds the home's join lock.
    crashing_at(addr, &bob, &["room", "join", "lobby"], "made").await;
    let mine = |list: &Value| -> Vec<String> {
        list["mine"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(bob.join("room-join.lock"))
        .unwrap();
    lock.lock().unwrap();
    json(addr, &bob, &["inbox"]).await;
    let list = json(addr, &bob, &["room", "list"]).await;
    assert_eq!(mine(&list), ["lobby"], "left to the lock's holder: {list}");
    drop(lock);
    // Its holder gone, the join is the crash's: never taken, so forgotten.
    let list = json(addr, &bob, &["room", "list"]).await;
    assert!(mine(&list).is_empty(), "{list}");
    let joined = json(addr, &bob, &["room", "join", "lobby"]).await;
    assert_eq!(joined["members"], 2, "{joined}");
}
