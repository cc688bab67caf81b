//! Password rooms (issue 14, item 3; PROTOCOL.md "Passwords (146 to 149)")
//! through the real `client` binary against a real server, the password on
//! standard input: a locked room is listed with its lock, refuses a wrong
//! password, limits guesses and admits the right one; a hidden room with a
//! password answers "no such room" to a wrong name; `room set --password`
//! makes the old password fail and members see each change; the server refuses a crafted join that
//! never proved the password; the server's database holds an OPAQUE
//! record, never the password; and two nodes of a cluster share the OPAQUE
//! setup, so a password set through one is proven through the other, and
//! one count of guesses, so that a second node allows no more of them.
//! Waits are bounded; nothing is timed.

use std::net::SocketAddr;
use std::path::Path;

use bytes::Bytes;
use e2e::{Engine, RoomUser, TestServer, V3Conn, run_client_with_stdin};
use protocol::ErrorReason;
use protocol::v3::{self, RoomCommit, RoomLabel};

use crate::rooms_cli::{json, ok, register, room_events, texts, users};

/// Runs a `--json` command with `stdin`; (success, stdout, stderr).
pub(crate) async fn with_stdin(
    addr: SocketAddr,
    home: &Path,
    args: &[&str],
    stdin: &str,
) -> (bool, String, String) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    run_client_with_stdin(addr, home, &all, Some(stdin)).await
}

