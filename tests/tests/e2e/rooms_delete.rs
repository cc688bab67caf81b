//! Deleting a room through the real `client` binary (issue 14, item 4; the
//! server side is `v3::room_delete`): only the owner may, an admin and a
//! member are refused before anything is sent, each other member is told in
//! one line and forgets the room, and the owner's client forgets it too.

use e2e::TestServer;

use crate::rooms_cli::{json, ok, refusal, register, run, users};

#[tokio::test]
async fn only_the_owner_deletes_a_room_with_the_client_and_every_member_is_told() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let [alice, bob, carol] = ["alice", "bob", "carol"].map(|n| dir.path().join(n));
    for (home, name) in [(&alice, "alice"), (&bob, "bob"), (&carol, "carol")] {
        register(addr, home, name).await;
    }
    ok(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob", "carol"]).await;
    ok(addr, &alice, &["room", "promote", "team", "carol"]).await;
    ok(addr, &alice, &["room", "send", "team", "hello team"]).await;
    for home in [&bob, &carol] {
        ok(addr, home, &["inbox"]).await;
    }

    // A member and an admin are refused by their own client, in one line.
    for home in [&bob, &carol] {
        let (success, _, err) = run(addr, home, &["room", "delete", "team"]).await;
        assert!(!success);
        assert!(
            err.contains("only its owner may delete #team (or its only member); ask its owner"),
            "{err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        let err = refusal(addr, home, &["room", "delete", "team"]).await;
        assert_eq!(err["code"], "not_owner", "{err}");
    }
    // The room still works after the refusals.
    ok(addr, &bob, &["room", "send", "team", "still here"]).await;

    let deleted = json(addr, &alice, &["room", "delete", "team"]).await;
    assert_eq!(deleted["room"], "team");
    assert_eq!(deleted["deleted"], true);
    assert_eq!(deleted["other_members"], 2, "{deleted}");

    // Each other member reads the owner's notice and forgets the room.
    for home in [&bob, &carol] {
        let shown = ok(addr, home, &["inbox"]).await;
        assert!(shown.contains("[#team] alice deleted the room"), "{shown}");
        let (success, _, err) = run(addr, home, &["room", "send", "team", "anyone?"]).await;
        assert!(!success, "a deleted room took a message");
        assert!(err.contains("team"), "{err}");
    }
    // The owner's client forgot it too: the name is free for a new room.
    let (success, _, _) = run(addr, &alice, &["room", "send", "team", "anyone?"]).await;
    assert!(!success);
    let again = json(addr, &alice, &["room", "create", "team"]).await;
    assert_eq!(again["members"], 1);
}

/// Once the owner has left, an admin deletes the room (a plain member is
/// refused), and every member believes the admin's notice; the last member
/// of a room may always delete it, since nobody could complete its leave.
#[tokio::test]
async fn an_admin_deletes_a_room_whose_owner_left_and_a_lone_member_may_too() {
    let (server, _dir, [alice, bob, carol]) = users(["alice", "bob", "carol"]).await;
    let addr = server.addr;
    ok(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob", "carol"]).await;
    ok(addr, &alice, &["room", "promote", "team", "bob"]).await;
    ok(addr, &alice, &["room", "leave", "team"]).await;
    let seen = ok(addr, &bob, &["inbox"]).await;
    assert!(seen.contains("[#team] alice left"), "{seen}");

    let (success, _, err) = run(addr, &carol, &["room", "delete", "team"]).await;
    assert!(!success);
    assert!(
        err.contains("only an admin may delete #team (or its only member)"),
        "{err}"
    );
    let err = refusal(addr, &carol, &["room", "delete", "team"]).await;
    assert_eq!(err["code"], "not_admin", "{err}");
    // The one who deletes is told what the others lose with it.
    let said = ok(addr, &bob, &["room", "delete", "team"]).await;
    assert!(
        said.contains(
            "deleted #team for its 1 other member; what they had not yet read in it is gone with it"
        ),
        "{said}"
    );
    let shown = ok(addr, &carol, &["inbox"]).await;
    assert!(shown.contains("[#team] bob deleted the room"), "{shown}");
    assert!(!shown.contains("may not delete"), "{shown}");

    // Carol, alone in a room of hers that bob has left, is told to delete
    // it rather than leave, and may.
    ok(addr, &carol, &["room", "create", "pair"]).await;
    ok(addr, &carol, &["room", "add", "pair", "bob"]).await;
    ok(addr, &bob, &["inbox"]).await;
    ok(addr, &bob, &["room", "leave", "pair"]).await;
    ok(addr, &carol, &["inbox"]).await;
    let (success, _, err) = run(addr, &carol, &["room", "leave", "pair"]).await;
    assert!(!success && err.contains("room delete pair"), "{err}");
    let said = ok(addr, &carol, &["room", "delete", "pair"]).await;
    assert_eq!(said.trim(), "deleted #pair", "{said}");
}

/// The owner's history records its own deletion as the members' does; the
/// deleted room is then one each of them is "no longer a member" of, with
/// its history kept, not "no room named" with its id; a room known nowhere
/// has no history to show or forget.
#[tokio::test]
async fn a_deleted_room_stays_in_each_history_and_is_said_to_be_left() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let [alice, bob] = ["alice", "bob"].map(|n| dir.path().join(n));
    register(addr, &alice, "alice").await;
    register(addr, &bob, "bob").await;
    let created = json(addr, &alice, &["room", "create", "team"]).await;
    let id = created["id"].as_str().unwrap().to_string();
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    ok(addr, &alice, &["room", "send", "team", "before the end"]).await;
    ok(addr, &bob, &["inbox"]).await;
    ok(addr, &alice, &["room", "delete", "team"]).await;
    ok(addr, &bob, &["inbox"]).await;

    for (home, deleted) in [
        (&alice, "you deleted the room"),
        (&bob, "alice deleted the room"),
    ] {
        let history = ok(addr, home, &["history", "#team"]).await;
        let last = history.trim_end().lines().last().unwrap_or_default();
        assert!(last.contains(deleted), "{history}");
        assert!(history.contains("before the end"), "{history}");
        let listed = ok(addr, home, &["conversations"]).await;
        let row = listed.lines().find(|l| l.starts_with("#team")).unwrap();
        assert!(row.contains("(no longer a member"), "{listed}");

        let (success, _, err) = run(addr, home, &["room", "send", &format!("#{id}"), "x"]).await;
        assert!(!success);
        assert_eq!(
            err.trim(),
            format!(
                "client: you are no longer a member of #team; its history stays here \
                 (`client history '#{id}'` shows it)"
            )
        );
        let err = refusal(addr, home, &["room", "send", "team", "x"]).await;
        assert_eq!(err["code"], "not_in_room", "{err}");
    }

    for args in [["history", "#nosuch"], ["forget", "#nosuch"]] {
        let err = refusal(addr, &alice, &args).await;
        assert_eq!(err["code"], "no_such_room", "{args:?}: {err}");
    }
}
