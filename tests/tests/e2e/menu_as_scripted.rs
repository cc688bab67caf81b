//! The menu does what the scripted commands do, through the real binaries:
//! `register` remembers the server in the home's `server.info` (so the
//! next start needs no `--server`), and a send to a contact whose account
//! was deleted meanwhile says so in the words `client send` uses, not as
//! the server's raw refusal.

use std::process::Stdio;

use e2e::{TestServer, binary, bounded};

use crate::menu::Menu;
use crate::rooms_cli::{json, ok, refusal, users};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn menu_send_to_a_deleted_contact_says_what_client_send_says() {
    let (server, _dir, [alice, gina]) = users(["alice", "gina"]).await;
    let addr = server.addr;
    let mut menu = Menu::start("alice", &alice, addr).await;
    menu.run("send gina hello", "sent to gina").await;
    json(addr, &gina, &["delete-account", "gina"]).await;

    let line = menu.run("5 gina still there?", "error:").await;
    let scripted = refusal(addr, &alice, &["send", "gina", "still there?"]).await;
    assert_eq!(scripted["code"], "contact_gone", "{scripted}");
    let words = scripted["error"].as_str().unwrap().replace("`client ", "`");
    assert_eq!(line, format!("error: {words}"));
    assert!(
        line.contains("the account you pinned is gone")
            && line.contains("nothing can be sent to \"gina\" now"),
        "{line}"
    );
    menu.exit().await;
    // The failed send is in history as not sent, for the same reason.
    let history = ok(addr, &alice, &["history", "gina"]).await;
    assert!(
        history.contains("the account you pinned is gone"),
        "{history}"
    );
}
