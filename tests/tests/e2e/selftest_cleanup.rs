//! `client test` leaves no account on the server however its run ends: its
//! output closed after the first line (`client test | head -1`: it
//! panicked at the next line and left its two users behind), or Ctrl-C in
//! the middle (the process died where it stood).

use std::process::Stdio;

use e2e::{ServerProcess, binary, bounded};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn self_test(server: std::net::SocketAddr, home: &std::path::Path) -> Command {
    let mut cmd = Command::new(binary("client").unwrap());
    cmd.arg("--home")
        .arg(home)
        .arg("--server")
        .arg(server.to_string())
        .arg("test")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_test_whose_output_closes_or_that_is_interrupted_leaves_no_account() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::start(&data, &[]).await.unwrap();
    let home = dir.path().join("runner");
    std::fs::create_dir_all(&home).unwrap();

    // Read one line, then close the pipe: the run goes on to its end.
    let mut child = self_test(server.addr, &home).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = bounded("the first line", out.next_line())
        .await
        .unwrap()
        .unwrap();
    assert!(first.unwrap_or_default().starts_with("self-test against"));
    drop(out);
    let done = bounded("the self-test", child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let users = crate::operator::json(&data, &["user", "list"]).await;
    assert_eq!(users, serde_json::json!([]), "after a closed output");

    // Ctrl-C once the users exist: they are deleted before it stops.
    let mut child = self_test(server.addr, &home).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = bounded("a step", out.next_line()).await.unwrap().unwrap();
        let line = line.expect("the self-test ended before its first step");
        if line.contains("register two users") {
            assert!(line.starts_with("PASS"), "{line}");
            break;
        }
    }
    let pid = nix::unistd::Pid::from_raw(child.id().unwrap() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let rest = bounded("the rest of the report", async {
        let mut rest = Vec::new();
        while let Ok(Some(line)) = out.next_line().await {
            rest.push(line);
        }
        rest
    })
    .await
    .unwrap();
    let done = bounded("the self-test", child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    assert!(!done.status.success(), "{rest:?}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(
        rest.iter()
            .any(|l| l.starts_with("PASS") && l.contains("the test users are deleted")),
        "{rest:?}"
    );
    let users = crate::operator::json(&data, &["user", "list"]).await;
    assert_eq!(users, serde_json::json!([]), "after Ctrl-C");
}
