//! The user themself in room events, through the real `client` binary:
//! `--json` names them by their own name with `you: true` (as `room
//! members --json` and `inbox --json`'s `from_you` do), where the lists
//! of members added, removed or in the room said "you"; the lines for a
//! person still say "you".

use serde_json::Value;

use crate::rooms_cli::{json, ok, room_events, users};

/// The first room event of `kind` in `inbox`.
fn event(inbox: &Value, kind: &str) -> Value {
    room_events(inbox)
        .into_iter()
        .find(|e| e["room_event"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {inbox}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_events_name_the_user_with_you_in_json_and_say_you_in_lines() {
    let (server, _dir, [alice, bob, carol]) = users(["alice", "bob", "carol"]).await;
    let addr = server.addr;
    json(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;

    let inbox = json(addr, &bob, &["inbox"]).await;
    let joined = event(&inbox, "joined");
    assert_eq!(
        joined["members"],
        serde_json::json!([
            {"name": "alice", "you": false},
            {"name": "bob", "you": true},
        ]),
        "{joined}"
    );

    ok(addr, &alice, &["room", "promote", "team", "bob"]).await;
    ok(addr, &alice, &["room", "add", "team", "carol"]).await;
    let inbox = json(addr, &bob, &["inbox"]).await;
    let role = event(&inbox, "role");
    assert_eq!(
        (&role["member"], &role["you"], &role["role"]),
        (
            &Value::from("bob"),
            &Value::from(true),
            &Value::from("admin")
        ),
        "{role}"
    );
    let added = event(&inbox, "added");
    assert_eq!(
        added["members"],
        serde_json::json!([{"name": "carol", "you": false}]),
        "{added}"
    );

    // Carol is added by bob's hand too, and reads herself as "you" in lines.
    ok(addr, &bob, &["room", "kick", "team", "carol"]).await;
    ok(addr, &bob, &["room", "add", "team", "carol"]).await;
    let shown = ok(addr, &carol, &["inbox"]).await;
    assert!(
        shown.contains("[#team] you joined, invited by bob; members: alice, bob, you"),
        "{shown}"
    );
    assert!(!shown.contains("carol"), "{shown}");
    let shown = ok(addr, &alice, &["inbox"]).await;
    assert!(shown.contains("[#team] bob removed carol"), "{shown}");
}
