//! A home folder encrypted at rest (issue 16, item 3): no plaintext of a
//! sent text in any file of either home, a wrong passphrase is one clear
//! line, and `passphrase change` re-keys both stores. Backups (item 4) are
//! `at_rest_backup`.

use std::path::Path;

use client::keystore::{KeyStore, Protection, atrest};
use client::rooms::{MeSigner, ROOMS_FILE, RoomWorker};
use e2e::{TEST_PASSPHRASE, TestServer, binary, bounded, texts, user};

/// Runs the client binary with `passphrase` in SEALPOST_PASSPHRASE and
/// `extra` environment; (success, stdout, stderr).
pub(crate) async fn run(
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
pub(crate) async fn run_in(
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

/// `passphrase change` where there is nothing to change: a home set up
/// with --no-passphrase is told how it gets one (before a new passphrase
/// is asked for), and the same passphrase again is said to change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passphrase_change_that_changes_nothing_says_so() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (bot, alice) = (dir.path().join("bot"), dir.path().join("alice"));
    let (ok, _, err) = run(
        &addr,
        &bot,
        "",
        &[],
        &["--no-passphrase", "register", "bot"],
    )
    .await;
    assert!(ok, "{err}");
    let new = [("SEALPOST_NEW_PASSPHRASE", "a new passphrase")];
    let args = ["--no-passphrase", "passphrase", "change"];
    let (ok, _, err) = run(&addr, &bot, "", &new, &args).await;
    assert!(!ok);
    assert!(err.contains("it has no passphrase to change"), "{err}");
    assert!(err.contains("export") && err.contains("import"), "{err}");
    assert!(!err.contains("run with --no-passphrase"), "{err}");
    // Refused before anything is read: without a new passphrase too.
    let args = ["--json", "--no-passphrase", "passphrase", "change"];
    let (ok, _, err) = run(&addr, &bot, "", &[], &args).await;
    // After the warning every start of a plain home prints.
    let last = err.trim().lines().last().unwrap();
    let refused: serde_json::Value = serde_json::from_str(last).unwrap();
    assert!(!ok && refused["code"] == "unencrypted_home", "{err}");

    let (ok, _, err) = run(&addr, &alice, TEST_PASSPHRASE, &[], &["register", "alice"]).await;
    assert!(ok, "{err}");
    let same = [("SEALPOST_NEW_PASSPHRASE", TEST_PASSPHRASE)];
    let args = ["--json", "passphrase", "change"];
    let (ok, out, err) = run(&addr, &alice, TEST_PASSPHRASE, &same, &args).await;
    assert!(!ok, "{out}");
    let refused: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(refused["code"], "same_passphrase", "{err}");
    assert_eq!(
        refused["error"], "the new passphrase is the old one: nothing changed",
        "{err}"
    );
    let (ok, _, err) = run(&addr, &alice, TEST_PASSPHRASE, &[], &["fingerprint"]).await;
    assert!(ok, "{err}");
}
