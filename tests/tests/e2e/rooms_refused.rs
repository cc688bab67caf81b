//! A room invitation the added member's client refuses (PROTOCOL.md "A
//! refused room invitation"): the admin who added them is told, by name
//! and room, with how to remove the member the room lists but who reads
//! nothing of it. Here the refusal is a trust warning: the added member
//! pinned another key for a member than the one the room holds (a server
//! handed it out).

use serde_json::Value;

use crate::rooms_cli::{json, ok, room_events, users};

/// The `invitation_refused` room events of an `inbox --json`.
fn refusals(inbox: &Value) -> Vec<Value> {
    room_events(inbox)
        .into_iter()
        .filter(|e| e["room_event"] == "invitation_refused")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_is_told_when_a_members_client_refuses_the_invitation() {
    let (mut server, _dir, [alice, bob, carol]) = users(["alice", "bob", "carol"]).await;
    let addr = server.addr;
    for room in ["team", "ops"] {
        ok(addr, &alice, &["room", "create", room]).await;
        ok(addr, &alice, &["room", "add", room, "carol"]).await;
    }
    ok(addr, &carol, &["inbox"]).await;
    let carol_id = json(addr, &alice, &["key", "carol"]).await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // Bob is handed another key for carol than the one her leaf holds, and
    // pins it; the welcomes then name a member whose key differs from his pin.
    server
        .restart_handing_out_another_key(carol_id)
        .await
        .unwrap();
    let addr = server.addr;
    ok(addr, &bob, &["key", "carol"]).await;

    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    let seen = json(addr, &bob, &["inbox"]).await;
    let refused: Vec<_> = room_events(&seen)
        .into_iter()
        .filter(|e| e["room_event"] == "unreadable")
        .collect();
    assert_eq!(refused.len(), 1, "bob's client used the invitation: {seen}");

    // Alice's client says who refused which room, why, and the way out.
    let told = json(addr, &alice, &["inbox"]).await;
    let events = refusals(&told);
    assert_eq!(events.len(), 1, "alice was not told: {told}");
    let e = &events[0];
    assert_eq!(e["room"], "team", "{e}");
    assert_eq!(e["from_name"], "bob", "{e}");
    assert_eq!(e["member"], "bob", "{e}");
    assert_eq!(e["reason"], "invitation_key_differs", "{e}");
    assert_eq!(e["listed"], true, "{e}");
    let team_id = json(addr, &alice, &["room", "list"]).await;
    assert!(
        team_id.to_string().contains(e["room_id"].as_str().unwrap()),
        "{e} names another room than {team_id}"
    );

    // The same for a person, once: the second invitation, to ops.
    ok(addr, &alice, &["room", "add", "ops", "bob"]).await;
    ok(addr, &bob, &["inbox"]).await;
    let line = ok(addr, &alice, &["inbox"]).await;
    assert!(
        line.contains(
            "bob's client refused your invitation to #ops (a member's key differs from bob's pin"
        ) && line.contains(
            "bob is listed but cannot read the room; remove them with: client room remove ops bob"
        ),
        "{line}"
    );
    // Told once per invitation: nothing more comes.
    assert!(refusals(&json(addr, &alice, &["inbox"]).await).is_empty());

    // The way out she was given works.
    ok(addr, &alice, &["room", "remove", "ops", "bob"]).await;
    let members = json(addr, &alice, &["room", "members", "ops"]).await;
    assert!(!members.to_string().contains("\"bob\""), "{members}");
}

/// A member whose rooms state was lost (its home restored from an older
/// copy) cannot open an invitation made for a key package it held then: its
/// client says the invitation was unusable, not a key warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_for_a_lost_key_package_is_told_as_unusable() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    // Bob's uploaded key packages are the oldest, so the next claim takes
    // one whose private part went with this file.
    for file in ["rooms.db", "rooms.db-wal", "rooms.db-shm"] {
        let _ = std::fs::remove_file(bob.join(file));
    }
    ok(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    let seen = json(addr, &bob, &["inbox"]).await;
    assert!(
        room_events(&seen)
            .iter()
            .any(|e| e["room_event"] == "unreadable"),
        "bob's client used the invitation: {seen}"
    );

    let events = refusals(&json(addr, &alice, &["inbox"]).await);
    assert_eq!(events.len(), 1, "alice was not told: {events:?}");
    assert_eq!(events[0]["room"], "team", "{events:?}");
    assert_eq!(events[0]["member"], "bob", "{events:?}");
    assert_eq!(events[0]["reason"], "invitation_unusable", "{events:?}");
}
