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
    bob_refuses(addr, &bob, 1).await;

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
    lose_rooms_state(&bob);
    ok(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    bob_refuses(addr, &bob, 1).await;
    // Bob is told why in words, not in the MLS library's.
    ok(addr, &alice, &["room", "create", "ops"]).await;
    ok(addr, &alice, &["room", "add", "ops", "bob"]).await;
    let line = ok(addr, &bob, &["inbox"]).await;
    assert!(
        line.contains(
            "a room invitation from alice was refused: it was made for a key package this \
             home no longer holds"
        ) && line.contains("its sender is told, and can remove you and add you again"),
        "{line}"
    );
    assert!(!line.contains("MLS"), "{line}");

    let events = refusals(&json(addr, &alice, &["inbox"]).await);
    assert_eq!(events.len(), 2, "alice was not told of both: {events:?}");
    assert_eq!(events[0]["room"], "team", "{events:?}");
    assert_eq!(events[0]["member"], "bob", "{events:?}");
    assert_eq!(events[0]["reason"], "invitation_unusable", "{events:?}");
}

/// `home`'s `inbox`, in which its client refuses `n` invitations (it
/// cannot open them) and uses none.
async fn bob_refuses(addr: std::net::SocketAddr, home: &std::path::Path, n: usize) {
    let seen = json(addr, home, &["inbox"]).await;
    let unreadable = room_events(&seen)
        .into_iter()
        .filter(|e| e["room_event"] == "unreadable")
        .count();
    assert_eq!(unreadable, n, "the client used an invitation: {seen}");
}

/// Deletes `home`'s rooms state, so that its client cannot open the
/// invitations made for the key packages it uploaded so far (the oldest,
/// claimed first).
fn lose_rooms_state(home: &std::path::Path) {
    for file in ["rooms.db", "rooms.db-wal", "rooms.db-shm"] {
        let _ = std::fs::remove_file(home.join(file));
    }
}

/// A refusal that comes once the admin removed the refuser: nothing is
/// left to remove, and the line says so instead of offering a removal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_after_the_refuser_was_removed_offers_no_removal() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    lose_rooms_state(&bob);
    for room in ["team", "ops"] {
        ok(addr, &alice, &["room", "create", room]).await;
        ok(addr, &alice, &["room", "add", room, "bob"]).await;
        ok(addr, &alice, &["room", "remove", room, "bob"]).await;
    }
    bob_refuses(addr, &bob, 2).await;

    // Both refusals wait for alice; `--json` reads them both.
    let events = refusals(&json(addr, &alice, &["inbox"]).await);
    assert_eq!(events.len(), 2, "{events:?}");
    for (e, room) in events.iter().zip(["team", "ops"]) {
        assert_eq!(e["room"], room, "{e}");
        assert_eq!(e["member"], "bob", "{e}");
        assert_eq!(e["listed"], false, "{e}");
        assert_eq!(e["in_room"], true, "{e}");
    }

    // For a person: one more refusal, of a room that no longer lists bob.
    ok(addr, &alice, &["room", "create", "lab"]).await;
    ok(addr, &alice, &["room", "add", "lab", "bob"]).await;
    ok(addr, &alice, &["room", "remove", "lab", "bob"]).await;
    ok(addr, &bob, &["inbox"]).await;
    let line = ok(addr, &alice, &["inbox"]).await;
    assert!(
        line.contains(
            "bob's client refused your invitation to #lab (bob's client could not use it"
        ) && line.contains("; #lab no longer lists bob, so there is nothing to remove"),
        "{line}"
    );
    assert!(!line.contains("room remove"), "{line}");
}

/// A refusal that comes once the admin is out of the room (left it, or
/// deleted it): the room is named as it was, and the admin is told they
/// are no longer in it rather than given a removal they cannot make.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_after_the_admin_left_names_the_room_and_says_so() {
    let (server, _dir, [alice, bob, carol]) = users(["alice", "bob", "carol"]).await;
    let addr = server.addr;
    lose_rooms_state(&bob);
    // Alice leaves lab (carol, an admin, stays and completes it) and
    // deletes den, each after adding bob.
    ok(addr, &alice, &["room", "create", "lab"]).await;
    ok(addr, &alice, &["room", "add", "lab", "carol"]).await;
    ok(addr, &carol, &["inbox"]).await;
    ok(addr, &alice, &["room", "promote", "lab", "carol"]).await;
    ok(addr, &alice, &["room", "add", "lab", "bob"]).await;
    ok(addr, &alice, &["room", "leave", "lab"]).await;
    ok(addr, &carol, &["inbox"]).await;
    let out = ok(addr, &alice, &["inbox"]).await;
    assert!(out.contains("[#lab] you left"), "{out}");
    ok(addr, &alice, &["room", "create", "den"]).await;
    ok(addr, &alice, &["room", "add", "den", "bob"]).await;
    ok(addr, &alice, &["room", "delete", "den"]).await;

    bob_refuses(addr, &bob, 2).await;

    let events = refusals(&json(addr, &alice, &["inbox"]).await);
    assert_eq!(events.len(), 2, "{events:?}");
    for (e, room) in events.iter().zip(["lab", "den"]) {
        assert_eq!(e["room"], room, "{e}");
        assert_eq!(e["member"], "bob", "{e}");
        assert_eq!(e["in_room"], false, "{e}");
        assert_eq!(e["listed"], false, "{e}");
        assert_eq!(e["room_id"].as_str().map(str::len), Some(32), "{e}");
    }

    // For a person, the same for a room she left.
    ok(addr, &alice, &["room", "create", "ops"]).await;
    ok(addr, &alice, &["room", "add", "ops", "carol"]).await;
    ok(addr, &carol, &["inbox"]).await;
    ok(addr, &alice, &["room", "promote", "ops", "carol"]).await;
    ok(addr, &alice, &["room", "add", "ops", "bob"]).await;
    ok(addr, &alice, &["room", "leave", "ops"]).await;
    ok(addr, &carol, &["inbox"]).await;
    ok(addr, &alice, &["inbox"]).await;
    ok(addr, &bob, &["inbox"]).await;
    let line = ok(addr, &alice, &["inbox"]).await;
    assert!(
        line.contains(
            "bob's client refused your invitation to #ops (bob's client could not use it"
        ) && line.contains("; you are no longer in #ops, so there is nothing for you to remove"),
        "{line}"
    );
    assert!(!line.contains("room remove"), "{line}");
}
