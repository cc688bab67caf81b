//! Uploads to a room the user stops (`/cancel N`, Ctrl-C; and one to a
//! person stopped by SIGTERM) and takes up again (`/resume`, `client
//! resume`): the server keeps what it received,
//! the key store keeps what was read, and a resume after a restart goes on
//! from where the server stands and announces the file once. A file
//! changed meanwhile is sent again from the start.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use client::rooms::event::RoomChange;
use client::{ClientError, What};
use e2e::{CancelAfter, Recorder, TestServer, bounded, open_client, pattern, sha, user};
use nix::sys::signal::Signal;
use tokio_util::sync::CancellationToken;

/// The room files among `events`: name and where saved.
fn room_files(events: &[client::Event]) -> Vec<(String, Option<std::path::PathBuf>)> {
    events
        .iter()
        .filter_map(|e| match &e.what {
            What::Room {
                change: RoomChange::File { name, path, .. },
                ..
            } => Some((name.clone(), path.clone())),
            _ => None,
        })
        .collect()
}

/// alice and bob in `#team`, alice its owner.
pub(crate) async fn team(addr: &str, dir: &std::path::Path) -> (client::Client, client::Client) {
    let alice = user(addr, &dir.join("alice"), "alice").await;
    let bob = user(addr, &dir.join("bob"), "bob").await;
    bounded("the room", alice.room_create("team"))
        .await
        .unwrap()
        .unwrap();
    bounded("adding bob", alice.room_add("team", &["bob".to_string()]))
        .await
        .unwrap()
        .unwrap();
    bounded("bob joining", bob.inbox()).await.unwrap().unwrap();
    (alice, bob)
}

