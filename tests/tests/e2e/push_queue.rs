//! A watcher that cannot keep up with what the server pushes: the client's
//! queue of pushes holds a bounded number of bytes (`connection::queue`),
//! drops the rest and has the watch read it from the server instead, where
//! it waits unacknowledged. Made certain here by holding the watch's first
//! request after subscribing at a relay until the server has pushed
//! everything waiting: twice the queue's bytes, in the largest texts.

use client::connection::MAX_QUEUED_PUSH_BYTES;
use client::crypto::sealed::MAX_TEXT_LEN;
use client::{Event, What};
use e2e::{Observed, Relay, TestServer, bounded, user};
use protocol::RequestCode;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_whose_pushes_overflowed_shows_every_text_once_in_order() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let relay = Relay::framewise(server.addr).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let alice = user(&server.addr.to_string(), &dir.path().join("alice"), "alice").await;
    let bob = user(&relay.addr.to_string(), &dir.path().join("bob"), "bob").await;
    // A session first, so that what follows is texts.
    alice.send_text("bob", "hello").await.unwrap();
    bob.inbox().await.unwrap();
    let count = 2 * MAX_QUEUED_PUSH_BYTES / MAX_TEXT_LEN + 1;
    let texts: Vec<String> = (0..count)
        .map(|i| format!("{i:04} {}", "x".repeat(MAX_TEXT_LEN - 5)))
        .collect();
    for t in &texts {
        alice.send_text("bob", t).await.unwrap();
    }

    let pulled_before = pulls(&relay);
    // The watch subscribes, then asks who is online: held until every
    // waiting text has passed the relay, so that none was taken yet.
    relay.hold_next(RequestCode::Presence);
    let (events_tx, mut events) = mpsc::unbounded_channel::<Event>();
    let stop = CancellationToken::new();
    let watcher = {
        let (bob, stop) = (bob.clone(), stop.clone());
        tokio::spawn(async move { bob.watch(events_tx, stop).await })
    };
    relay.wait_held().await.unwrap();
    // The one pull a watch makes before it subscribes, saying it reads
    // type 7 (PROTOCOL.md "112 subscribe").
    let pulled_before = pulled_before + 1;
    relay
        .wait_until("every waiting text pushed", |seen| {
            let pushed = seen
                .iter()
                .filter(|o| matches!(o, Observed::Delivery { .. }));
            pushed.count() >= count
        })
        .await
        .unwrap();
    assert_eq!(
        pulls(&relay),
        pulled_before,
        "bob pulled before the pushes overflowed"
    );
    relay.release();

    let mut shown = Vec::new();
    while shown.len() < count {
        let event = bounded("the next text shown", events.recv())
            .await
            .unwrap()
            .expect("the watch ended");
        if let What::Text { text } = event.what {
            shown.push(text);
        }
    }
    assert!(shown == texts, "texts shown out of order, missing or twice");
    // What the queue dropped was read from the server.
    assert!(
        pulls(&relay) > pulled_before,
        "the watch never read what its queue dropped"
    );
    stop.cancel();
    bounded("the watch to stop", watcher)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // Nothing was left on the server, nor shown twice.
    assert!(bob.inbox().await.unwrap().is_empty());
    while let Ok(event) = events.try_recv() {
        assert!(!matches!(event.what, What::Text { .. }), "{event:?}");
    }
}

/// The pulls the server received through the relay so far.
fn pulls(relay: &Relay) -> usize {
    let seen = relay.observed();
    seen.iter()
        .filter(|o| matches!(o, Observed::Pull { .. }))
        .count()
}
