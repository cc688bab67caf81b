//! Rooms through the real `client` binary against a real server (issue 13,
//! the client side): three users create a room, add, send and read; a plain
//! member's add is refused; a member offline during messages and commits
//! reads everything in order; a removed member reads nothing more; `watch`
//! shows a room message pushed live; the key package stock refills after
//! claims, on authentication and on the server's low-stock notice (1311).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use e2e::V3Conn;
use e2e::{Engine, TestServer, binary, bounded};
use protocol::{ClientId, v3};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Runs the client binary; (success, stdout, stderr).
pub(crate) async fn run(server: SocketAddr, home: &Path, args: &[&str]) -> (bool, String, String) {
    let out = bounded(
        "client binary",
        tokio::process::Command::new(binary("client").unwrap())
            .env("SEALPOST_PASSPHRASE", e2e::TEST_PASSPHRASE)
            .arg("--home")
            .arg(home)
            .arg("--server")
            .arg(server.to_string())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a command that must succeed; its standard output.
pub(crate) async fn ok(server: SocketAddr, home: &Path, args: &[&str]) -> String {
    let (success, out, err) = run(server, home, args).await;
    assert!(success, "client {args:?} failed: {err}");
    out
}

/// Runs a `--json` command that must fail; its JSON error line
/// (`code`, `error`).
pub(crate) async fn refusal(server: SocketAddr, home: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (success, _, err) = run(server, home, &all).await;
    assert!(!success, "client {args:?} succeeded");
    serde_json::from_str(err.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {err}"))
}

/// Runs a `--json` command that must succeed; its JSON.
pub(crate) async fn json(server: SocketAddr, home: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(server, home, &all).await).unwrap()
}

/// Registers `name` in `home`; its client id.
pub(crate) async fn register(server: SocketAddr, home: &Path, name: &str) -> ClientId {
    let v = json(server, home, &["register", name]).await;
    v["id"].as_str().unwrap().parse().unwrap()
}

/// A server, and `names` registered through the client binary, each with
/// its home (named after it) in the returned folder.
pub(crate) async fn users<const N: usize>(
    names: [&str; N],
) -> (TestServer, tempfile::TempDir, [PathBuf; N]) {
    let server = TestServer::start(|_| {}).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let homes = names.map(|n| dir.path().join(n));
    for (home, name) in homes.iter().zip(names) {
        register(server.addr, home, name).await;
    }
    (server, dir, homes)
}

/// The texts of the direct messages in an `inbox --json`, in order.
pub(crate) fn direct_texts(inbox: &Value) -> Vec<&str> {
    inbox
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "text")
        .map(|e| e["text"].as_str().unwrap())
        .collect()
}

/// The room events of an `inbox --json`, as (room_event, the rest).
pub(crate) fn room_events(inbox: &Value) -> Vec<Value> {
    inbox
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "room")
        .cloned()
        .collect()
}

/// The room texts `inbox --json` in `home` reads.
pub(crate) async fn inbox_room_texts(server: SocketAddr, home: &Path) -> Vec<String> {
    texts(&room_events(&json(server, home, &["inbox"]).await))
}

pub(crate) fn texts(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["room_event"] == "text")
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect()
}

/// The lines of a `watch --json` in `home`.
pub(crate) type WatchLines = tokio::io::Lines<BufReader<tokio::process::ChildStdout>>;

