//! The operator's commands as a person reads them: `user list` with its
//! last-session column, and a start whose bind fails leaving nothing
//! behind.

use e2e::{ServerProcess, bounded, server_command, user};

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
