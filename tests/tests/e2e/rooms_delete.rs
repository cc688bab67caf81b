//! Deleting a room through the real `client` binary (issue 14, item 4; the
//! server side is `v3::room_delete`): only the owner may, an admin and a
//! member are refused before anything is sent, each other member is told in
//! one line and forgets the room, and the owner's client forgets it too.

use e2e::TestServer;

use crate::rooms_cli::{json, ok, register, run};

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
    for (home, role) in [(&bob, "a member"), (&carol, "an admin")] {
        let (success, _, err) = run(addr, home, &["room", "delete", "team"]).await;
        assert!(!success);
        assert!(
            err.contains(&format!(
                "you are {role} of #team, not its owner, and may not delete the room"
            )),
            "{err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    // The room still works after the refusals.
    ok(addr, &bob, &["room", "send", "team", "still here"]).await;

    let deleted = json(addr, &alice, &["room", "delete", "team"]).await;
    assert_eq!(deleted["room"], "team");
    assert_eq!(deleted["deleted"], true);

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
