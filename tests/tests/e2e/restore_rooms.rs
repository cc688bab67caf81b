//! Rooms on a server restored from a backup: one whose last change came
//! before the backup goes on; one changed after it is refused in words that
//! say why (the server holds it at an older epoch than its members), where
//! the client used to say that other members kept changing the room; one
//! made after it is gone, and the words say a restore may be why. And an
//! invitation made after the restore opens: the restored server no longer
//! hands out a key package its original handed out since the backup.

use std::path::{Path, PathBuf};

use e2e::ServerProcess;

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

/// Backs up the server of [`alice_and_bob`] into an archive in `dir`.
async fn back_up(dir: &Path) -> PathBuf {
    let archive = dir.join("sealpost.tar");
    let data = dir.join("data");
    let (done, out, err) = server_cmd(&data, &["backup", archive.to_str().unwrap()]).await;
    assert!(done, "{out}{err}");
    archive
}

/// Stops `lost` and starts a server restored from `archive` on its port.
async fn restore(dir: &Path, mut lost: ServerProcess, archive: &Path) -> ServerProcess {
    lost.terminate_cleanly().await.unwrap();
    let restored = dir.join("restored");
    let (done, out, err) = server_cmd(&restored, &["restore", archive.to_str().unwrap()]).await;
    assert!(done, "{out}{err}");
    ServerProcess::start_on(&restored, lost.addr.port(), &[])
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_rooms_a_room_changed_after_the_backup_is_refused_as_behind_and_an_unchanged_one_goes_on()
 {
    let (dir, server, alice, bob) = alice_and_bob().await;
    let addr = server.addr;
    for room in ["team", "calm"] {
        ok(addr, &alice, &["room", "create", room]).await;
        ok(addr, &alice, &["room", "add", room, "bob"]).await;
    }
    ok(addr, &bob, &["inbox"]).await;
    let archive = back_up(dir.path()).await;
    // After the backup: a commit in team (epoch 1 to 2), only a text in
    // calm; bob reads both before the server is lost.
    ok(addr, &alice, &["room", "rename", "team", "crew"]).await;
    ok(addr, &alice, &["room", "create", "late"]).await;
    ok(addr, &alice, &["room", "add", "late", "bob"]).await;
    ok(addr, &alice, &["room", "send", "calm", "after the backup"]).await;
    assert_eq!(inbox_room_texts(addr, &bob).await, ["after the backup"]);
    let mut server = restore(dir.path(), server, &archive).await;

    let says = "the server holds #crew at epoch 1, behind this client's 2: it was most likely \
                restored from a backup made before the room last changed, and takes nothing more \
                in the room; make a new room (`room create`) to go on, and `room leave crew` \
                forgets this one here (its history is kept)";
    for (home, args) in [
        (&alice, &["room", "send", "crew", "hello?"][..]),
        (&bob, &["room", "send", "crew", "anyone?"][..]),
        (&alice, &["room", "promote", "crew", "bob"][..]),
    ] {
        let err = refusal(addr, home, args).await;
        assert_eq!(err["code"], "room_server_behind", "{args:?}: {err}");
        assert_eq!(err["error"], says, "{args:?}: {err}");
    }
    let (done, _, text) = crate::rooms_cli::run(addr, &bob, &["room", "send", "crew", "x"]).await;
    assert!(!done);
    assert_eq!(text.trim(), format!("client: {says}"));

    // Listed as such, with the way out.
    let listed = json(addr, &alice, &["room", "list"]).await;
    let mine = listed["mine"].as_array().unwrap();
    let behind: Vec<(&str, bool)> = mine
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
            "#crew ",
        ) && shown.contains(
            "    the server holds it at an older epoch (restored from a backup made before the room \
             last changed): it takes nothing more; `room leave crew` forgets it here"
        ),
        "{shown}"
    );

    // Leaving it forgets it here, history kept; nothing was sent.
    let left = json(addr, &alice, &["room", "leave", "crew"]).await;
    assert_eq!(left["server_behind"], true, "{left}");
    assert_eq!(left["forgotten"], true, "{left}");
    let (done, out, err) = crate::rooms_cli::run(addr, &bob, &["room", "leave", "crew"]).await;
    assert!(done, "{err}");
    assert_eq!(
        out.trim(),
        "the server holds #crew at an older epoch than this client (it was restored from a \
         backup made before the room last changed), so no leave can be made there; forgot it \
         here, and kept its history"
    );
    for home in [&alice, &bob] {
        let listed = json(addr, home, &["room", "list"]).await;
        assert!(!listed.to_string().contains("crew"), "{listed}");
        let history = json(addr, home, &["history", "#crew"]).await;
        let events: Vec<&str> = history
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["room_event"].as_str())
            .collect();
        assert_eq!(events.last(), Some(&"renamed"), "{history}");
    }

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
