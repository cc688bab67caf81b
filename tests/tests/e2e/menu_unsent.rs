//! A text the menu could not get to the server is not lost: the whole
//! line it was typed on is offered again at the next prompt (in a
//! pseudo-terminal, as a person types), and Enter tries it again.

use e2e::TestServer;

use crate::menu::Pty;
use crate::rooms_cli::register;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn menu_offers_a_text_the_server_never_got_again_at_the_prompt() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (alice, carol) = (dir.path().join("alice"), dir.path().join("carol"));
    register(server.addr, &alice, "alice").await;
    register(server.addr, &carol, "carol").await;
    // An address that refuses, which no other test can take meanwhile.
    let (_refusing, addr) = e2e::refusing_address().unwrap();

    let mut pty = Pty::start(&alice, addr).await;
    pty.wait_for("alice> ").await;
    pty.keys("5 carol some text\r").await;
    pty.wait_for("cannot reach the server").await;
    pty.wait_for("back at the prompt").await;
    // Drawn by the editor after the new prompt: nothing typed it again.
    pty.wait_for("alice> ").await;
    pty.wait_for("5 carol some text").await;
    pty.keys("\r").await;
    pty.wait_for("cannot reach the server").await;
    pty.wait_for("alice> ").await;
    pty.wait_for("5 carol some text").await;
    // Ctrl-C clears the offered line; then Ctrl-D leaves.
    pty.keys("\u{3}").await;
    pty.wait_for("alice> ").await;
    let status = pty.leave().await;
    assert!(status.success(), "{status}\n{}", pty.screen());
    // Nothing was sent, and the text stayed out of the history file.
    let history = std::fs::read_to_string(alice.join("history")).unwrap();
    assert!(!history.contains("some text"), "{history}");
}
