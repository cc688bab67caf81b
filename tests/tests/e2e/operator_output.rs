//! The operator's commands when standard output takes nothing: one line
//! on standard error and exit code 1 (`> /dev/full`), or a quiet exit 1 (a
//! pipe whose reader is gone), never a panic and 101.

use std::path::Path;
use std::process::Stdio;

use e2e::{ServerProcess, binary};

/// Runs `server ARGS --data-dir DATA` with standard output `out`; returns
/// its exit code and standard error.
async fn with_stdout(data: &Path, args: &[&str], out: Stdio) -> (Option<i32>, String) {
    // Spawned, not `output()`: tokio's `output()` replaces the standard
    // output given with a pipe of its own.
    let child = tokio::process::Command::new(binary("server").unwrap())
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let done = e2e::bounded("an operator command", child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    (
        done.status.code(),
        String::from_utf8_lossy(&done.stderr).into_owned(),
    )
}

/// Regression (D7): `server status`, `user list`, `fingerprint` panicked
/// ("failed printing to stdout", exit 101) on a closed pipe or /dev/full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands_whose_output_cannot_be_written_exit_1_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    let commands: [&[&str]; 4] = [
        &["status"],
        &["status", "--json"],
        &["user", "list"],
        &["fingerprint"],
    ];
    for args in commands {
        let full = std::fs::File::options()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let (code, err) = with_stdout(&data, args, Stdio::from(full)).await;
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(
            err.starts_with("server: cannot write to standard output: "),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");

        // A pipe whose reading end is closed before the command writes.
        let (read, write) = nix::unistd::pipe().unwrap();
        drop(read);
        let (code, err) = with_stdout(&data, args, Stdio::from(write)).await;
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    server.terminate_cleanly().await.unwrap();
}
