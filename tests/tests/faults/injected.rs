//! Faults injected with failpoints in the server's storage layer: an I/O
//! error, a read-only file system, a full disk under an upload, a failed
//! database sync. In process, on a real database.

use bytes::Bytes;
use e2e::{TestServer, V3Conn, bounded, pattern, reason_of};
use protocol::v3;
use protocol::{ErrorReason, MessageKind};

fn texts(batch: &v3::MessageBatch) -> Vec<Bytes> {
    batch.messages.iter().map(|m| m.content.clone()).collect()
}

async fn send(conn: &mut V3Conn, to: protocol::ClientId, text: &str) -> v3::Response {
    conn.call(v3::Request::SendMessage(v3::SendMessage {
        destination: to,
        kind: MessageKind::Text,
        content: Bytes::copy_from_slice(text.as_bytes()),
    }))
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn io_errors_and_a_read_only_disk_are_named_and_writes_resume_by_themselves() {
    let scenario = fail::FailScenario::setup();
    let server = TestServer::start(|_| {}).await.unwrap();
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let (mut bob, _) = V3Conn::new_user(server.addr, "bob").await.unwrap();
    alice.send_text(bob.client_id, b"before").await.unwrap();

    for (fault, reason) in [
        ("eio", ErrorReason::StorageFailed),
        ("erofs", ErrorReason::StorageReadOnly),
        ("enospc", ErrorReason::StorageFull),
    ] {
        fail::cfg("store-commit", &format!("return({fault})")).unwrap();
        let refused = send(&mut alice, bob.client_id, fault).await;
        assert_eq!(reason_of(&refused).unwrap(), reason, "{fault}: {refused:?}");
        // Reads go on while writes fail.
        assert_eq!(texts(&bob.pull().await.unwrap()), vec!["before"]);
    }
    fail::remove("store-commit");
    alice.send_text(bob.client_id, b"after").await.unwrap();
    let batch = bob.pull().await.unwrap();
    assert_eq!(
        texts(&batch),
        vec!["before", "after"],
        "nothing refused was stored"
    );
    let ids = batch.messages.iter().map(|m| m.message_id).collect();
    assert_eq!(bob.ack(ids).await.unwrap().len(), 2);
    scenario.teardown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_database_sync_stops_writes_until_restart_and_never_reports_them_stored() {
    let scenario = fail::FailScenario::setup();
    let mut server = TestServer::start(|_| {}).await.unwrap();
    let (mut alice, alice_id) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let (mut bob, bob_id) = V3Conn::new_user(server.addr, "bob").await.unwrap();
    alice.send_text(bob.client_id, b"durable").await.unwrap();

    fail::cfg("store-commit", "1*return(fsync)").unwrap();
    let refused = send(&mut alice, bob.client_id, "lost").await;
    assert_eq!(reason_of(&refused).unwrap(), ErrorReason::StorageFailed);
    // The failpoint is spent, but the database's state is uncertain: every
    // later write is refused, reads go on.
    let refused = send(&mut alice, bob.client_id, "later").await;
    assert_eq!(
        reason_of(&refused).unwrap(),
        ErrorReason::StorageFailed,
        "{refused:?}"
    );
    assert_eq!(texts(&bob.pull().await.unwrap()), vec!["durable"]);

    server.restart().await.unwrap();
    let mut alice = alice.again(server.addr, &alice_id).await.unwrap();
    let mut bob = bob.again(server.addr, &bob_id).await.unwrap();
    alice
        .send_text(bob.client_id, b"after restart")
        .await
        .unwrap();
    assert_eq!(
        texts(&bob.pull().await.unwrap()),
        vec!["durable", "after restart"]
    );
    scenario.teardown();
}

/// An upload chunk that fails to reach the disk (ENOSPC in the middle of a
/// write) is refused with STORAGE_FULL, not as a corrupt store, and the
/// upload resumes from the last durable offset once the disk has room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_whose_write_fails_resumes_from_its_durable_offset() {
    let scenario = fail::FailScenario::setup();
    let server = TestServer::start(|_| {}).await.unwrap();
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let (mut bob, _) = V3Conn::new_user(server.addr, "bob").await.unwrap();
    let body = pattern(7, 3 << 20);
    let chunk = |offset: usize| -> Bytes {
        Bytes::copy_from_slice(&body[offset..(offset + (1 << 20)).min(body.len())])
    };
    let v3::Response::UploadStatus(status) = alice
        .call(v3::Request::UploadBegin(v3::UploadBegin {
            destination: bob.client_id,
            file_size: body.len() as u64,
            meta: Bytes::from_static(b"m"),
        }))
        .await
        .unwrap()
    else {
        panic!("upload begin refused");
    };
    let id = status.upload_id;
    let put = |offset: usize| {
        v3::Request::UploadChunk(v3::UploadChunk {
            upload_id: id,
            offset: offset as u64,
            data: chunk(offset),
        })
    };
    assert!(matches!(
        alice.call(put(0)).await.unwrap(),
        v3::Response::ChunkStored(_)
    ));
    fail::cfg("upload-append", "return(enospc)").unwrap();
    let refused = alice.call(put(1 << 20)).await.unwrap();
    assert_eq!(
        reason_of(&refused).unwrap(),
        ErrorReason::StorageFull,
        "{refused:?}"
    );
    fail::remove("upload-append");
    // The part file was reopened at its last durable offset: the same chunk
    // again is told where the upload stands (not a broken handle).
    let again = alice.call(put(1 << 20)).await.unwrap();
    assert_eq!(
        reason_of(&again).unwrap(),
        ErrorReason::BadOffset,
        "{again:?}"
    );
    let v3::Response::UploadStatus(resumed) =
        alice.call(v3::Request::UploadResume(id)).await.unwrap()
    else {
        panic!("resume refused");
    };
    let mut offset = resumed.offset as usize;
    let message_id = loop {
        match alice.call(put(offset)).await.unwrap() {
            v3::Response::ChunkStored(c) => offset = c.next_offset as usize,
            v3::Response::FileSent(f) => break f.message_id,
            other => panic!("chunk at {offset}: {other:?}"),
        }
    };
    let mut got = Vec::new();
    bounded("download", async {
        while got.len() < body.len() {
            match bob
                .call(v3::Request::Download(v3::Download {
                    message_id,
                    offset: got.len() as u64,
                    max_len: 1 << 20,
                }))
                .await
                .unwrap()
            {
                v3::Response::FileChunk(c) => got.extend_from_slice(&c.data),
                other => panic!("download: {other:?}"),
            }
        }
    })
    .await
    .unwrap();
    assert!(got == body, "the file arrives whole");
    scenario.teardown();
}
