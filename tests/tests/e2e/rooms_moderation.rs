//! Moderation edges a room admin meets: a ban of someone who was never a
//! member (legitimate: it keeps them out) says so, and a ban or unban of
//! oneself, or an add, ban or unban of a name the server does not know, is
//! refused naming the room, not as a one-to-one message.

use crate::rooms_cli::{json, ok, refusal, users};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_says_whether_the_user_was_a_member_and_oneself_is_refused_by_room() {
    // Bob and carol need only be registered: alice acts on them.
    let (server, _dir, [alice, _bob, _carol]) = users(["alice", "bob", "carol"]).await;
    let addr = server.addr;
    ok(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;

    // Carol was never in the room: banned all the same, and told apart.
    let line = ok(addr, &alice, &["room", "ban", "team", "carol"]).await;
    assert_eq!(
        line.trim(),
        "banned carol from #team; carol was not a member, and may not join or be added unless \
         unbanned"
    );
    let err = refusal(addr, &alice, &["room", "add", "team", "carol"]).await;
    assert_eq!(err["code"], "banned", "{err}");
    ok(addr, &alice, &["room", "unban", "team", "carol"]).await;
    let done = json(addr, &alice, &["room", "ban", "team", "carol"]).await;
    assert_eq!(done["banned"], "carol", "{done}");
    assert_eq!(done["room"], "team", "{done}");
    assert_eq!(done["was_member"], false, "{done}");

    // A member's ban removes them; the line and the JSON say it was one.
    let done = json(addr, &alice, &["room", "ban", "team", "bob"]).await;
    assert_eq!(done["was_member"], true, "{done}");
    // Unbanned from an invite-only room, bob is not told he may join.
    let line = ok(addr, &alice, &["room", "unban", "team", "bob"]).await;
    assert_eq!(
        line.trim(),
        "bob is no longer banned from #team; an admin may add them (the room is invite-only)"
    );

    // Oneself: refused as a room matter, naming the room.
    for (args, says) in [
        (
            ["room", "ban", "team", "alice"],
            "that is you; you cannot ban yourself from #team (to leave it, use `room leave`)",
        ),
        (
            ["room", "unban", "team", "alice"],
            "that is you; you are in #team, so you are not banned from it",
        ),
    ] {
        let err = refusal(addr, &alice, &args).await;
        assert_eq!(err["code"], "is_you", "{args:?}: {err}");
        assert_eq!(err["error"], says, "{args:?}: {err}");
        let (done, _, text) = crate::rooms_cli::run(addr, &alice, &args).await;
        assert!(!done, "{args:?}");
        assert_eq!(text.trim(), format!("client: {says}"), "{args:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_add_or_ban_of_a_user_the_server_does_not_know_names_the_room() {
    let (server, _dir, [alice, _mallory]) = users(["alice", "mallory"]).await;
    let addr = server.addr;
    ok(addr, &alice, &["room", "create", "Ops"]).await;

    // The room by its own name, however it was typed; the unknown name's
    // own advice (the closest known name, else where to look) after it.
    for (args, says) in [
        (
            vec!["room", "add", "ops", "mallory", "nobody"],
            "cannot add nobody to #Ops: no user named \"nobody\" on this server; \
             `client list` shows who is there",
        ),
        (
            vec!["room", "ban", "OPS", "mallroy"],
            "cannot ban mallroy from #Ops: no user named \"mallroy\" on this server; did you \
             mean \"mallory\"?",
        ),
        (
            vec!["room", "unban", "#Ops", "nobody"],
            "cannot unban nobody from #Ops: no user named \"nobody\" on this server; \
             `client list` shows who is there",
        ),
    ] {
        let (done, _, text) = crate::rooms_cli::run(addr, &alice, &args).await;
        assert!(!done, "{args:?}");
        assert_eq!(text.trim(), format!("client: {says}"), "{args:?}");
        let err = refusal(addr, &alice, &args).await;
        assert_eq!(err["code"], "unknown_peer", "{args:?}: {err}");
        assert_eq!(err["error"], says, "{args:?}: {err}");
        assert_eq!(err["room"], "Ops", "{args:?}: {err}");
    }
    // Mallory, named beside the unknown name, was not added either.
    let members = json(addr, &alice, &["room", "members", "ops"]).await;
    assert_eq!(members.as_array().unwrap().len(), 1, "{members}");

    // A room that is not ours is what is wrong first.
    let err = refusal(addr, &alice, &["room", "add", "nosuch", "nobody"]).await;
    assert_eq!(err["code"], "no_such_room", "{err}");
    assert!(err.get("room").is_none(), "{err}");
}
