//! Version 2 end to end: the reference scenario, every refusal, restart,
//! concurrency, a crash of the real binary, and a large file's memory use.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use e2e::{
    RawConn, ServerProcess, TestServer, bounded, connect, pattern, read_response, v2_call,
    v2_register,
};
use futures::{SinkExt, StreamExt};
use protocol::codec::{Body, V2SendStart};
use protocol::v2::{self, SendHeader};
use protocol::{ClientId, MessageKind, Name, PublicKey, RequestHeader, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn legacy() -> TestServer {
    TestServer::start(|c| c.legacy_v2 = true).await.unwrap()
}

async fn send(
    addr: std::net::SocketAddr,
    from: ClientId,
    to: ClientId,
    kind: MessageKind,
    content: &[u8],
) -> anyhow::Result<v2::Response> {
    v2_call(
        addr,
        from,
        v2::Request::SendMessage(v2::SendMessage {
            destination: to,
            kind,
            content: Bytes::copy_from_slice(content),
        }),
    )
    .await
}

async fn pull(addr: std::net::SocketAddr, me: ClientId) -> Vec<v2::PulledMessage> {
    match v2_call(addr, me, v2::Request::Pull).await.unwrap() {
        v2::Response::Messages(m) => m,
        other => panic!("pull: {other:?}"),
    }
}

fn stored_id(r: v2::Response, to: ClientId) -> u32 {
    match r {
        v2::Response::MessageStored(m) => {
            assert_eq!(m.destination, to);
            m.message_id
        }
        other => panic!("send: {other:?}"),
    }
}

/// Streams a large version-2 send from a generator, never holding it whole.
async fn send_streamed(
    addr: std::net::SocketAddr,
    from: ClientId,
    to: ClientId,
    kind: MessageKind,
    len: u32,
    seed: u64,
) -> anyhow::Result<v2::Response> {
    let mut conn = connect(addr).await?;
    conn.feed(
        V2SendStart {
            client_id: from,
            header: SendHeader {
                destination: to,
                kind,
                content_len: len,
            },
        }
        .into(),
    )
    .await?;
    let mut sent = 0usize;
    let piece = 1 << 20;
    while sent < len as usize {
        let n = piece.min(len as usize - sent);
        let data = pattern(seed + sent as u64, n);
        bounded("send a piece", conn.send(Body(Bytes::from(data)).into())).await??;
        sent += n;
    }
    match bounded("a response", read_response(&mut conn)).await?? {
        Some(Response::V2(r)) => Ok(r),
        other => anyhow::bail!("after a streamed send: {other:?}"),
    }
}

fn expected_stream(seed: u64, len: usize) -> Vec<u8> {
    let piece = 1 << 20;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let n = piece.min(len - out.len());
        out.extend(pattern(seed + out.len() as u64, n));
    }
    out
}

#[tokio::test]
async fn reference_scenario() {
    let mut server = legacy().await;
    reference_flow(server.addr).await;
    server.stop().await.unwrap();
    let files = std::fs::read_dir(server.config.files_dir())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "blob")
        })
        .count();
    assert_eq!(files, 0, "delivered files are deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_scenario_against_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &["--legacy-v2"])
        .await
        .unwrap();
    reference_flow(server.addr).await;
}

