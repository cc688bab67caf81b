//! The operator's commands as a person reads them: `user list` with its
//! last-session column, `backup -` on standard output, each subcommand's
//! `--help` with its own flags only, and a start whose bind fails leaving
//! nothing behind.

use std::process::Stdio;

use e2e::{ServerProcess, binary, bounded, server_command, user};

use crate::operator::{json, server_cmd};

/// Regression: `server user list` had no last-session column (README
/// promises one) and a header `V` nobody could read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_user_list_shows_each_account_s_last_session_under_readable_headers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    let addr = server.addr.to_string();
    let _alice = user(&addr, &dir.path().join("alice"), "alice").await;
    let (ok, text, err) = server_cmd(&data, &["user", "list"]).await;
    assert!(ok, "{err}");
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    for column in ["NAME", "PROTOCOL", "ONLINE", "LAST SESSION", "WAITING"] {
        assert!(header.contains(column), "{header}");
    }
    assert!(!header.split_whitespace().any(|w| w == "V"), "{header}");
    let alice = lines.next().unwrap();
    assert!(alice.starts_with("alice"), "{text}");
    assert!(
        alice.contains(" ago ") || alice.contains("just now"),
        "{text}"
    );
    let users = json(&data, &["user", "list"]).await;
    let now = server::now_ms();
    let last = users[0]["last_seen_ms"].as_u64().unwrap();
    assert!(last <= now && now - last < 600_000, "{users}");
    server.terminate_cleanly().await.unwrap();
}

/// Regression: `server backup -` wrote a file named `-`. It writes the
/// archive to standard output, which `server restore` then takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_backup_to_dash_streams_the_archive_to_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    let _alice = user(&server.addr.to_string(), &dir.path().join("alice"), "alice").await;
    let out = tokio::process::Command::new(binary("server").unwrap())
        .args(["backup", "-", "--data-dir"])
        .arg(&data)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output();
    let out = bounded("backup to stdout", out).await.unwrap().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!dir.path().join("-").exists(), "a file named - was written");
    assert!(err.contains("backup written to standard output"), "{err}");
    let archive = dir.path().join("copy.tar");
    std::fs::write(&archive, &out.stdout).unwrap();
    server.terminate_cleanly().await.unwrap();
    let restored = dir.path().join("restored");
    let (ok, said, err) = server_cmd(&restored, &["restore", archive.to_str().unwrap()]).await;
    assert!(ok, "{said}{err}");
    assert!(said.contains("1 accounts"), "{said}");
}

/// Regression: every subcommand's `--help` listed all the serving flags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_subcommand_help_shows_only_its_own_flags() {
    let help = |args: &'static [&'static str]| async move {
        let out = tokio::process::Command::new(binary("server").unwrap())
            .args(args)
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for args in [
        &["user", "list", "--help"][..],
        &["backup", "--help"],
        &["status", "--help"],
    ] {
        let text = help(args).await;
        assert!(text.contains("--data-dir"), "{args:?}: {text}");
        for serving in [
            "--max-connections",
            "--idle-timeout",
            "--bind",
            "--legacy-v2",
        ] {
            assert!(!text.contains(serving), "{args:?} shows {serving}: {text}");
        }
    }
    let text = help(&["--help"]).await;
    assert!(text.contains("--max-connections"), "{text}");
}

/// Regression: a start whose port was taken left a new data folder behind,
/// half made, and a stale `admin.sock` in an existing one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_whose_bind_fails_leaves_nothing_it_made() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let refused = |data: std::path::PathBuf| async move {
        let out = server_command(&data, port, &[]).unwrap().output();
        let out = bounded("the refused start", out).await.unwrap().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let fresh = dir.path().join("fresh");
    let said = refused(fresh.clone()).await;
    assert!(said.contains("cannot listen on"), "{said}");
    assert!(!fresh.exists(), "a failed start left {}", fresh.display());
    // An existing folder keeps what it had, and gets no socket.
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    server.terminate_cleanly().await.unwrap();
    refused(data.clone()).await;
    assert!(!data.join("admin.sock").exists());
    assert!(data.join("server.key").exists());
}
