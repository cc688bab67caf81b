//! Room events kept in the room's history, through the real `client`
//! binary: who joined, who was removed and the rename are entries between
//! the texts, in the order they happened, recorded once however often the
//! inbox is read, and read back the same by a later run; the changes our
//! own commands made are recorded too, without the inbox showing them
//! again.

use serde_json::Value;

use crate::rooms_cli::{json, ok, room_events, users};

/// Each entry of a `history --json` as (type, room_event or text).
fn entries(history: &Value) -> Vec<(String, String)> {
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
fn event_lines(history: &str) -> Vec<&str> {
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
            "you added bob, carol",
            "you removed carol",
            "you renamed #team to #crew",
        ],
        "{plain}"
    );
}
