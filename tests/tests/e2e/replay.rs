//! No message is thrown away as a replay it is not (issue 11, section 2),
//! and the time shown is the sender's: a file begun before a text, two
//! processes of one user sending at once, a true duplicate injected by the
//! server, refusal notices back to the sender (and never answered), sending
//! to yourself, and the sender's sealed clock.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use client::client::NoProgress;
use client::crypto::SealedKind;
use client::keystore::KeyStore;
use client::{Client, ClientError, Progress, RefusalReason, Rejection, What};
use e2e::{ServerProcess, TestServer, pattern};
use e2e::{open_client, run_client, texts, user};
use protocol::MessageKind;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

fn rejections(events: &[client::Event]) -> Vec<Rejection> {
    events
        .iter()
        .filter_map(|e| match &e.what {
            What::Rejected { reason } => Some(*reason),
            _ => None,
        })
        .collect()
}

/// (refused message id, counter, reason) of every refusal notice.
fn refusals(events: &[client::Event]) -> Vec<(u64, u64, RefusalReason)> {
    events
        .iter()
        .filter_map(|e| match &e.what {
            What::Refused {
                refused_id,
                counter,
                reason,
            } => Some((*refused_id, *counter, *reason)),
            _ => None,
        })
        .collect()
}

/// Alice and Bob with a session (alice's first text, read by bob).
async fn pair(addr: &str, dir: &Path) -> (Client, Client) {
    let alice = user(addr, &dir.join("alice"), "alice").await;
    let bob = user(addr, &dir.join("bob"), "bob").await;
    // Files download without asking only from contacts.
    bob.fetch_key("alice").await.unwrap();
    alice.send_text("bob", "hello").await.unwrap();
    assert_eq!(texts(&bob.inbox().await.unwrap()), vec!["hello"]);
    (alice, bob)
}

/// Cancels its token as soon as a transfer moves its first bytes.
struct CancelOnFirstBytes(CancellationToken);

impl Progress for CancelOnFirstBytes {
    fn start(&self, _: &str, _: u64, _: u64) {}
    fn advance(&self, _: u64) {
        self.0.cancel();
    }
    fn finish(&self) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_sent_while_a_file_uploads_does_not_make_the_file_a_replay() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = pair(&addr, dir.path()).await;
    let original = dir.path().join("video.bin");
    let data = pattern(31, 16 * 1024 * 1024 + 5);
    std::fs::write(&original, &data).unwrap();

