//! The client binary as a script sees it: every error one line in the
//! menu's words (JSON with `--json`), a wrong port or a server that does not
//! speak the protocol failing soon and clearly, and `watch` saying when the
//! connection is lost and when it is back.

use e2e::{ServerProcess, TestServer, bounded};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use super::names::user_with_id;
use e2e::run_client;

/// A loopback port where nothing listens (bound, then released).
async fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    addr
}

fn one_line(err: &str) -> &str {
    let line = err.trim_end();
    assert_eq!(line.lines().count(), 1, "not one line: {err:?}");
    line
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_errors_are_one_line_in_the_menus_words() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("someone");

    // Nothing listens: one line, the system's reason said once.
    let (ok, _, err) = run_client(&closed_port().await, &home, &["register", "someone"]).await;
    assert!(!ok);
    let line = one_line(&err);
    assert!(line.contains("cannot reach the server"), "{line}");
    assert_eq!(line.matches("os error").count(), 1, "{line}");

    // A taken name: the menu's wording, not the protocol's code.
    let server = TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr.to_string();
    user_with_id(&addr, &dir.path().join("bob"), "bob").await;
    let (ok, _, err) = run_client(&addr, &home, &["register", "bob"]).await;
    assert!(!ok);
    let line = one_line(&err);
    assert!(
        line.contains("that name is taken on this server, or one too like it (other case, look-alike letters); choose another"),
        "{line}"
    );
    assert!(!line.contains("NAME_TAKEN"), "{line}");

    // With --json: one JSON object on standard error.
    let (ok, out, err) = run_client(&addr, &home, &["--json", "register", "bob"]).await;
    assert!(!ok);
    assert!(out.is_empty(), "{out}");
    let value: serde_json::Value = serde_json::from_str(one_line(&err)).unwrap();
    assert_eq!(value["code"], "name_taken");
    assert!(
        value["error"]
            .as_str()
            .unwrap()
            .contains("that name is taken"),
        "{value}"
    );

    // A folder is not a file: said once.
    run_client(&addr, &home, &["register", "someone"]).await;
    let (ok, _, err) = run_client(
        &addr,
        &home,
        &["send-file", "bob", dir.path().to_str().unwrap()],
    )
    .await;
    assert!(!ok);
    let line = one_line(&err);
    assert!(line.contains("is a folder"), "{line}");
    assert!(
        !line.contains("not a regular file: not a regular file"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_that_does_not_speak_the_protocol_fails_with_a_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    // One listener says nothing at all; one answers like a web server.
    for garbage in [None, Some(&b"HTTP/1.1 400 Bad Request\r\n\r\n"[..])] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((mut socket, _)) = listener.accept().await {
                if let Some(bytes) = garbage {
                    let mut request = [0u8; 64];
                    let _ = socket.read(&mut request).await;
                    let _ = socket.write_all(bytes).await;
                }
                // Keep it open: the client must give up by itself.
                open.push(socket);
            }
        });
        let home = dir.path().join(format!("home-{}", garbage.is_some()));
        // `bounded` only keeps a broken client from hanging the test; the
        // assertion is on what it says.
        let (ok, _, err) = run_client(&addr, &home, &["register", "someone"]).await;
        held.abort();
        assert!(!ok);
        let line = one_line(&err);
        assert!(
            line.contains("does not answer as a Sealpost server"),
            "{line}"
        );
        assert!(line.contains("right address and port"), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_reset_by_the_server_is_said_as_lost_not_as_a_broken_protocol() {
    let dir = tempfile::tempdir().unwrap();
    // Reads the client's first frame, then resets the connection (a
    // server killed mid-request, or a LAN that drops it).
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let resetting = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 64];
            let _ = socket.read(&mut request).await;
            // Linger zero: the close sends a reset, not an orderly end.
            let _ = socket.set_zero_linger();
            drop(socket);
        }
    });
    let home = dir.path().join("home");
    let (ok, _, err) = run_client(&addr, &home, &["register", "someone"]).await;
    let (json_ok, _, json_err) = run_client(&addr, &home, &["--json", "register", "someone"]).await;
    resetting.abort();
    assert!(!ok && !json_ok);
    let line = one_line(&err);
    assert!(
        line.contains("the connection to the server was lost"),
        "{line}"
    );
    assert!(
        line.contains("try again (the server may be down)"),
        "{line}"
    );
    assert!(!line.contains("broke the protocol"), "{line}");
    let value: serde_json::Value = serde_json::from_str(one_line(&json_err)).unwrap();
    assert_eq!(value["code"], "connection_closed", "{value}");
}

/// Reads lines from `lines` until one contains `wanted`; on failure, shows
/// the lines read meanwhile.
async fn wait_for_line(
    lines: &mut tokio::io::Lines<BufReader<impl tokio::io::AsyncRead + Unpin>>,
    wanted: &str,
) {
    let mut seen = Vec::new();
    let found = bounded(wanted, async {
        loop {
            match lines.next_line().await.unwrap() {
                Some(l) if l.contains(wanted) => return true,
                Some(l) => seen.push(l),
                None => return false,
            }
        }
    })
    .await;
    match found {
        Ok(true) => {}
        Ok(false) => panic!(
            "the output ended before {wanted:?}; it was:\n{}",
            seen.join("\n")
        ),
        Err(e) => panic!("{e}; the output meanwhile:\n{}", seen.join("\n")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_says_when_the_connection_is_lost_and_when_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    let addr = server.addr.to_string();
    let (bob, _) = user_with_id(&addr, &dir.path().join("bob"), "bob").await;
    user_with_id(&addr, &dir.path().join("alice"), "alice").await;

    let mut watch = e2e::client_process(&addr, &dir.path().join("alice"), &["watch"])
        .spawn()
        .unwrap();
    let mut out = BufReader::new(watch.stdout.take().unwrap()).lines();
    let mut err = BufReader::new(watch.stderr.take().unwrap()).lines();

    // A message through the watcher shows it is connected.
    bob.send_text("alice", "are you there").await.unwrap();
    wait_for_line(&mut out, "are you there").await;

    server.kill9().await.unwrap();
    wait_for_line(&mut err, "connection to the server lost").await;

    let port = server.addr.port();
    let _server = ServerProcess::start_on(&data, port, &[]).await.unwrap();
    wait_for_line(&mut err, "connected to the server again").await;

    // And messages flow again.
    bob.send_text("alice", "back again").await.unwrap();
    wait_for_line(&mut out, "back again").await;
    watch.start_kill().unwrap();
    let _ = bounded("watch to exit", watch.wait()).await;
}

/// `register NAME | head -0`: the account is made before anything is
/// printed, so the home remembers its server even when printing fails, and
/// the next command needs no `--server`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_whose_output_is_closed_still_remembers_its_server() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("carol");
    let mut child = e2e::client_process(server.addr, &home, &["register", "carol"])
        .spawn()
        .unwrap();
    // Nobody reads what it prints.
    drop(child.stdout.take());
    let out = bounded("register", child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "printing to a closed pipe succeeded");
    assert!(err.contains("cannot write to standard output"), "{err}");
    let remembered = std::fs::read_to_string(home.join("server.info")).unwrap();
    assert_eq!(remembered.trim(), server.addr.to_string());
    let inbox = bounded(
        "inbox",
        tokio::process::Command::new(e2e::binary("client").unwrap())
            .env("SEALPOST_PASSPHRASE", e2e::TEST_PASSPHRASE)
            .arg("--home")
            .arg(&home)
            .arg("inbox")
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        inbox.status.success(),
        "{}",
        String::from_utf8_lossy(&inbox.stderr)
    );
}
