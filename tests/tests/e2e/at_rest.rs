//! A home folder encrypted at rest, and backups (issue 16, items 3 and 4):
//! no plaintext of a sent text in any file of either home, a wrong
//! passphrase is one clear line, `passphrase change` re-keys both stores,
//! and `export` / `import` bring a lost home back into the conversation.

use std::path::Path;

use client::keystore::{KeyStore, Protection, atrest};
use client::rooms::{MeSigner, ROOMS_FILE, RoomWorker};
use e2e::{TEST_PASSPHRASE, TestServer, binary, bounded, texts, user};

/// Runs the client binary with `passphrase` in SEALPOST_PASSPHRASE and
/// `extra` environment; (success, stdout, stderr).
async fn run(
    server: &str,
    home: &Path,
    passphrase: &str,
    extra: &[(&str, &str)],
    args: &[&str],
) -> (bool, String, String) {
    run_in(&["--server", server], home, passphrase, extra, args).await
}

/// [`run`] with `before` ahead of the arguments instead of `--server`, in
/// the home's parent folder (where a `server.info` would also be read).
async fn run_in(
    before: &[&str],
    home: &Path,
    passphrase: &str,
    extra: &[(&str, &str)],
    args: &[&str],
) -> (bool, String, String) {
    let mut cmd = tokio::process::Command::new(binary("client").unwrap());
    cmd.env("SEALPOST_PASSPHRASE", passphrase)
        .envs(extra.iter().copied())
        .current_dir(home.parent().unwrap())
        .arg("--home")
        .arg(home)
        .args(before)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let out = bounded("client binary", cmd.spawn().unwrap().wait_with_output())
        .await
        .unwrap()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every file under `dir`, with its bytes.
fn every_file(dir: &Path, out: &mut Vec<(std::path::PathBuf, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            every_file(&path, out);
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
}

/// No file under `home` holds any of `needles`, or starts as plain SQLite;
/// returns the names of the files searched.
fn assert_nowhere(home: &Path, needles: &[&str]) -> Vec<String> {
    let mut files = Vec::new();
    every_file(home, &mut files);
    assert!(files.len() >= 2, "{files:?}");
    let mut names = Vec::new();
    for (path, bytes) in files {
        for needle in needles.iter().map(|n| n.as_bytes()) {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{} holds the plaintext",
                path.display()
            );
        }
        assert!(
            !bytes.starts_with(b"SQLite format 3"),
            "{} is plain SQLite",
            path.display()
        );
        names.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    names
}

/// Whether the rooms store of `home` opens with the key of `passphrase`
/// (the identity read from the key store, which `right` opens).
async fn rooms_store(home: &Path, right: &str, passphrase: &str) -> bool {
    let me = KeyStore::open_protected(home, &Protection::passphrase(right))
        .unwrap()
        .identity()
        .unwrap()
        .unwrap();
    let key = atrest::unlock(home, &Protection::passphrase(passphrase)).unwrap();
    RoomWorker::open(
        home.join(ROOMS_FILE),
        MeSigner::new(me.client_id, me.identity),
        key,
        None,
    )
    .await
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_holds_no_plaintext_and_opens_only_with_its_passphrase() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (alice_home, bob_home) = (dir.path().join("alice"), dir.path().join("bob"));
    let alice = user(&addr, &alice_home, "alice").await;
    let bob = user(&addr, &bob_home, "bob").await;
    const SECRET: &str = "the plaintext marker 7f3a9c";
    const ROOM_SECRET: &str = "the room's plaintext marker 41d2e8";
    alice.send_text("bob", SECRET).await.unwrap();
    assert_eq!(texts(&bob.inbox().await.unwrap()), [SECRET]);
    bob.send_text("alice", "an answer").await.unwrap();
    alice.inbox().await.unwrap();
    // A room text too: the MLS state and the room's history.
    alice.room_create("vault").await.unwrap();
    alice.room_add("vault", &["bob".to_string()]).await.unwrap();
    alice.room_send("vault", ROOM_SECRET).await.unwrap();
    let at_bob = format!("{:?}", bob.inbox().await.unwrap());
    assert!(at_bob.contains(ROOM_SECRET), "{at_bob}");
    // While the clients run: the WAL and shared-memory files are there
    // too, and hold nothing readable either.
    let needles = [SECRET, ROOM_SECRET, "an answer"];
    for home in [&alice_home, &bob_home] {
        let names = assert_nowhere(home, &needles);
        for file in ["store.db", "store.db-wal", "rooms.db", "rooms.db-wal"] {
            assert!(names.iter().any(|n| n == file), "{file} in {names:?}");
        }
    }
    drop((alice, bob));
    for home in [&alice_home, &bob_home] {
        assert_nowhere(home, &needles);
    }
    // The rooms engine's store is keyed the same way.
    assert!(rooms_store(&alice_home, TEST_PASSPHRASE, TEST_PASSPHRASE).await);

    // A wrong passphrase: one clear line, and a JSON error with --json.
    let (ok, _, err) = run(&addr, &alice_home, "not it", &[], &["history", "bob"]).await;
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("wrong passphrase"), "{err}");
    let (ok, _, err) = run(
        &addr,
        &alice_home,
        "not it",
        &[],
        &["--json", "history", "bob"],
    )
    .await;
    assert!(!ok);
    let v: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(v["code"], "wrong_passphrase", "{err}");
    // A plain SQLite reader sees no tables.
    let raw = rusqlite::Connection::open(alice_home.join("store.db")).unwrap();
    assert!(
        raw.query_row("SELECT count(*) FROM sqlite_master", [], |r| r
            .get::<_, i64>(0))
            .is_err()
    );
    drop(raw);

    // The passphrase changes: both stores re-keyed, the old one refused.
    // Refused while another client has the home open: the in-process
    // clients dropped above close their stores once their last tasks end
    // (a receipt sent a moment after a read), so it is asked again until
    // then, a bounded number of times.
    let new = [("SEALPOST_NEW_PASSPHRASE", "a new passphrase")];
    let mut tries = 0;
    let (ok, out, err) = loop {
        let (ok, out, err) = run(
            &addr,
            &alice_home,
            TEST_PASSPHRASE,
            &new,
            &["passphrase", "change"],
        )
        .await;
        tries += 1;
        if ok || !err.contains("another client has this home folder open") || tries == 50 {
            break (ok, out, err);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(ok, "{err}");
    assert!(out.contains("passphrase changed"), "{out}");
    let (ok, _, err) = run(
        &addr,
        &alice_home,
        TEST_PASSPHRASE,
        &[],
        &["history", "bob"],
    )
    .await;
    assert!(!ok && err.contains("wrong passphrase"), "{err}");
    let (ok, out, err) = run(
        &addr,
        &alice_home,
        "a new passphrase",
        &[],
        &["history", "bob"],
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains(SECRET), "{out}");
    let new = "a new passphrase";
    assert!(!rooms_store(&alice_home, new, TEST_PASSPHRASE).await);
    assert!(rooms_store(&alice_home, new, new).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_imported_into_a_fresh_home_reads_the_history_and_talks_on() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (alice_home, bob_home) = (dir.path().join("alice"), dir.path().join("bob"));
    let alice = user(&addr, &alice_home, "alice").await;
    let bob = user(&addr, &bob_home, "bob").await;
    alice.send_text("bob", "before the loss").await.unwrap();
    assert_eq!(texts(&bob.inbox().await.unwrap()), ["before the loss"]);
    bob.send_text("alice", "got it").await.unwrap();
    assert_eq!(texts(&alice.inbox().await.unwrap()), ["got it"]);
    drop(alice);

    let backup = dir.path().join("alice.backup");
    let backup_arg = backup.to_str().unwrap();
    let (ok, out, err) = run(
        &addr,
        &alice_home,
        TEST_PASSPHRASE,
        &[],
        &["export", backup_arg],
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("2 history entries"), "{out}");
    let mut bytes = Vec::new();
    bytes.extend(std::fs::read(&backup).unwrap());
    assert!(!bytes.windows(15).any(|w| w == b"before the loss"));
    // A second export never overwrites the first; a home with no identity
    // (a mistyped --home) exports nothing that could not be restored.
    let (ok, _, err) = run(
        &addr,
        &alice_home,
        TEST_PASSPHRASE,
        &[],
        &["export", backup_arg],
    )
    .await;
    assert!(!ok && err.contains("exists already"), "{err}");
    assert_eq!(std::fs::read(&backup).unwrap(), bytes);
    let stray = dir.path().join("stray.backup");
    let (ok, _, err) = run(
        &addr,
        &dir.path().join("typo"),
        TEST_PASSPHRASE,
        &[],
        &["--json", "export", stray.to_str().unwrap()],
    )
    .await;
    assert!(!ok && err.contains("not_registered"), "{err}");
    assert!(!stray.exists());

    let (ok, exported, err) = run(
        &addr,
        &alice_home,
        TEST_PASSPHRASE,
        &[],
        &["--json", "fingerprint"],
    )
    .await;
    assert!(ok, "{err}");

    // The home folder is lost; a fresh one takes the backup. A wrong
    // passphrase leaves the home as it was (regression: it was set up under
    // the wrong one, and the retry with the right one was refused).
    std::fs::remove_dir_all(&alice_home).unwrap();
    let (ok, _, err) = run(&addr, &alice_home, "not it", &[], &["import", backup_arg]).await;
    assert!(!ok && err.contains("wrong passphrase"), "{err}");
    assert!(!alice_home.exists());
    std::fs::create_dir(&alice_home).unwrap();
    std::fs::write(alice_home.join("server.info"), &addr).unwrap();
    let (ok, _, err) = run(&addr, &alice_home, "not it", &[], &["import", backup_arg]).await;
    assert!(!ok && err.contains("wrong passphrase"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&alice_home)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["server.info"]);
    let (ok, out, err) = run(
        &addr,
        &alice_home,
        TEST_PASSPHRASE,
        &[],
        &["import", backup_arg],
    )
    .await;
    assert!(ok, "{err}");
    assert!(
        out.contains("1 contact with its pin")
            && out.contains("2 history entries")
            && out.contains("rooms' keys are not in a backup"),
        "{out}"
    );
    let (ok, restored, err) = run(
        &addr,
        &alice_home,
        TEST_PASSPHRASE,
        &[],
        &["--json", "fingerprint"],
    )
    .await;
    assert!(ok, "{err}");
    let you = |out: &str| serde_json::from_str::<serde_json::Value>(out).unwrap()["you"].clone();
    assert_eq!(you(&restored), you(&exported));
    let (ok, out, err) = run(
        &addr,
        &alice_home,
        TEST_PASSPHRASE,
        &[],
        &["history", "bob"],
    )
    .await;
    assert!(ok, "{err}");
    assert!(
        out.contains("before the loss") && out.contains("got it"),
        "{out}"
    );

    // Bob still holds the old session: his next text is sealed in it. The
    // restored home lacks it, keeps the text and asks bob to send it again.
    bob.send_text("alice", "while you were away").await.unwrap();
    let (ok, out, err) = run(&addr, &alice_home, TEST_PASSPHRASE, &[], &["inbox"]).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("a session this home no longer has") && !out.contains("while you were away"),
        "{out}"
    );
    // Bob's client heals by itself: a new session, the text sent again.
    let at_bob = bob.inbox().await.unwrap();
    assert!(
        at_bob.iter().any(|e| matches!(
            e.what,
            client::What::SessionRenewed {
                resent: Some(_),
                lost: true,
                ..
            }
        )),
        "{at_bob:?}"
    );
    let (ok, out, err) = run(&addr, &alice_home, TEST_PASSPHRASE, &[], &["inbox"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("while you were away"), "{out}");

    // The conversation goes on, both ways.
    let (ok, _, err) = run(
        &addr,
        &alice_home,
        TEST_PASSPHRASE,
        &[],
        &["send", "bob", "after the restore"],
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(texts(&bob.inbox().await.unwrap()), ["after the restore"]);
    bob.send_text("alice", "welcome back").await.unwrap();
    let (ok, out, err) = run(&addr, &alice_home, TEST_PASSPHRASE, &[], &["inbox"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("welcome back"), "{out}");
    let (ok, out, err) = run(
        &addr,
        &alice_home,
        TEST_PASSPHRASE,
        &[],
        &["history", "bob"],
    )
    .await;
    assert!(ok, "{err}");
    let order = [
        "before the loss",
        "got it",
        "while you were away",
        "after the restore",
        "welcome back",
    ];
    let at: Vec<usize> = order
        .iter()
        .map(|t| out.find(t).unwrap_or_else(|| panic!("{t}: {out}")))
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{out}");
}

/// Regression: `import` wanted `--server` (or a `server.info`) although the
/// backup holds the server's pin and address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_imported_without_an_address_connects_to_the_server_it_pinned() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (alice_home, bob_home) = (dir.path().join("alice"), dir.path().join("bob"));
    drop(user(&addr, &alice_home, "alice").await);
    let bob = user(&addr, &bob_home, "bob").await;
    let backup = dir.path().join("alice.backup");
    let backup_arg = backup.to_str().unwrap();
    let (ok, _, err) = run(
        &addr,
        &alice_home,
        TEST_PASSPHRASE,
        &[],
        &["export", backup_arg],
    )
    .await;
    assert!(ok, "{err}");

    // A new machine: an empty folder, no server.info anywhere, no --server.
    let moved = dir.path().join("new-machine").join("alice");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    let (ok, _, err) = run_in(&[], &moved, TEST_PASSPHRASE, &[], &["import", backup_arg]).await;
    assert!(ok, "{err}");
    let remembered = std::fs::read_to_string(moved.join("server.info")).unwrap();
    assert_eq!(remembered.trim(), addr);
    let (ok, _, err) = run_in(&[], &moved, TEST_PASSPHRASE, &[], &["send", "bob", "moved"]).await;
    assert!(ok, "{err}");
    assert_eq!(texts(&bob.inbox().await.unwrap()), ["moved"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_home_without_a_passphrase_is_encrypted_by_exporting_and_importing_it() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (bot_home, bob_home) = (dir.path().join("bot"), dir.path().join("bob"));
    let plain = ["--no-passphrase"];
    let (ok, _, err) = run(
        &addr,
        &bot_home,
        "",
        &[],
        &[&plain[..], &["register", "bot"]].concat(),
    )
    .await;
    assert!(ok, "{err}");
    let bob = user(&addr, &bob_home, "bob").await;
    bob.send_text("bot", "kept through the move").await.unwrap();
    let (ok, out, err) = run(&addr, &bot_home, "", &[], &["--no-passphrase", "inbox"]).await;
    assert!(ok && out.contains("kept through the move"), "{out}{err}");

    // The backup is locked with a new passphrase, never written in the clear.
    let backup = dir.path().join("bot.backup");
    let backup_arg = backup.to_str().unwrap();
    let new = [("SEALPOST_NEW_PASSPHRASE", "bot's new secret")];
    let (ok, out, err) = run(
        &addr,
        &bot_home,
        "",
        &new,
        &["--no-passphrase", "export", backup_arg],
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("1 history entry"), "{out}");
    let bytes = std::fs::read(&backup).unwrap();
    assert!(!bytes.windows(22).any(|w| w == b"kept through the move"));

    // Imported into a new home under that passphrase: encrypted, with the
    // identity and the history, and talking on.
    let home = dir.path().join("bot-encrypted");
    let (ok, _, err) = run(&addr, &home, "wrong", &[], &["import", backup_arg]).await;
    // Said as it is, not as a failure of the local store.
    assert!(
        !ok && err.starts_with("client: wrong passphrase: the backup"),
        "{err}"
    );
    let (ok, _, err) = run(
        &addr,
        &home,
        "bot's new secret",
        &[],
        &["import", backup_arg],
    )
    .await;
    assert!(ok, "{err}");
    assert!(matches!(
        atrest::read_record(&home).unwrap(),
        Some(atrest::Record::Passphrase(_))
    ));
    // The new home remembers the server it was imported with, as
    // `register` does: later commands need no --server.
    let remembered = std::fs::read_to_string(home.join("server.info")).unwrap();
    assert_eq!(remembered.trim(), addr);
    let (ok, out, err) = run(&addr, &home, "bot's new secret", &[], &["history", "bob"]).await;
    assert!(ok && out.contains("kept through the move"), "{out}{err}");
    let (ok, _, err) = run(
        &addr,
        &home,
        "bot's new secret",
        &[],
        &["send", "bob", "encrypted now"],
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(texts(&bob.inbox().await.unwrap()), ["encrypted now"]);

    // `--no-passphrase` on the encrypted home is refused without claiming
    // the home is not encrypted.
    let (ok, _, err) = run(&addr, &home, "", &[], &["--no-passphrase", "inbox"]).await;
    assert!(!ok, "{err}");
    assert!(!err.contains("NOT encrypted"), "{err}");
    assert!(err.contains("encrypted"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_registration_leaves_no_home_behind_and_the_next_may_use_another_passphrase() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    drop(user(&addr, &dir.path().join("bob"), "bob").await);
    let home = dir.path().join("second");
    let (ok, _, err) = run(
        &addr,
        &home,
        "first try",
        &[],
        &["--json", "register", "bob"],
    )
    .await;
    assert!(!ok && err.contains("name_taken"), "{err}");
    assert!(!home.exists(), "the refused registration left {home:?}");
    // A folder that was there already keeps what it had, and only that.
    std::fs::create_dir(&home).unwrap();
    std::fs::write(home.join("notes.txt"), "mine").unwrap();
    let (ok, _, err) = run(&addr, &home, "first try", &[], &["register", "bob"]).await;
    assert!(!ok, "{err}");
    let left: Vec<_> = std::fs::read_dir(&home)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["notes.txt"]);
    let (ok, out, err) = run(
        &addr,
        &home,
        "another passphrase",
        &[],
        &["register", "bob2"],
    )
    .await;
    assert!(ok && out.contains("registered bob2"), "{out}{err}");
    let (ok, _, err) = run(&addr, &home, "another passphrase", &[], &["list"]).await;
    assert!(ok, "{err}");
}

/// A new passphrase has eight characters at least (`passphrase_too_short`),
/// for a new home and for `passphrase change`; a home made under a shorter
/// one, before there was a minimum, still opens with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_passphrase_has_eight_characters_at_least_and_an_older_shorter_one_still_opens() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let code = |err: &str| -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(err.trim()).unwrap()["code"].clone()
    };
    let home = dir.path().join("zed");
    let (ok, _, err) = run(&addr, &home, "1234567", &[], &["--json", "register", "zed"]).await;
    assert!(!ok);
    assert_eq!(code(&err), "passphrase_too_short", "{err}");
    let (ok, _, err) = run(&addr, &home, "12345678", &[], &["register", "zed"]).await;
    assert!(ok, "{err}");
    let short = [("SEALPOST_NEW_PASSPHRASE", "x")];
    let args = ["--json", "passphrase", "change"];
    let (ok, _, err) = run(&addr, &home, "12345678", &short, &args).await;
    assert!(!ok);
    assert_eq!(code(&err), "passphrase_too_short", "{err}");
    let (ok, _, err) = run(&addr, &home, "12345678", &[], &["list"]).await;
    assert!(ok, "the refused change changed the passphrase: {err}");

    // A home set up under "pw" before the minimum.
    let old = dir.path().join("old");
    let c = client::Client::open(client::ClientConfig {
        home: old.clone(),
        server: addr.clone(),
        accept_server_key: false,
        protection: Protection::passphrase("pw"),
    })
    .await
    .unwrap();
    c.register("old").await.unwrap();
    drop(c);
    let (ok, out, err) = run(&addr, &old, "pw", &[], &["list"]).await;
    assert!(ok && out.contains("zed"), "{out}{err}");
}
