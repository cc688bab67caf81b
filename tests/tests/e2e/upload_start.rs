//! An upload whose start failed in the files folder leaves nothing
//! behind: no record, no reservation, no place among the sender's uploads.

use e2e::{ServerProcess, user};
use tokio_util::sync::CancellationToken;

use crate::operator::json;

/// Regression (D3): an upload whose part file could not be created was
/// refused, yet its record stayed, holding its reservation and a place
/// among the sender's unfinished uploads (eight such and every later
/// `send-file` was refused) for a day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_upload_start_leaves_no_upload_behind() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    let addr = server.addr.to_string();
    let alice = user(&addr, &dir.path().join("alice"), "alice").await;
    let _bob = user(&addr, &dir.path().join("bob"), "bob").await;
    let file = dir.path().join("report.bin");
    let before = json(&data, &["status"]).await;
    std::fs::write(&file, e2e::pattern(3, 50_000)).unwrap();

    // The tests run as root, whom a folder's mode does not stop: a
    // regular file where the uploads folder was makes every part file's
    // creation fail.
    let uploads = data.join("files").join("uploads");
    std::fs::remove_dir(&uploads).unwrap();
    std::fs::write(&uploads, "").unwrap();
    for _ in 0..2 {
        let refused = alice
            .send_file("bob", &file, CancellationToken::new())
            .await;
        assert!(refused.is_err(), "{refused:?}");
    }
    let status = json(&data, &["status"]).await;
    assert_eq!(status["uploads_in_progress"], 0, "{status}");
    assert_eq!(status["upload_bytes_received"], 0, "{status}");
    // Nothing reserved: what the sender's client sent besides (its key,
    // to a new contact) is all that is counted.
    assert!(
        status["storage_used"].as_u64().unwrap() < 50_000,
        "{status}"
    );

    std::fs::remove_file(&uploads).unwrap();
    std::fs::create_dir(&uploads).unwrap();
    alice
        .send_file("bob", &file, CancellationToken::new())
        .await
        .unwrap();
    let status = json(&data, &["status"]).await;
    assert_eq!(status["uploads_in_progress"], 0, "{status}");
    assert!(
        status["messages_waiting"].as_u64() > before["messages_waiting"].as_u64(),
        "{before} {status}"
    );

    server.terminate_cleanly().await.unwrap();
}
