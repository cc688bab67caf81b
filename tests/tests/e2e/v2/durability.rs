//! Version 2 under stress: restarts, concurrent senders and pullers, a crash
//! of the real binary, and a large file's memory use. Every answered message
//! is delivered exactly once.

use std::collections::HashMap;
use std::time::Instant;

use e2e::{RawConn, ServerProcess, bounded, connect, pattern, v2_call, v2_register};
use futures::{SinkExt, StreamExt};
use protocol::{ClientId, MessageKind, Name, PublicKey, v2};

use super::{legacy, pull, send, send_streamed, stored_id};

#[tokio::test]
async fn messages_survive_a_restart() {
    let mut server = legacy().await;
    let alice = v2_register(server.addr, "alice").await.unwrap();
    let bob = v2_register(server.addr, "bob").await.unwrap();
    stored_id(
        send(server.addr, alice, bob, MessageKind::Text, b"before")
            .await
            .unwrap(),
        bob,
    );
    stored_id(
        send(
            server.addr,
            alice,
            bob,
            MessageKind::File,
            &pattern(5, 90_000),
        )
        .await
        .unwrap(),
        bob,
    );
    server.restart().await.unwrap();
    let got = pull(server.addr, bob).await;
    assert_eq!(got.len(), 2);
    assert_eq!(&got[0].content[..], b"before");
    assert_eq!(got[1].content.to_vec(), pattern(5, 90_000));
    // Names persist too.
    assert_eq!(
        v2_call(
            server.addr,
            ClientId::NIL,
            v2::Request::Register(v2::Register {
                name: Name::new("alice").unwrap(),
                public_key: PublicKey([0; 160]),
            })
        )
        .await
        .unwrap(),
        v2::Response::Error
    );
}

/// 200 clients send 50 messages each, concurrently, one connection per
/// request; every message arrives exactly once with identical bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_deliver_exactly_once() {
    const CLIENTS: usize = 200;
    const PER_CLIENT: usize = 50;
    let server = legacy().await;
    let addr = server.addr;
    let mut ids = Vec::new();
    for i in 0..CLIENTS {
        ids.push(v2_register(addr, &format!("user{i}")).await.unwrap());
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, me) in ids.iter().copied().enumerate() {
        let ids = ids.clone();
        tasks.spawn(async move {
            let mut sent = Vec::new();
            for j in 0..PER_CLIENT {
                let to = ids[(i * 7 + j * 13 + 1) % CLIENTS];
                let content = format!("{i}:{j}:{}", "x".repeat((i + j) % 300)).into_bytes();
                let r = send(addr, me, to, MessageKind::Text, &content)
                    .await
                    .unwrap();
                stored_id(r, to);
                sent.push((to, me, content));
            }
            sent
        });
    }
    let mut expected: HashMap<(ClientId, ClientId, Vec<u8>), usize> = HashMap::new();
    while let Some(sent) = tasks.join_next().await {
        for (to, from, content) in sent.unwrap() {
            *expected.entry((to, from, content)).or_default() += 1;
        }
    }
    let elapsed = started.elapsed();
    let total = CLIENTS * PER_CLIENT;
    eprintln!(
        "v2 concurrency: {total} messages sent by {CLIENTS} clients in {elapsed:?} ({:.0} messages/s)",
        total as f64 / elapsed.as_secs_f64()
    );
    let mut received = 0;
    for me in &ids {
        for m in pull(addr, *me).await {
            let key = (*me, m.sender, m.content.to_vec());
            let n = expected.get_mut(&key).expect("a message nobody sent");
            assert!(*n > 0, "a message delivered twice");
            *n -= 1;
            received += 1;
        }
    }
    assert_eq!(received, total);
    for me in &ids {
        assert!(pull(addr, *me).await.is_empty());
    }
}

/// The real binary, killed with SIGKILL while clients are sending: after a
/// restart every answered message is delivered, and nothing half-written is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loses_no_answered_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &["--legacy-v2"]).await.unwrap();
    let alice = v2_register(server.addr, "alice").await.unwrap();
    let bob = v2_register(server.addr, "bob").await.unwrap();
    let addr = server.addr;
    let (answered_tx, answered_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut senders = Vec::new();
    for worker in 0..8u64 {
        let answered = answered_tx.clone();
        senders.push(tokio::spawn(async move {
            for n in 0..100_000u64 {
                let seed = worker * 1_000_000 + n;
                let (kind, content) = if n % 10 == 9 {
                    (
                        MessageKind::File,
                        pattern(seed, 100_000 + (n as usize % 7) * 1000),
                    )
                } else {
                    (MessageKind::Text, pattern(seed, 10 + (n as usize % 500)))
                };
                match send(addr, alice, bob, kind, &content).await {
                    Ok(v2::Response::MessageStored(m)) => {
                        let _ = answered.send((m.message_id, content));
                    }
                    _ => return,
                }
            }
        }));
    }
    drop(answered_tx);
    let (answered, _) = server.kill9_after(300, answered_rx, senders).await.unwrap();
    let answered: HashMap<u32, Vec<u8>> = answered.into_iter().collect();

    let server = ServerProcess::start(&data, &["--legacy-v2"]).await.unwrap();
    let delivered = pull(server.addr, bob).await;
    let by_id: HashMap<u32, &v2::PulledMessage> =
        delivered.iter().map(|m| (m.message_id, m)).collect();
    for (id, content) in &answered {
        let m = by_id
            .get(id)
            .unwrap_or_else(|| panic!("answered message {id} was lost in the crash"));
        assert_eq!(&m.content[..], &content[..], "message {id} changed");
    }
    // Messages committed but not answered may also be there; each must be
    // whole: its length is one the senders used.
    for m in &delivered {
        let ok = match m.kind {
            MessageKind::File => (100_000..=106_000).contains(&m.content.len()),
            _ => (10..510).contains(&m.content.len()),
        };
        assert!(
            ok,
            "message {} has a truncated body of {} bytes",
            m.message_id,
            m.content.len()
        );
    }
    eprintln!(
        "crash test: {} answered before SIGKILL, {} delivered after restart",
        answered.len(),
        delivered.len()
    );
}

