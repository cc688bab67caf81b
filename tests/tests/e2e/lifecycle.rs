//! The server binary's life: SIGTERM lets a request in progress finish and
//! exits with status 0; `kill -9` loses no answered version-3 message and
//! no durable part of an upload.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use e2e::{ServerProcess, TestIdentity, V3Conn, bounded, pattern, reason_of};
use protocol::v3::{self, AckStatus};
use protocol::{ClientId, ErrorReason, MessageKind, Request, RequestFrame};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio_util::codec::Encoder;

use crate::v3::{begin_upload, download_all, finish_upload, resume_upload as resume, upload_range};

/// Registers `names` on a fresh connection; returns their ids and keys.
async fn register(addr: std::net::SocketAddr, names: &[&str]) -> Vec<(ClientId, TestIdentity)> {
    let mut conn = V3Conn::open(addr).await.unwrap();
    let mut out = Vec::new();
    for name in names {
        let keys = TestIdentity::generate();
        let id = conn.register(name, &keys).await.unwrap();
        out.push((id, keys));
    }
    out
}

async fn login(addr: std::net::SocketAddr, user: &(ClientId, TestIdentity)) -> V3Conn {
    let mut conn = V3Conn::open(addr).await.unwrap();
    conn.authenticate(user.0, &user.1).await.unwrap();
    conn
}

