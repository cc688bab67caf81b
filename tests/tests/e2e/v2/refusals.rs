//! Version 2's refusals: every bad request gets the bare 9000 answer, and
//! malformed, stalled or truncated frames never stop the server serving others.

use std::time::Duration;

use bytes::BytesMut;
use e2e::{TestServer, bounded, v2_call, v2_register};
use protocol::{ClientId, MessageKind, Name, PublicKey, RequestHeader, v2};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{legacy, pull, send, send_streamed, stored_id};

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
