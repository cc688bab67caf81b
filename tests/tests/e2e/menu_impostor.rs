//! The menu's live messages while another server answers at the pinned
//! server's address (it went down and an impostor, or another server,
//! took its place): the danger is said once, nothing is read from that
//! server, and live messages come back by themselves once the server with
//! the pinned key answers again (before, they stopped for good until the
//! user typed `watch`). The full-screen client does the same.

use e2e::{Relay, TestServer, run_client};

use crate::menu::Menu;
use crate::tui::Tui;
use crate::tui_more::flat;

/// A server, a relay in front of it (which can send new connections to
/// another server) and alice and bob registered through it, in homes
/// named after them in the folder returned.
async fn alice_and_bob_through_a_relay() -> (TestServer, Relay, tempfile::TempDir) {
    let genuine = TestServer::start(|_| {}).await.unwrap();
    let relay = Relay::start(genuine.addr).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for name in ["alice", "bob"] {
        let home = dir.path().join(name);
        let (ok, out, err) = run_client(relay.addr, &home, &["register", name]).await;
        assert!(ok, "{out}{err}");
    }
    (genuine, relay, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_messages_wait_out_another_server_at_the_address_and_come_back() {
    let (mut genuine, relay, dir) = alice_and_bob_through_a_relay().await;
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    let mut menu = Menu::start("alice", &alice, relay.addr).await;
    menu.expect("watching: on").await;

    let impostor = TestServer::start(|_| {}).await.unwrap();
    relay.set_target(impostor.addr);
    genuine.stop().await.unwrap();
    menu.expect("DANGER: the server at").await;
    menu.expect("live messages wait for the server with the pinned key")
        .await;

    genuine.restart().await.unwrap();
    relay.set_target(genuine.addr);
    menu.expect("connected to the server again").await;
    let (sent, out, err) = run_client(genuine.addr, &bob, &["send", "alice", "back again"]).await;
    assert!(sent, "{out}{err}");
    menu.expect("back again").await;
    let transcript = menu.exit().await;
    assert_eq!(
        transcript.matches("DANGER").count(),
        1,
        "said once: {transcript}"
    );
}

/// The same in the full-screen client: the danger on the status line,
/// then live messages again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tui_waits_out_another_server_at_the_address_and_comes_back() {
    let (mut genuine, relay, dir) = alice_and_bob_through_a_relay().await;
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    let tui = Tui::start(&alice, relay.addr).await;
    tui.wait_for("connected |").await;

    let impostor = TestServer::start(|_| {}).await.unwrap();
    relay.set_target(impostor.addr);
    genuine.stop().await.unwrap();
    tui.wait_until("the danger", |s| {
        flat(s).contains("live messages wait for the server with the pinned key")
    })
    .await;

    genuine.restart().await.unwrap();
    relay.set_target(genuine.addr);
    let (sent, out, err) = run_client(genuine.addr, &bob, &["send", "alice", "back again"]).await;
    assert!(sent, "{out}{err}");
    tui.wait_for("back again").await;
    tui.wait_for("connected |").await;
    tui.quit().await;
}
