//! Presence through the real `client` binary against a real server (issue
//! 14): a running `watch` shows its user online to `client online` and to
//! `room members`, and hears who comes and goes as the server pushes it;
//! `--invisible` keeps a watching user out of both; a one-shot command is
//! never shown. Waits are bounded; nothing is timed.

use std::path::Path;
use std::process::Stdio;

use e2e::{TestServer, binary, bounded};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

use crate::rooms_cli::{json, ok, register, users};

/// A running `client --json watch` and its output lines.
pub(crate) struct Watch {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Watch {
    pub(crate) fn start(server: std::net::SocketAddr, home: &Path, extra: &[&str]) -> Watch {
        let mut child = tokio::process::Command::new(binary("client").unwrap())
            .env("SEALPOST_PASSPHRASE", e2e::TEST_PASSPHRASE)
            .arg("--home")
            .arg(home)
            .arg("--server")
            .arg(server.to_string())
            .args(extra)
            .args(["--json", "watch"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Watch { child, lines }
    }

    /// The next event of kind `event` (other lines are passed over).
    pub(crate) async fn next(&mut self, event: &str) -> Value {
        self.next_where(|v| v["event"] == event).await
    }

    /// The next event `wanted` picks (other lines are passed over).
    pub(crate) async fn next_where(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        loop {
            let line = bounded("a watch line", self.lines.next_line())
                .await
                .unwrap()
                .unwrap()
                .expect("watch ended");
            let v: Value = serde_json::from_str(&line).unwrap();
            if wanted(&v) {
                return v;
            }
        }
    }

    /// Whether the process is still running.
    pub(crate) fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub(crate) async fn stop(mut self) {
        self.child.start_kill().unwrap();
        bounded("watch to exit", self.child.wait())
            .await
            .unwrap()
            .unwrap();
    }
}

/// The names `client online --json` lists, sorted.
pub(crate) async fn online(server: std::net::SocketAddr, home: &Path) -> Vec<String> {
    let v = json(server, home, &["online"]).await;
    let mut names: Vec<String> = v["online"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// Asks `client online` (a bounded number of times) until it lists exactly
/// `names`: a watch started a moment ago connects in its own time.
pub(crate) async fn wait_until_online(server: std::net::SocketAddr, home: &Path, names: &[&str]) {
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = online(server, home).await;
        if seen == names {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("online kept listing {seen:?}, not {names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watching_users_appear_and_disappear_and_invisible_ones_stay_hidden() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let [alice, bob, carol, dave] = ["alice", "bob", "carol", "dave"].map(|n| dir.path().join(n));
    for (home, name) in [
        (&alice, "alice"),
        (&bob, "bob"),
        (&carol, "carol"),
        (&dave, "dave"),
    ] {
        register(addr, home, name).await;
    }
    // One-shot commands are never shown: nobody is online yet.
    assert!(online(addr, &dave).await.is_empty());
    assert_eq!(
        ok(addr, &dave, &["online"]).await.trim(),
        "nobody is online"
    );

    // Alice's watch shows her once it has connected (a bounded wait: the
    // binary starts in its own time).
    let mut alice_watch = Watch::start(addr, &alice, &[]);
    wait_until_online(addr, &dave, &["alice"]).await;

    // Bob comes online: alice's watch is told, by the server's push.
    let bob_watch = Watch::start(addr, &bob, &[]);
    let v = alice_watch.next("presence").await;
    assert_eq!(
        (v["name"].as_str(), v["online"].as_bool()),
        (Some("bob"), Some(true))
    );
    // A user, not a message: no message id or sender fields.
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["at_ms", "event", "id", "name", "online", "pinned_name"],
        "{v}"
    );
    assert_eq!(v["id"].as_str().map(str::len), Some(32), "{v}");

    // Carol watches invisibly: once her watch is surely running (it shows
    // a text sent to her), she is still not listed.
    let mut carol_watch = Watch::start(addr, &carol, &["--invisible"]);
    ok(addr, &dave, &["send", "carol", "are you there?"]).await;
    assert_eq!(carol_watch.next("text").await["text"], "are you there?");
    assert_eq!(online(addr, &dave).await, vec!["alice", "bob"]);

    // A room's members are marked online or not.
    ok(addr, &dave, &["room", "create", "team"]).await;
    ok(
        addr,
        &dave,
        &["room", "add", "team", "alice", "bob", "carol"],
    )
    .await;
    let members = json(addr, &dave, &["room", "members", "team"]).await;
    let mut marks: Vec<(String, bool)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                match m["you"].as_bool().unwrap() {
                    true => "you".to_string(),
                    false => m["name"].as_str().unwrap().to_string(),
                },
                m["online"].as_bool().unwrap(),
            )
        })
        .collect();
    marks.sort();
    let expected = [
        ("alice", true),
        ("bob", true),
        ("carol", false),
        ("you", false),
    ];
    assert_eq!(
        marks,
        expected.map(|(n, on)| (n.to_string(), on)),
        "{members}"
    );
    let text = ok(addr, &dave, &["room", "members", "team"]).await;
    let mut marked: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" online "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    marked.sort();
    assert_eq!(marked, vec!["alice", "bob"], "{text}");

    // Bob goes: the next change alice hears is bob going offline (carol
    // never came online for her).
    bob_watch.stop().await;
    let v = alice_watch.next("presence").await;
    assert_eq!(
        (v["name"].as_str(), v["online"].as_bool()),
        (Some("bob"), Some(false))
    );
    assert_eq!(online(addr, &dave).await, vec!["alice"]);

    carol_watch.stop().await;
    alice_watch.stop().await;
}

/// The menu (standard input a pipe) shows its user online while it runs,
/// answers `online`, and says when someone goes offline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_menu_is_shown_online_lists_who_is_and_says_who_leaves() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    let mut bob_watch = Watch::start(addr, &bob, &[]);
    // Bob's watch is shown, so it watches: it will hear of alice.
    wait_until_online(addr, &alice, &["bob"]).await;

    let mut menu = tokio::process::Command::new(binary("client").unwrap())
        .env("SEALPOST_PASSPHRASE", e2e::TEST_PASSPHRASE)
        .arg("--home")
        .arg(&alice)
        .arg("--server")
        .arg(addr.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut input = menu.stdin.take().unwrap();
    let mut output = BufReader::new(menu.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let v = bob_watch.next("presence").await;
    assert_eq!(
        (v["name"].as_str(), v["online"].as_bool()),
        (Some("alice"), Some(true))
    );

    use tokio::io::AsyncWriteExt;
    input.write_all(b"online\n").await.unwrap();
    input.flush().await.unwrap();
    let mut next_line = async |seen: &mut Vec<String>| {
        let line = bounded("a menu line", output.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap_or_else(|| panic!("the menu ended:\n{}", seen.join("\n")));
        seen.push(line.clone());
        line
    };
    while !next_line(&mut seen).await.contains("online now:") {}
    let mut listed = Vec::new();
    for _ in 0..2 {
        let line = next_line(&mut seen).await;
        let name = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        listed.push((name, line.ends_with("(you)")));
    }
    listed.sort();
    assert_eq!(
        listed,
        vec![("alice".to_string(), true), ("bob".to_string(), false)],
        "{}",
        seen.join("\n")
    );

    bob_watch.stop().await;
    loop {
        if next_line(&mut seen).await.contains("bob went offline") {
            break;
        }
    }
    input.write_all(b"0\n").await.unwrap();
    drop(input);
    bounded("the menu to exit", menu.wait())
        .await
        .unwrap()
        .unwrap();
}