/// Starts `client --json watch` in `home`: the process, and its lines.
pub(crate) fn watch_json(server: SocketAddr, home: &Path) -> (tokio::process::Child, WatchLines) {
    let mut watch = e2e::client_process(server, home, &["--json", "watch"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    (watch, lines)
}

/// Stops a `watch` and waits for it to exit (bounded).
pub(crate) async fn stop_watch(mut watch: tokio::process::Child) {
    watch.start_kill().unwrap();
    bounded("watch to exit", watch.wait())
        .await
        .unwrap()
        .unwrap();
}

/// Stops a `watch` as Ctrl-C does (SIGINT), and waits for it to exit
/// (bounded); it must exit cleanly.
pub(crate) async fn interrupt_watch(mut watch: tokio::process::Child) {
    let pid = watch.id().expect("watch is running");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = bounded("watch to exit after Ctrl-C", watch.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "watch ended with {status}");
}

/// The next room event a `watch --json` prints (bounded).
pub(crate) async fn next_room_event(lines: &mut WatchLines) -> Value {
    loop {
        let line = bounded("a watch line", lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .expect("watch ended");
        let v: Value = serde_json::from_str(&line).unwrap();
        if v["event"] == "room" {
            return v;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_users_share_a_room_and_a_removed_member_reads_nothing_more() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let [alice, bob, carol] = ["alice", "bob", "carol"].map(|n| dir.path().join(n));
    register(addr, &alice, "alice").await;
    register(addr, &bob, "bob").await;
    register(addr, &carol, "carol").await;

    let created = json(addr, &alice, &["room", "create", "team"]).await;
    assert_eq!(created["role"], "owner");
    assert_eq!(created["members"], 1);
    let line = ok(addr, &alice, &["room", "add", "team", "bob", "carol"]).await;
    assert_eq!(line.trim(), "added bob, carol to #team");
    ok(addr, &alice, &["room", "send", "team", "hello team"]).await;

    // Every member reads it, after joining from the welcome.
    for home in [&bob, &carol] {
        let events = room_events(&json(addr, home, &["inbox"]).await);
        assert_eq!(events[0]["room_event"], "joined", "{events:?}");
        assert_eq!(events[0]["room"], "team");
        assert_eq!(texts(&events), vec!["hello team"]);
        assert_eq!(events[1]["from_name"], "alice");
    }
    // The text form is one line per event.
    ok(addr, &bob, &["room", "send", "team", "hi all"]).await;
    let shown = ok(addr, &carol, &["inbox"]).await;
    assert_eq!(e2e::untimed(shown.trim()), "[#team] bob: hi all");
    // The room's history, in text, names who said each thing (after the
    // join, an event of its own).
    let history = ok(addr, &carol, &["history", "#team"]).await;
    let said_by: Vec<&str> = history
        .lines()
        .filter_map(|l| l.strip_prefix('[')?.split_once("] ").map(|(_, who)| who))
        .filter(|who| !who.starts_with("-- "))
        .collect();
    assert_eq!(said_by, ["alice", "bob"], "{history}");

    // A plain member may not add: refused with one clear line.
    let (success, _, err) = run(addr, &bob, &["room", "add", "team", "alice"]).await;
    assert!(!success);
    assert!(
        err.contains("not an admin, and may not add members"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let (success, _, err) = run(addr, &carol, &["--json", "room", "remove", "team", "bob"]).await;
    assert!(!success);
    let refusal: Value = serde_json::from_str(err.trim()).unwrap();
    assert!(refusal["error"].as_str().unwrap().contains("not an admin"));
    assert_eq!(refusal["code"], "not_admin", "{refusal}");

    // Bob is offline while alice sends ten texts around two commits (a
    // promotion and a removal): he reads everything, in order.
    ok(addr, &bob, &["inbox"]).await;
    for i in 0..5 {
        ok(addr, &alice, &["room", "send", "team", &format!("m{i}")]).await;
    }
    ok(addr, &alice, &["room", "promote", "team", "carol"]).await;
    for i in 5..8 {
        ok(addr, &alice, &["room", "send", "team", &format!("m{i}")]).await;
    }
    ok(addr, &alice, &["room", "remove", "team", "carol"]).await;
    for i in 8..10 {
        ok(addr, &alice, &["room", "send", "team", &format!("m{i}")]).await;
    }
    let events = room_events(&json(addr, &bob, &["inbox"]).await);
    // Nothing of bob's own: every entry says it is not his.
    assert!(events.iter().all(|e| e["from_you"] == false), "{events:?}");
    let order: Vec<String> = events
        .iter()
        .map(|e| match e["room_event"].as_str().unwrap() {
            "text" => e["text"].as_str().unwrap().to_string(),
            "role" => format!("{} is {}", e["member"].as_str().unwrap(), e["role"]),
            "removed" => format!("removed {}", e["members"][0]["name"].as_str().unwrap()),
            other => other.to_string(),
        })
        .collect();
    let mut expected: Vec<String> = (0..5).map(|i| format!("m{i}")).collect();
    expected.push("carol is \"admin\"".into());
    expected.extend((5..8).map(|i| format!("m{i}")));
    expected.push("removed carol".into());
    expected.extend((8..10).map(|i| format!("m{i}")));
    assert_eq!(order, expected);

    // Carol reads up to her removal and nothing after it.
    let at_carol = room_events(&json(addr, &carol, &["inbox"]).await);
    let last = at_carol.last().unwrap();
    assert_eq!(last["room_event"], "removed_you", "{at_carol:?}");
    assert_eq!(
        texts(&at_carol),
        (0..8).map(|i| format!("m{i}")).collect::<Vec<_>>()
    );
    ok(addr, &alice, &["room", "send", "team", "after carol"]).await;
    assert!(room_events(&json(addr, &carol, &["inbox"]).await).is_empty());
    assert_eq!(inbox_room_texts(addr, &bob).await, vec!["after carol"]);
    let (success, _, err) = run(addr, &carol, &["room", "send", "team", "still here?"]).await;
    assert!(!success);
    assert!(err.contains("alice removed you from #team on "), "{err}");

    // Members and roles, as the remaining members see them.
    let members = json(addr, &bob, &["room", "members", "team"]).await;
    let roles: Vec<(String, String)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().into(),
                m["role"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        vec![
            ("alice".into(), "owner".into()),
            ("bob".into(), "member".into())
        ]
    );
    let you: Vec<bool> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["you"].as_bool().unwrap())
        .collect();
    assert_eq!(you, [false, true], "{members}");
    let shown = ok(addr, &bob, &["room", "members", "team"]).await;
    assert!(shown.lines().any(|l| l.starts_with("you ")), "{shown}");
    let rooms = json(addr, &alice, &["room", "list"]).await;
    assert_eq!(rooms["mine"][0]["name"], "team");
    assert_eq!(rooms["mine"][0]["members"], 2);
    assert_eq!(rooms["mine"][0]["rule"], "invite-only");
    // An invite-only room is nobody's to see in the public list.
    assert!(rooms["public"].as_array().unwrap().is_empty());
    assert!(
        json(addr, &carol, &["room", "list"]).await["mine"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_just_added_uses_the_room_at_once_and_the_rest_of_the_inbox_waits() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    ok(addr, &alice, &["send", "bob", "before the room"]).await;
    ok(addr, &alice, &["room", "create", "ops"]).await;
    ok(addr, &alice, &["room", "add", "ops", "bob"]).await;
    ok(addr, &alice, &["room", "send", "ops", "welcome aboard"]).await;

    // Bob names the room before reading his inbox: his client joins it
    // from the waiting welcome, says so, and sends.
    let sent = ok(addr, &bob, &["room", "send", "ops", "on my way"]).await;
    let lines: Vec<&str> = sent.lines().collect();
    assert_eq!(lines.len(), 2, "{sent}");
    assert!(
        e2e::untimed(lines[0]).starts_with("[#ops] you joined, invited by alice"),
        "{sent}"
    );
    let again = ok(addr, &bob, &["room", "send", "ops", "and here"]).await;
    assert_eq!(again.lines().count(), 1, "joined once: {again}");
    // The list counts members in words that agree with the number.
    ok(addr, &alice, &["room", "create", "solo"]).await;
    let listed = ok(addr, &alice, &["room", "list"]).await;
    assert!(
        listed.contains("   2 members  you: owner") && listed.contains("   1 member   you: owner"),
        "{listed}"
    );

    // The text sent before stays for his inbox, with what the room said.
    let inbox = json(addr, &bob, &["inbox"]).await;
    assert_eq!(direct_texts(&inbox), ["before the room"], "{inbox}");
    assert_eq!(texts(&room_events(&inbox)), ["welcome aboard"], "{inbox}");
    let read = json(addr, &alice, &["inbox"]).await;
    assert_eq!(
        texts(&room_events(&read)),
        ["on my way", "and here"],
        "{read}"
    );

    // A room nobody added him to is still no room of his.
    let (success, _, err) = run(addr, &bob, &["room", "send", "elsewhere", "x"]).await;
    assert!(!success);
    assert!(
        err.contains("you are in no room named \"elsewhere\""),
        "{err}"
    );
}

/// One-time key packages of `owner` stored on the server.
fn stock(server: &TestServer, owner: ClientId) -> i64 {
    let db = rusqlite::Connection::open(server.config.data_dir.join("server.db")).unwrap();
    db.query_row(
        "SELECT count(*) FROM key_packages WHERE owner = ?1 AND last_resort = 0",
        [&owner.0[..]],
        |r| r.get(0),
    )
    .unwrap()
}

/// Claims `n` of `owner`'s key packages; the statuses.
async fn claim(conn: &mut V3Conn, owner: ClientId, n: usize) -> Vec<v3::ClaimStatus> {
    let mut statuses = Vec::new();
    for _ in 0..n {
        match conn
            .call(v3::Request::KeyPackagesClaim(vec![owner]))
            .await
            .unwrap()
        {
            v3::Response::KeyPackages(k) => statuses.push(k[0].status),
            other => panic!("claim answered {other:?}"),
        }
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_shows_room_messages_live_and_the_key_stock_refills() {
    // SQLite: the test counts the key packages in server.db.
    let server = TestServer::start_on(Engine::Sqlite, |_| {}).await.unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let [alice, bob] = ["alice", "bob"].map(|n| dir.path().join(n));
    register(addr, &alice, "alice").await;
    let bob_id = register(addr, &bob, "bob").await;
    // Registering published bob's stock: one-time packages and a last
    // resort one. Claims take them one by one, then the last resort one.
    let full = stock(&server, bob_id);
    assert!(full >= 10, "{full}");
    let (mut mallory, _) = V3Conn::new_user(addr, "mallory").await.unwrap();
    let claimed = claim(&mut mallory, bob_id, full as usize + 1).await;
    assert!(
        claimed[..full as usize]
            .iter()
            .all(|s| *s == v3::ClaimStatus::OneTime)
    );
    assert_eq!(claimed[full as usize], v3::ClaimStatus::LastResort);
    // Any command authenticates, and refills the stock without being asked.
    ok(addr, &bob, &["room", "list"]).await;
    assert_eq!(stock(&server, bob_id), full);

    ok(addr, &alice, &["room", "create", "lab"]).await;
    ok(addr, &alice, &["room", "add", "lab", "bob"]).await;
    let (watch, mut lines) = watch_json(addr, &bob);
    let mut next_room_event = async || next_room_event(&mut lines).await;
    // The welcome waiting for bob joins him.
    assert_eq!(next_room_event().await["room_event"], "joined");
    ok(addr, &alice, &["room", "send", "lab", "pushed live"]).await;
    let v = next_room_event().await;
    assert_eq!(
        (v["room"].as_str(), v["text"].as_str()),
        (Some("lab"), Some("pushed live"))
    );

    // Claims that leave fewer than 10 make the server tell bob's watch
    // (1311), which refills without being asked: only bob's upload can
    // raise the stock above what the claims leave.
    let now = stock(&server, bob_id);
    claim(&mut mallory, bob_id, (now - 5) as usize).await;
    ok(addr, &alice, &["room", "send", "lab", "after the claims"]).await;
    assert_eq!(next_room_event().await["text"], "after the claims");
    let mut refilled = stock(&server, bob_id);
    for _ in 0..200 {
        if refilled >= 10 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        refilled = stock(&server, bob_id);
    }
    assert!(refilled >= 10, "the stock stayed at {refilled}");
    stop_watch(watch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_sent_to_a_room_is_stored_once_saved_by_each_member_within_its_limit_and_then_deleted()
 {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let [alice, bob, carol] = ["alice", "bob", "carol"].map(|n| dir.path().join(n));
    for (home, name) in [(&alice, "alice"), (&bob, "bob"), (&carol, "carol")] {
        register(addr, home, name).await;
    }
    ok(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob", "carol"]).await;
    ok(addr, &bob, &["inbox"]).await;
    ok(addr, &carol, &["inbox"]).await;

    // Several chunks of bytes no two chunks share.
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let path = dir.path().join("plan v2.bin");
    std::fs::write(&path, &bytes).unwrap();
    let sent = json(
        addr,
        &alice,
        &["room", "send-file", "team", path.to_str().unwrap()],
    )
    .await;
    assert_eq!(sent["room"], "team");
    assert_eq!(sent["name"], "plan v2.bin");
    assert_eq!(sent["size"], 300_000);
    // One blob on the server whatever the room's size.
    assert_eq!(server.bodies().await.unwrap(), 1);

    // Bob saves it and it is the same bytes.
    let at_bob = room_events(&json(addr, &bob, &["inbox"]).await);
    let file = at_bob
        .iter()
        .find(|e| e["room_event"] == "file")
        .unwrap_or_else(|| panic!("{at_bob:?}"));
    assert_eq!(file["name"], "plan v2.bin");
    assert_eq!(file["from_name"], "alice");
    let saved = Path::new(file["path"].as_str().unwrap());
    assert!(saved.starts_with(bob.join("downloads")), "{saved:?}");
    assert_eq!(std::fs::read(saved).unwrap(), bytes);
    assert_eq!(
        server.bodies().await.unwrap(),
        1,
        "carol has not read it yet"
    );

    // Carol's limit is below its size: the server keeps it for her, and
    // she is told why and how to take it or let it go.
    let (success, shown, err) = run(addr, &carol, &["--max-auto-download", "100K", "inbox"]).await;
    assert!(success, "{err}");
    assert!(
        shown.contains("[#team] alice sent a file: plan v2.bin (")
            && shown.contains("it is larger than your automatic download limit")
            && shown.contains("so the server keeps it for you")
            && shown.contains("`client decline-file "),
        "{shown}"
    );
    assert!(!carol.join("downloads").join("plan v2.bin").exists());
    // Every member has acknowledged its entry, but carol holds it.
    assert_eq!(server.bodies().await.unwrap(), 1, "held for carol");
    let offers = json(addr, &carol, &["files"]).await;
    let id = offers[0]["message_id"]
        .as_u64()
        .unwrap_or_else(|| panic!("{offers}"));
    ok(addr, &carol, &["decline-file", &id.to_string()]).await;
    // Let go: the blob is gone.
    bounded("the room file's blob to be deleted", async {
        while server.bodies().await.unwrap() != 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();

    // The text form for a saved file, and the history keeps it.
    std::fs::write(dir.path().join("note.txt"), b"minutes").unwrap();
    let note = dir.path().join("note.txt");
    let line = ok(
        addr,
        &bob,
        &["room", "send-file", "team", note.to_str().unwrap()],
    )
    .await;
    assert!(
        line.starts_with("sent note.txt (7 B) to #team (entry "),
        "{line}"
    );
    let shown = ok(addr, &carol, &["inbox"]).await;
    assert!(
        e2e::untimed(shown.trim())
            .starts_with("[#team] bob sent a file: note.txt (7 B), saved as "),
        "{shown}"
    );
    assert_eq!(
        std::fs::read(carol.join("downloads").join("note.txt")).unwrap(),
        b"minutes"
    );
    let history = json(addr, &carol, &["history", "#team"]).await;
    assert!(history.to_string().contains("note.txt"), "{history}");
}
