//! Transfers the user stops and takes up again, through the client library
//! the full-screen client calls (`/cancel N`, `/accept N`, `/resume`):
//! an automatic download stopped part-way is held as an offer with its part
//! kept, and accepting it resumes from the part; a room file's download
//! stopped so is passed over with its part deleted.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use client::keystore::HoldReason;
use client::rooms::event::RoomChange;
use client::{Client, Progress, What};
use e2e::{Recorder, ServerProcess, TestServer, bounded, names_in, pattern, sha, user};
use tokio_util::sync::CancellationToken;

/// Chunk of the file stream: parts keep whole chunks.
const CHUNK: u64 = 65536;

/// Stops the client's own downloads (`Client::cancel_downloads`, what
/// `/cancel N` calls) once `after` bytes went through.
struct StopAfter {
    after: u64,
    seen: AtomicU64,
    stopped: AtomicBool,
    client: Client,
}

impl StopAfter {
    fn new(after: u64, client: Client) -> Arc<Self> {
        Arc::new(Self {
            after,
            seen: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            client,
        })
    }
}

impl Progress for StopAfter {
    fn start(&self, _: &str, _: u64, _: u64) {}
    fn advance(&self, n: u64) {
        if self.seen.fetch_add(n, Ordering::SeqCst) + n >= self.after
            && !self.stopped.swap(true, Ordering::SeqCst)
        {
            self.client.cancel_downloads();
        }
    }
    fn finish(&self) {}
}

/// The room files among `events`: name, where saved, why not.
fn room_files(events: &[client::Event]) -> Vec<(String, Option<PathBuf>, Option<String>)> {
    events
        .iter()
        .filter_map(|e| match &e.what {
            What::Room {
                change:
                    RoomChange::File {
                        name,
                        path,
                        not_saved,
                        ..
                    },
                ..
            } => Some((name.clone(), path.clone(), not_saved.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_automatic_download_is_held_with_its_part_and_accepting_resumes_it() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let bob_home = dir.path().join("bob");
    let alice = user(&addr, &dir.path().join("alice"), "alice").await;
    let bob = user(&addr, &bob_home, "bob").await;
    // alice is bob's contact: her files download by themselves.
    bob.fetch_key("alice").await.unwrap();
    let original = dir.path().join("video.bin");
    let data = pattern(41, 4 << 20);
    std::fs::write(&original, &data).unwrap();
    let id = alice
        .send_file("bob", &original, CancellationToken::new())
        .await
        .unwrap();

    // Stopped after 2 MiB, as `/cancel N` does: the read goes on, and the
    // file waits as an offer.
    bob.set_progress(StopAfter::new(2 << 20, bob.clone()));
    let events = bounded("the stopped download", bob.inbox())
        .await
        .unwrap()
        .unwrap();
    let held: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.what {
            What::FileHeld { reason, .. } => Some((e.message_id, *reason)),
            What::File { .. } => panic!("downloaded although stopped: {events:?}"),
            _ => None,
        })
        .collect();
    assert_eq!(held, [(id, HoldReason::Cancelled)], "{events:?}");
    let downloads = bob_home.join("downloads");
    let part = format!(".partial-{id}");
    assert_eq!(names_in(&downloads), std::slice::from_ref(&part));
    let kept = std::fs::metadata(downloads.join(&part)).unwrap().len();
    assert!(kept > 0 && kept.is_multiple_of(CHUNK), "kept {kept}");
    let listed = bob.held_files().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].reason, HoldReason::Cancelled);

    // Reading again does not start it by itself: it waits for the user.
    let recorder = Arc::new(Recorder::default());
    bob.set_progress(recorder.clone());
    let again = bounded("reading again", bob.inbox())
        .await
        .unwrap()
        .unwrap();
    assert!(
        !again
            .iter()
            .any(|e| matches!(e.what, What::File { .. } | What::FileHeld { .. })),
        "{again:?}"
    );
    assert!(recorder.starts.lock().unwrap().is_empty());

    // Accepting it goes on from the part's last whole chunk.
    let event = bounded(
        "accepting it",
        bob.accept_file(id, CancellationToken::new()),
    )
    .await
    .unwrap()
    .unwrap();
    let What::File { path, .. } = &event.what else {
        panic!("not saved: {event:?}");
    };
    assert_eq!(sha(&std::fs::read(path).unwrap()), sha(&data));
    let starts = recorder.starts.lock().unwrap().clone();
    assert_eq!(starts.len(), 1, "{starts:?}");
    let (total, from) = starts[0];
    assert_eq!(
        from,
        kept / CHUNK * (CHUNK + 16),
        "resumed at the part's end"
    );
    assert_eq!(recorder.moved.load(Ordering::SeqCst), total - from);
    assert_eq!(names_in(&downloads), ["video.bin"], "no part left");
    assert!(bob.held_files().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_room_download_is_passed_over_with_its_part_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &[])
        .await
        .unwrap();
    let addr = server.addr.to_string();
    let alice = user(&addr, &dir.path().join("alice"), "alice").await;
    let carol_home = dir.path().join("carol");
    let carol = user(&addr, &carol_home, "carol").await;
    let bob = user(&addr, &dir.path().join("bob"), "bob").await;
    bounded("the room", bob.room_create("team"))
        .await
        .unwrap()
        .unwrap();
    bounded(
        "adding alice and carol",
        bob.room_add("team", &["alice".to_string(), "carol".to_string()]),
    )
    .await
    .unwrap()
    .unwrap();
    let file = dir.path().join("big.bin");
    let data = pattern(42, 4 << 20);
    std::fs::write(&file, &data).unwrap();
    bounded(
        "the upload",
        bob.room_send_file("team", &file, CancellationToken::new()),
    )
    .await
    .unwrap()
    .unwrap();

    // carol stops its download after 1 MiB: passed over, said so, no part
    // left, and the read of the room goes on.
    carol.set_progress(StopAfter::new(1 << 20, carol.clone()));
    let events = bounded("carol's inbox", carol.inbox())
        .await
        .unwrap()
        .unwrap();
    let got = room_files(&events);
    assert_eq!(got.len(), 1, "{events:?}");
    let (name, path, not_saved) = &got[0];
    assert_eq!(name, "big.bin");
    assert!(path.is_none(), "{got:?}");
    assert!(
        not_saved
            .as_deref()
            .is_some_and(|w| w.contains("you stopped its download")),
        "{got:?}"
    );
    assert!(names_in(&carol_home.join("downloads")).is_empty());

    // Stopping carol's download stopped nobody else's: alice gets it whole.
    let events = bounded("alice's inbox", alice.inbox())
        .await
        .unwrap()
        .unwrap();
    let got = room_files(&events);
    assert_eq!(got.len(), 1, "{events:?}");
    let path = got[0].1.as_ref().expect("saved");
    assert_eq!(sha(&std::fs::read(path).unwrap()), sha(&data));
}
