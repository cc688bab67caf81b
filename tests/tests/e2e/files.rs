//! What a peer can make a client keep (issue 11, section 3 and 5): files
//! from strangers and files over the size limit wait for the user; texts
//! for sessions that never come are bounded; an interrupted download
//! resumes from its partial file; an upload whose file changed is sent
//! again rather than resumed.

use e2e::user;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use client::keystore::{HoldReason, PENDING_PER_SENDER};
use client::{Client, ClientConfig, ClientError, DownloadPolicy, What};
use e2e::{CancelAfter, Recorder, ServerProcess, TestServer, bounded, names_in, pattern, sha};
use e2e::{run_client, texts};
use tokio_util::sync::CancellationToken;

fn saved_files(events: &[client::Event]) -> Vec<PathBuf> {
    events
        .iter()
        .filter_map(|e| match &e.what {
            What::File { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect()
}

fn held(events: &[client::Event]) -> Vec<(u64, HoldReason)> {
    events
        .iter()
        .filter_map(|e| match &e.what {
            What::FileHeld { reason, .. } => Some((e.message_id, *reason)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_file_is_not_downloaded_until_accepted() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let bob_home = dir.path().join("bob");
    let alice = user(&addr, &dir.path().join("alice"), "alice").await;
    let bob = user(&addr, &bob_home, "bob").await;
    let original = dir.path().join("gift.bin");
    let data = pattern(31, 300_000);
    std::fs::write(&original, &data).unwrap();
    alice
        .send_file("bob", &original, CancellationToken::new())
        .await
        .unwrap();

    // Bob never dealt with alice: the file is announced, not downloaded.
    let events = bob.inbox().await.unwrap();
    assert!(saved_files(&events).is_empty(), "{events:?}");
    let offers = held(&events);
    assert_eq!(offers.len(), 1, "{events:?}");
    let (id, reason) = offers[0];
    assert_eq!(reason, HoldReason::Stranger);
    // The offer shows the sender's sealed clock, as texts do.
    let offer = events.iter().find(|e| e.message_id == id).unwrap();
    assert!(offer.sender_time_ms.is_some(), "{offer:?}");
    assert!(names_in(&bob_home.join("downloads")).is_empty());
    // It stays on the server, listed, and reading again neither downloads
    // nor repeats it.
    assert_eq!(bob.waiting().await.unwrap().messages, 1);
    assert!(bob.inbox().await.unwrap().is_empty());
    let listed = bob.held_files().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].message_id, id);
    assert_eq!(listed[0].name, "gift.bin");
    assert_eq!(listed[0].size, data.len() as u64);

    // Accepting downloads it and removes it from the server; the file keeps
    // its sender's sealed time, in the event and in history.
    let accepted = bob.accept_file(id, CancellationToken::new()).await.unwrap();
    assert_eq!(accepted.sender_time_ms, offer.sender_time_ms);
    let (_, history) = bob.history("alice", Default::default()).await.unwrap();
    let entry = history.iter().find(|e| e.message_id == Some(id)).unwrap();
    assert_eq!(entry.sender_time_ms, offer.sender_time_ms);
    let saved = saved_files(std::slice::from_ref(&accepted));
    assert_eq!(saved.len(), 1);
    assert_eq!(sha(&std::fs::read(&saved[0]).unwrap()), sha(&data));
    assert_eq!(bob.waiting().await.unwrap().messages, 0);
    assert!(bob.held_files().await.unwrap().is_empty());
    assert!(matches!(
        bob.accept_file(id, CancellationToken::new()).await,
        Err(ClientError::NoHeldFile(..))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contacts_file_over_the_limit_is_held_and_declining_deletes_it_and_tells_the_sender() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let bob_home = dir.path().join("bob");
    let alice = user(&addr, &dir.path().join("alice"), "alice").await;
    let bob = user(&addr, &bob_home, "bob").await;
    // Looking alice up on purpose makes her a contact.
    bob.fetch_key("alice").await.unwrap();
    bob.set_download_policy(DownloadPolicy {
        max_auto_download: 1 << 20,
        accept_all: false,
    });
    let small = dir.path().join("small.bin");
    let big = dir.path().join("big.bin");
    let small_data = pattern(32, 1 << 20);
    std::fs::write(&small, &small_data).unwrap();
    std::fs::write(&big, pattern(33, (1 << 20) + 1)).unwrap();
    for path in [&small, &big] {
        alice
            .send_file("bob", path, CancellationToken::new())
            .await
            .unwrap();
    }
    let events = bob.inbox().await.unwrap();
    let saved = saved_files(&events);
    assert_eq!(saved.len(), 1, "{events:?}");
    assert_eq!(sha(&std::fs::read(&saved[0]).unwrap()), sha(&small_data));
    let offers = held(&events);
    assert_eq!(offers.len(), 1, "{events:?}");
    let (id, reason) = offers[0];
    assert_eq!(reason, HoldReason::TooLarge);

    let declined = bob.decline_file(id).await.unwrap();
    assert_eq!(declined.name, "big.bin");
    // Gone from the server (not only hidden here), and nothing left behind.
    let conn = bob.connection().await.unwrap();
    assert!(conn.pull(0).await.unwrap().messages.is_empty());
    assert!(bob.held_files().await.unwrap().is_empty());
    assert_eq!(names_in(&bob_home.join("downloads")), vec!["small.bin"]);
    // Alice's history says what became of each: the small one delivered,
    // the declined one declined (not "stored" for a file that is gone).
    alice.inbox().await.unwrap();
    let (_, history) = alice
        .history("bob", client::keystore::HistoryQuery::default())
        .await
        .unwrap();
    let statuses: Vec<(String, &str)> = history
        .iter()
        .map(|e| match &e.body {
            client::keystore::Body::File { name, .. } => (name.clone(), e.status.word()),
            client::keystore::Body::Text { text } => (text.clone(), e.status.word()),
            client::keystore::Body::Event { change } => (format!("{change:?}"), e.status.word()),
            client::keystore::Body::Key { change } => (format!("{change:?}"), e.status.word()),
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("small.bin".to_string(), "delivered"),
            ("big.bin".to_string(), "declined")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flooding_texts_before_their_key_stops_at_the_bound_and_leaves_the_rest_on_the_server() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let bob_home = dir.path().join("bob");
    let alice = user(&addr, &dir.path().join("alice"), "alice").await;
    let bob = user(&addr, &bob_home, "bob").await;
    // A sealed text for a session bob never hears of: take alice's offer
    // off the server before bob's client sees it.
    let sealed = alice.seal_text("bob", "flood").await.unwrap();
    let conn = bob.connection().await.unwrap();
    let batch = conn.pull(0).await.unwrap();
    assert_eq!(batch.messages.len(), 1);
    conn.ack(vec![batch.messages[0].message_id]).await.unwrap();

    let over = 15;
    for _ in 0..PENDING_PER_SENDER + over {
        alice.send_sealed(&sealed).await.unwrap();
    }
    let pending_rows = || {
        let db = e2e::open_store_db(&bob_home);
        db.query_row("SELECT count(*) FROM pending_messages", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap() as usize
    };
    let events = bob.inbox().await.unwrap();
    let count = |kind: &str| {
        events
            .iter()
            .filter(|e| match &e.what {
                What::SessionLost { .. } => kind == "waiting",
                What::Deferred { .. } => kind == "deferred",
                _ => false,
            })
            .count()
    };
    assert_eq!(count("waiting"), PENDING_PER_SENDER);
    assert_eq!(count("deferred"), over, "the user is told about the rest");
    assert_eq!(pending_rows(), PENDING_PER_SENDER);
    // The rest is not lost: it waits on the server.
    assert_eq!(bob.waiting().await.unwrap().messages, over);
    // More of the same does not grow the store either.
    for _ in 0..over {
        alice.send_sealed(&sealed).await.unwrap();
    }
    bob.inbox().await.unwrap();
    assert_eq!(pending_rows(), PENDING_PER_SENDER);
    assert_eq!(bob.waiting().await.unwrap().messages, 2 * over);
}

/// Writes `data` (8 MiB) to `path` and sends it from `alice` to bob.
async fn send_8_mib(alice: &Client, path: &std::path::Path, data: &[u8]) {
    std::fs::write(path, data).unwrap();
    alice
        .send_file("bob", path, CancellationToken::new())
        .await
        .unwrap();
}

/// Makes `bob`'s downloads stop after 3 MiB, as a Ctrl-C would; the token
/// to read with.
fn stop_after_3_mib(bob: &Client) -> CancellationToken {
    let token = CancellationToken::new();
    bob.set_progress(Arc::new(CancelAfter {
        after: 3 << 20,
        seen: AtomicU64::new(0),
        token: token.clone(),
    }));
    token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_download_resumes_from_its_partial_file_and_leaves_none() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let bob_home = dir.path().join("bob");
    let alice = user(&addr, &dir.path().join("alice"), "alice").await;
    let bob = user(&addr, &bob_home, "bob").await;
    bob.fetch_key("alice").await.unwrap();
    let data = pattern(34, 8 << 20);
    send_8_mib(&alice, &dir.path().join("video.bin"), &data).await;

    // Stop the download after 3 MiB, as Ctrl-C would.
    let token = stop_after_3_mib(&bob);
    let stopped = bounded("the first download", bob.inbox_until(token))
        .await
        .unwrap();
    assert!(
        matches!(stopped, Err(ClientError::Cancelled)),
        "{stopped:?}"
    );
    let downloads = bob_home.join("downloads");
    let parts = names_in(&downloads);
    assert_eq!(parts.len(), 1, "{parts:?}");
    assert!(parts[0].starts_with(".partial-"), "{parts:?}");
    let kept = std::fs::metadata(downloads.join(&parts[0])).unwrap().len();
    assert!(kept > 0 && kept.is_multiple_of(65536), "kept {kept}");

    // The next read goes on from there: it starts at the part's ciphertext
    // offset and fetches only the rest.
    let recorder = Arc::new(Recorder::default());
    bob.set_progress(recorder.clone());
    let events = bounded("the resumed download", bob.inbox())
        .await
        .unwrap()
        .unwrap();
    let saved = saved_files(&events);
    assert_eq!(saved.len(), 1, "{events:?}");
    assert_eq!(sha(&std::fs::read(&saved[0]).unwrap()), sha(&data));
    let starts = recorder.starts.lock().unwrap().clone();
    assert_eq!(starts.len(), 1, "{starts:?}");
    let (total, from) = starts[0];
    assert_eq!(
        from,
        kept / 65536 * (65536 + 16),
        "resumed at the part's end"
    );
    assert_eq!(recorder.moved.load(Ordering::SeqCst), total - from);
    assert_eq!(names_in(&downloads), vec!["video.bin"], "no partial left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_read_before_a_stopped_download_are_handed_over_and_acknowledged() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let alice = user(&addr, &dir.path().join("alice"), "alice").await;
    let bob = user(&addr, &dir.path().join("bob"), "bob").await;
    bob.fetch_key("alice").await.unwrap();
    alice.send_text("bob", "first").await.unwrap();
    alice.send_text("bob", "second").await.unwrap();
    send_8_mib(&alice, &dir.path().join("video.bin"), &pattern(35, 8 << 20)).await;

    // The download stops after 3 MiB, as Ctrl-C would: the two texts
    // read before it in the same batch are handed over all the same.
    let token = stop_after_3_mib(&bob);
    let mut handed = Vec::new();
    let stopped = bounded(
        "the stopped read",
        bob.inbox_each(token, |events| {
            handed.extend(events);
            Ok(())
        }),
    )
    .await
    .unwrap();
    assert!(
        matches!(stopped, Err(ClientError::Cancelled)),
        "{stopped:?}"
    );
    assert_eq!(texts(&handed), vec!["first", "second"], "{handed:?}");
    // And acknowledged: only the file waits on the server, and the next
    // read brings it alone.
    assert_eq!(bob.waiting().await.unwrap().messages, 1);
    bob.set_progress(Arc::new(Recorder::default()));
    let events = bounded("the next read", bob.inbox())
        .await
        .unwrap()
        .unwrap();
    assert!(texts(&events).is_empty(), "{events:?}");
    assert_eq!(saved_files(&events).len(), 1, "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_changed_with_the_same_size_and_time_is_sent_again_not_resumed() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let alice_home = dir.path().join("alice");
    let alice = user(&addr, &alice_home, "alice").await;
    let bob = user(&addr, &dir.path().join("bob"), "bob").await;
    bob.fetch_key("alice").await.unwrap();
    let path = dir.path().join("report.bin");
    let old = pattern(35, 8 << 20);
    std::fs::write(&path, &old).unwrap();
    let token = CancellationToken::new();
    alice.set_progress(Arc::new(CancelAfter {
        after: 3 << 20,
        seen: AtomicU64::new(0),
        token: token.clone(),
    }));
    let stopped = alice.send_file("bob", &path, token).await;
    assert!(
        matches!(stopped, Err(ClientError::Cancelled)),
        "{stopped:?}"
    );

    // `cp -p`: other content, same size, same modification time.
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let new = pattern(36, 8 << 20);
    std::fs::write(&path, &new).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);

    drop(alice);
    let alice = Client::open(ClientConfig {
        home: alice_home,
        server: addr.clone(),
        accept_server_key: false,
        protection: e2e::test_protection(),
    })
    .await
    .unwrap();
    let done = alice
        .resume_uploads(CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(done.len(), 1);
    let events = bob.inbox().await.unwrap();
    let saved = saved_files(&events);
    assert_eq!(saved.len(), 1, "{events:?}");
    assert_eq!(
        sha(&std::fs::read(&saved[0]).unwrap()),
        sha(&new),
        "bob got the new content"
    );
    assert!(
        alice
            .resume_uploads(CancellationToken::new())
            .await
            .unwrap()
            .is_empty()
    );
}

// ---- the binaries ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_download_held_files_only_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &[])
        .await
        .unwrap();
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    for (home, name) in [(&alice, "alice"), (&bob, "bob")] {
        std::fs::create_dir_all(home).unwrap();
        let (ok, _, err) = run_client(server.addr, home, &["register", name]).await;
        assert!(ok, "{err}");
    }
    let send = |name: &str, len: usize, seed: u64| {
        let path = dir.path().join(name);
        let data = pattern(seed, len);
        std::fs::write(&path, &data).unwrap();
        (path, data)
    };
    let (first, first_data) = send("first.bin", 200_000, 37);
    let (ok, _, err) = run_client(
        server.addr,
        &alice,
        &["send-file", "bob", first.to_str().unwrap()],
    )
    .await;
    assert!(ok, "{err}");
    let (ok, out, err) = run_client(server.addr, &bob, &["inbox"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("offers a file: first.bin"), "{out}");
    assert!(out.contains("not one of your contacts"), "{out}");
    assert!(names_in(&bob.join("downloads")).is_empty());
    let (ok, out, err) = run_client(server.addr, &bob, &["--json", "files"]).await;
    assert!(ok, "{err}");
    let offers: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = offers[0]["message_id"].as_u64().unwrap();
    assert_eq!(offers[0]["reason"], "stranger");
    let (ok, out, err) = run_client(server.addr, &bob, &["accept-file", &id.to_string()]).await;
    assert!(ok, "{err}");
    assert!(out.contains("saved as"), "{out}");
    assert_eq!(
        sha(&std::fs::read(bob.join("downloads").join("first.bin")).unwrap()),
        sha(&first_data)
    );
    // The folder is bob's alone, as his home is.
    let mode = std::fs::metadata(bob.join("downloads"))
        .unwrap()
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o700
    );

    // A contact's file over the limit set on the command line waits too;
    // declining it leaves nothing, and `--accept-files` takes the next one.
    let (ok, _, err) = run_client(server.addr, &bob, &["key", "alice"]).await;
    assert!(ok, "{err}");
    let (second, _) = send("second.bin", 300_000, 38);
    let (third, third_data) = send("third.bin", 300_000, 39);
    for path in [&second, &third] {
        let (ok, _, err) = run_client(
            server.addr,
            &alice,
            &["send-file", "bob", path.to_str().unwrap()],
        )
        .await;
        assert!(ok, "{err}");
    }
    let (ok, out, err) = run_client(
        server.addr,
        &bob,
        &["--max-auto-download", "100K", "--json", "inbox"],
    )
    .await;
    assert!(ok, "{err}");
    let events: serde_json::Value = serde_json::from_str(&out).unwrap();
    let held: Vec<(u64, String)> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "file_held")
        .map(|e| {
            assert_eq!(e["reason"], "too_large");
            (
                e["message_id"].as_u64().unwrap(),
                e["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(held.len(), 2, "{out}");
    assert_eq!(held[0].1, "second.bin");
    let (ok, out, err) =
        run_client(server.addr, &bob, &["decline-file", &held[0].0.to_string()]).await;
    assert!(ok, "{err}");
    assert!(out.contains("declined second.bin"), "{out}");
    let (ok, out, err) =
        run_client(server.addr, &bob, &["--accept-files", "--json", "inbox"]).await;
    assert!(ok, "{err}");
    let events: serde_json::Value = serde_json::from_str(&out).unwrap();
    let files: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "file")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(files, vec!["third.bin"], "{out}");
    assert_eq!(
        sha(&std::fs::read(bob.join("downloads").join("third.bin")).unwrap()),
        sha(&third_data)
    );
    assert_eq!(
        names_in(&bob.join("downloads")),
        vec!["first.bin", "third.bin"]
    );
    let (ok, out, _) = run_client(server.addr, &bob, &["files"]).await;
    assert!(ok);
    assert!(out.contains("no file offers"), "{out}");
    let (ok, _, err) = run_client(server.addr, &bob, &["decline-file", "999999"]).await;
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("no file offer 999999 waits for a decision; `client files` lists them"),
        "{err}"
    );
}
