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
