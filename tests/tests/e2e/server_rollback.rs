//! A server whose data folder went back to an older copy (restored from a
//! file-level copy, not `server restore`, which moves its ids on) hands out
//! message ids again that its clients have seen. A client tells a new
//! message from a redelivery by what the message is, not by its id alone:
//! the new one is shown, never acknowledged unseen.

use e2e::{ServerProcess, run_client};

use crate::healing::copy_dir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_given_an_id_seen_before_by_a_rolled_back_server_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let (data, old_copy) = (dir.path().join("data"), dir.path().join("old-copy"));
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    let addr = server.addr.to_string();
    let run = |addr: String, home: std::path::PathBuf, args: &'static [&'static str]| async move {
        let (ok, out, err) = run_client(&addr, &home, args).await;
        assert!(ok, "{args:?}: {out}{err}");
        out
    };
    run(addr.clone(), alice.clone(), &["register", "alice"]).await;
    run(addr.clone(), bob.clone(), &["register", "bob"]).await;
    run(addr.clone(), bob.clone(), &["key", "alice"]).await;
    server.terminate_cleanly().await.unwrap();
    copy_dir(&data, &old_copy);

    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    let addr = server.addr.to_string();
    let sent = run(
        addr.clone(),
        alice.clone(),
        &["send", "bob", "before the rollback"],
    )
    .await;
    let out = run(addr.clone(), bob.clone(), &["inbox"]).await;
    assert!(out.contains("before the rollback"), "{out}");
    server.terminate_cleanly().await.unwrap();

    // The same server (its key is in the copy), back to before that text.
    let server = ServerProcess::start(&old_copy, &[]).await.unwrap();
    let addr = server.addr.to_string();
    let again = run(
        addr.clone(),
        alice.clone(),
        &["send", "bob", "after the rollback"],
    )
    .await;
    // The session's offer was message 1 and the text 2; the copy, which
    // has neither, gives the new text 1: an id bob handled.
    assert!(sent.contains("(message 2)"), "{sent}");
    assert!(again.contains("(message 1)"), "{again}");
    let out = run(addr.clone(), bob.clone(), &["inbox"]).await;
    assert!(out.contains("after the rollback"), "{out}");
    assert!(!out.contains("before the rollback"), "{out}");
    // Shown once: nothing waits any more, and history has both.
    let out = run(addr.clone(), bob.clone(), &["inbox"]).await;
    assert!(!out.contains("after the rollback"), "{out}");
    let out = run(addr, bob.clone(), &["history", "alice"]).await;
    assert!(
        out.contains("before the rollback") && out.contains("after the rollback"),
        "{out}"
    );
}
