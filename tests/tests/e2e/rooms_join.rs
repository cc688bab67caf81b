//! Joining rooms without an invitation and moderating them (issue 14),
//! through the real `client` binary against a real server, and through the
//! rooms engine on a raw connection where a test must send what an honest
//! client never would: a public room listed with its member and online
//! counts and joined by name; a hidden room never listed, found only by its
//! exact name, with one answer for every wrong name; an invite-only room
//! and a banned user refused even when the external commit is crafted;
//! kick, ban, unban, promote and demote with their effect on who may
//! moderate; a rename seen by members. Waits are bounded; nothing is timed.

use bytes::{Bytes, BytesMut};
use e2e::RoomUser;
use e2e::TestServer;
use protocol::v3::{self, RoomCommit, RoomLabel};
use protocol::{ErrorReason, Response, RoomId};
use sealpost_rooms::{JoinRule, RoomName};

use crate::presence::{Watch, wait_until_online};
use crate::rooms_cli::{json, ok, refusal, register, room_events, run, texts, users};

/// The line a failed client command printed, after it failed.
async fn refused(addr: std::net::SocketAddr, home: &std::path::Path, args: &[&str]) -> String {
    let (success, _, err) = run(addr, home, args).await;
    assert!(!success, "client {args:?} succeeded");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_join_a_public_room_is_listed_with_its_counts_and_joined_by_name() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let [alice, bob, carol] = ["alice", "bob", "carol"].map(|n| dir.path().join(n));
    for (home, name) in [(&alice, "alice"), (&bob, "bob"), (&carol, "carol")] {
        register(addr, home, name).await;
    }
    let created = json(addr, &alice, &["room", "create", "lobby", "--public"]).await;
    assert_eq!(created["rule"], "public");

    let listed = json(addr, &carol, &["room", "list"]).await;
    assert_eq!(listed["public"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["public"][0]["name"], "lobby");
    assert_eq!(listed["public"][0]["members"], 1);
    assert_eq!(listed["public"][0]["online"], 0);
    assert!(listed["mine"].as_array().unwrap().is_empty());

    let joined = json(addr, &bob, &["room", "join", "lobby"]).await;
    assert_eq!(joined["members"], 2);
    assert_eq!(joined["role"], "member");
    // Bob is now online while his watch runs: the list counts him.
    let mut watch = Watch::start(addr, &bob, &[]);
    wait_until_online(addr, &carol, &["bob"]).await;
    let listed = json(addr, &carol, &["room", "list"]).await;
    assert_eq!(listed["public"][0]["members"], 2, "{listed}");
    assert_eq!(listed["public"][0]["online"], 1, "{listed}");

    // The joiner reads what is sent after the join; the owner saw it come.
    ok(addr, &alice, &["room", "send", "lobby", "welcome, bob"]).await;
    let seen = watch.next("room").await;
    assert_eq!(seen["room_event"], "text", "{seen}");
    assert_eq!(seen["text"], "welcome, bob");
    watch.stop().await;
    let shown = ok(addr, &alice, &["inbox"]).await;
    assert!(shown.contains("[#lobby] bob joined"), "{shown}");
    let mine = json(addr, &alice, &["room", "list"]).await;
    assert_eq!(mine["mine"][0]["members"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_join_a_hidden_room_is_unlisted_found_by_its_exact_name_only() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    json(addr, &alice, &["room", "create", "den", "--hidden"]).await;
    json(addr, &alice, &["room", "create", "club"]).await;

    let listed = json(addr, &bob, &["room", "list"]).await;
    assert!(listed["public"].as_array().unwrap().is_empty(), "{listed}");
    for wrong in ["den2", "Den", "club"] {
        let err = refused(addr, &bob, &["room", "join", wrong]).await;
        assert!(err.contains("no such room"), "{wrong}: {err}");
    }

    // On the wire, a wrong name, a missing room and an invite-only room's
    // name get the very same bytes.
    let (mut raw, _) = e2e::V3Conn::new_user(addr, "eve").await.unwrap();
    let mut answers = Vec::new();
    for name in ["den2", "Den", "club", "nothing-at-all"] {
        let answer = raw
            .call(v3::Request::FindRoom(RoomLabel::new(name).unwrap()))
            .await
            .unwrap();
        let mut bytes = BytesMut::new();
        Response::V3(answer).encode(&mut bytes).unwrap();
        answers.push(bytes);
    }
    for a in &answers {
        assert_eq!(a, &answers[0]);
    }
    match raw
        .call(v3::Request::FindRoom(RoomLabel::new("den").unwrap()))
        .await
        .unwrap()
    {
        v3::Response::RoomFound(found) => assert!(!found.group_info.is_empty()),
        other => panic!("the exact name found {other:?}"),
    }

    let joined = json(addr, &bob, &["room", "join", "den"]).await;
    assert_eq!(joined["rule"], "hidden");
    ok(addr, &alice, &["room", "send", "den", "psst"]).await;
    let events = room_events(&json(addr, &bob, &["inbox"]).await);
    assert_eq!(texts(&events), vec!["psst"], "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_join_the_server_refuses_crafted_joins_of_invite_only_rooms_and_banned_users() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let mut alice = RoomUser::new(addr, dir.path(), "alice").await.unwrap();
    let mut mallory = RoomUser::new(addr, dir.path(), "mallory").await.unwrap();
    mallory.trust(&[&alice]);
    alice.trust(&[&mallory]);

    // An invite-only room: its group info (from a member) does not let an
    // outsider in, even with a commit no honest engine would make.
    let club = alice.create().await.unwrap();
    let info = alice
        .engine
        .group_info(sealpost_rooms::RoomId(club.0))
        .unwrap();
    let commit = sealpost_rooms::testing::rogue_external_join(&mallory.engine, &info);
    assert_eq!(
        join(&mut mallory, club, 0, commit).await,
        Err(ErrorReason::RoomRefused)
    );

    // A public room that bans mallory: refused by the engine, by 144 and by
    // the server for a crafted commit.
    let ops = RoomId(rand::random());
    let engine_ops = sealpost_rooms::RoomId(ops.0);
    let created = alice
        .engine
        .create_room_with_rule(engine_ops, &RoomName::new("ops").unwrap(), JoinRule::Public)
        .unwrap();
    alice
        .call_ok(v3::Request::RoomCreate(v3::RoomCreate {
            room: ops,
            group_info: created.group_info.into(),
            ratchet_tree: created.ratchet_tree.into(),
        }))
        .await
        .unwrap();
    let ban = alice
        .engine
        .set_banned(engine_ops, sealpost_rooms::ClientId(mallory.id().0), true)
        .unwrap();
    assert_eq!(alice.publish(ban).await.unwrap(), Ok(1));
    store_group_info(&mut alice, ops).await;
    assert_eq!(
        find(&mut mallory, "ops").await,
        Err(ErrorReason::UnknownRoom)
    );
    let info = alice.engine.group_info(engine_ops).unwrap();
    assert!(mallory.engine.join_external(&info, &mallory.book).is_err());
    let commit = sealpost_rooms::testing::rogue_external_join(&mallory.engine, &info);
    mallory.engine.forget_room(engine_ops).unwrap();
    assert_eq!(
        join(&mut mallory, ops, 1, commit).await,
        Err(ErrorReason::RoomRefused)
    );

    // Unbanned, mallory finds the room and joins it.
    let unban = alice
        .engine
        .set_banned(engine_ops, sealpost_rooms::ClientId(mallory.id().0), false)
        .unwrap();
    assert_eq!(alice.publish(unban).await.unwrap(), Ok(2));
    store_group_info(&mut alice, ops).await;
    let found = find(&mut mallory, "ops").await.unwrap();
    assert_eq!(found.epoch, 2);
    let out = mallory
        .engine
        .join_external(&found.group_info, &mallory.book)
        .unwrap();
    assert_eq!(join(&mut mallory, ops, 2, out.commit).await, Ok(3));
    let status = alice.status(ops).await.unwrap();
    assert_eq!(status.members.len(), 2);
}

/// Sends a join commit at `epoch`: the new epoch, or the refusal.
async fn join(
    user: &mut RoomUser,
    room: RoomId,
    epoch: u64,
    commit: Vec<u8>,
) -> Result<u64, ErrorReason> {
    match user
        .conn
        .call(v3::Request::RoomCommit(RoomCommit {
            room,
            epoch,
            commit: commit.into(),
            welcome: Bytes::new(),
        }))
        .await
        .unwrap()
    {
        v3::Response::CommitAccepted(a) => Ok(a.epoch),
        v3::Response::Error(e) => Err(e.reason),
        other => panic!("a join answered {other:?}"),
    }
}

/// Stores the owner's group info of the room's current epoch (142).
async fn store_group_info(user: &mut RoomUser, room: RoomId) {
    let engine_room = sealpost_rooms::RoomId(room.0);
    let epoch = user.engine.epoch(engine_room).unwrap();
    let group_info = user.engine.group_info(engine_room).unwrap();
    user.call_ok(v3::Request::RoomGroupInfo(v3::RoomGroupInfo {
        room,
        epoch,
        group_info: group_info.into(),
    }))
    .await
    .unwrap();
}

/// Asks 144 for `name`.
async fn find(user: &mut RoomUser, name: &str) -> Result<v3::RoomGroupInfo, ErrorReason> {
    match user
        .conn
        .call(v3::Request::FindRoom(RoomLabel::new(name).unwrap()))
        .await
        .unwrap()
    {
        v3::Response::RoomFound(found) => Ok(found),
        v3::Response::Error(e) => Err(e.reason),
        other => panic!("a find answered {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_join_kick_ban_unban_and_rename_are_shown_to_members() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let [alice, bob, mallory] = ["alice", "bob", "mallory"].map(|n| dir.path().join(n));
    for (home, name) in [(&alice, "alice"), (&bob, "bob"), (&mallory, "mallory")] {
        register(addr, home, name).await;
    }
    json(addr, &alice, &["room", "create", "ops", "--public"]).await;
    json(addr, &bob, &["room", "join", "ops"]).await;
    json(addr, &mallory, &["room", "join", "ops"]).await;

    // A kick removes; the kicked user may join again.
    let line = ok(addr, &alice, &["room", "kick", "ops", "mallory"]).await;
    assert_eq!(line.trim(), "kicked mallory from #ops; they may join again");
    let shown = ok(addr, &mallory, &["inbox"]).await;
    assert!(shown.contains("[#ops] alice removed you"), "{shown}");
    json(addr, &mallory, &["room", "join", "ops"]).await;

    // A ban removes and keeps out, by name and by invitation.
    let line = ok(addr, &alice, &["room", "ban", "ops", "mallory"]).await;
    assert_eq!(line.trim(), "banned mallory from #ops");
    let shown = ok(addr, &bob, &["inbox"]).await;
    assert!(shown.contains("[#ops] alice banned mallory"), "{shown}");
    assert!(shown.contains("[#ops] alice removed mallory"), "{shown}");
    // The banned user is told it is a ban, not a kick it may undo by
    // joining again.
    let shown = ok(addr, &mallory, &["inbox"]).await;
    assert!(
        shown.contains("[#ops] alice banned you; you receive nothing more of this room and may not join it again unless unbanned"),
        "{shown}"
    );
    assert!(!shown.contains("removed you"), "{shown}");
    // The server answers a ban as it answers a missing room; mallory's
    // client read the ban, and says it.
    let err = refused(addr, &mallory, &["room", "join", "ops"]).await;
    assert!(
        err.contains("alice banned you from #ops on ") && !err.contains("did you mean"),
        "{err}"
    );
    // Adding her is refused by her name, with the way out.
    let err = refused(addr, &alice, &["room", "add", "ops", "mallory"]).await;
    assert!(
        err.contains("mallory is banned from #ops; lift the ban first (room unban ops mallory)"),
        "{err}"
    );
    let err = refusal(addr, &alice, &["room", "add", "ops", "mallory"]).await;
    assert_eq!(err["code"], "banned", "{err}");
    // Oneself, in every command that names a user, is one refusal.
    for args in [
        &["room", "add", "ops", "alice"][..],
        &["room", "ban", "ops", "alice"],
        &["room", "kick", "ops", "alice"],
        &["room", "promote", "ops", "alice"],
    ] {
        let err = refusal(addr, &alice, args).await;
        assert_eq!(err["code"], "is_you", "{args:?}: {err}");
    }
    let err = refused(addr, &alice, &["room", "add", "ops", "alice"]).await;
    assert!(
        err.contains("alice is you: only others can be added"),
        "{err}"
    );

    // Unbanned, mallory joins again and reads what follows.
    let line = ok(addr, &alice, &["room", "unban", "ops", "mallory"]).await;
    assert_eq!(
        line.trim(),
        "mallory is no longer banned from #ops; they may join it"
    );
    let shown = ok(addr, &bob, &["inbox"]).await;
    assert!(shown.contains("[#ops] alice unbanned mallory"), "{shown}");
    json(addr, &mallory, &["room", "join", "ops"]).await;
    ok(addr, &bob, &["room", "send", "ops", "welcome back"]).await;
    let events = room_events(&json(addr, &mallory, &["inbox"]).await);
    assert_eq!(texts(&events), vec!["welcome back"], "{events:?}");

    // A rename: members see it; the old name finds nothing, the new one
    // the room.
    // A name not shown as typed is refused before it reaches the room.
    let err = refused(addr, &alice, &["room", "rename", "ops", "ops\u{200B}2"]).await;
    assert!(
        err.contains("cannot name a room: it holds U+200B, a character that is not shown"),
        "{err}"
    );
    let err = refused(addr, &alice, &["room", "create", "r\u{202E}oom"]).await;
    assert!(err.contains("U+202E, a character that reorders"), "{err}");
    ok(addr, &alice, &["room", "rename", "ops", "ops-2"]).await;
    let shown = ok(addr, &bob, &["inbox"]).await;
    assert!(
        shown.contains("[#ops-2] alice renamed #ops to #ops-2"),
        "{shown}"
    );
    let carol = dir.path().join("carol");
    register(addr, &carol, "carol").await;
    let err = refused(addr, &carol, &["room", "join", "ops"]).await;
    assert!(err.contains("no such room"), "{err}");
    json(addr, &carol, &["room", "join", "ops-2"]).await;

    // Made invite-only, the room takes nobody by name.
    let line = ok(addr, &alice, &["room", "set", "ops-2", "--invite"]).await;
    assert_eq!(line.trim(), "#ops-2 is now invite-only");
    let shown = ok(addr, &bob, &["inbox"]).await;
    assert!(
        shown.contains("[#ops-2] alice made the room invite-only"),
        "{shown}"
    );
    let dave = dir.path().join("dave");
    register(addr, &dave, "dave").await;
    let err = refused(addr, &dave, &["room", "join", "ops-2"]).await;
    assert!(err.contains("no such room"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_join_promote_and_demote_decide_who_may_moderate() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let [alice, bob, carol] = ["alice", "bob", "carol"].map(|n| dir.path().join(n));
    for (home, name) in [(&alice, "alice"), (&bob, "bob"), (&carol, "carol")] {
        register(addr, home, name).await;
    }
    let created = json(addr, &alice, &["room", "create", "ops", "--public"]).await;
    let room_id = created["id"].as_str().unwrap().to_string();
    json(addr, &bob, &["room", "join", "ops"]).await;
    json(addr, &carol, &["room", "join", "ops"]).await;

    let err = refusal(addr, &bob, &["room", "kick", "ops", "carol"]).await;
    assert_eq!(err["code"], "not_admin", "{err}");
    assert!(
        err["error"].as_str().unwrap().contains("not an admin"),
        "{err}"
    );
    // Promote and demote answer in one shape: who, and their role now.
    let promoted = json(addr, &alice, &["room", "promote", "ops", "bob"]).await;
    assert_eq!(
        promoted,
        serde_json::json!({ "room": "ops", "room_id": room_id, "member": "bob", "role": "admin" })
    );
    ok(addr, &bob, &["room", "kick", "ops", "carol"]).await;
    let shown = ok(addr, &carol, &["inbox"]).await;
    assert!(shown.contains("[#ops] alice made bob an admin"), "{shown}");
    assert!(shown.contains("[#ops] bob removed you"), "{shown}");
    json(addr, &carol, &["room", "join", "ops"]).await;

    let demoted = json(addr, &alice, &["room", "demote", "ops", "bob"]).await;
    assert_eq!(
        demoted,
        serde_json::json!({ "room": "ops", "room_id": room_id, "member": "bob", "role": "member" })
    );
    let shown = ok(addr, &carol, &["inbox"]).await;
    assert!(
        shown.contains("[#ops] alice made bob a plain member"),
        "{shown}"
    );
    let err = refused(addr, &bob, &["room", "ban", "ops", "carol"]).await;
    assert!(err.contains("not an admin"), "{err}");
    let members = json(addr, &alice, &["room", "members", "ops"]).await;
    assert_eq!(members.as_array().unwrap().len(), 3, "{members}");
}
