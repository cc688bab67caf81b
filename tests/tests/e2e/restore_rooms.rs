//! Rooms on a server restored from a backup: one whose last change came
//! before the backup goes on; one changed after it is re-founded by its
//! members' next message (the server takes up their newer state), and goes
//! on for every member, one added after the backup included, and a member
//! left behind it (its changes since the backup unread) joins it again in
//! its own place; one changed
//! on the restored server before that cannot be, and is refused in words
//! that say why (the server holds it at an older epoch than its members),
//! where the client used to say that other members kept changing the room;
//! one made after the backup is gone, and the words say a restore may be
//! why. And an invitation made after the restore opens: the restored
//! server no longer hands out a key package its original handed out since
//! the backup.

use std::path::{Path, PathBuf};

use e2e::ServerProcess;
use serde_json::Value;

use crate::operator::server_cmd;
use crate::rooms_cli::{inbox_room_texts, json, ok, refusal, register};

/// A server in a folder of its own with alice and bob registered: the
/// folder, the server and the two homes.
async fn alice_and_bob() -> (tempfile::TempDir, ServerProcess, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &[])
        .await
        .unwrap();
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    register(server.addr, &alice, "alice").await;
    register(server.addr, &bob, "bob").await;
    (dir, server, alice, bob)
}

/// The `--json` refusal of a command whose client first warns, on lines
/// of their own, of room entries its state cannot take (another member's
/// commits at epochs it is not at).
async fn refusal_after_warnings(addr: std::net::SocketAddr, home: &Path, args: &[&str]) -> Value {
    let mut with_json = vec!["--json"];
    with_json.extend_from_slice(args);
    let (done, _, err) = crate::rooms_cli::run(addr, home, &with_json).await;
    assert!(!done, "{args:?}");
    let last = err.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("not JSON ({e}): {err}"))
}

/// Backs up the server of [`alice_and_bob`] into an archive in `dir`.
async fn back_up(dir: &Path) -> PathBuf {
    let archive = dir.join("sealpost.tar");
    let data = dir.join("data");
    let (done, out, err) = server_cmd(&data, &["backup", archive.to_str().unwrap()]).await;
    assert!(done, "{out}{err}");
    archive
}