    // The file's counter is taken now, when its upload begins ...
    let cancel = CancellationToken::new();
    alice.set_progress(Arc::new(CancelOnFirstBytes(cancel.clone())));
    let begun = alice.send_file("bob", &original, cancel).await;
    assert!(matches!(begun, Err(ClientError::Cancelled)), "{begun:?}");
    alice.set_progress(Arc::new(NoProgress));
    // ... a text is sealed and delivered meanwhile, with a later counter ...
    alice.send_text("bob", "the file is coming").await.unwrap();
    let first = bob.inbox().await.unwrap();
    assert_eq!(texts(&first), vec!["the file is coming"]);
    // ... and the file's message is created only when the upload completes.
    let done = alice
        .resume_uploads(CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(done.len(), 1);

    let events = bob.inbox().await.unwrap();
    assert!(rejections(&events).is_empty(), "false alarm: {events:?}");
    let saved: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.what {
            What::File { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(saved.len(), 1, "the file was lost: {events:?}");
    assert_eq!(
        Sha256::digest(std::fs::read(&saved[0]).unwrap()),
        Sha256::digest(&data)
    );
    assert!(refusals(&alice.inbox().await.unwrap()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_of_one_user_sending_at_once_lose_nothing() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (one, bob) = pair(&addr, dir.path()).await;
    // A second client on the same home, as a second terminal would be.
    let two = open_client(&addr, &dir.path().join("alice")).await;

    // The race made deterministic: one seals first, two sends first.
    let early = one.seal_text("bob", "sealed first").await.unwrap();
    let late = two.seal_text("bob", "sealed second").await.unwrap();
    two.send_sealed(&late).await.unwrap();
    one.send_sealed(&early).await.unwrap();
    // And a real race: both send ten texts at once.
    let burst = |c: Client, who: &'static str| async move {
        for i in 0..10 {
            c.send_text("bob", &format!("{who} {i}")).await.unwrap();
        }
    };
    tokio::join!(burst(one.clone(), "one"), burst(two.clone(), "two"));

    let events = bob.inbox().await.unwrap();
    assert!(rejections(&events).is_empty(), "false alarm: {events:?}");
    let got = texts(&events);
    assert_eq!(got[..2], ["sealed second", "sealed first"]);
    let mut rest = got[2..].to_vec();
    rest.sort();
    let mut want: Vec<String> = (0..10)
        .flat_map(|i| [format!("one {i}"), format!("two {i}")])
        .collect();
    want.sort();
    assert_eq!(rest, want);
    assert!(refusals(&one.inbox().await.unwrap()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_true_duplicate_is_refused_and_reported_once_on_both_sides() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = pair(&addr, dir.path()).await;
    let bob_id = bob.me().unwrap().id;
    let sealed = alice.seal_text("bob", "only once").await.unwrap();
    let counter = u64::from_le_bytes(sealed.content[17..25].try_into().unwrap());
    alice.send_sealed(&sealed).await.unwrap();
    assert_eq!(texts(&bob.inbox().await.unwrap()), vec!["only once"]);

    // The server (here: a raw send) stores the same ciphertext again as a
    // new message.
    let raw = alice.connection().await.unwrap();
    let copy = raw
        .send_message(bob_id, MessageKind::Text, sealed.content.clone())
        .await
        .unwrap();
    let events = bob.inbox().await.unwrap();
    assert!(texts(&events).is_empty());
    assert_eq!(rejections(&events), vec![Rejection::Replayed]);
    // Alice is told, once, which of her messages was refused and why.
    let at_alice = alice.inbox().await.unwrap();
    assert_eq!(
        refusals(&at_alice),
        vec![(copy, counter, RefusalReason::Duplicate)]
    );
    let from = at_alice
        .iter()
        .find(|e| matches!(e.what, What::Refused { .. }))
        .unwrap();
    assert_eq!(from.from, bob_id);
    assert!(from.sender_time_ms.is_some());
    // Nothing more on either side: no second report, no loop.
    assert!(bob.inbox().await.unwrap().is_empty());
    assert!(alice.inbox().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_reaches_the_sender_and_a_refusal_is_never_answered() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = pair(&addr, dir.path()).await;
    let (alice_id, bob_id) = (alice.me().unwrap().id, bob.me().unwrap().id);

    // An altered text: bob refuses it and alice hears of it.
    let mut sealed = alice.seal_text("bob", "alter me").await.unwrap();
    let counter = u64::from_le_bytes(sealed.content[17..25].try_into().unwrap());
    let mut bytes = sealed.content.to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    sealed.content = Bytes::from(bytes);
    let id = alice.send_sealed(&sealed).await.unwrap();
    assert_eq!(
        rejections(&bob.inbox().await.unwrap()),
        vec![Rejection::Tampered]
    );
    let at_alice = alice.inbox().await.unwrap();
    assert_eq!(
        refusals(&at_alice),
        vec![(id, counter, RefusalReason::Undecryptable)]
    );
    let shown = client::output::event(
        at_alice
            .iter()
            .find(|e| matches!(e.what, What::Refused { .. }))
            .unwrap(),
    );
    assert!(
        shown.contains(&format!("bob's client refused your message {id}")),
        "{shown}"
    );

    // Something that claims to be a refusal but does not open: rejected,
    // and not answered (or two clients could answer each other forever).
    let raw = alice.connection().await.unwrap();
    let mut fake = vec![2u8];
    fake.extend_from_slice(&sealed.content[1..]);
    raw.send_message(bob_id, MessageKind::Text, Bytes::from(fake))
        .await
        .unwrap();
    assert_eq!(
        rejections(&bob.inbox().await.unwrap()),
        vec![Rejection::Tampered]
    );
    assert!(
        alice.inbox().await.unwrap().is_empty(),
        "a refusal was answered"
    );
    // And a genuine refusal notice that arrives twice is refused as a
    // duplicate without an answer either: bob refuses alice's duplicate,
    // then alice's copy of his notice is injected again.
    let again = alice.seal_text("bob", "twice").await.unwrap();
    alice.send_sealed(&again).await.unwrap();
    alice.send_sealed(&again).await.unwrap();
    bob.inbox().await.unwrap();
    let conn = alice.connection().await.unwrap();
    let batch = conn.pull(0).await.unwrap();
    let notice = batch
        .messages
        .iter()
        .find(|d| d.sender == bob_id)
        .expect("bob's notice")
        .clone();
    assert_eq!(notice.content[0], 2);
    assert_eq!(refusals(&alice.inbox().await.unwrap()).len(), 1);
    let raw = bob.connection().await.unwrap();
    raw.send_message(alice_id, MessageKind::Text, notice.content.clone())
        .await
        .unwrap();
    assert_eq!(
        rejections(&alice.inbox().await.unwrap()),
        vec![Rejection::Replayed]
    );
    assert!(
        bob.inbox().await.unwrap().is_empty(),
        "a refusal was answered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_to_yourself_is_refused_up_front_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &[])
        .await
        .unwrap();
    let home = dir.path().join("alice");
    std::fs::create_dir_all(&home).unwrap();
    let (ok, _, err) = run_client(server.addr, &home, &["register", "alice"]).await;
    assert!(ok, "{err}");
    for who in ["alice", "ALICE"] {
        let (ok, out, err) = run_client(server.addr, &home, &["send", who, "note"]).await;
        assert!(!ok, "{out}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("is you"), "{err}");
    }
    let file = dir.path().join("note.txt");
    std::fs::write(&file, b"note").unwrap();
    let (ok, _, err) = run_client(
        server.addr,
        &home,
        &["send-file", "alice", file.to_str().unwrap()],
    )
    .await;
    assert!(!ok);
    assert!(err.contains("is you"), "{err}");
    // Her own key is no contact's: `key` and `fingerprint` of herself pin
    // nothing and name the command that shows it.
    for args in [["key", "alice"], ["fingerprint", "Alice"]] {
        let (ok, out, err) = run_client(server.addr, &home, &args).await;
        assert!(!ok, "{args:?}: {out}");
        assert!(
            err.contains("is you") && err.contains("fingerprint` shows it"),
            "{args:?}: {err}"
        );
    }
    let (ok, out, _) = run_client(server.addr, &home, &["--json", "list"]).await;
    assert!(ok && !out.contains("\"pinned_name\":\"alice\""), "{out}");

    // By id too, and nothing reached the server: no offer, no text.
    let alice = open_client(&server.addr.to_string(), &home).await;
    let me = alice.me().unwrap().id.to_string();
    assert!(matches!(
        alice.send_text(&me, "note").await,
        Err(ClientError::SendToSelf(_))
    ));
    assert!(matches!(
        alice.start_session("alice").await,
        Err(ClientError::SendToSelf(_))
    ));
    let waiting = alice.waiting().await.unwrap();
    assert_eq!(waiting.messages, 0);
    assert!(alice.inbox().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_senders_clock_is_shown_and_cannot_be_changed_on_the_way() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &[])
        .await
        .unwrap();
    let addr = server.addr.to_string();
    let (alice, bob) = pair(&addr, dir.path()).await;
    let bob_id = bob.me().unwrap().id;

    // A text sealed now carries alice's clock.
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    alice.send_text("bob", "what time is it").await.unwrap();
    let events = bob.inbox().await.unwrap();
    let text = events
        .iter()
        .find(|e| matches!(e.what, What::Text { .. }))
        .unwrap();
    let sealed_at = text.sender_time_ms.expect("the sender's time");
    assert!(sealed_at >= before, "{sealed_at} < {before}");

    // Alice's clock is two hours behind: bob sees her time, and the
    // server's as a remark.
    let two_hours_ago = before - 2 * 3600 * 1000;
    let content = {
        let mut store =
            KeyStore::open_protected(dir.path().join("alice"), &e2e::test_protection()).unwrap();
        let session = store.current_session_for(bob_id).unwrap().unwrap();
        let counter = store.next_send_counter(session.session.sid()).unwrap();
        session
            .session
            .seal_with_rng(
                SealedKind::Text,
                counter,
                two_hours_ago,
                b"from a slow clock",
                &mut rand::thread_rng(),
            )
            .unwrap()
    };
    let raw = alice.connection().await.unwrap();
    raw.send_message(bob_id, MessageKind::Text, Bytes::from(content.clone()))
        .await
        .unwrap();
    // The time is inside the tag: changing it on the way is detected.
    let mut altered = content.clone();
    altered[49] ^= 0x10;
    raw.send_message(bob_id, MessageKind::Text, Bytes::from(altered))
        .await
        .unwrap();
    drop(bob);
    let bob_home = dir.path().join("bob");
    let (ok, out, err) = run_client(server.addr, &bob_home, &["inbox"]).await;
    assert!(ok, "{err}");
    let shown_time = client::output::time(two_hours_ago);
    let line = out
        .lines()
        .find(|l| l.contains("(server: "))
        .unwrap_or_else(|| panic!("no remark on the server's time:\n{out}"));
    assert!(
        line.starts_with(&format!("[{shown_time} (server: ")),
        "{out}"
    );
    assert!(out.contains("from a slow clock"), "{out}");
    assert!(out.contains("does not authenticate"), "{out}");
    assert_eq!(out.matches("(server: ").count(), 1, "{out}");
    // The line is the person's notice; the log does not say it again.
    assert_eq!(err, "", "nothing on standard error");
}