/// A 256 MiB file through the real binary: the server's peak memory stays
/// far below the file's size (README: under 64 MiB). Part of the normal run:
/// the dependencies that move the bytes are optimised even in debug builds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_file_keeps_server_memory_flat() {
    const LEN: u32 = 256 << 20;
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &["--legacy-v2"])
        .await
        .unwrap();
    let alice = v2_register(server.addr, "alice").await.unwrap();
    let bob = v2_register(server.addr, "bob").await.unwrap();
    let started = Instant::now();
    let r = send_streamed(server.addr, alice, bob, MessageKind::File, LEN, 9)
        .await
        .unwrap();
    stored_id(r, bob);
    let up = started.elapsed();
    // Pull it back, hashing as it streams.
    use sha2::{Digest, Sha256};
    let mut conn: RawConn = connect(server.addr).await.unwrap();
    let started = Instant::now();
    conn.send(
        protocol::RequestFrame {
            client_id: bob,
            request: protocol::Request::V2(v2::Request::Pull),
        }
        .into(),
    )
    .await
    .unwrap();
    let mut hash = Sha256::new();
    let mut total = 0usize;
    loop {
        match bounded("pull", conn.next()).await.unwrap() {
            Some(Ok(protocol::codec::ResponseItem::PulledChunk { data, .. })) => {
                total += data.len();
                hash.update(&data);
            }
            Some(Ok(protocol::codec::ResponseItem::PullEnd)) | None => break,
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("{e}"),
        }
    }
    let down = started.elapsed();
    let mut expected = Sha256::new();
    let piece = 1 << 20;
    let mut off = 0usize;
    while off < LEN as usize {
        let n = piece.min(LEN as usize - off);
        expected.update(pattern(9 + off as u64, n));
        off += n;
    }
    assert_eq!(total, LEN as usize);
    assert_eq!(hash.finalize(), expected.finalize());
    let rss = server.peak_rss().unwrap();
    eprintln!(
        "256 MiB file: upload {up:?}, download {down:?}, server peak RSS {} MiB",
        rss >> 20
    );
    assert!(rss < 64 << 20, "server peak RSS {} MiB", rss >> 20);
}

/// Regression: a pull read its index before claiming the messages, so a
/// concurrent pull could deliver and delete them in between and the first
/// answer broke off after its header. Many pulls at once for one recipient
/// must hand over every message exactly once, each answer whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pulls_hand_over_each_message_once() {
    let server = legacy().await;
    let addr = server.addr;
    let alice = v2_register(addr, "alice").await.unwrap();
    let bob = v2_register(addr, "bob").await.unwrap();
    for round in 0..15u32 {
        let mut sent = std::collections::HashSet::new();
        for i in 0..20u32 {
            let content = format!("{round}:{i}").into_bytes();
            stored_id(
                send(addr, alice, bob, MessageKind::Text, &content)
                    .await
                    .unwrap(),
                bob,
            );
            sent.insert(content);
        }
        let mut pulls = tokio::task::JoinSet::new();
        for _ in 0..8 {
            pulls.spawn(async move { v2_call(addr, bob, v2::Request::Pull).await });
        }
        let mut got = Vec::new();
        while let Some(answer) = pulls.join_next().await {
            match answer.unwrap() {
                Ok(v2::Response::Messages(m)) => {
                    got.extend(m.into_iter().map(|m| m.content.to_vec()))
                }
                other => panic!("round {round}: a pull ended with {other:?}"),
            }
        }
        got.extend(
            pull(addr, bob)
                .await
                .into_iter()
                .map(|m| m.content.to_vec()),
        );
        assert_eq!(got.len(), sent.len(), "round {round}: duplicates or losses");
        assert_eq!(
            got.into_iter().collect::<std::collections::HashSet<_>>(),
            sent
        );
    }
}
