//! Version-3 files over raw frames: pipelined uploads that resume after a
//! broken connection and a restart, and each refusal of upload and download.
//! The upload helpers are shared with `lifecycle.rs`.

use std::time::Duration;

use bytes::Bytes;
use e2e::{TestIdentity, TestServer, V3Conn, bounded, pattern, reason_of};
use protocol::{ClientId, ErrorReason, MessageKind, v3};
use sha2::{Digest, Sha256};

use super::{refused, server};

/// Asks where upload `id` stands (request 122).
pub(crate) async fn resume_upload(conn: &mut V3Conn, id: protocol::UploadId) -> v3::UploadStatus {
    match conn.call(v3::Request::UploadResume(id)).await.unwrap() {
        v3::Response::UploadStatus(s) => s,
        other => panic!("resume: {other:?}"),
    }
}

pub(crate) async fn begin_upload(conn: &mut V3Conn, to: ClientId, size: u64) -> v3::UploadStatus {
    match conn
        .call(v3::Request::UploadBegin(v3::UploadBegin {
            destination: to,
            file_size: size,
            meta: Bytes::from_static(b"sealed name"),
        }))
        .await
        .unwrap()
    {
        v3::Response::UploadStatus(s) => s,
        other => panic!("upload begin: {other:?}"),
    }
}

/// Uploads `data[from..to]` in pipelined 1 MiB chunks; returns the last answer.
pub(crate) async fn upload_range(
    conn: &mut V3Conn,
    id: protocol::UploadId,
    data: &[u8],
    from: usize,
    to: usize,
) -> v3::Response {
    let mut offset = from;
    let mut count = 0;
    while offset < to {
        let n = (1 << 20).min(to - offset);
        conn.feed(v3::Request::UploadChunk(v3::UploadChunk {
            upload_id: id,
            offset: offset as u64,
            data: Bytes::copy_from_slice(&data[offset..offset + n]),
        }))
        .await
        .unwrap();
        offset += n;
        count += 1;
    }
    futures::SinkExt::<protocol::codec::RequestPart>::flush(&mut conn.conn)
        .await
        .unwrap();
    let mut last = None;
    for _ in 0..count {
        last = Some(conn.answer().await.unwrap());
    }
    last.unwrap()
}

/// Uploads the rest of `data` from `from`; the last chunk must complete the
/// file.
pub(crate) async fn finish_upload(
    conn: &mut V3Conn,
    id: protocol::UploadId,
    data: &[u8],
    from: usize,
) -> v3::FileSent {
    match upload_range(conn, id, data, from, data.len()).await {
        v3::Response::FileSent(sent) => sent,
        other => panic!("last chunk: {other:?}"),
    }
}