/// The reference client's whole scenario: register two users, list, fetch a
/// key, request a key, send a key, texts (one of 5,000 bytes), a small and a
/// streamed file, pull, pull again empty.
async fn reference_flow(addr: std::net::SocketAddr) {
    let alice = v2_register(addr, "alice").await.unwrap();
    let bob = v2_register(addr, "bob").await.unwrap();
    assert_ne!(alice, bob);

    // List: everyone but the requester.
    match v2_call(addr, alice, v2::Request::ListClients)
        .await
        .unwrap()
    {
        v2::Response::ClientList(list) => {
            assert_eq!(list.len(), 1);
            assert_eq!(list[0].id, bob);
            assert_eq!(list[0].name.as_str(), "bob");
        }
        other => panic!("{other:?}"),
    }
    // Public key.
    match v2_call(addr, alice, v2::Request::GetPublicKey(bob))
        .await
        .unwrap()
    {
        v2::Response::PublicKey(k) => {
            assert_eq!(k.client_id, bob);
            assert_eq!(k.public_key, PublicKey([3; 160]));
        }
        other => panic!("{other:?}"),
    }
    // Request a key, send a key, texts, a small and a large file.
    let long_text = pattern(1, 5000);
    let small_file = pattern(2, 40_000);
    let plan: Vec<(ClientId, ClientId, MessageKind, Vec<u8>)> = vec![
        (alice, bob, MessageKind::SymmetricKeyRequest, vec![]),
        (bob, alice, MessageKind::SymmetricKey, pattern(3, 128)),
        (alice, bob, MessageKind::Text, b"hello bob".to_vec()),
        (alice, bob, MessageKind::Text, long_text.clone()),
        (bob, alice, MessageKind::Text, b"hi alice".to_vec()),
        (alice, bob, MessageKind::File, small_file.clone()),
    ];
    let mut ids = Vec::new();
    for (from, to, kind, content) in &plan {
        ids.push(stored_id(
            send(addr, *from, *to, *kind, content).await.unwrap(),
            *to,
        ));
    }
    let big_len = 3_000_000;
    let big = send_streamed(addr, alice, bob, MessageKind::File, big_len, 77)
        .await
        .unwrap();
    ids.push(stored_id(big, bob));
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "message ids grow: {ids:?}"
    );

    let for_bob = pull(addr, bob).await;
    let expected_bob: Vec<(ClientId, MessageKind, Vec<u8>)> = plan
        .iter()
        .filter(|p| p.1 == bob)
        .map(|p| (p.0, p.2, p.3.clone()))
        .chain([(
            alice,
            MessageKind::File,
            expected_stream(77, big_len as usize),
        )])
        .collect();
    let got: Vec<_> = for_bob
        .iter()
        .map(|m| (m.sender, m.kind, m.content.to_vec()))
        .collect();
    assert_eq!(got.len(), expected_bob.len());
    assert!(got == expected_bob, "bob's messages differ");
    let for_alice = pull(addr, alice).await;
    assert_eq!(for_alice.len(), 2);
    assert_eq!(&for_alice[1].content[..], b"hi alice");
    // Pulled messages are gone; their files too.
    assert!(pull(addr, bob).await.is_empty());
    assert!(pull(addr, alice).await.is_empty());
}

#[tokio::test]
async fn version_2_is_refused_unless_enabled() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let r = v2_call(
        server.addr,
        ClientId::NIL,
        v2::Request::Register(v2::Register {
            name: Name::new("alice").unwrap(),
            public_key: PublicKey([1; 160]),
        }),
    )
    .await
    .unwrap();
    assert_eq!(r, v2::Response::Error);
}

#[tokio::test]
async fn refusals_are_bare_9000() {
    let server = legacy().await;
    let addr = server.addr;
    let alice = v2_register(addr, "alice").await.unwrap();
    // Duplicate name, also with other case.
    for name in ["alice", "ALICE"] {
        let r = v2_call(
            addr,
            ClientId::NIL,
            v2::Request::Register(v2::Register {
                name: Name::new(name).unwrap(),
                public_key: PublicKey([1; 160]),
            }),
        )
        .await
        .unwrap();
        assert_eq!(r, v2::Response::Error, "duplicate {name}");
    }
    // Unknown recipient, unknown sender, unknown key.
    let nobody = ClientId([9; 16]);
    assert_eq!(
        send(addr, alice, nobody, MessageKind::Text, b"x")
            .await
            .unwrap(),
        v2::Response::Error
    );
    assert_eq!(
        send(addr, nobody, alice, MessageKind::Text, b"x")
            .await
            .unwrap(),
        v2::Response::Error
    );
    assert_eq!(
        v2_call(addr, alice, v2::Request::GetPublicKey(nobody))
            .await
            .unwrap(),
        v2::Response::Error
    );
    assert_eq!(
        v2_call(addr, nobody, v2::Request::Pull).await.unwrap(),
        v2::Response::Error
    );
    assert_eq!(
        v2_call(addr, nobody, v2::Request::ListClients)
            .await
            .unwrap(),
        v2::Response::Error
    );
    // Streamed send to nobody.
    assert_eq!(
        send_streamed(addr, alice, nobody, MessageKind::File, 200_000, 1)
            .await
            .unwrap(),
        v2::Response::Error
    );
    assert!(pull(addr, alice).await.is_empty());
}

/// Writes raw bytes and returns what the server answers before closing.
async fn raw_exchange(addr: std::net::SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut answer = Vec::new();
    bounded(
        "server to answer and close",
        stream.read_to_end(&mut answer),
    )
    .await
    .unwrap()
    .unwrap();
    answer
}

fn header(id: ClientId, version: u8, code: u8, len: u32) -> Vec<u8> {
    let mut b = BytesMut::new();
    RequestHeader {
        client_id: id,
        version,
        code,
        payload_len: len,
    }
    .write(&mut b);
    b.to_vec()
}

const BARE_9000_V2: [u8; 7] = [2, 0x28, 0x23, 0, 0, 0, 0];

