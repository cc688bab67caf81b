//! What `resume` tells: its progress label names the file and the person
//! in full, and its summary says when an upload was sent again from the
//! start rather than finished.

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use client::{ClientError, Progress};
use e2e::{CancelAfter, ServerProcess, open_client, pattern, run_client};
use tokio_util::sync::CancellationToken;

/// The labels of the transfers started.
#[derive(Default)]
struct Labels(Mutex<Vec<String>>);

impl Progress for Labels {
    fn start(&self, label: &str, _: u64, _: u64) {
        self.0.lock().unwrap().push(label.to_string());
    }
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// Sends `path` from the home `alice` to bob, cancelled after 3 MiB.
async fn interrupted_send(server: &str, alice: &Path, path: &Path) {
    let client = open_client(server, alice).await;
    let token = CancellationToken::new();
    client.set_progress(Arc::new(CancelAfter {
        after: 3 << 20,
        seen: AtomicU64::new(0),
        token: token.clone(),
    }));
    let stopped = client.send_file("bob", path, token).await;
    assert!(
        matches!(stopped, Err(ClientError::Cancelled)),
        "{stopped:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_names_what_it_sends_and_says_what_it_sent_again_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &[])
        .await
        .unwrap();
    let addr = server.addr.to_string();
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    for (home, name) in [(&alice, "alice"), (&bob, "bob")] {
        std::fs::create_dir_all(home).unwrap();
        let (ok, _, err) = run_client(&addr, home, &["register", name]).await;
        assert!(ok, "{err}");
    }
    let folder = dir
        .path()
        .join("a folder with a rather long name to send from");
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join("quarterly-report.bin");
    std::fs::write(&path, pattern(7, 8 << 20)).unwrap();

    // Unchanged: resumed, under a label that names the file and bob.
    interrupted_send(&addr, &alice, &path).await;
    let client = open_client(&addr, &alice).await;
    let labels = Arc::new(Labels::default());
    client.set_progress(labels.clone());
    let done = client
        .resume_all_uploads(CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(done.completed.len(), 1, "{done:?}");
    assert!(done.restarted.is_empty(), "{done:?}");
    assert_eq!(
        *labels.0.lock().unwrap(),
        ["resuming quarterly-report.bin to bob"]
    );
    drop(client);

    // Changed: sent again from the start, and `resume` says so.
    interrupted_send(&addr, &alice, &path).await;
    std::fs::write(&path, pattern(8, (8 << 20) + 1)).unwrap();
    let (ok, out, err) = run_client(&addr, &alice, &["resume"]).await;
    assert!(ok, "{err}");
    assert!(
        out.lines().any(|l| l == "completed 1 interrupted upload"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "sent 1 interrupted upload again from the start, as new messages (the file \
             changed, the client stopped before recording its progress, or the server no \
             longer had what was sent): {}",
            path.display()
        )),
        "{out}"
    );
}
