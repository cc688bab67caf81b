//! The menu does what the scripted commands do, through the real binaries:
//! `register` remembers the server in the home's `server.info` (so the
//! next start needs no `--server`).

use std::process::Stdio;

use e2e::{TestServer, binary, bounded};

use crate::menu::Menu;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn menu_register_remembers_the_server_as_client_register_does() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("alice");
    let mut menu = Menu::start("alice", &home, server.addr).await;
    menu.run("register alice", "registered alice with id").await;
    menu.exit().await;

    let info = std::fs::read_to_string(home.join("server.info")).unwrap_or_default();
    assert_eq!(info, format!("{}\n", server.addr));
    // No --server: the home says where it registered.
    let out = bounded(
        "client binary",
        tokio::process::Command::new(binary("client").unwrap())
            .env("SEALPOST_PASSPHRASE", e2e::TEST_PASSPHRASE)
            .arg("--home")
            .arg(&home)
            .args(["--json", "list"])
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
