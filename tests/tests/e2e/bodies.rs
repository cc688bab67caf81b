//! File bodies in PostgreSQL (a node on `--database` without
//! `--files-dir`): chunk rows that go when the message is acknowledged, and
//! an upload that survives a kill -9 of the server at the offset its last
//! commit recorded, byte for byte.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use e2e::{Engine, Postgres, ServerProcess, TestServer, V3Conn, body_rows, bounded, pattern};
use protocol::{MessageKind, v3};
use sha2::{Digest, Sha256};

use crate::v3::{begin_upload, download_all, finish_upload, resume_upload};

const ALL_ROWS: &str = "SELECT count(*) FROM body_chunks";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_in_postgres_is_stored_as_rows_and_its_rows_go_when_the_message_is_acknowledged() {
    const SIZE: usize = (3 << 20) + 12345;
    let server = TestServer::start_on(Engine::Postgres, |_| {})
        .await
        .unwrap();
    assert!(server.config.bodies_in_database());
    let url = server.config.database.clone().unwrap();
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let (mut bob, _) = V3Conn::new_user(server.addr, "bob").await.unwrap();
    let data = pattern(7, SIZE);
    let status = begin_upload(&mut alice, bob.client_id, SIZE as u64).await;
    let sent = finish_upload(&mut alice, status.upload_id, &data, 0).await;
    // Four 1 MiB chunks, four rows; nothing in the data folder.
    assert_eq!(body_rows(&url, ALL_ROWS).await.unwrap(), 4);
    assert_eq!(server.bodies().await.unwrap(), 1);
    assert!(!server.config.files_dir().exists());

    let offer = bob.pull().await.unwrap().messages[0].clone();
    assert_eq!(offer.kind, MessageKind::File);
    let got = download_all(&mut bob, sent.message_id, SIZE as u64).await;
    assert_eq!(Sha256::digest(&got), Sha256::digest(&data));
    // A range across a row boundary.
    let range = bob
        .call(v3::Request::Download(v3::Download {
            message_id: sent.message_id,
            offset: (1 << 20) - 10,
            max_len: 20,
        }))
        .await
        .unwrap();
    let v3::Response::FileChunk(chunk) = range else {
        panic!("range: {range:?}")
    };
    assert_eq!(&chunk.data[..], &data[(1 << 20) - 10..(1 << 20) + 10]);

    assert_eq!(
        bob.ack(vec![sent.message_id]).await.unwrap(),
        vec![v3::AckStatus::Removed]
    );
    bounded("the rows to be deleted", async {
        while body_rows(&url, ALL_ROWS).await.unwrap() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_mid_upload_resumes_from_the_committed_offset_with_the_bytes_intact() {
    const SIZE: usize = 10 << 20;
    const SENT: usize = 8;
    const ANSWERED: usize = 4;
    let pg = Arc::new(
        tokio::task::spawn_blocking(Postgres::start)
            .await
            .unwrap()
            .unwrap(),
    );
    let url = pg.url();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let args = ["--database", url.as_str()];
    let mut server = ServerProcess::start(&data_dir, &args).await.unwrap();
    let (mut alice, alice_keys) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let (bob, bob_keys) = V3Conn::new_user(server.addr, "bob").await.unwrap();
    let data = pattern(9, SIZE);
    let status = begin_upload(&mut alice, bob.client_id, SIZE as u64).await;
    for k in 0..SENT {
        let offset = k << 20;
        alice
            .feed(v3::Request::UploadChunk(v3::UploadChunk {
                upload_id: status.upload_id,
                offset: offset as u64,
                data: Bytes::copy_from_slice(&data[offset..offset + (1 << 20)]),
            }))
            .await
            .unwrap();
    }
    futures::SinkExt::<protocol::codec::RequestPart>::flush(&mut alice.conn)
        .await
        .unwrap();
    for _ in 0..ANSWERED {
        let answer = alice.answer().await.unwrap();
        assert!(matches!(answer, v3::Response::ChunkStored(_)), "{answer:?}");
    }
    // Killed while the later chunks may still be on their way in.
    server.kill9().await.unwrap();
    let alice_id = alice.client_id;
    drop(alice);
    let rows_after_kill = body_rows(&url, ALL_ROWS).await.unwrap();

    let server = ServerProcess::start(&data_dir, &args).await.unwrap();
    let mut alice = V3Conn::open(server.addr).await.unwrap();
    alice.authenticate(alice_id, &alice_keys).await.unwrap();
    let resumed = resume_upload(&mut alice, status.upload_id).await;
    // Every answered chunk was committed; the offset is a whole number of
    // committed chunks, exactly the rows that survived.
    assert!(
        (ANSWERED << 20..=SENT << 20).contains(&(resumed.offset as usize)),
        "{}",
        resumed.offset
    );
    assert_eq!(resumed.offset % (1 << 20), 0);
    assert_eq!(rows_after_kill as u64, resumed.offset >> 20);
    let sent = finish_upload(&mut alice, status.upload_id, &data, resumed.offset as usize).await;
    let mut bob = bob.again(server.addr, &bob_keys).await.unwrap();
    let got = download_all(&mut bob, sent.message_id, SIZE as u64).await;
    assert_eq!(Sha256::digest(&got), Sha256::digest(&data));
}
