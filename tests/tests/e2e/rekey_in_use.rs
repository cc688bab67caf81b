//! `passphrase change` on a home another client of it has open (a `watch`,
//! the menu, the full-screen client) is refused with `home_in_use` and
//! changes nothing: re-keying the stores under that client would leave it
//! reading pages it can no longer decrypt ("file is not a database") and
//! stop it. Once the other client is gone, the change goes through.

use e2e::wait_for_line;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::rooms_cli::{ok, refusal, users};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passphrase_change_is_refused_while_another_client_has_the_home_open() {
    let (server, dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    let mut watch = e2e::client_process(addr, &alice, &["watch"])
        .spawn()
        .unwrap();
    let mut err = BufReader::new(watch.stderr.take().unwrap()).lines();
    wait_for_line("watch to start", &mut err, |l| l.starts_with("watching"))
        .await
        .unwrap();

    let new = dir.path().join("new-passphrase");
    std::fs::write(&new, "a new passphrase\n").unwrap();
    let new = new.to_str().unwrap();
    let refused = refusal(
        addr,
        &alice,
        &["passphrase", "change", "--new-passphrase-file", new],
    )
    .await;
    assert_eq!(refused["code"], "home_in_use", "{refused}");
    let line = refused["error"].as_str().unwrap();
    assert!(line.starts_with("another client"), "{line}");

    // The watch goes on: it still reads the store, under the old key.
    ok(addr, &bob, &["send", "alice", "still watched"]).await;
    let mut out = BufReader::new(watch.stdout.take().unwrap()).lines();
    wait_for_line("the watch to print the text", &mut out, |l| {
        l.contains("still watched")
    })
    .await
    .unwrap();
    assert!(watch.try_wait().unwrap().is_none(), "the watch stopped");
    watch.kill().await.unwrap();
    watch.wait().await.unwrap();

    // Alone, the change goes through; the old passphrase no longer opens it.
    let changed = ok(
        addr,
        &alice,
        &["passphrase", "change", "--new-passphrase-file", new],
    )
    .await;
    assert!(changed.contains("passphrase changed"), "{changed}");
    let old = refusal(addr, &alice, &["history", "bob"]).await;
    assert_eq!(old["code"], "wrong_passphrase", "{old}");
}
