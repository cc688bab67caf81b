//! A message whose file body is gone from the files folder: a named
//! storage fault, logged once with what to do, never `INTERNAL`.

use e2e::{ServerProcess, V3Conn, bounded, pattern, reason_of};
use protocol::{ErrorReason, v3};

use crate::v3::{begin_upload, finish_upload};

/// Regression (D4): a message whose body was deleted from the files
/// folder was answered `INTERNAL` ("No such file or directory" in the log
/// only); storage faults are named, never `INTERNAL`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_missing_from_the_files_folder_is_storage_failed_and_logged_once() {
    const SIZE: usize = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let (mut bob, _) = V3Conn::new_user(server.addr, "bob").await.unwrap();
    let body = pattern(5, SIZE);
    let status = begin_upload(&mut alice, bob.client_id, SIZE as u64).await;
    let sent = finish_upload(&mut alice, status.upload_id, &body, 0).await;
    for entry in std::fs::read_dir(data.join("files")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "blob") {
            std::fs::remove_file(path).unwrap();
        }
    }

    for _ in 0..2 {
        let answer = bob
            .call(v3::Request::Download(v3::Download {
                message_id: sent.message_id,
                offset: 0,
                max_len: 1000,
            }))
            .await
            .unwrap();
        assert_eq!(
            reason_of(&answer).unwrap(),
            ErrorReason::StorageFailed,
            "{answer:?}"
        );
        let v3::Response::Error(e) = &answer else {
            unreachable!()
        };
        assert!(
            e.text.contains("missing from the server's files folder"),
            "{answer:?}"
        );
    }
    server.terminate_cleanly().await.unwrap();
    // Its standard error has ended: the log is whole once the channel ends.
    let mut log = Vec::new();
    bounded("the server's log to end", async {
        while let Some(line) = server.log.recv().await {
            log.push(line);
        }
    })
    .await
    .unwrap();
    let told: Vec<_> = log
        .iter()
        .filter(|l| l.contains("missing from the files folder"))
        .collect();
    assert_eq!(told.len(), 1, "{log:#?}");
    assert!(told[0].contains("--files-dir"), "{log:#?}");
}
