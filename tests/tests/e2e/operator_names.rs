//! `server user remove NAME` finds a name however the operator's terminal
//! composed it, and says a missing one without Rust's escapes.

use e2e::{ServerProcess, user};

use crate::operator::{json, server_cmd};

/// Regression (D8): a decomposed `émile` (e + U+0301, as some terminals
/// and file names type it) was "no account is named \"e\\u{301}mile\"".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_user_named_in_decomposed_form_finds_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    let _emile = user(
        &server.addr.to_string(),
        &dir.path().join("e"),
        "\u{e9}mile",
    )
    .await;

    let (ok, out, err) = server_cmd(&data, &["user", "remove", "e\u{301}lise"]).await;
    assert!(!ok, "{out}");
    assert!(err.contains("no account is named \"\u{e9}lise\""), "{err}");
    assert!(!err.contains("\\u{"), "{err}");

    let removed = json(&data, &["user", "remove", "e\u{301}mile"]).await;
    assert_eq!(removed["name"], "\u{e9}mile", "{removed}");
    let users = json(&data, &["user", "list"]).await;
    assert_eq!(users.as_array().unwrap().len(), 0, "{users}");
    server.terminate_cleanly().await.unwrap();
}