/// alice's upload of `data` to `#team`, cancelled after 2 MiB went up.
async fn cancelled_upload(alice: &client::Client, file: &std::path::Path) {
    let token = CancellationToken::new();
    alice.set_progress(Arc::new(CancelAfter {
        after: 2 << 20,
        seen: AtomicU64::new(0),
        token: token.clone(),
    }));
    let sent = bounded("the upload", alice.room_send_file("team", file, token))
        .await
        .unwrap();
    assert!(matches!(sent, Err(ClientError::Cancelled)), "{sent:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_room_upload_resumes_after_a_restart_and_is_announced_once() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = team(&addr, dir.path()).await;
    let file = dir.path().join("plans.bin");
    let data = pattern(43, 8 << 20);
    std::fs::write(&file, &data).unwrap();
    cancelled_upload(&alice, &file).await;

    // Nothing announced: bob reads no file.
    let events = bounded("bob's read", bob.inbox()).await.unwrap().unwrap();
    assert!(room_files(&events).is_empty(), "{events:?}");

    // After a restart, `/resume` goes on from where the server stands.
    drop(alice);
    let alice = open_client(&addr, &dir.path().join("alice")).await;
    let recorder = Arc::new(Recorder::default());
    alice.set_progress(recorder.clone());
    let done = bounded(
        "resuming",
        alice.resume_all_uploads(CancellationToken::new()),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(done.completed.is_empty());
    assert_eq!(done.rooms.len(), 1, "{done:?}");
    assert_eq!(done.rooms[0].room, "team");
    assert_eq!(done.rooms[0].name, "plans.bin");
    let starts = recorder.starts.lock().unwrap().clone();
    assert_eq!(starts.len(), 1, "{starts:?}");
    let (total, from) = starts[0];
    assert!(
        from >= 2 << 20 && from < total,
        "resumed at {from} of {total}"
    );
    assert_eq!(recorder.moved.load(Ordering::SeqCst), total - from);

    // bob gets it once, whole; nothing is left to resume.
    let events = bounded("bob's read", bob.inbox()).await.unwrap().unwrap();
    let got = room_files(&events);
    assert_eq!(got.len(), 1, "{events:?}");
    let path = got[0].1.as_ref().expect("saved");
    assert_eq!(sha(&std::fs::read(path).unwrap()), sha(&data));
    let again = alice
        .resume_all_uploads(CancellationToken::new())
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");
    let history = alice.history("#team", Default::default()).await.unwrap().1;
    let files = history
        .iter()
        .filter(|e| matches!(e.body, client::keystore::Body::File { .. }))
        .count();
    assert_eq!(files, 1, "{history:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_upload_whose_file_changed_is_sent_again_from_the_start() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = team(&addr, dir.path()).await;
    let file = dir.path().join("draft.bin");
    std::fs::write(&file, pattern(44, 8 << 20)).unwrap();
    cancelled_upload(&alice, &file).await;

    // The file is rewritten (another size): resuming under the old key
    // would reuse its nonces, so it goes again from byte 0.
    let changed = pattern(45, 6 << 20);
    std::fs::write(&file, &changed).unwrap();
    let recorder = Arc::new(Recorder::default());
    alice.set_progress(recorder.clone());
    let done = bounded(
        "resuming",
        alice.resume_all_uploads(CancellationToken::new()),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(done.rooms.len(), 1, "{done:?}");
    let starts = recorder.starts.lock().unwrap().clone();
    assert_eq!(starts.len(), 1, "{starts:?}");
    assert_eq!(starts[0].1, 0, "sent again from the start");

    let events = bounded("bob's read", bob.inbox()).await.unwrap().unwrap();
    let got = room_files(&events);
    assert_eq!(got.len(), 1, "{events:?}");
    let path = got[0].1.as_ref().expect("saved");
    assert_eq!(sha(&std::fs::read(path).unwrap()), sha(&changed));
}

/// The largest part file of an upload on `server` (SQLite: part files in
/// its data folder), in bytes.
fn largest_part(server: &TestServer) -> u64 {
    let uploads = server.config.data_dir.join("files").join("uploads");
    std::fs::read_dir(uploads)
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// `client room send-file` stopped by Ctrl-C (SIGINT) says how to go on,
/// and `client resume` continues the upload where it stopped rather than
/// starting over (before, Ctrl-C killed the process mid-chunk and `resume`
/// sent the whole file again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_a_room_upload_from_the_command_line_and_resume_continues_it() {
    stopped_by(Signal::SIGINT, &["room", "send-file", "team"]).await;
}

/// SIGTERM (a shutdown, `timeout`) stops `client send-file` as Ctrl-C
/// does: before, it killed the process before its progress was recorded,
/// and `resume` sent the whole file again as a new message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_an_upload_to_a_person_and_resume_continues_it() {
    stopped_by(Signal::SIGTERM, &["send-file", "bob"]).await;
}

/// Starts `command` with a 64 MiB file as its last argument (alice in a
/// room `team` with bob), sends it `signal` once the upload is under way,
/// and checks that it says how to go on and that `resume` goes on.
async fn stopped_by(signal: Signal, command: &[&str]) {
    let server = TestServer::start_on(e2e::Engine::Sqlite, |_| {})
        .await
        .unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    for (home, name) in [(&alice, "alice"), (&bob, "bob")] {
        let (ok, _, err) = e2e::run_client(addr, home, &["register", name]).await;
        assert!(ok, "{err}");
    }
    for args in [
        &["room", "create", "team"][..],
        &["room", "add", "team", "bob"],
    ] {
        let (ok, _, err) = e2e::run_client(addr, &alice, args).await;
        assert!(ok, "{args:?}: {err}");
    }
    // Sparse: large to send, no disk to hold.
    let big = dir.path().join("big.bin");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let mut args = command.to_vec();
    args.push(big.to_str().unwrap());
    let sending = e2e::client_process(addr, &alice, &args).spawn().unwrap();
    bounded("the upload to reach the server", async {
        while largest_part(&server) < 8 << 20 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    let pid = nix::unistd::Pid::from_raw(i32::try_from(sending.id().unwrap()).unwrap());
    nix::sys::signal::kill(pid, signal).unwrap();
    let out = bounded("send-file to stop", sending.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("upload cancelled; `client resume` continues it where it stopped"),
        "{err}"
    );

    let (ok, out, err) = e2e::run_client(addr, &alice, &["resume"]).await;
    assert!(ok, "{err}");
    assert!(
        out.lines().any(|l| l == "completed 1 interrupted upload"),
        "{out}"
    );
    assert!(!out.contains("again from the start"), "{out}");
}