#[tokio::test]
async fn malformed_frames_get_9000_and_the_server_serves_others() {
    let server = legacy().await;
    let addr = server.addr;
    let alice = v2_register(addr, "alice").await.unwrap();

    // Register with a payload of the wrong size (too short, then too long).
    let mut short = header(ClientId::NIL, 2, 100, 10);
    short.extend([0u8; 10]);
    assert_eq!(raw_exchange(addr, &short).await, BARE_9000_V2);
    assert_eq!(
        raw_exchange(addr, &header(ClientId::NIL, 2, 100, 100_000)).await,
        BARE_9000_V2
    );
    // A name with no terminator, and one that is not UTF-8.
    let mut bad_name = header(ClientId::NIL, 2, 100, 415);
    bad_name.extend([b'a'; 255]);
    bad_name.extend([0u8; 160]);
    assert_eq!(raw_exchange(addr, &bad_name).await, BARE_9000_V2);
    let mut not_utf8 = header(ClientId::NIL, 2, 100, 415);
    not_utf8.extend([0xff, 0xfe]);
    not_utf8.extend([0u8; 413]);
    assert_eq!(raw_exchange(addr, &not_utf8).await, BARE_9000_V2);
    // An unknown code, a bad message type, a content size that lies.
    assert_eq!(
        raw_exchange(addr, &header(alice, 2, 150, 0)).await,
        BARE_9000_V2
    );
    let mut bad_type = header(alice, 2, 103, 22);
    bad_type.extend(alice.0);
    bad_type.extend([9, 1, 0, 0, 0, b'x']);
    assert_eq!(raw_exchange(addr, &bad_type).await, BARE_9000_V2);
    let mut lying = header(alice, 2, 103, 22);
    lying.extend(alice.0);
    lying.extend([3, 7, 0, 0, 0, b'x']);
    assert_eq!(raw_exchange(addr, &lying).await, BARE_9000_V2);
    // An unknown version is answered in version-3 framing.
    let answer = raw_exchange(addr, &header(alice, 7, 100, 0)).await;
    assert_eq!(&answer[..3], &[3, 0x28, 0x23]);
    // Garbage.
    let garbage: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37)).collect();
    let answer = raw_exchange(addr, &garbage).await;
    assert!(!answer.is_empty());
    // A send over the configured limit is refused before its payload.
    let small = TestServer::start(|c| {
        c.legacy_v2 = true;
        c.v2_max_content = 1000;
    })
    .await
    .unwrap();
    let bob = v2_register(small.addr, "bob").await.unwrap();
    let mut big = header(bob, 2, 103, 21 + 5000);
    big.extend(bob.0);
    big.extend([3, 0x88, 0x13, 0, 0]);
    assert_eq!(raw_exchange(small.addr, &big).await, BARE_9000_V2);

    // Through all of that the server kept serving.
    let bob = v2_register(addr, "bob").await.unwrap();
    stored_id(
        send(addr, alice, bob, MessageKind::Text, b"still here")
            .await
            .unwrap(),
        bob,
    );
    assert_eq!(pull(addr, bob).await.len(), 1);
}

#[tokio::test]
async fn stalled_and_truncated_frames_are_dropped() {
    // Shorter than the harness' bound on a wait, so that it fires first.
    const STALL: Duration = Duration::from_secs(10);
    let server = TestServer::start(|c| {
        c.legacy_v2 = true;
        c.stall_timeout = STALL;
    })
    .await
    .unwrap();
    let addr = server.addr;
    // Half a header, then silence: dropped after the stall timeout. Nothing
    // waits on a thread outside this runtime meanwhile, so its clock can
    // jump ahead instead of the test waiting.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(&header(ClientId::NIL, 2, 100, 415)[..10])
        .await
        .unwrap();
    tokio::time::pause();
    let started = tokio::time::Instant::now();
    let mut rest = Vec::new();
    bounded(
        "stalled connection to be dropped",
        stream.read_to_end(&mut rest),
    )
    .await
    .unwrap()
    .unwrap();
    // Not before the stall timeout; within two of them (the check's period),
    // give or take the timer's millisecond.
    let waited = started.elapsed();
    assert!(
        (STALL..3 * STALL).contains(&waited),
        "dropped after {waited:?}"
    );
    tokio::time::resume();
    // A header, part of the payload, then the client hangs up.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut partial = header(ClientId::NIL, 2, 100, 415);
    partial.extend([b'z'; 100]);
    stream.write_all(&partial).await.unwrap();
    drop(stream);
    // The server is fine.
    v2_register(addr, "carol").await.unwrap();
}

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
    let (answered_tx, mut answered_rx) = tokio::sync::mpsc::unbounded_channel();
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
    // Kill it in the middle of the traffic: once 300 sends were answered.
    let mut answered = HashMap::new();
    bounded("sends to be answered", async {
        while answered.len() < 300 {
            let (id, content) = answered_rx.recv().await.expect("senders stopped early");
            answered.insert(id, content);
        }
    })
    .await
    .unwrap();
    server.kill9().await.unwrap();
    for s in senders {
        let _ = bounded("senders to stop", s).await;
    }
    while let Some((id, content)) = answered_rx.recv().await {
        answered.insert(id, content);
    }

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