/// Stops `lost` and starts a server restored from `archive` on its port.
pub(crate) async fn restore(dir: &Path, mut lost: ServerProcess, archive: &Path) -> ServerProcess {
    lost.terminate_cleanly().await.unwrap();
    let restored = dir.join("restored");
    let (done, out, err) = server_cmd(&restored, &["restore", archive.to_str().unwrap()]).await;
    assert!(done, "{out}{err}");
    ServerProcess::start_on(&restored, lost.addr.port(), &[])
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_rooms_a_room_changed_after_the_backup_is_re_founded_by_the_next_message_and_goes_on_for_every_member()
 {
    let (dir, server, alice, bob) = alice_and_bob().await;
    let addr = server.addr;
    let (carol, dave) = (dir.path().join("carol"), dir.path().join("dave"));
    register(addr, &carol, "carol").await;
    register(addr, &dave, "dave").await;
    for room in ["team", "calm"] {
        ok(addr, &alice, &["room", "create", room]).await;
        ok(addr, &alice, &["room", "add", room, "bob"]).await;
    }
    ok(addr, &alice, &["room", "add", "team", "dave"]).await;
    ok(addr, &bob, &["inbox"]).await;
    ok(addr, &dave, &["inbox"]).await;
    let archive = back_up(dir.path()).await;
    // After the backup: two commits in team (epoch 2 to 4: a rename, and
    // carol added), only a text in calm; everyone but dave reads them all
    // before the server is lost.
    ok(addr, &alice, &["room", "rename", "team", "crew"]).await;
    ok(addr, &alice, &["room", "add", "crew", "carol"]).await;
    ok(addr, &alice, &["room", "create", "late"]).await;
    ok(addr, &alice, &["room", "add", "late", "bob"]).await;
    ok(addr, &alice, &["room", "send", "calm", "after the backup"]).await;
    assert_eq!(inbox_room_texts(addr, &bob).await, ["after the backup"]);
    ok(addr, &carol, &["inbox"]).await;
    let mut server = restore(dir.path(), server, &archive).await;

    // The server holds crew at epoch 2, as the backup does, and lists it
    // so, with the way on.
    let listed = json(addr, &alice, &["room", "list"]).await;
    let behind: Vec<(&str, bool)> = listed["mine"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap(),
                r["server_behind"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        behind,
        [("calm", false), ("crew", true), ("late", false)],
        "{listed}"
    );
    let shown = ok(addr, &bob, &["room", "list"]).await;
    assert!(
        shown.contains(
            "    the server holds it at an older epoch (restored from a backup made before the room \
             last changed): your next message or change there takes it up again, unless someone \
             changed it there since; else `room leave crew` forgets it here"
        ),
        "{shown}"
    );

    // Bob's text re-founds it at epoch 4; carol, whom the backup does not
    // have in the room, is a member again, and reads from then on.
    ok(addr, &bob, &["room", "send", "crew", "hello?"]).await;
    for home in [&alice, &carol] {
        assert_eq!(inbox_room_texts(addr, home).await, ["hello?"]);
    }
    ok(addr, &carol, &["room", "send", "crew", "carol here"]).await;
    for home in [&alice, &bob] {
        assert_eq!(inbox_room_texts(addr, home).await, ["carol here"]);
    }
    // A change goes through the server's new copy of the room.
    ok(addr, &alice, &["room", "promote", "crew", "carol"]).await;
    ok(addr, &carol, &["room", "send", "crew", "an admin now"]).await;
    for home in [&alice, &bob] {
        assert_eq!(inbox_room_texts(addr, home).await, ["an admin now"]);
    }
    let listed = json(addr, &bob, &["room", "list"]).await;
    assert!(
        !listed.to_string().contains("\"server_behind\":true"),
        "{listed}"
    );

    // Dave, who had not read the changes since the backup, cannot follow:
    // they went with the lost server. He is told so, and how to get back:
    // a join takes his own place again, invite-only as the room is.
    let err = refusal_after_warnings(addr, &dave, &["room", "send", "team", "me too?"]).await;
    assert_eq!(err["code"], "room_left_behind", "{err}");
    assert_eq!(
        err["error"],
        "the server holds #team at epoch 5 and this client is at 2, and the changes between are \
         no longer on the server (it was restored from an older backup, or they passed its \
         retention while you were away): this client cannot follow the room any more; `room \
         join team` takes your place in it again (what was said in it meanwhile stays \
         unreadable here)",
        "{err}"
    );
    let joined = json(addr, &dave, &["room", "join", "team"]).await;
    assert_eq!(joined["name"], "crew", "{joined}");
    assert_eq!(joined["epoch"], 6, "{joined}");
    // In his own place: one leaf each of alice, bob, carol and dave.
    assert_eq!(joined["members"], 4, "{joined}");
    ok(addr, &alice, &["room", "send", "crew", "welcome back"]).await;
    assert_eq!(inbox_room_texts(addr, &dave).await, ["welcome back"]);
    ok(addr, &dave, &["room", "send", "crew", "back"]).await;
    assert_eq!(
        inbox_room_texts(addr, &carol).await,
        ["welcome back", "back"]
    );
    assert_eq!(inbox_room_texts(addr, &bob).await, ["welcome back", "back"]);
    assert_eq!(inbox_room_texts(addr, &alice).await, ["back"]);

    // A room made after the backup is not on the server at all.
    let err = refusal(addr, &bob, &["room", "send", "late", "hi"]).await;
    assert_eq!(err["code"], "room_gone", "{err}");
    assert_eq!(
        err["error"],
        "the server no longer has you in #late: it was deleted, you were removed while away, or \
         the server was restored from a backup made before you joined; `client room leave late` \
         forgets it here",
        "{err}"
    );
    let (done, out, err) = crate::rooms_cli::run(addr, &alice, &["room", "leave", "late"]).await;
    assert!(done, "{err}");
    assert_eq!(
        out.trim(),
        "the server no longer has you in #late (deleted, you were removed while away, or the \
         server was restored from a backup made before you joined); forgot it here"
    );

    // Calm goes on both ways: its texts since the backup come with new
    // entry numbers, past those bob read before the loss.
    ok(addr, &alice, &["room", "send", "calm", "after the restore"]).await;
    assert_eq!(inbox_room_texts(addr, &bob).await, ["after the restore"]);
    ok(addr, &bob, &["room", "send", "calm", "still here"]).await;
    assert_eq!(inbox_room_texts(addr, &alice).await, ["still here"]);
    server.terminate_cleanly().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_rooms_a_room_changed_on_the_restored_server_before_it_was_re_founded_is_refused_as_behind()
 {
    let (dir, server, alice, bob) = alice_and_bob().await;
    let addr = server.addr;
    ok(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    ok(addr, &alice, &["room", "promote", "team", "bob"]).await;
    ok(addr, &bob, &["inbox"]).await;
    let archive = back_up(dir.path()).await;
    // After the backup alice renames team twice (epoch 2 to 4); bob reads
    // neither before the server is lost.
    ok(addr, &alice, &["room", "rename", "team", "crew"]).await;
    ok(addr, &alice, &["room", "rename", "crew", "deck"]).await;
    let mut server = restore(dir.path(), server, &archive).await;
    // Bob, at the backup's epoch, changes the room first: the restored
    // server takes it (epoch 3), and no member may re-found the room now.
    ok(addr, &bob, &["room", "rename", "team", "ops"]).await;

    let says = "the server holds #deck at epoch 3, behind this client's 4: it was most likely \
                restored from a backup made before the room last changed, and would not take the \
                room up again from this client (someone changed it there since the restore); make \
                a new room (`room create`) to go on, and `room leave deck` forgets this one here \
                (its history is kept)";
    for args in [
        &["room", "send", "deck", "hello?"][..],
        &["room", "rename", "deck", "dock"][..],
    ] {
        // Before its answer alice's client warns of bob's commit, which
        // its own state cannot take.
        let err = refusal_after_warnings(addr, &alice, args).await;
        assert_eq!(err["code"], "room_server_behind", "{args:?}: {err}");
        assert_eq!(err["error"], says, "{args:?}: {err}");
    }
    let (done, _, text) = crate::rooms_cli::run(addr, &alice, &["room", "send", "deck", "x"]).await;
    assert!(!done);
    assert_eq!(
        text.lines().last(),
        Some(format!("client: {says}").as_str())
    );
    // Alice is told what bob's change means: the room split.
    let inbox = json(addr, &alice, &["inbox"]).await;
    let unreadable: Vec<String> = crate::rooms_cli::room_events(&inbox)
        .iter()
        .filter(|e| e["room_event"] == "unreadable")
        .map(|e| e["error"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        unreadable,
        [
            "it changes the room from epoch 2, which this client passed (it is at 4): the room \
             split on the server, most likely restored from a backup made before the room last \
             changed, and messages between the two sides cannot be read; make a new room \
             (`room create`) to go on together"
        ],
        "{inbox}"
    );

    // Leaving it forgets it here, history kept; nothing was sent.
    let (done, out, err) = crate::rooms_cli::run(addr, &alice, &["room", "leave", "deck"]).await;
    assert!(done, "{err}");
    assert_eq!(
        out.trim(),
        "the server holds #deck at an older epoch than this client (it was restored from a \
         backup made before the room last changed), so no leave can be made there; forgot it \
         here, and kept its history"
    );
    let listed = json(addr, &alice, &["room", "list"]).await;
    assert!(!listed.to_string().contains("deck"), "{listed}");
    let history = json(addr, &alice, &["history", "#deck"]).await;
    let events: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["room_event"].as_str())
        .collect();
    // Kept: its last rename, then bob's change that split it.
    assert_eq!(
        events[events.len().saturating_sub(2)..],
        ["renamed", "unreadable"],
        "{history}"
    );
    server.terminate_cleanly().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_rooms_an_invitation_after_the_restore_is_not_made_for_a_key_package_used_before() {
    let (dir, server, alice, bob) = alice_and_bob().await;
    let addr = server.addr;
    let archive = back_up(dir.path()).await;
    // After the backup, bob is added with one of his one-time key packages
    // (its private key spent when he joins), which the backup still holds.
    ok(addr, &alice, &["room", "create", "first"]).await;
    ok(addr, &alice, &["room", "add", "first", "bob"]).await;
    ok(addr, &alice, &["room", "send", "first", "one"]).await;
    assert_eq!(inbox_room_texts(addr, &bob).await, ["one"]);
    let mut server = restore(dir.path(), server, &archive).await;
    // Bob connects (refilling his stock), then is invited again.
    assert!(inbox_room_texts(addr, &bob).await.is_empty());
    ok(addr, &alice, &["room", "create", "second"]).await;
    ok(addr, &alice, &["room", "add", "second", "bob"]).await;
    ok(addr, &alice, &["room", "send", "second", "two"]).await;
    assert_eq!(inbox_room_texts(addr, &bob).await, ["two"]);
    let listed = json(addr, &bob, &["room", "list"]).await;
    assert!(listed.to_string().contains("\"second\""), "{listed}");
    server.terminate_cleanly().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_rooms_a_rejoin_cut_short_by_a_crash_leaves_the_room_listed_to_join_again_by_its_name()
 {
    let (dir, server, alice, bob) = alice_and_bob().await;
    let addr = server.addr;
    ok(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    ok(addr, &bob, &["inbox"]).await;
    let archive = back_up(dir.path()).await;
    // Alice renames the room after the backup; bob does not read it before
    // the server is lost, and alice's next text re-founds the room at her
    // epoch: bob is left behind it.
    ok(addr, &alice, &["room", "rename", "team", "crew"]).await;
    let mut server = restore(dir.path(), server, &archive).await;
    ok(addr, &alice, &["room", "send", "crew", "hello?"]).await;

    // Killed once the room is kept to get back into, before the join
    // begins: bob still holds the room, and a backup names it once.
    let rejoin_crashing_at = async |at| {
        let args = ["room", "join", "team"];
        e2e::run_client_crashing_at(addr, &bob, &args, client::rooms::TEST_CRASH, at).await;
    };
    rejoin_crashing_at("kept").await;
    let exported = json(
        addr,
        &bob,
        &["export", dir.path().join("bob.backup").to_str().unwrap()],
    )
    .await;
    assert_eq!(exported["rooms"], 1, "{exported}");
    // Killed with the join made by the engine (in place of bob's state of
    // the room) but not sent: the server never takes it.
    rejoin_crashing_at("made").await;
    // The next command forgets the join the server never took, and with
    // it the room; the room stays listed as one to join again, by name.
    let listed = json(addr, &bob, &["room", "list"]).await;
    assert_eq!(listed["mine"], serde_json::json!([]), "{listed}");
    let restored = listed["restored"].as_array().unwrap();
    assert_eq!(restored.len(), 1, "{listed}");
    assert_eq!(restored[0]["name"], "team", "{listed}");
    assert_eq!(
        restored[0]["how"], "join it again with `room join team`",
        "{listed}"
    );
    let joined = json(addr, &bob, &["room", "join", "team"]).await;
    assert_eq!(
        (&joined["name"], &joined["members"]),
        (&"crew".into(), &2.into()),
        "{joined}"
    );
    let listed = json(addr, &bob, &["room", "list"]).await;
    assert_eq!(listed["restored"], serde_json::json!([]), "{listed}");

    ok(addr, &alice, &["room", "send", "crew", "welcome back"]).await;
    assert_eq!(inbox_room_texts(addr, &bob).await, ["welcome back"]);
    ok(addr, &bob, &["room", "send", "crew", "back"]).await;
    assert_eq!(inbox_room_texts(addr, &alice).await, ["back"]);
    server.terminate_cleanly().await.unwrap();
}
