//! A server whose standard error takes nothing (`2>/dev/full`, a closed
//! pipe) still serves: a log line it cannot write is lost, not a panic.

use std::process::Stdio;
use std::time::Duration;

use e2e::{binary, bounded, user};

use crate::operator::server_cmd;

/// Regression (D2): with standard error on `/dev/full` the server panicked
/// (`failed printing to stderr`) at its first log line, exit 101.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_standard_error_takes_nothing_serves_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut child, port) = start_with_stderr_full(&data).await;
    let alice = user(
        &format!("127.0.0.1:{port}"),
        &dir.path().join("alice"),
        "alice",
    )
    .await;
    let _bob = user(&format!("127.0.0.1:{port}"), &dir.path().join("bob"), "bob").await;
    alice.send_text("bob", "served").await.unwrap();
    drop(alice);

    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id().unwrap()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = bounded("the server to exit", child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}

/// The server on `data` with standard error on `/dev/full`, answering; and
/// its port. Its "listening" line cannot be read, so the port is one a
/// loopback socket bound to port 0 was given and let go; in the rare case
/// that something else takes it first, the server fails to listen and is
/// started again on another (at most three tries).
async fn start_with_stderr_full(data: &std::path::Path) -> (tokio::process::Child, u16) {
    for _ in 0..3 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let full = std::fs::File::options()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let mut child = tokio::process::Command::new(binary("server").unwrap())
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--data-dir")
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(full))
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let answered = bounded("the server to answer on its socket", async {
            loop {
                if child.try_wait().unwrap().is_some() {
                    return false;
                }
                if server_cmd(data, &["status"]).await.0 {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .unwrap();
        if answered {
            return (child, port);
        }
    }
    panic!("the server exited three times (see the old code's exit 101)");
}
