//! The operator's commands against the real server binary (issue 19):
//! `server status` and `server user list|remove` through the running
//! server's socket, and `server backup` under load restored into a fresh
//! data folder that a new server then serves.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use client::What;
use e2e::{ServerProcess, binary, bounded, pattern, user};
use e2e::{open_client, texts};
use protocol::ErrorReason;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

/// Runs `server ARGS --data-dir DATA`; returns success, stdout, stderr.
pub(crate) async fn server_cmd(data: &Path, args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(binary("server").unwrap())
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `server ARGS --json`, which must succeed, as JSON.
/// The names in a `user list` answer, in its order.
pub(crate) fn names_of(users: &Value) -> Vec<&str> {
    users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect()
}

pub(crate) async fn json(data: &Path, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let (ok, out, err) = server_cmd(data, &all).await;
    assert!(ok, "server {args:?} failed: {out}{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_moves_with_use_and_removing_a_user_frees_the_name_and_drops_what_waits() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    let addr = server.addr.to_string();

    let idle = json(&data, &["status"]).await;
    assert_eq!(idle["users_registered"], 0);
    assert_eq!(idle["messages_waiting"], 0);
    assert_eq!(idle["storage_used"], 0);
    let (ok, fingerprint, _) = server_cmd(&data, &["fingerprint"]).await;
    assert!(ok);
    assert_eq!(idle["fingerprint"], fingerprint.trim());

    let alice = user(&addr, &dir.path().join("alice"), "alice").await;
    let bob = user(&addr, &dir.path().join("bob"), "bob").await;
    for i in 0..3 {
        alice.send_text("bob", &format!("text {i}")).await.unwrap();
    }
    let file = dir.path().join("report.bin");
    std::fs::write(&file, pattern(7, 100_000)).unwrap();
    alice
        .send_file("bob", &file, CancellationToken::new())
        .await
        .unwrap();
    let bob_conn = bob.connection().await.unwrap();

    let busy = json(&data, &["status"]).await;
    assert_eq!(busy["users_registered"], 2);
    assert!(busy["connections"].as_u64().unwrap() >= 2, "{busy}");
    assert_eq!(busy["users_online"], 2, "{busy}");
    let waiting = busy["messages_waiting"].as_u64().unwrap();
    assert!(waiting >= 4, "{busy}");
    assert!(busy["bytes_waiting"].as_u64().unwrap() > 100_000, "{busy}");
    assert_eq!(busy["storage_used"], busy["bytes_waiting"]);
    assert_eq!(e2e::blobs_in(&data), 1);

    let users = json(&data, &["user", "list"]).await;
    let names = names_of(&users);
    assert_eq!(names, ["alice", "bob"]);
    let bob_row = &users[1];
    assert_eq!(bob_row["online"], true);
    assert_eq!(bob_row["protocol"], 3);
    let bobs = bob_row["messages_waiting"].as_u64().unwrap();
    assert!(bobs >= 4, "{users}");

    let removed = json(&data, &["user", "remove", "BOB"]).await;
    assert_eq!(removed["messages_deleted"], bobs);
    assert_eq!(removed["bytes_deleted"], bob_row["bytes_waiting"]);
    assert_eq!(removed["sessions_closed"], 1);
    // Bob's connection is told why, and closed.
    bounded("bob's connection to close", async {
        while bob_conn.is_alive() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    let notice = bob_conn.closing_notice().expect("a closing notice");
    assert_eq!(notice.reason, ErrorReason::UnknownClient);

    let after = json(&data, &["status"]).await;
    assert_eq!(after["users_registered"], 1);
    // Bob's are gone; alice, who sent them, has one notice of them
    // (type 7, "not delivered").
    assert_eq!(
        after["messages_waiting"].as_u64().unwrap(),
        waiting - bobs + 1
    );
    assert_eq!(
        e2e::blobs_in(&data),
        0,
        "the file waiting for bob is deleted"
    );
    drop((bob, bob_conn));

    // The name is free: a new bob registers and finds nothing waiting.
    let new_bob = user(&addr, &dir.path().join("bob2"), "bob").await;
    assert!(texts(&new_bob.inbox().await.unwrap()).is_empty());
    let users = json(&data, &["user", "list"]).await;
    assert_eq!(users.as_array().unwrap().len(), 2);

    // A refusal with --json: one object on standard error, with its code.
    let (ok, out, err) = server_cmd(&data, &["user", "remove", "nobody", "--json"]).await;
    assert!(!ok && out.is_empty(), "{out}");
    let refusal: Value = serde_json::from_str(&err).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(refusal["code"], "refused", "{err}");
    assert!(
        refusal["error"]
            .as_str()
            .unwrap()
            .contains("no account is named"),
        "{err}"
    );

    server.terminate_cleanly().await.unwrap();
    let (ok, _, err) = server_cmd(&data, &["status"]).await;
    assert!(!ok);
    assert!(err.contains("no server is running"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let (ok, _, err) = server_cmd(&data, &["status", "--json"]).await;
    let down: Value = serde_json::from_str(&err).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert!(!ok && down["code"] == "not_running", "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_every_answered_message_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    let port = server.addr.port();
    let addr = server.addr.to_string();
    let (alice_home, bob_home) = (dir.path().join("alice"), dir.path().join("bob"));
    let alice = Arc::new(user(&addr, &alice_home, "alice").await);
    drop(user(&addr, &bob_home, "bob").await);
    let original = pattern(11, 300_000);
    let file = dir.path().join("photo.bin");
    std::fs::write(&file, &original).unwrap();
    alice
        .send_file("bob", &file, CancellationToken::new())
        .await
        .unwrap();

    // Alice sends without pause; each text counts once the server answered.
    let answered = Arc::new(Mutex::new(Vec::new()));
    let stop = CancellationToken::new();
    let load = tokio::spawn({
        let (alice, answered, stop) = (alice.clone(), answered.clone(), stop.clone());
        async move {
            for i in 0..100_000u32 {
                if stop.is_cancelled() {
                    break;
                }
                let text = format!("load {i}");
                alice.send_text("bob", &text).await.unwrap();
                answered.lock().unwrap().push(text);
            }
        }
    });
    bounded("twenty texts before the backup", async {
        while answered.lock().unwrap().len() < 20 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    let before: Vec<String> = answered.lock().unwrap().clone();
    let archive = dir.path().join("sealpost.tar");
    let (ok, out, err) = server_cmd(&data, &["backup", archive.to_str().unwrap()]).await;
    assert!(ok, "{out}{err}");
    let during = answered.lock().unwrap().len() - before.len();
    // A second backup never overwrites the first.
    let written = std::fs::read(&archive).unwrap();
    let (ok, _, err) = server_cmd(&data, &["backup", archive.to_str().unwrap()]).await;
    assert!(!ok && err.contains("exists already"), "{err}");
    assert_eq!(std::fs::read(&archive).unwrap(), written);
    stop.cancel();
    load.await.unwrap();
    println!("{}", out.trim());
    println!(
        "texts answered before the backup: {}, while it ran: {during}",
        before.len()
    );
    drop(alice);
    server.terminate_cleanly().await.unwrap();

    // Only into an empty folder.
    let (ok, _, err) = server_cmd(&data, &["restore", archive.to_str().unwrap()]).await;
    assert!(!ok);
    assert!(err.contains("is not empty"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // A changed byte (here in the key's data, right after the first
    // header) is found by its checksum; nothing is restored.
    let mut damaged = written.clone();
    damaged[512 + 8] ^= 1;
    let damaged_path = dir.path().join("damaged.tar");
    std::fs::write(&damaged_path, &damaged).unwrap();
    let nowhere = dir.path().join("nowhere");
    let (ok, _, err) = server_cmd(&nowhere, &["restore", damaged_path.to_str().unwrap()]).await;
    assert!(!ok, "{err}");
    assert!(
        err.contains("the archive is damaged: \"server.key\" does not match its checksum"),
        "{err}"
    );
    assert!(!nowhere.exists());

    let restored = dir.path().join("restored");
    let (ok, out, err) = server_cmd(&restored, &["restore", archive.to_str().unwrap()]).await;
    assert!(ok, "{out}{err}");
    println!("{}", out.trim());
    let mut server = ServerProcess::start_on(&restored, port, &[]).await.unwrap();
    let bob = open_client(&addr, &bob_home).await;
    let events = bob.inbox().await.unwrap();
    let got: BTreeSet<String> = texts(&events).into_iter().collect();
    let missing: Vec<&String> = before.iter().filter(|t| !got.contains(*t)).collect();
    assert!(
        missing.is_empty(),
        "texts answered before the backup are missing: {missing:?}"
    );
    // Bob never dealt with alice, so her file is held until he accepts it.
    let held: Vec<u64> = events
        .iter()
        .filter(|e| matches!(e.what, What::FileHeld { .. }))
        .map(|e| e.message_id)
        .collect();
    assert_eq!(held.len(), 1, "{events:?}");
    let accepted = bob
        .accept_file(held[0], CancellationToken::new())
        .await
        .unwrap();
    let files: Vec<PathBuf> = match &accepted.what {
        What::File { path, .. } => vec![path.clone()],
        other => panic!("accepting gave {other:?}"),
    };
    let saved = std::fs::read(&files[0]).unwrap();
    assert_eq!(Sha256::digest(&saved), Sha256::digest(&original));
    drop(bob);
    server.terminate_cleanly().await.unwrap();
}
