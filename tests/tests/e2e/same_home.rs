//! Several client processes on one home folder at once (a `watch` in one
//! terminal, `inbox` or `send` in another): none fails on the other's
//! database lock, each message is shown once, and a message the other
//! process handled first is dropped quietly, never refused to its sender
//! as a replay.

use client::What;
use e2e::{TestServer, run_client, user};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_inbox_processes_on_one_home_show_each_text_once_and_none_fails() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let addr = server.addr.to_string();
    let alice = user(&addr, &dir.path().join("alice"), "alice").await;
    let bob_home = dir.path().join("bob");
    drop(user(&addr, &bob_home, "bob").await);
    for round in 0..4 {
        let sent: Vec<String> = (0..5).map(|i| format!("round {round} text {i}")).collect();
        for text in &sent {
            alice.send_text("bob", text).await.unwrap();
        }
        let runs = (0..3).map(|_| run_client(&addr, &bob_home, &["inbox"]));
        let outputs = futures::future::join_all(runs).await;
        for (ok, out, err) in &outputs {
            assert!(*ok, "an inbox failed: {out}{err}");
            assert!(!err.contains("locked"), "{err}");
            assert!(!out.contains("rejected"), "{out}");
        }
        for text in &sent {
            let shown = outputs
                .iter()
                .map(|(_, out, _)| out.matches(text.as_str()).count())
                .sum::<usize>();
            assert_eq!(shown, 1, "{text:?} shown {shown} times");
        }
    }
    // Alice was told of no refusal: every text reached bob once.
    let notices = alice.inbox().await.unwrap();
    assert!(
        !notices.iter().any(|e| matches!(
            e.what,
            What::Refused { .. } | What::Rejected { .. } | What::SessionRenewed { .. }
        )),
        "{notices:?}"
    );
}
