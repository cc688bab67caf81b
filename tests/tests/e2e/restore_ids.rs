//! A server restored from a backup never hands out again the message ids
//! its original gave after the backup: a recipient that fetched a message
//! with such an id keeps it as handled, and would drop a new message that
//! came with the same id as a redelivery of the old one.

use e2e::open_client;
use e2e::{ServerProcess, texts, user};

use crate::operator::server_cmd;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_after_a_restore_reach_a_recipient_who_read_past_the_backup() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    let port = server.addr.port();
    let addr = server.addr.to_string();
    let (alice_home, bob_home) = (dir.path().join("alice"), dir.path().join("bob"));
    let alice = user(&addr, &alice_home, "alice").await;
    let bob = user(&addr, &bob_home, "bob").await;
    alice.send_text("bob", "before the backup").await.unwrap();
    assert_eq!(texts(&bob.inbox().await.unwrap()), ["before the backup"]);

    let archive = dir.path().join("sealpost.tar");
    let (ok, out, err) = server_cmd(&data, &["backup", archive.to_str().unwrap()]).await;
    assert!(ok, "{out}{err}");
    // Ids the backup does not know of, read by bob before the server is lost.
    for i in 0..3 {
        alice.send_text("bob", &format!("lost {i}")).await.unwrap();
    }
    assert_eq!(
        texts(&bob.inbox().await.unwrap()),
        ["lost 0", "lost 1", "lost 2"]
    );
    drop((alice, bob));
    server.terminate_cleanly().await.unwrap();

    // Restored twice from the one archive: the second must not repeat
    // the ids the first handed out either.
    for round in ["first", "second"] {
        let restored = dir.path().join(format!("restored-{round}"));
        let (ok, out, err) = server_cmd(&restored, &["restore", archive.to_str().unwrap()]).await;
        assert!(ok, "{out}{err}");
        let mut server = ServerProcess::start_on(&restored, port, &[]).await.unwrap();
        let alice = open_client(&addr, &alice_home).await;
        let bob = open_client(&addr, &bob_home).await;
        let mut sent = Vec::new();
        for i in 0..3 {
            let text = format!("after the {round} restore {i}");
            alice.send_text("bob", &text).await.unwrap();
            sent.push(text);
        }
        assert_eq!(texts(&bob.inbox().await.unwrap()), sent, "{round} restore");
        drop((alice, bob));
        server.terminate_cleanly().await.unwrap();
    }
}
