//! A client with no terminal to ask on (a script, a service, a cron job)
//! and no passphrase given: one line that says how to give it, with the
//! stable `--json` code `passphrase_needed`, never the system's "No such
//! device or address"; nothing is created, and the home still opens with
//! its passphrase.

use std::path::Path;

use e2e::{TEST_PASSPHRASE, TestServer, bounded, client_process_under, user};

/// Runs the client binary in a session of its own (`setsid`), so that it
/// has no controlling terminal whatever runs the tests, with `passphrase` (if
/// any) in SEALPOST_PASSPHRASE and never a new one; (success, stderr).
async fn run_without_terminal(
    server: &str,
    home: &Path,
    passphrase: Option<&str>,
    args: &[&str],
) -> (bool, String) {
    let setsid = ["/usr/bin/setsid", "/bin/setsid"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect(
            "util-linux `setsid` is missing: install the Debian package util-linux (.ci/run does)",
        );
    // `--wait`: the exit status is the client's.
    let mut cmd = client_process_under(&[setsid, "--wait"], server, home, args);
    cmd.env_remove("SEALPOST_PASSPHRASE")
        .env_remove("SEALPOST_NEW_PASSPHRASE");
    if let Some(passphrase) = passphrase {
        cmd.env("SEALPOST_PASSPHRASE", passphrase);
    }
    let out = bounded("client binary", cmd.spawn().unwrap().wait_with_output())
        .await
        .unwrap()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `err` is one JSON error line with the code `passphrase_needed` whose
/// words name every way in `ways`; returns its words.
fn passphrase_needed(err: &str, ways: &[&str]) -> String {
    assert_eq!(err.lines().count(), 1, "{err}");
    let json: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(json["code"], "passphrase_needed", "{err}");
    let words = json["error"].as_str().unwrap().to_string();
    for way in ways {
        assert!(words.contains(way), "{way} in {words}");
    }
    assert!(!words.contains("os error"), "{words}");
    words
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_home_without_a_terminal_or_a_passphrase_is_told_how_to_give_one() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("zed");

    let (ok, err) = run_without_terminal(&addr, &home, None, &["--json", "register", "zed"]).await;
    assert!(!ok);
    let words = passphrase_needed(
        &err,
        &[
            "--passphrase-file",
            "SEALPOST_PASSPHRASE",
            "--no-passphrase",
        ],
    );
    assert!(words.contains("new home folder"), "{words}");
    // The same words for a person, after the program's name.
    let (ok, err) = run_without_terminal(&addr, &home, None, &["register", "zed"]).await;
    assert!(!ok);
    assert_eq!(err.trim_end(), format!("client: {words}"));
    // Nothing was made, here or on the server: the name is still free.
    let made = std::fs::read_dir(&home).map_or(0, |entries| entries.count());
    assert_eq!(made, 0, "files in the home that was refused");
    let (ok, err) = run_without_terminal(
        &addr,
        &home,
        Some(TEST_PASSPHRASE),
        &["--json", "register", "zed"],
    )
    .await;
    assert!(ok, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_home_without_a_terminal_or_a_passphrase_is_told_how_to_give_it() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("alice");
    drop(user(&addr, &home, "alice").await);

    let (ok, err) = run_without_terminal(&addr, &home, None, &["--json", "list"]).await;
    assert!(!ok);
    let words = passphrase_needed(&err, &["--passphrase-file", "SEALPOST_PASSPHRASE"]);
    assert!(words.contains("is encrypted"), "{words}");

    // `passphrase change` with the old passphrase but no new one.
    let (ok, err) = run_without_terminal(
        &addr,
        &home,
        Some(TEST_PASSPHRASE),
        &["--json", "passphrase", "change"],
    )
    .await;
    assert!(!ok);
    passphrase_needed(&err, &["--new-passphrase-file", "SEALPOST_NEW_PASSPHRASE"]);
    // Nothing was re-keyed: the old passphrase still opens the home.
    let (ok, err) =
        run_without_terminal(&addr, &home, Some(TEST_PASSPHRASE), &["--json", "list"]).await;
    assert!(ok, "{err}");
}