pub(crate) async fn download_all(conn: &mut V3Conn, message_id: u64, size: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(size as usize);
    let mut offset = 0u64;
    while offset < size {
        for k in 0..4u64 {
            conn.feed(v3::Request::Download(v3::Download {
                message_id,
                offset: offset + k * (1 << 20),
                max_len: 1 << 20,
            }))
            .await
            .unwrap();
        }
        futures::SinkExt::<protocol::codec::RequestPart>::flush(&mut conn.conn)
            .await
            .unwrap();
        for _ in 0..4 {
            match conn.answer().await.unwrap() {
                v3::Response::FileChunk(c) => {
                    if c.offset == out.len() as u64 {
                        out.extend_from_slice(&c.data);
                    } else {
                        assert!(c.data.is_empty() || c.offset >= size, "chunk out of order");
                    }
                }
                v3::Response::Error(e) => assert_eq!(e.reason, ErrorReason::BadOffset),
                other => panic!("download: {other:?}"),
            }
        }
        offset += 4 << 20;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_resumes_after_broken_connection_and_restart() {
    const SIZE: usize = 64 << 20;
    let mut server = server().await;
    let alice_keys = TestIdentity::generate();
    let bob_keys = TestIdentity::generate();
    let mut conn = V3Conn::open(server.addr).await.unwrap();
    let alice = conn.register("alice", &alice_keys).await.unwrap();
    let bob = conn.register("bob", &bob_keys).await.unwrap();
    conn.authenticate(alice, &alice_keys).await.unwrap();
    let data = pattern(64, SIZE);
    let status = begin_upload(&mut conn, bob, SIZE as u64).await;
    assert_eq!(status.offset, 0);
    let half = upload_range(&mut conn, status.upload_id, &data, 0, 30 << 20).await;
    assert!(matches!(half, v3::Response::ChunkStored(c) if c.next_offset == 30 << 20));
    // Cut the connection off, then restart the server.
    drop(conn);
    server.restart().await.unwrap();
    let mut conn = V3Conn::open(server.addr).await.unwrap();
    conn.authenticate(alice, &alice_keys).await.unwrap();
    let resumed = resume_upload(&mut conn, status.upload_id).await;
    assert_eq!(resumed.destination, bob);
    assert_eq!(resumed.file_size, SIZE as u64);
    assert!(resumed.offset <= 30 << 20);
    // A chunk at the wrong offset is refused with the right one in the text.
    let wrong = conn
        .call(v3::Request::UploadChunk(v3::UploadChunk {
            upload_id: status.upload_id,
            offset: resumed.offset + 1,
            data: Bytes::from_static(b"x"),
        }))
        .await
        .unwrap();
    assert_eq!(reason_of(&wrong).unwrap(), ErrorReason::BadOffset);
    let sent = finish_upload(&mut conn, status.upload_id, &data, resumed.offset as usize).await;
    assert_eq!(sent.destination, bob);

    let mut b = V3Conn::open(server.addr).await.unwrap();
    b.authenticate(bob, &bob_keys).await.unwrap();
    let batch = b.pull().await.unwrap();
    let offer = &batch.messages[0];
    assert_eq!(offer.kind, MessageKind::File);
    let offer = v3::FileOffer::decode(offer.content.clone()).unwrap();
    assert_eq!(offer.size, SIZE as u64);
    assert_eq!(&offer.meta[..], b"sealed name");
    let got = download_all(&mut b, sent.message_id, SIZE as u64).await;
    assert_eq!(Sha256::digest(&got), Sha256::digest(&data));
    // Acknowledging deletes the file from disk (or its rows).
    assert_eq!(server.bodies().await.unwrap(), 1);
    b.ack(vec![sent.message_id]).await.unwrap();
    bounded("file to be deleted", async {
        while server.bodies().await.unwrap() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn upload_and_download_refusals() {
    let server = TestServer::start(|c| c.max_file_size = 1000).await.unwrap();
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let (mut bob, _) = V3Conn::new_user(server.addr, "bob").await.unwrap();
    let too_big = alice
        .call(v3::Request::UploadBegin(v3::UploadBegin {
            destination: bob.client_id,
            file_size: 1001,
            meta: Bytes::new(),
        }))
        .await
        .unwrap();
    assert_eq!(reason_of(&too_big).unwrap(), ErrorReason::FileTooLarge);
    let up = begin_upload(&mut alice, bob.client_id, 10).await;
    // Past the end; someone else's upload.
    let past = alice
        .call(v3::Request::UploadChunk(v3::UploadChunk {
            upload_id: up.upload_id,
            offset: 0,
            data: Bytes::from_static(b"eleven byte"),
        }))
        .await
        .unwrap();
    assert_eq!(reason_of(&past).unwrap(), ErrorReason::BadOffset);
    assert_eq!(
        refused(&mut bob, v3::Request::UploadResume(up.upload_id)).await,
        ErrorReason::UnknownUpload
    );
    assert_eq!(
        refused(&mut bob, v3::Request::UploadCancel(up.upload_id)).await,
        ErrorReason::UnknownUpload
    );
    // Cancel, then it is gone.
    assert_eq!(
        alice
            .call(v3::Request::UploadCancel(up.upload_id))
            .await
            .unwrap(),
        v3::Response::UploadCancelled(up.upload_id)
    );
    assert_eq!(
        refused(&mut alice, v3::Request::UploadResume(up.upload_id)).await,
        ErrorReason::UnknownUpload
    );
    // Downloads: not a file, not waiting, offset past the end.
    let text = alice.send_text(bob.client_id, b"not a file").await.unwrap();
    let download = |id, offset| {
        v3::Request::Download(v3::Download {
            message_id: id,
            offset,
            max_len: 100,
        })
    };
    assert_eq!(
        refused(&mut bob, download(text, 0)).await,
        ErrorReason::BadMessageType
    );
    assert_eq!(
        refused(&mut alice, download(text, 0)).await,
        ErrorReason::UnknownMessage
    );
    let up = begin_upload(&mut alice, bob.client_id, 5).await;
    let sent = finish_upload(&mut alice, up.upload_id, b"hello", 0).await;
    assert_eq!(
        refused(&mut bob, download(sent.message_id, 6)).await,
        ErrorReason::BadOffset
    );
    match bob.call(download(sent.message_id, 5)).await.unwrap() {
        v3::Response::FileChunk(c) => assert!(c.data.is_empty()),
        other => panic!("{other:?}"),
    }
    match bob.call(download(sent.message_id, 1)).await.unwrap() {
        v3::Response::FileChunk(c) => assert_eq!(&c.data[..], b"ello"),
        other => panic!("{other:?}"),
    }
}
