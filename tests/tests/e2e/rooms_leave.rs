//! Leaving a room through the real `client` binary: a member who leaves is
//! told it left (not that someone removed it), the others see it go (the
//! one whose client commits the leave as well), and an owner may not leave
//! a room nobody could manage after it.

use crate::rooms_cli::{json, ok, refusal, room_events, users};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_leaves_in_its_own_words_and_an_owner_only_with_an_admin_behind() {
    let (server, _dir, [alice, bob, carol]) = users(["alice", "bob", "carol"]).await;
    let addr = server.addr;
    json(addr, &alice, &["room", "create", "crew"]).await;
    ok(addr, &alice, &["room", "add", "crew", "bob", "carol"]).await;
    ok(addr, &bob, &["inbox"]).await;
    ok(addr, &carol, &["inbox"]).await;

    // The owner, with no admin beside her, is refused before anything is sent.
    let err = refusal(addr, &alice, &["room", "leave", "crew"]).await;
    assert_eq!(err["code"], "room_member", "{err}");
    assert!(
        err["error"].as_str().unwrap().contains("room promote crew"),
        "{err}"
    );

    // Bob leaves; the next member to read commits it, and bob hears that
    // he left, not that he was removed.
    ok(addr, &bob, &["room", "leave", "crew"]).await;
    // Until then bob sends nothing more, and is told why.
    let err = refusal(addr, &bob, &["room", "send", "crew", "one more"]).await;
    assert_eq!(err["code"], "leaving", "{err}");
    // Alice's client committed it by itself: she is told bob left, once,
    // as carol is when she reads the commit. The request and its leave,
    // read together, are the one line of the leave.
    for home in [&alice, &carol] {
        let seen = ok(addr, home, &["inbox"]).await;
        assert_eq!(seen.matches("[#crew] bob left").count(), 1, "{seen}");
        assert!(!seen.contains("asked to leave"), "{seen}");
    }
    let members = json(addr, &alice, &["room", "members", "crew"]).await;
    assert_eq!(members.as_array().unwrap().len(), 2, "{members}");
    let told = room_events(&json(addr, &bob, &["inbox"]).await);
    let kinds: Vec<&str> = told
        .iter()
        .map(|e| e["room_event"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"you_left"), "{told:?}");
    assert!(!kinds.contains(&"removed_you"), "{told:?}");

    // With carol an admin, alice may go, and carol still manages the room.
    ok(addr, &alice, &["room", "promote", "crew", "carol"]).await;
    ok(addr, &alice, &["room", "leave", "crew"]).await;
    let seen = ok(addr, &carol, &["inbox"]).await;
    assert!(!seen.contains("alice asked to leave"), "{seen}");
    assert_eq!(seen.matches("[#crew] alice left").count(), 1, "{seen}");
    ok(addr, &carol, &["room", "add", "crew", "bob"]).await;
    let members = json(addr, &carol, &["room", "members", "crew"]).await;
    let roles: Vec<&str> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles.len(), 2, "{members}");
    assert!(
        roles.contains(&"admin") && roles.contains(&"member"),
        "{members}"
    );
}
