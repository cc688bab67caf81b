//! `client tui` (the harness is `super::tui`'s) where it must refuse or
//! keep quiet: `--invisible` keeps the screen's user out of `online`;
//! `/open` of one's own name is refused (there is no note to self) and the
//! open conversation stays; a room the user is no longer in is marked so
//! in the list and its pane, and a text typed there is refused naming the
//! room, not sent elsewhere; offline, nobody is marked online; `/quit`
//! while an upload runs asks again and then says how to finish it.

use e2e::{Relay, run_client, user};
use protocol::RequestCode;
use tokio_util::sync::CancellationToken;

use super::tui::{Start, Tui, alice_on_a_server, list_row, register, sha256, write_file};
use super::tui_more::flat;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invisible_screen_is_not_listed_online() {
    let (dir, server, addr, home) = alice_on_a_server().await;
    let bob = dir.path().join("bob");
    register(&addr, &bob, "bob").await;
    let options = Start {
        options: "--invisible",
        ..Start::default()
    };
    let tui = Tui::start_with(&home, server.addr, options).await;
    tui.wait_for("No conversations yet").await;
    // Once a text pushed to the screen shows, its live connection is
    // surely up (and would have been announced).
    let (sent, _, err) = run_client(&addr, &bob, &["send", "alice", "are you there?"]).await;
    assert!(sent, "{err}");
    tui.wait_for("are you there?").await;
    let (asked, out, err) = run_client(&addr, &bob, &["online"]).await;
    assert!(asked, "{err}");
    assert_eq!(out.trim(), "nobody is online");
    tui.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_ones_own_name_is_refused_and_the_open_conversation_stays() {
    let (dir, server, addr, home) = alice_on_a_server().await;
    let bob = dir.path().join("bob");
    register(&addr, &bob, "bob").await;
    let (sent, _, err) = run_client(&addr, &bob, &["send", "alice", "hi alice"]).await;
    assert!(sent, "{err}");
    let mut tui = Tui::start(&home, server.addr).await;
    tui.wait_for("hi alice").await;
    tui.keys("/open alice\r").await;
    let screen = tui
        .wait_until("the refusal", |s| {
            flat(s).contains("alice is you: sending to yourself is not supported")
        })
        .await;
    // Still bob's conversation, and the command back in the box.
    assert!(screen.contains(" bob "), "{screen}");
    tui.erase("/open alice").await;
    tui.keys("meant for bob\r").await;
    // Stored on the server before bob looks (the typing box's title says
    // "to bob" all along: not a sign of anything).
    tui.wait_for("you  (stored)").await;
    let (read, out, err) = run_client(&addr, &bob, &["inbox"]).await;
    assert!(read, "{err}");
    assert!(
        out.contains("alice:") && out.contains("meant for bob"),
        "{out}"
    );
    tui.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_no_longer_joined_is_marked_and_refuses_a_text_by_name() {
    let (_dir, server, addr, home) = alice_on_a_server().await;
    for args in [
        &["room", "create", "crew"][..],
        &["room", "send", "crew", "last words"],
        &["room", "delete", "crew"],
    ] {
        let (done, _, err) = run_client(&addr, &home, args).await;
        assert!(done, "{args:?}: {err}");
    }
    let mut tui = Tui::start(&home, server.addr).await;
    let screen = tui
        .wait_until("the room in the list", |s| list_row(s, "crew").is_some())
        .await;
    let row = list_row(&screen, "crew").unwrap();
    assert!(row.contains("x#crew"), "{screen}");
    tui.keys("\x1b1").await;
    tui.wait_for("- no longer a member").await;
    tui.wait_for("— you deleted the room —").await;
    tui.keys("anyone?\r").await;
    tui.wait_until("the refusal", |s| {
        flat(s).contains(
            "you are no longer a member of #crew; its history stays here: nothing more can be \
             sent to it or changed in it",
        )
    })
    .await;
    tui.erase("anyone?").await;
    tui.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_the_list_marks_nobody_online() {
    let (dir, mut server, addr, home) = alice_on_a_server().await;
    let bob = user(&addr, &dir.path().join("bob"), "bob").await;
    bob.send_text("alice", "hi alice").await.unwrap();
    let tui = Tui::start(&home, server.addr).await;
    tui.wait_for("hi alice").await;
    let stop = CancellationToken::new();
    let (events_tx, _events) = tokio::sync::mpsc::unbounded_channel();
    let watching = {
        let (bob, stop) = (bob.clone(), stop.clone());
        tokio::spawn(async move { bob.watch(events_tx, stop).await })
    };
    tui.wait_until("bob marked online", |s| {
        list_row(s, "bob").is_some_and(|r| r.contains("*bob"))
    })
    .await;
    server.kill9().await.unwrap();
    tui.wait_for("OFFLINE").await;
    tui.wait_until("bob's mark gone", |s| {
        list_row(s, "bob").is_some_and(|r| !r.contains("*bob"))
    })
    .await;
    stop.cancel();
    watching.abort();
    tui.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quitting_during_an_upload_asks_again_and_the_upload_is_resumed_later() {
    let (dir, server, addr, home) = alice_on_a_server().await;
    let bob = dir.path().join("bob");
    register(&addr, &bob, "bob").await;
    // The upload's first chunk is held at the relay: it runs until quit.
    let relay = Relay::framewise(server.addr).await.unwrap();
    relay.hold_next(RequestCode::UploadChunk);
    let mut tui = Tui::start(&home, relay.addr).await;
    tui.wait_for("No conversations yet").await;
    tui.keys("/open bob\r").await;
    tui.wait_until("bob in the list", |s| list_row(s, "bob").is_some())
        .await;
    let file = write_file(dir.path(), "big.bin", 7, 2 << 20);
    tui.keys(&format!("/file {}\r", file.display())).await;
    relay.wait_held().await.unwrap();
    tui.wait_for("/   2.10 MB    0%").await;
    tui.keys("/quit\r").await;
    tui.wait_until("the warning", |s| {
        flat(s).contains("1 transfer running: quit again to stop it")
    })
    .await;
    tui.keys("/quit\r").await;
    let (status, raw) = tui.exit().await;
    assert!(status.success(), "exit status {status}\n{raw}");
    assert!(
        raw.contains("stopped 1 transfer: `client resume` finishes an upload"),
        "{raw}"
    );
    relay.release();
    let (resumed, out, err) = run_client(&addr, &home, &["resume"]).await;
    assert!(resumed, "{out}{err}");
    let (read, out, err) = run_client(&addr, &bob, &["--accept-files", "inbox"]).await;
    assert!(read, "{out}{err}");
    let got = bob.join("downloads").join("big.bin");
    assert_eq!(sha256(&got), sha256(&file), "{out}");
}
