//! Upgrade: the current `server` and `client` binaries open what an older
//! release wrote and go on working. `tests/fixtures/upgrade/world.tar.gz`
//! holds a server's data folder and the homes of alice and bob as the
//! release of commit 2d91a1d left them (client key store schema 7, server
//! database schema 6; `make.sh` beside it made them and says how to make
//! them again): texts both ways, a file, a room `team` (alice its owner,
//! bob a member) with texts, and one text and one room text bob never read.
//! Alice's home is encrypted at rest (the default), bob's plain.
//!
//! The current server runs on the old folder at a new address; the
//! current clients read the old histories, the unread texts once, and
//! send new texts both ways on the old sessions and in the old room, with
//! the old pins (the peers' keys and the server's) holding.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::{ServerProcess, binary, run_client};
use serde_json::Value;

/// What every start of `home` says on standard error: bob's home is plain,
/// alice's encrypted under the tests' passphrase (see make.sh).
fn start_warning(home: &Path) -> &'static str {
    if home.ends_with("bob") {
        client::passphrase::PLAIN_WARNING
    } else {
        ""
    }
}

/// The fixture unpacked into `dir`: the server's data folder, alice's home
/// and bob's.
fn unpack(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let archive = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/upgrade/world.tar.gz");
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(dir)
        .status()
        .expect("running tar (Debian packages tar and gzip)");
    assert!(status.success(), "tar could not unpack {archive:?}");
    (dir.join("server"), dir.join("alice"), dir.join("bob"))
}

/// Runs a `--json` client command that must succeed with nothing on
/// standard error but a plain home's warning (no changed key, no failure
/// logged); its JSON.
async fn json(server: SocketAddr, home: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (success, out, err) = run_client(server, home, &all).await;
    assert!(success, "client {args:?} failed: {err}");
    assert_eq!(
        err.trim_end(),
        start_warning(home),
        "client {args:?} said more"
    );
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("client {args:?}: not JSON ({e}): {out}"))
}

/// The server address the old client pinned (the only one it talked to),
/// read from a plain home's store before a current client migrates it.
fn old_address(home: &Path) -> SocketAddr {
    let db = rusqlite::Connection::open(home.join(client::keystore::STORE_FILE)).unwrap();
    let addresses: Vec<String> = db
        .prepare("SELECT address FROM server_pins")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(addresses.len(), 1, "{addresses:?}");
    addresses[0].parse().unwrap()
}

/// (direction, type, text or file name, status) of each history entry.
fn history(entries: &Value) -> Vec<(String, String, String, String)> {
    let field = |e: &Value, k: &str| e[k].as_str().unwrap_or_default().to_string();
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let what = if e["type"] == "file" {
                field(e, "name")
            } else {
                field(e, "text")
            };
            (
                field(e, "direction"),
                field(e, "type"),
                what,
                field(e, "status"),
            )
        })
        .collect()
}

/// The entries of `history`, as expected: (direction, type, what, status).
fn expect(entries: &[(&str, &str, &str, &str)]) -> Vec<(String, String, String, String)> {
    entries
        .iter()
        .map(|(d, t, w, s)| (d.to_string(), t.to_string(), w.to_string(), s.to_string()))
        .collect()
}

/// Each event of an `inbox --json`: a text as `NAME: TEXT`, a room text
/// as `#ROOM NAME: TEXT`, anything else as its JSON (so that an unexpected
/// notice, such as a changed key or a new session, fails the comparison).
fn inbox(events: &Value) -> Vec<String> {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| match (e["event"].as_str(), e["room_event"].as_str()) {
            (Some("text"), _) => format!("{}: {}", s(&e["from_name"]), s(&e["text"])),
            (Some("room"), Some("text")) => format!(
                "#{} {}: {}",
                s(&e["room"]),
                s(&e["from_name"]),
                s(&e["text"])
            ),
            _ => e.to_string(),
        })
        .collect()
}