/// Waits for a line of the server's log that contains `needle`.
async fn logged(server: &mut ServerProcess, needle: &str) {
    bounded(&format!("the server to log {needle:?}"), async {
        while let Some(line) = server.log.recv().await {
            if line.contains(needle) {
                return;
            }
        }
        panic!("the server's log ended before {needle:?}");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_request_in_progress_finish_then_exits_with_status_0() {
    const LEN: usize = 1 << 20;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    let users = register(server.addr, &["alice", "bob"]).await;
    let mut alice = login(server.addr, &users[0]).await;
    let up = begin_upload(&mut alice, users[1].0, 2 * LEN as u64).await;

    // Half of a 1 MiB chunk is on the wire when the server is told to stop.
    let chunk = pattern(1, LEN);
    let mut frame = BytesMut::new();
    protocol::codec::ClientCodec::default()
        .encode(
            RequestFrame {
                client_id: users[0].0,
                request: Request::V3(v3::Request::UploadChunk(v3::UploadChunk {
                    upload_id: up.upload_id,
                    offset: 0,
                    data: Bytes::from(chunk),
                })),
            }
            .into(),
            &mut frame,
        )
        .unwrap();
    let half = frame.len() / 2;
    let socket = alice.conn.get_mut();
    socket.write_all(&frame[..half]).await.unwrap();
    server.send_sigterm().unwrap();
    logged(&mut server, "shutting down").await;
    socket.write_all(&frame[half..]).await.unwrap();

    // The request is answered, then the connection is told and closed.
    match alice.answer().await.unwrap() {
        v3::Response::ChunkStored(c) => assert_eq!(c.next_offset, LEN as u64),
        other => panic!("the chunk in progress got {other:?}"),
    }
    alice.expect_closed().await.unwrap();
    assert_eq!(
        alice.closing.as_ref().map(|e| e.reason),
        Some(ErrorReason::ShuttingDown)
    );
    let status = bounded("the server to exit", server.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status after SIGTERM: {status}");

    // What it answered is there after a restart.
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    let mut alice = login(server.addr, &users[0]).await;
    assert_eq!(resume(&mut alice, up.upload_id).await.offset, LEN as u64);
    drop(alice);
    server.terminate_cleanly().await.unwrap();
}

/// Content of sender `worker`'s `n`th message: says who sent it, so that a
/// delivered message can be checked whole.
fn content_of(worker: u64, n: u64) -> Vec<u8> {
    let mut content = format!("{worker}:{n}:").into_bytes();
    content.extend(pattern(worker << 32 | n, 20 + (n as usize % 300)));
    content
}

/// Senders pipeline version-3 sends into the real binary while it is killed
/// with SIGKILL: after a restart every answered message is delivered with
/// its bytes, and every delivered message is whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loses_no_answered_version_3_message() {
    const WORKERS: u64 = 4;
    const BATCH: u64 = 16;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    let names: Vec<String> = (0..=WORKERS).map(|i| format!("user{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut users = register(server.addr, &names).await;
    let bob = users.remove(0);
    let (answered_tx, answered_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut senders = Vec::new();
    for (worker, user) in users.into_iter().enumerate() {
        let worker = worker as u64;
        let answered = answered_tx.clone();
        let mut conn = login(server.addr, &user).await;
        let to = bob.0;
        senders.push(tokio::spawn(async move {
            let mut n = 0u64;
            loop {
                let mut batch = Vec::new();
                for _ in 0..BATCH {
                    let content = content_of(worker, n);
                    n += 1;
                    let send = v3::Request::SendMessage(v3::SendMessage {
                        destination: to,
                        kind: MessageKind::Text,
                        content: Bytes::from(content.clone()),
                    });
                    if conn.feed(send).await.is_err() {
                        return;
                    }
                    batch.push(content);
                }
                if futures::SinkExt::<protocol::codec::RequestPart>::flush(&mut conn.conn)
                    .await
                    .is_err()
                {
                    return;
                }
                for content in batch {
                    match conn.answer().await {
                        Ok(v3::Response::MessageStored(m)) => {
                            let _ = answered.send((m.message_id, content));
                        }
                        _ => return,
                    }
                }
            }
        }));
    }
    drop(answered_tx);
    let (answered, _) = server.kill9_after(500, answered_rx, senders).await.unwrap();
    let answered: HashMap<u64, Vec<u8>> = answered.into_iter().collect();

    let server = ServerProcess::start(&data, &[]).await.unwrap();
    let mut bob = login(server.addr, &bob).await;
    let mut delivered: HashMap<u64, Bytes> = HashMap::new();
    loop {
        let batch = bob.pull().await.unwrap();
        let ids: Vec<u64> = batch.messages.iter().map(|m| m.message_id).collect();
        if ids.is_empty() {
            break;
        }
        for m in batch.messages {
            assert!(
                delivered.insert(m.message_id, m.content).is_none(),
                "message {} delivered twice",
                m.message_id
            );
        }
        assert!(
            bob.ack(ids)
                .await
                .unwrap()
                .iter()
                .all(|s| *s == AckStatus::Removed)
        );
    }
    for (id, content) in &answered {
        let got = delivered
            .get(id)
            .unwrap_or_else(|| panic!("answered message {id} was lost in the crash"));
        assert_eq!(&got[..], &content[..], "message {id} changed");
    }
    // Committed but unanswered messages may be there too; each is whole.
    for (id, content) in &delivered {
        let text = String::from_utf8_lossy(content);
        let mut parts = text.splitn(3, ':');
        let worker: u64 = parts.next().unwrap().parse().unwrap();
        let n: u64 = parts.next().unwrap().parse().unwrap();
        assert_eq!(
            &content[..],
            &content_of(worker, n)[..],
            "message {id} is not whole"
        );
    }
    eprintln!(
        "version-3 crash: {} answered before SIGKILL, {} delivered after restart",
        answered.len(),
        delivered.len()
    );
}

/// `kill -9` with an upload half done and another finished: the finished
/// file downloads whole after the restart, and the unfinished one resumes
/// exactly at the offset the server called durable before the crash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_resumes_at_its_durable_offset_after_a_server_crash() {
    const SIZE: usize = 40 << 20;
    const HALF: usize = 30 << 20;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    let users = register(server.addr, &["alice", "bob"]).await;
    let bob = users[1].0;
    let mut conn = login(server.addr, &users[0]).await;

    let small = pattern(5, 300_000);
    let up = begin_upload(&mut conn, bob, small.len() as u64).await;
    let v3::Response::FileSent(small_sent) =
        upload_range(&mut conn, up.upload_id, &small, 0, small.len()).await
    else {
        panic!("the small file was not sent")
    };

    let big = pattern(64, SIZE);
    let up = begin_upload(&mut conn, bob, SIZE as u64).await;
    let half = upload_range(&mut conn, up.upload_id, &big, 0, HALF).await;
    assert!(matches!(half, v3::Response::ChunkStored(c) if c.next_offset == HALF as u64));
    // A resume from another connection makes what arrived durable and says
    // how much that is: everything answered.
    let mut other = login(server.addr, &users[0]).await;
    let durable = resume(&mut other, up.upload_id).await.offset;
    assert_eq!(durable, HALF as u64);

    // The server dies with the uploading connection still open.
    server.kill9().await.unwrap();
    drop((conn, other));
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    let mut conn = login(server.addr, &users[0]).await;
    let resumed = resume(&mut conn, up.upload_id).await;
    assert_eq!(
        resumed.offset, durable,
        "the offset called durable did not survive the crash"
    );
    let wrong = conn
        .call(v3::Request::UploadChunk(v3::UploadChunk {
            upload_id: up.upload_id,
            offset: 0,
            data: Bytes::from_static(b"x"),
        }))
        .await
        .unwrap();
    assert_eq!(reason_of(&wrong).unwrap(), ErrorReason::BadOffset);
    let big_sent = finish_upload(&mut conn, up.upload_id, &big, resumed.offset as usize).await;

    let mut b = login(server.addr, &users[1]).await;
    let batch = b.pull().await.unwrap();
    let ids: Vec<u64> = batch.messages.iter().map(|m| m.message_id).collect();
    assert_eq!(ids, vec![small_sent.message_id, big_sent.message_id]);
    let got = download_all(&mut b, small_sent.message_id, small.len() as u64).await;
    assert_eq!(Sha256::digest(&got), Sha256::digest(&small));
    let got = download_all(&mut b, big_sent.message_id, SIZE as u64).await;
    assert_eq!(Sha256::digest(&got), Sha256::digest(&big));
    drop((b, conn));
    server.terminate_cleanly().await.unwrap();
}
