//! A really full disk: a small tmpfs as the data folder (needs root, which
//! CI has; without it the test fails saying so).

use e2e::user;
use std::path::{Path, PathBuf};
use std::time::Duration;

use client::What;
use e2e::{ServerProcess, bounded, pattern};
use protocol::ErrorReason;
use tokio_util::sync::CancellationToken;

/// A tmpfs mounted on a fresh folder, unmounted on drop (also when the test
/// fails halfway).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        // No silent skip: without root this test cannot test anything, and
        // says so (CI runs as root).
        let uid = std::process::Command::new("id")
            .arg("-u")
            .output()
            .expect("run id -u");
        assert_eq!(
            String::from_utf8_lossy(&uid.stdout).trim(),
            "0",
            "this test mounts a tmpfs and must run as root (CI does): run `cargo test` as root"
        );
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "mount -t tmpfs failed");
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: the server may still hold files open if the test failed.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Sends `path` to bob, which the server must refuse as STORAGE_FULL.
async fn refused_as_full(alice: &client::Client, path: &Path) {
    let refused = alice
        .send_file("bob", path, CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(
        refused.reason(),
        Some(ErrorReason::StorageFull),
        "{refused}"
    );
}

/// Stops `server` and returns what it logged after it listened.
async fn log_after_stop(mut server: ServerProcess) -> Vec<String> {
    server.terminate().await.unwrap();
    let mut log = Vec::new();
    while let Ok(line) = server.log.try_recv() {
        log.push(line);
    }
    log
}

fn files(events: &[client::Event]) -> Vec<PathBuf> {
    events
        .iter()
        .filter_map(|e| match &e.what {
            What::File { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect()
}

/// The scenario: a 30 MB file system, three 8 MB files to bob, the
/// fourth refused with STORAGE_FULL before the disk is full, bob drains his
/// inbox on the full disk, and the fourth goes through afterwards without
/// anyone touching the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_new_files_but_lets_bob_drain_and_then_recovers() {
    let fs = Tmpfs::mount("30m");
    let data = fs.path().join("data");
    let server = ServerProcess::start(&data, &[]).await.unwrap();
    let addr = server.addr.to_string();
    let homes = tempfile::tempdir().unwrap();
    let alice = user(&addr, &homes.path().join("alice"), "alice").await;
    let bob = user(&addr, &homes.path().join("bob"), "bob").await;
    // Files download without asking only from contacts.
    bob.fetch_key("alice").await.unwrap();
    let mut originals = Vec::new();
    for i in 0..4u64 {
        let path = homes.path().join(format!("f{i}.bin"));
        std::fs::write(&path, pattern(i, 8 << 20)).unwrap();
        originals.push(path);
    }
    for path in &originals[..3] {
        alice
            .send_file("bob", path, CancellationToken::new())
            .await
            .unwrap();
    }
    refused_as_full(&alice, &originals[3]).await;

    // Bob drains on the full disk: every file arrives intact and is acknowledged.
    let events = bob.inbox().await.unwrap();
    let got = files(&events);
    assert_eq!(got.len(), 3, "{events:?}");
    for (i, path) in got.iter().enumerate() {
        assert_eq!(std::fs::read(path).unwrap(), pattern(i as u64, 8 << 20));
    }

    // Writes resume by themselves once the space is back (measured within
    // a second; bounded, waiting for the event rather than a fixed time).
    bounded("writes to resume", async {
        loop {
            match alice
                .send_file("bob", &originals[3], CancellationToken::new())
                .await
            {
                Ok(_) => break,
                Err(e) if e.reason() == Some(ErrorReason::StorageFull) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await
    .unwrap();
    let events = bob.inbox().await.unwrap();
    let got = files(&events);
    assert_eq!(got.len(), 1, "{events:?}");
    assert_eq!(std::fs::read(&got[0]).unwrap(), pattern(3, 8 << 20));

    let log = log_after_stop(server).await;
    let reserve_lines = log
        .iter()
        .filter(|l| l.contains("disk is nearly full"))
        .count();
    assert_eq!(reserve_lines, 1, "one clear line when it fills: {log:#?}");
    assert!(
        log.iter().any(|l| l.contains("free disk space is back")),
        "{log:#?}"
    );
    assert!(
        !log.iter().any(|l| l.contains("corrupt")),
        "nothing here is corruption: {log:#?}"
    );
}

/// File bodies in a folder of their own (`--files-dir`) on a file system
/// of its own: the reserve is kept there too, not only on the data
/// folder's (which has plenty), so the file that would eat into it is
/// refused with STORAGE_FULL instead of running the disk out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reserve_is_kept_on_the_files_folder_s_own_disk() {
    let fs = Tmpfs::mount("30m");
    let roomy = tempfile::tempdir().unwrap();
    let files_dir = fs.path().join("files");
    let files_arg = files_dir.to_str().unwrap();
    let args = ["--files-dir", files_arg, "--min-free-space", "8M"];
    let server = ServerProcess::start(&roomy.path().join("data"), &args)
        .await
        .unwrap();
    let addr = server.addr.to_string();
    let homes = tempfile::tempdir().unwrap();
    let alice = user(&addr, &homes.path().join("alice"), "alice").await;
    user(&addr, &homes.path().join("bob"), "bob").await;
    let path = homes.path().join("f.bin");
    std::fs::write(&path, pattern(7, 8 << 20)).unwrap();
    // 30 MB: two files leave 14 MB, and a third would leave less than 8.
    for _ in 0..2 {
        alice
            .send_file("bob", &path, CancellationToken::new())
            .await
            .unwrap();
    }
    refused_as_full(&alice, &path).await;

    let log = log_after_stop(server).await;
    assert!(
        log.iter()
            .any(|l| l.contains("disk is nearly full") && l.contains(files_arg)),
        "the line names the files folder: {log:#?}"
    );
}
