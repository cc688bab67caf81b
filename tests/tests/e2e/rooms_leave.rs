//! Leaving a room through the real `client` binary: a member who leaves is
//! told it left (not that someone removed it), the others see it go (the
//! one whose client commits the leave as well), and an owner may not leave
//! a room nobody could manage after it.

use crate::rooms_cli::{json, ok, refusal, room_events, run, users};

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
    assert_eq!(err["code"], "last_admin", "{err}");
    assert!(
        err["error"].as_str().unwrap().contains("room promote crew"),
        "{err}"
    );

    // Bob leaves; the next member to read commits it, and bob hears that
    // he left, not that he was removed.
    ok(addr, &bob, &["room", "leave", "crew"]).await;
    // Asked again, nothing is sent again, and he is told so; his list
    // shows the room as one he is leaving.
    let again = json(addr, &bob, &["room", "leave", "crew"]).await;
    assert_eq!(again["already"], true, "{again}");
    let listed = ok(addr, &bob, &["room", "list"]).await;
    assert!(listed.contains("you: leaving"), "{listed}");
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

/// Leaves after the owner left: a plain member commits another's leave
/// (the roles table keeps the owner's stale entry, which only an admin may
/// drop), and the last admin may not leave until another is an admin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaves_go_through_after_the_owner_left_and_the_last_admin_stays() {
    let names = ["gina", "hank", "ivan", "jack", "kim"];
    let (server, _dir, [gina, hank, ivan, jack, kim]) = users(names).await;
    let addr = server.addr;
    json(addr, &gina, &["room", "create", "orphan"]).await;
    ok(
        addr,
        &gina,
        &["room", "add", "orphan", "hank", "ivan", "jack", "kim"],
    )
    .await;
    ok(addr, &gina, &["room", "promote", "orphan", "hank"]).await;
    for home in [&hank, &ivan, &jack, &kim] {
        ok(addr, home, &["inbox"]).await;
    }
    ok(addr, &gina, &["room", "leave", "orphan"]).await;
    let seen = ok(addr, &hank, &["inbox"]).await;
    assert!(seen.contains("[#orphan] gina left"), "{seen}");

    // Jack leaves; ivan, a plain member, commits it, and every member
    // accepts it.
    ok(addr, &jack, &["room", "leave", "orphan"]).await;
    let (done, seen, err) = run(addr, &ivan, &["inbox"]).await;
    assert!(done && seen.contains("[#orphan] jack left"), "{seen}{err}");
    assert!(!err.contains("WARN"), "{err}");
    let seen = ok(addr, &hank, &["inbox"]).await;
    assert!(seen.contains("[#orphan] jack left"), "{seen}");

    // Hank is the last admin: he may not leave the room unmanaged.
    let err = refusal(addr, &hank, &["room", "leave", "orphan"]).await;
    assert_eq!(err["code"], "last_admin", "{err}");
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("you are the last admin of #orphan"),
        "{err}"
    );

    // With ivan an admin he may. Kim, asking next, commits hank's leave
    // first (a plain member, the roles as they were); ivan commits kim's.
    ok(addr, &hank, &["room", "promote", "orphan", "ivan"]).await;
    ok(addr, &hank, &["room", "leave", "orphan"]).await;
    let (done, _, err) = run(addr, &kim, &["room", "leave", "orphan"]).await;
    assert!(done && !err.contains("WARN"), "{err}");
    let seen = ok(addr, &hank, &["inbox"]).await;
    assert!(seen.contains("[#orphan] you left, as you asked"), "{seen}");
    let (done, seen, err) = run(addr, &ivan, &["inbox"]).await;
    assert!(done && !err.contains("WARN"), "{err}");
    assert!(
        seen.contains("[#orphan] hank left") && seen.contains("[#orphan] kim left"),
        "{seen}"
    );
    let members = json(addr, &ivan, &["room", "members", "orphan"]).await;
    assert_eq!(members.as_array().unwrap().len(), 1, "{members}");
}
