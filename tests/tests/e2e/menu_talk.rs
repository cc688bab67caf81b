//! Several conversations at once in the menu (`/to`), against the server
//! binary: alice, in two rooms and talking with bob, switches with `/to`;
//! her plain lines land in the conversation chosen (checked from the
//! receivers' side); messages of other conversations are announced in one
//! line and counted in the prompt, and switching shows them. Once with a
//! piped standard input (the prompt is then printed as a line), once in a
//! pseudo-terminal (the announcement above a half-typed line, the prompt's
//! count). Waits are bounded.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use e2e::ServerProcess;
use serde_json::Value;

use crate::menu::{Menu, Pty};
use crate::rooms_cli::{json, ok, register};

/// Three users; alice owns #ops (bob and carol in it) and #dev (carol in
/// it), and both have read their welcomes. The homes of alice, bob, carol.
async fn rooms_of_three(dir: &Path, addr: SocketAddr) -> [PathBuf; 3] {
    let homes = ["alice", "bob", "carol"].map(|n| dir.join(n));
    for (home, name) in homes.iter().zip(["alice", "bob", "carol"]) {
        register(addr, home, name).await;
    }
    let [alice, bob, carol] = &homes;
    ok(addr, alice, &["room", "create", "ops"]).await;
    ok(addr, alice, &["room", "create", "dev"]).await;
    ok(addr, alice, &["room", "add", "ops", "bob", "carol"]).await;
    ok(addr, alice, &["room", "add", "dev", "carol"]).await;
    for home in [bob, carol] {
        ok(addr, home, &["inbox"]).await;
    }
    homes
}

/// What `home` reads now: (room or "" for a person, sender, text) of each
/// text, in order.
async fn read_texts(addr: SocketAddr, home: &Path) -> Vec<(String, String, String)> {
    let events = json(addr, home, &["inbox"]).await;
    let field = |e: &Value, k: &str| e[k].as_str().unwrap_or_default().to_string();
    events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "text" || e["room_event"] == "text")
        .map(|e| (field(e, "room"), field(e, "from_name"), field(e, "text")))
        .collect()
}