/// A command given a password on standard input that must succeed; its JSON.
async fn json_in(addr: SocketAddr, home: &Path, args: &[&str], stdin: &str) -> serde_json::Value {
    let (success, out, err) = with_stdin(addr, home, args, stdin).await;
    assert!(success, "client {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap()
}

/// A command given a password on standard input that must fail; its line.
async fn refused_in(addr: SocketAddr, home: &Path, args: &[&str], stdin: &str) -> String {
    let (success, out, err) = with_stdin(addr, home, args, stdin).await;
    assert!(!success, "client {args:?} succeeded: {out}");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_password_a_locked_room_refuses_wrong_passwords_limits_guesses_and_admits_the_right_one()
 {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let [alice, bob, carol] = ["alice", "bob", "carol"].map(|n| dir.path().join(n));
    for (home, name) in [(&alice, "alice"), (&bob, "bob"), (&carol, "carol")] {
        register(addr, home, name).await;
    }
    let created = json_in(
        addr,
        &alice,
        &["room", "create", "vault", "--password"],
        "open sesame\n",
    )
    .await;
    assert_eq!(created["rule"], "public+password", "{created}");

    let listed = json(addr, &bob, &["room", "list"]).await;
    assert_eq!(listed["public"][0]["name"], "vault", "{listed}");
    assert_eq!(listed["public"][0]["locked"], true, "{listed}");
    let shown = ok(addr, &bob, &["room", "list"]).await;
    assert!(shown.contains("locked"), "{shown}");

    // Without a password on standard input the join is refused.
    let line = refused_in(addr, &bob, &["room", "join", "vault"], "").await;
    assert!(line.contains("password"), "{line}");
    // Wrong guesses: refused, each counted; the sixth within a minute is
    // refused before any work, saying when to try again.
    for _ in 0..5 {
        let line = refused_in(addr, &bob, &["room", "join", "vault"], "open sesame?\n").await;
        assert!(line.contains("wrong password for #vault"), "{line}");
    }
    let line = refused_in(addr, &bob, &["room", "join", "vault"], "open sesame\n").await;
    assert!(
        line.contains("too many wrong passwords; try again in"),
        "{line}"
    );

    // Another user with the right password is admitted and reads the room.
    let joined = json_in(addr, &carol, &["room", "join", "vault"], "open sesame\n").await;
    assert_eq!(joined["members"], 2, "{joined}");
    ok(addr, &alice, &["room", "send", "vault", "welcome, carol"]).await;
    let events = room_events(&json(addr, &carol, &["inbox"]).await);
    assert_eq!(texts(&events), vec!["welcome, carol"], "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_password_a_hidden_locked_room_answers_no_such_room_to_a_wrong_name() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    let created = json_in(
        addr,
        &alice,
        &["room", "create", "den", "--hidden", "--password"],
        "s3cret\n",
    )
    .await;
    assert_eq!(created["rule"], "hidden+password", "{created}");
    let listed = json(addr, &bob, &["room", "list"]).await;
    assert!(listed["public"].as_array().unwrap().is_empty(), "{listed}");

    let missing = refused_in(addr, &bob, &["room", "join", "dens"], "s3cret\n").await;
    let hidden_wrong = refused_in(addr, &bob, &["room", "join", "Den"], "s3cret\n").await;
    assert!(missing.contains("no such room"), "{missing}");
    assert_eq!(
        missing.replace("dens", "NAME"),
        hidden_wrong.replace("Den", "NAME")
    );
    let joined = json_in(addr, &bob, &["room", "join", "den"], "s3cret\n").await;
    assert_eq!(joined["rule"], "hidden+password", "{joined}");

    // `room list` keeps its columns with the longest rule beside the
    // shortest: each of bob's rooms' ids starts in the same column.
    ok(addr, &bob, &["room", "create", "ops"]).await;
    let shown = ok(addr, &bob, &["room", "list"]).await;
    let ids: Vec<usize> = shown
        .lines()
        .filter(|l| l.contains("you: "))
        .map(|l| l.rfind(' ').unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{shown}");
    assert_eq!(ids[0], ids[1], "{shown}");
}

/// A password set on a hidden room keeps it hidden, and the line says so
/// (it was made public+password, listed for everyone); `--public` beside
/// `--password` lists it, with a lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_password_a_password_set_on_a_hidden_room_keeps_it_hidden() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    json(addr, &alice, &["room", "create", "secretlab", "--hidden"]).await;
    let args = ["room", "set", "secretlab", "--password"];
    let (success, out, err) = run_client_with_stdin(addr, &alice, &args, Some("pw\n")).await;
    assert!(success, "{err}");
    assert_eq!(out.trim(), "#secretlab is now hidden+password", "{out}");
    let listed = json(addr, &bob, &["room", "list"]).await;
    assert!(listed["public"].as_array().unwrap().is_empty(), "{listed}");
    let joined = json_in(addr, &bob, &["room", "join", "secretlab"], "pw\n").await;
    assert_eq!(joined["rule"], "hidden+password", "{joined}");

    let args = ["room", "set", "secretlab", "--password", "--public"];
    let set = json_in(addr, &alice, &args, "pw2\n").await;
    assert_eq!(set["rule"], "public+password", "{set}");
    let listed = json(addr, &bob, &["room", "list"]).await;
    assert_eq!(listed["public"][0]["name"], "secretlab", "{listed}");
    assert_eq!(listed["public"][0]["locked"], true, "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_password_room_set_replaces_the_password_and_the_old_one_fails() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let [alice, bob, carol] = ["alice", "bob", "carol"].map(|n| dir.path().join(n));
    for (home, name) in [(&alice, "alice"), (&bob, "bob"), (&carol, "carol")] {
        register(addr, home, name).await;
    }
    json(addr, &alice, &["room", "create", "lab", "--public"]).await;
    json(addr, &bob, &["room", "join", "lab"]).await;
    // A plain member may not set the password.
    let line = refused_in(addr, &bob, &["room", "set", "lab", "--password"], "mine\n").await;
    assert!(line.contains("admin"), "{line}");

    let set = json_in(
        addr,
        &alice,
        &["room", "set", "lab", "--password"],
        "first\n",
    )
    .await;
    assert_eq!(set["rule"], "public+password", "{set}");
    let shown = ok(addr, &bob, &["inbox"]).await;
    assert!(
        shown.contains("[#lab] alice made the room public+password"),
        "members see the change: {shown}"
    );
    json_in(
        addr,
        &alice,
        &["room", "set", "lab", "--password"],
        "second\n",
    )
    .await;
    // The second change keeps the rule, so no commit says it: alice's
    // notice does, once.
    let shown = ok(addr, &bob, &["inbox"]).await;
    assert_eq!(
        shown
            .matches("[#lab] alice changed the room's password")
            .count(),
        1,
        "members see the password change: {shown}"
    );
    assert!(!shown.contains("made the room"), "{shown}");

    let line = refused_in(addr, &carol, &["room", "join", "lab"], "first\n").await;
    assert!(line.contains("wrong password for #lab"), "{line}");
    let joined = json_in(addr, &carol, &["room", "join", "lab"], "second\n").await;
    assert_eq!(joined["members"], 3, "{joined}");

    // Back to public: no password asked.
    json(addr, &alice, &["room", "set", "lab", "--public"]).await;
    let listed = json(addr, &carol, &["room", "list"]).await;
    assert_eq!(listed["public"][0]["locked"], false, "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_password_the_server_refuses_a_join_that_never_proved_the_password() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let alice = dir.path().join("alice");
    register(addr, &alice, "alice").await;
    json_in(
        addr,
        &alice,
        &["room", "create", "vault", "--password"],
        "open sesame\n",
    )
    .await;
    let mut mallory = RoomUser::new(addr, dir.path(), "mallory").await.unwrap();
    let found = match mallory
        .conn
        .call(v3::Request::FindRoom(RoomLabel::new("vault").unwrap()))
        .await
        .unwrap()
    {
        v3::Response::RoomFound(found) => found,
        other => panic!("find answered {other:?}"),
    };
    let commit = sealpost_rooms::testing::rogue_external_join(&mallory.engine, &found.group_info);
    let commit_request = |commit: Vec<u8>| {
        v3::Request::RoomCommit(RoomCommit {
            room: found.room,
            epoch: found.epoch,
            commit: commit.into(),
            welcome: Bytes::new(),
        })
    };
    match mallory
        .conn
        .call(commit_request(commit.clone()))
        .await
        .unwrap()
    {
        v3::Response::Error(e) => assert_eq!(e.reason, ErrorReason::WrongPassword, "{e:?}"),
        other => panic!("an unproven join answered {other:?}"),
    }
    // A login finish with no login under way proves nothing.
    let finish = v3::Request::RoomLoginFinish(v3::RoomPake {
        room: found.room,
        message: Bytes::from(vec![0; 64]),
    });
    match mallory.conn.call(finish).await.unwrap() {
        v3::Response::Error(e) => assert_eq!(e.reason, ErrorReason::WrongPassword),
        other => panic!("{other:?}"),
    }
    // A started login with a forged finalization proves nothing either.
    let (_login, request) = sealpost_rooms::PasswordLogin::start(b"guess").unwrap();
    let login = v3::Request::RoomLogin(v3::RoomPake {
        room: found.room,
        message: request.into(),
    });
    assert!(matches!(
        mallory.conn.call(login).await.unwrap(),
        v3::Response::RoomLoginChallenge(_)
    ));
    let forged = v3::Request::RoomLoginFinish(v3::RoomPake {
        room: found.room,
        message: Bytes::from(vec![7; 64]),
    });
    match mallory.conn.call(forged).await.unwrap() {
        v3::Response::Error(e) => assert_eq!(e.reason, ErrorReason::WrongPassword),
        other => panic!("{other:?}"),
    }
    match mallory.conn.call(commit_request(commit)).await.unwrap() {
        v3::Response::Error(e) => assert_eq!(e.reason, ErrorReason::WrongPassword, "{e:?}"),
        other => panic!("an unproven join answered {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_password_the_database_holds_an_opaque_record_never_the_password() {
    // Reads server.db: SQLite whatever the engine variable says.
    let server = TestServer::start_on(Engine::Sqlite, |_| {}).await.unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let alice = dir.path().join("alice");
    register(addr, &alice, "alice").await;
    let password = "correct horse battery staple";
    json_in(
        addr,
        &alice,
        &["room", "create", "vault", "--password"],
        &format!("{password}\n"),
    )
    .await;
    let db = server.config.db_path();
    let mut bytes = std::fs::read(&db).unwrap();
    let wal = db.with_file_name(format!("{}-wal", db.file_name().unwrap().to_string_lossy()));
    if let Ok(more) = std::fs::read(&wal) {
        bytes.extend_from_slice(&more);
    }
    // The record is there (an OPAQUE registration upload: 192 bytes)...
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let record: Vec<u8> = conn
        .query_row("SELECT record FROM room_passwords", [], |r| r.get(0))
        .unwrap();
    assert_eq!(record.len(), 192);
    // ... and the password is nowhere in the files.
    assert!(
        !bytes
            .windows(password.len())
            .any(|w| w == password.as_bytes()),
        "the password is in the database"
    );
    assert!(!bytes.windows(8).any(|w| w == b"horse ba"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_password_a_password_set_through_one_node_is_proven_through_another() {
    let pg = crate::cluster::postgres().await;
    let files = tempfile::tempdir().unwrap();
    let (a, b) = crate::cluster::two_nodes(&pg, files.path()).await;
    let dir = tempfile::tempdir().unwrap();
    let [alice, carol, dave] = ["alice", "carol", "dave"].map(|n| dir.path().join(n));
    register(a.addr, &alice, "alice").await;
    register(b.addr, &carol, "carol").await;
    register(b.addr, &dave, "dave").await;
    json_in(
        a.addr,
        &alice,
        &["room", "create", "vault", "--password"],
        "open sesame\n",
    )
    .await;
    let line = refused_in(b.addr, &dave, &["room", "join", "vault"], "open says me\n").await;
    assert!(line.contains("wrong password for #vault"), "{line}");
    let joined = json_in(b.addr, &carol, &["room", "join", "vault"], "open sesame\n").await;
    assert_eq!(joined["members"], 2, "{joined}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_password_guesses_through_one_node_count_on_another() {
    let pg = crate::cluster::postgres().await;
    let files = tempfile::tempdir().unwrap();
    let (a, b) = crate::cluster::two_nodes(&pg, files.path()).await;
    let (mut on_a, keys) = V3Conn::new_user(a.addr, "mallory").await.unwrap();
    let mut on_b = on_a.again(b.addr, &keys).await.unwrap();
    // Any room id: the server answers a login whether or not the room
    // exists or has a password, and counts it as a guess until it succeeds.
    let room = protocol::RoomId([5; 16]);
    let login = || {
        let (_login, request) = sealpost_rooms::PasswordLogin::start(b"guess").unwrap();
        v3::Request::RoomLogin(v3::RoomPake {
            room,
            message: request.into(),
        })
    };
    for _ in 0..5 {
        let answer = on_a.call(login()).await.unwrap();
        assert!(
            matches!(answer, v3::Response::RoomLoginChallenge(_)),
            "{answer:?}"
        );
    }
    // The sixth within the minute, through the other node: refused.
    match on_b.call(login()).await.unwrap() {
        v3::Response::Error(e) => {
            assert_eq!(e.reason, ErrorReason::TooManyGuesses, "{e:?}");
            assert!(e.text.contains("try again in"), "{}", e.text);
        }
        other => panic!("a sixth guess through node B answered {other:?}"),
    }
    // Another room is not held back.
    let other = v3::Request::RoomLogin(v3::RoomPake {
        room: protocol::RoomId([6; 16]),
        message: sealpost_rooms::PasswordLogin::start(b"guess")
            .unwrap()
            .1
            .into(),
    });
    assert!(matches!(
        on_b.call(other).await.unwrap(),
        v3::Response::RoomLoginChallenge(_)
    ));
}
