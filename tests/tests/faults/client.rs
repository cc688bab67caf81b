//! The client drains what it can: a message it cannot handle now (here a
//! file it cannot save) is reported once and kept on the server, and the
//! other senders' messages are still received. (The same sender's later
//! messages wait behind it, so that their counters cannot make it look like
//! a replay when it comes again.)

use e2e::user;

use client::What;
use e2e::{TestServer, pattern};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_cannot_be_saved_does_not_stop_the_rest_of_the_inbox() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let alice = user(&addr, &dir.path().join("alice"), "alice").await;
    let bob = user(&addr, &dir.path().join("bob"), "bob").await;
    let carol = user(&addr, &dir.path().join("carol"), "carol").await;
    // Files download without asking only from contacts.
    bob.fetch_key("alice").await.unwrap();
    let original = dir.path().join("report.bin");
    std::fs::write(&original, pattern(3, 100_000)).unwrap();
    alice
        .send_file("bob", &original, CancellationToken::new())
        .await
        .unwrap();
    alice.send_text("bob", "sent you a report").await.unwrap();
    carol.send_text("bob", "lunch?").await.unwrap();
    // Bob's downloads folder cannot be created (a file is in its place; as
    // root, permissions would not stop it).
    std::fs::write(bob.downloads(), b"in the way").unwrap();

    let events = bob.inbox().await.unwrap();
    let failed: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.what, What::Failed { .. }))
        .collect();
    assert_eq!(failed.len(), 1, "reported once: {events:?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.what, What::Text { text } if text == "lunch?")),
        "another sender's text is delivered: {events:?}"
    );

    // The file stayed on the server and arrives once the folder is usable.
    std::fs::remove_file(bob.downloads()).unwrap();
    let events = bob.inbox().await.unwrap();
    let saved: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.what {
            What::File { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(saved.len(), 1, "{events:?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.what, What::Text { text } if text == "sent you a report")),
        "alice's text came after her file: {events:?}"
    );
    assert_eq!(std::fs::read(&saved[0]).unwrap(), pattern(3, 100_000));
}