/// The server's fingerprint as its current binary reads the old folder.
fn server_fingerprint(data: &Path) -> String {
    let out = Command::new(binary("server").unwrap())
        .arg("fingerprint")
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_release_opens_2d91a1d_data_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (data, alice, bob) = unpack(dir.path());
    let old = old_address(&bob);
    // Alice's files are SQLCipher's, not plain SQLite's: the old client
    // encrypted them, and only the passphrase opens them.
    for file in [client::keystore::STORE_FILE, "rooms.db"] {
        let head = std::fs::read(alice.join(file)).unwrap();
        assert!(head.len() > 4096, "{file}: {} bytes", head.len());
        assert_ne!(&head[..16], b"SQLite format 3\0", "{file} is plain");
    }
    let fingerprint = server_fingerprint(&data);
    // The room texts are older than the default retention by the time
    // this runs; retention is not what this test is about.
    let mut server = ServerProcess::start(&data, &["--room-retention-days", "0"])
        .await
        .unwrap();
    let new = server.addr;

    // The key each old home pinned for the old address is the key the
    // current server has (reading the pin migrates the store).
    for home in [&alice, &bob] {
        let pinned = json(old, home, &["fingerprint"]).await;
        assert_eq!(pinned["server"], fingerprint.as_str(), "{home:?}");
    }

    // The histories as the old client wrote them, both sides.
    let alice_bob = expect(&[
        (
            "out",
            "text",
            "Hello Bob, the upgrade starts at nine.",
            "read",
        ),
        (
            "in",
            "text",
            "Hi Alice, I will be there — café at 8:45?",
            "read",
        ),
        ("out", "text", "Yes, café first.", "read"),
        ("out", "file", "agenda.txt", "read"),
        ("out", "text", "Unread: bring the release notes.", "stored"),
    ]);
    assert_eq!(
        history(&json(new, &alice, &["history", "bob"]).await),
        alice_bob
    );
    let bob_alice = expect(&[
        (
            "in",
            "text",
            "Hello Bob, the upgrade starts at nine.",
            "read",
        ),
        (
            "out",
            "text",
            "Hi Alice, I will be there — café at 8:45?",
            "read",
        ),
        ("in", "text", "Yes, café first.", "read"),
        ("in", "file", "agenda.txt", "read"),
    ]);
    assert_eq!(
        history(&json(new, &bob, &["history", "alice"]).await),
        bob_alice
    );
    // The old clients marked a room text they printed as received, not read.
    let alice_team = expect(&[
        ("out", "text", "Welcome to the team room.", "stored"),
        ("in", "text", "Thanks, glad to be here.", "received"),
        (
            "out",
            "text",
            "Unread in the room: see you at nine.",
            "stored",
        ),
    ]);
    let room = json(new, &alice, &["history", "#team"]).await;
    assert_eq!(history(&room), alice_team);
    let bob_team = expect(&[
        ("in", "text", "Welcome to the team room.", "received"),
        ("out", "text", "Thanks, glad to be here.", "stored"),
    ]);
    assert_eq!(
        history(&json(new, &bob, &["history", "#team"]).await),
        bob_team
    );

    // The room is the old one, with its roles; the history kept by its
    // name before (store migration 12) is now kept by its id.
    let mine = |v: &Value| v["mine"].as_array().unwrap().clone();
    let alice_rooms = mine(&json(new, &alice, &["room", "list"]).await);
    let bob_rooms = mine(&json(new, &bob, &["room", "list"]).await);
    assert_eq!(alice_rooms.len(), 1, "{alice_rooms:?}");
    assert_eq!(bob_rooms.len(), 1, "{bob_rooms:?}");
    let id = alice_rooms[0]["id"].as_str().unwrap();
    assert_eq!(bob_rooms[0]["id"], id);
    assert_eq!(alice_rooms[0]["name"], "team");
    assert_eq!(alice_rooms[0]["role"], "owner");
    assert_eq!(alice_rooms[0]["members"], 2);
    assert_eq!(bob_rooms[0]["role"], "member");
    for entry in room.as_array().unwrap() {
        assert_eq!(entry["conversation"]["id"], id, "{entry}");
    }

    // What bob never read arrives once; alice then reads bob's receipt.
    assert_eq!(
        inbox(&json(new, &bob, &["inbox"]).await),
        [
            "alice: Unread: bring the release notes.",
            "#team alice: Unread in the room: see you at nine.",
        ]
    );
    assert_eq!(
        inbox(&json(new, &bob, &["inbox"]).await),
        Vec::<String>::new()
    );
    assert_eq!(
        inbox(&json(new, &alice, &["inbox"]).await),
        Vec::<String>::new()
    );
    let last = json(new, &alice, &["history", "bob", "--limit", "1"]).await;
    assert_eq!(
        history(&last),
        expect(&[("out", "text", "Unread: bring the release notes.", "read")])
    );

    // New texts both ways on the old session (no new session is offered:
    // the inbox would show it), and in the old room.
    json(
        new,
        &bob,
        &["send", "alice", "After the upgrade, from bob."],
    )
    .await;
    assert_eq!(
        inbox(&json(new, &alice, &["inbox"]).await),
        ["bob: After the upgrade, from bob."]
    );
    json(
        new,
        &alice,
        &["send", "bob", "After the upgrade, from alice."],
    )
    .await;
    assert_eq!(
        inbox(&json(new, &bob, &["inbox"]).await),
        ["alice: After the upgrade, from alice."]
    );
    json(
        new,
        &bob,
        &["room", "send", "team", "Room after the upgrade, from bob."],
    )
    .await;
    assert_eq!(
        inbox(&json(new, &alice, &["inbox"]).await),
        ["#team bob: Room after the upgrade, from bob."]
    );
    json(
        new,
        &alice,
        &[
            "room",
            "send",
            "team",
            "Room after the upgrade, from alice.",
        ],
    )
    .await;
    assert_eq!(
        inbox(&json(new, &bob, &["inbox"]).await),
        ["#team alice: Room after the upgrade, from alice."]
    );

    // The new entries follow the old ones, which stay as they were.
    let mut alice_now = alice_bob.clone();
    alice_now[4].3 = "read".into();
    alice_now.extend(expect(&[
        ("in", "text", "After the upgrade, from bob.", "read"),
        ("out", "text", "After the upgrade, from alice.", "read"),
    ]));
    assert_eq!(
        history(&json(new, &alice, &["history", "bob"]).await),
        alice_now
    );
    // History shown with a server marks what it shows read.
    assert_eq!(
        history(&json(new, &bob, &["history", "#team"]).await),
        expect(&[
            ("in", "text", "Welcome to the team room.", "read"),
            ("out", "text", "Thanks, glad to be here.", "stored"),
            ("in", "text", "Unread in the room: see you at nine.", "read"),
            ("out", "text", "Room after the upgrade, from bob.", "read"),
            ("in", "text", "Room after the upgrade, from alice.", "read"),
        ])
    );

    // The pins hold: each peer's pinned key is the key that peer has, and
    // the server's key pinned at the new address is the old one.
    for (home, peer, peer_home) in [(&alice, "bob", &bob), (&bob, "alice", &alice)] {
        let key = json(new, home, &["key", peer]).await;
        assert_eq!(key["pin"], "same", "{key}");
        let theirs = json(new, peer_home, &["fingerprint"]).await;
        assert_eq!(key["fingerprint"], theirs["you"]);
        assert_eq!(theirs["server"], fingerprint.as_str());
    }

    // The old client left rooms.db readable by anyone; the current one
    // keeps a home's files owner-only.
    for home in [&alice, &bob] {
        let mode = std::fs::metadata(home.join("rooms.db"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{home:?}");
    }
    server.terminate_cleanly().await.unwrap();
}