fn text(room: &str, from: &str, text: &str) -> (String, String, String) {
    (room.into(), from.into(), text.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn menu_to_switches_conversations_and_counts_unread_from_a_script() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &[])
        .await
        .unwrap();
    let addr = server.addr;
    let [alice_home, bob, carol] = rooms_of_three(dir.path(), addr).await;

    let mut alice = Menu::start("alice", &alice_home, addr).await;
    alice.expect("watching: on").await;
    alice.run("/to #ops", "lines go to #ops now").await;
    alice.expect("alice to #ops>").await;
    alice.run("hello ops", "sent to #ops (entry").await;
    alice.run("/to #dev", "lines go to #dev now").await;
    alice.run("hello dev", "sent to #dev (entry").await;
    alice.run("/to bob", "lines go to bob now").await;
    alice
        .run("hi bob, plain line", "sent to bob (message")
        .await;
    // A command needs its `/`; a plain word is a message.
    alice.run("/list", "2 other users:").await;
    alice.run("list", "sent to bob (message").await;

    // Each line landed where it was sent, and nowhere else.
    let mut got = read_texts(addr, &bob).await;
    got.sort();
    assert_eq!(
        got,
        [
            text("", "alice", "hi bob, plain line"),
            text("", "alice", "list"),
            text("ops", "alice", "hello ops"),
        ]
    );
    let mut got = read_texts(addr, &carol).await;
    got.sort();
    assert_eq!(
        got,
        [
            text("dev", "alice", "hello dev"),
            text("ops", "alice", "hello ops"),
        ]
    );

    // Bob's text is in the current conversation: shown in full. The rooms'
    // are announced in one line each and stay unread.
    ok(addr, &bob, &["send", "alice", "direct to alice"]).await;
    alice.expect("direct to alice").await;
    ok(addr, &carol, &["room", "send", "dev", "dev news"]).await;
    let line = alice.expect("· #dev:").await;
    assert_eq!(line, "· #dev: 1 new from carol (/to #dev)");
    ok(addr, &carol, &["room", "send", "ops", "ops from carol"]).await;
    alice.expect("· #ops: 1 new from carol (/to #ops)").await;
    ok(addr, &bob, &["room", "send", "ops", "ops from bob"]).await;
    alice
        .expect("· #ops: 2 new, the last from bob (/to #ops)")
        .await;

    // `/to` says where lines go and what is unread; the prompt then counts
    // it, most recent first.
    alice.run("/to", "lines go to bob: plain lines").await;
    let line = alice.expect("unread: ").await;
    assert_eq!(line, "unread: #ops 2 · #dev 1");
    alice.expect("[#ops 2 · #dev 1] alice to bob>").await;

    // Switching shows what arrived there and marks it read.
    alice
        .run(
            "/to #ops",
            "lines go to #ops now; 2 new there while you were away:",
        )
        .await;
    alice.expect("ops from carol").await;
    alice.expect("ops from bob").await;
    alice.expect("[#dev 1] alice to #ops>").await;
    alice.run("reply in ops", "sent to #ops (entry").await;
    alice
        .run("/to #dev", "1 new there while you were away:")
        .await;
    alice.expect("dev news").await;
    alice.expect("alice to #dev>").await;
    alice.run("/to -", "lines are commands again").await;
    let out = alice.exit().await;
    assert!(!out.contains("error:"), "{out}");
    assert!(!out.contains("[#ops] carol: ops from carol"), "{out}");

    let got = read_texts(addr, &bob).await;
    assert!(
        got.contains(&text("ops", "alice", "reply in ops")),
        "{got:?}"
    );
    assert!(got.iter().all(|t| t.0 == "ops"), "{got:?}");
    // The history file keeps the commands, never the lines sent.
    let history = std::fs::read_to_string(alice_home.join("history")).unwrap();
    assert!(history.contains("/to #ops\n"), "{history}");
    for said in ["hello ops", "hello dev", "plain line", "reply in ops"] {
        assert!(!history.contains(said), "{said} in {history}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn menu_in_a_terminal_announces_other_conversations_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &[])
        .await
        .unwrap();
    let addr = server.addr;
    let [alice, bob, carol] = rooms_of_three(dir.path(), addr).await;

    let mut pty = Pty::start(&alice, addr).await;
    pty.wait_for("watching: on").await;
    pty.wait_for("alice> ").await;
    pty.keys("/to b\t").await;
    pty.wait_for("/to bob").await;
    pty.keys("\r").await;
    pty.wait_for("lines go to bob now").await;
    pty.wait_for("alice to bob> ").await;

    // A room message arrives while a line is half typed: one line above
    // it, and the line is still there to finish.
    pty.keys("half a li").await;
    pty.wait_for("half a li").await;
    ok(addr, &carol, &["room", "send", "ops", "pushed to ops"]).await;
    pty.wait_for("· #ops: 1 new from carol (/to #ops)").await;
    pty.wait_for("half a li").await;
    pty.keys("ne\r").await;
    pty.wait_for("sent to bob (message").await;
    // The next prompt counts it; its text was not shown.
    pty.wait_for("[#ops 1] alice to bob> ").await;
    assert!(!pty.screen().contains("pushed to ops"), "{}", pty.screen());

    pty.keys("/to #ops\r").await;
    pty.wait_for("1 new there while you were away:").await;
    pty.wait_for("pushed to ops").await;
    pty.wait_for("alice to #ops> ").await;
    let status = pty.leave().await;
    let screen = pty.screen();
    assert!(status.success(), "exit status {status}\n{screen}");
    assert!(!screen.contains("error:"), "{screen}");
    assert!(!screen.contains("panicked"), "{screen}");

    let got = read_texts(addr, &bob).await;
    let direct: Vec<_> = got.iter().filter(|t| t.0.is_empty()).collect();
    assert_eq!(direct, [&text("", "alice", "half a line")], "{got:?}");
}
