//! The operator's commands as a person reads them: `user list` with its
//! last-session column.

use e2e::{ServerProcess, user};

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
