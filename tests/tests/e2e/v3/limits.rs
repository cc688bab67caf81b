//! Version-3 limits and quotas: oversize frames, each quota's reason, request
//! rate, connections per address, upload expiry, idle and stall timeouts,
//! shutdown notices, and switching protocol version on one connection.

use std::time::Duration;

use bytes::Bytes;
use e2e::{TestIdentity, TestServer, V3Conn, bounded, reason_of};
use protocol::{ClientId, ErrorReason, MessageKind, v3};

use super::files::begin_upload;
use super::{refused, server};

#[tokio::test]
async fn oversize_frame_is_refused_and_others_keep_working() {
    let server = server().await;
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let (mut bob, _) = V3Conn::new_user(server.addr, "bob").await.unwrap();
    // A send claiming 1 MiB of content: refused from the header alone.
    use tokio::io::AsyncWriteExt;
    let mut raw = bytes::BytesMut::new();
    protocol::RequestHeader {
        client_id: alice.client_id,
        version: 3,
        code: 103,
        payload_len: 1 << 20,
    }
    .write(&mut raw);
    alice.conn.get_mut().write_all(&raw).await.unwrap();
    let answer = alice.next_frame().await.unwrap().unwrap();
    assert_eq!(reason_of(&answer).unwrap(), ErrorReason::FrameTooLarge);
    alice.expect_closed().await.unwrap();
    assert_eq!(
        bob.call(v3::Request::Ping(1)).await.unwrap(),
        v3::Response::Pong(1)
    );
}

#[tokio::test]
async fn each_quota_refuses_with_its_reason() {
    let server = TestServer::start(|c| {
        c.max_message_len = 100;
        c.inbox_max_messages = 3;
        c.inbox_max_bytes = 250;
        c.max_storage_bytes = 400;
        c.max_uploads_per_client = 2;
    })
    .await
    .unwrap();
    let addr = server.addr;
    let (mut alice, _) = V3Conn::new_user(addr, "alice").await.unwrap();
    let (bob, _) = V3Conn::new_user(addr, "bob").await.unwrap();
    let (carol, _) = V3Conn::new_user(addr, "carol").await.unwrap();
    let send = |to: ClientId, n: usize| {
        v3::Request::SendMessage(v3::SendMessage {
            destination: to,
            kind: MessageKind::Text,
            content: Bytes::from(vec![1u8; n]),
        })
    };
    assert_eq!(
        refused(&mut alice, send(bob.client_id, 101)).await,
        ErrorReason::MessageTooLarge
    );
    // Bob's inbox: three messages at most.
    for _ in 0..3 {
        alice.send_text(bob.client_id, b"m").await.unwrap();
    }
    assert_eq!(
        refused(&mut alice, send(bob.client_id, 1)).await,
        ErrorReason::InboxFull
    );
    // Carol's inbox: 250 bytes at most.
    assert!(matches!(
        alice.call(send(carol.client_id, 100)).await.unwrap(),
        v3::Response::MessageStored(_)
    ));
    assert!(matches!(
        alice.call(send(carol.client_id, 100)).await.unwrap(),
        v3::Response::MessageStored(_)
    ));
    assert_eq!(
        refused(&mut alice, send(carol.client_id, 100)).await,
        ErrorReason::InboxBytesFull
    );
    // The server: 400 bytes in all (3 + 200 stored so far).
    let (dave, _) = V3Conn::new_user(addr, "dave").await.unwrap();
    assert!(matches!(
        alice.call(send(dave.client_id, 100)).await.unwrap(),
        v3::Response::MessageStored(_)
    ));
    assert_eq!(
        refused(&mut alice, send(dave.client_id, 100)).await,
        ErrorReason::StorageFull
    );
    // Uploads per client.
    let (erin, _) = V3Conn::new_user(addr, "erin").await.unwrap();
    let (mut frank, _) = V3Conn::new_user(addr, "frank").await.unwrap();
    let begin = |to| {
        v3::Request::UploadBegin(v3::UploadBegin {
            destination: to,
            file_size: 1,
            meta: Bytes::new(),
        })
    };
    for _ in 0..2 {
        assert!(matches!(
            frank.call(begin(erin.client_id)).await.unwrap(),
            v3::Response::UploadStatus(_)
        ));
    }
    assert_eq!(
        refused(&mut frank, begin(erin.client_id)).await,
        ErrorReason::TooManyUploads
    );
    // Throughout, others keep working.
    let mut bob = bob;
    assert_eq!(bob.pull().await.unwrap().messages.len(), 3);
}

#[tokio::test]
async fn requests_per_second_are_limited() {
    let server = TestServer::start(|c| c.requests_per_second = 20)
        .await
        .unwrap();
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let (mut bob, _) = V3Conn::new_user(server.addr, "bob").await.unwrap();
    for i in 0..60 {
        alice.feed(v3::Request::Ping(i)).await.unwrap();
    }
    futures::SinkExt::<protocol::codec::RequestPart>::flush(&mut alice.conn)
        .await
        .unwrap();
    let mut limited = 0;
    for _ in 0..60 {
        if let v3::Response::Error(e) = alice.answer().await.unwrap() {
            assert_eq!(e.reason, ErrorReason::RateLimited);
            limited += 1;
        }
    }
    assert!(
        limited >= 30,
        "only {limited} of 60 rapid requests were limited"
    );
    assert_eq!(
        bob.call(v3::Request::Ping(1)).await.unwrap(),
        v3::Response::Pong(1)
    );
}

#[tokio::test]
async fn connections_per_address_are_limited() {
    let server = TestServer::start(|c| c.max_connections_per_ip = 3)
        .await
        .unwrap();
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut c = V3Conn::open(server.addr).await.unwrap();
        assert_eq!(
            c.call(v3::Request::Ping(1)).await.unwrap(),
            v3::Response::Pong(1)
        );
        open.push(c);
    }
    let mut fourth = V3Conn::open(server.addr).await.unwrap();
    let answer = fourth.call(v3::Request::Ping(1)).await.unwrap();
    assert_eq!(reason_of(&answer).unwrap(), ErrorReason::TooManyConnections);
    // When one closes, a new one gets in. Close it and wait for the server
    // to close its end; the slot is released as that connection's task
    // ends, just after, so a refused attempt right then is tried again.
    let mut closed = open.pop().unwrap();
    futures::SinkExt::<protocol::codec::RequestPart>::close(&mut closed.conn)
        .await
        .unwrap();
    closed.expect_closed().await.unwrap();
    bounded("a slot to free up", async {
        for _ in 0..1000 {
            let mut c = V3Conn::open(server.addr).await.unwrap();
            if c.call(v3::Request::Ping(2)).await.unwrap() == v3::Response::Pong(2) {
                return;
            }
            c.expect_closed().await.unwrap();
        }
        panic!("no slot freed up after a connection closed");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn unfinished_uploads_expire() {
    let mut server = TestServer::start(|c| c.upload_max_age = Duration::from_millis(1))
        .await
        .unwrap();
    let alice_keys = TestIdentity::generate();
    let mut conn = V3Conn::open(server.addr).await.unwrap();
    let alice = conn.register("alice", &alice_keys).await.unwrap();
    let bob = conn
        .register("bob", &TestIdentity::generate())
        .await
        .unwrap();
    conn.authenticate(alice, &alice_keys).await.unwrap();
    let up = begin_upload(&mut conn, bob, 100).await;
    let begun_ms = server::now_ms();
    drop(conn);
    // Ages are wall-clock milliseconds: wait until this upload is older
    // than the maximum age.
    bounded("the clock to pass the maximum age", async {
        while server::now_ms() <= begun_ms + 1 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    // Expiry runs at startup and then periodically.
    server.restart().await.unwrap();
    let mut conn = V3Conn::open(server.addr).await.unwrap();
    conn.authenticate(alice, &alice_keys).await.unwrap();
    bounded("the upload to expire", async {
        loop {
            let r = conn
                .call(v3::Request::UploadResume(up.upload_id))
                .await
                .unwrap();
            if reason_of(&r).ok() == Some(ErrorReason::UnknownUpload) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn idle_connections_are_told_and_closed() {
    // Shorter than the harness' bound on a wait, so that it fires first.
    const IDLE: Duration = Duration::from_secs(10);
    let server = TestServer::start(|c| c.idle_timeout = IDLE).await.unwrap();
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    // From here nothing waits on a thread outside this runtime, so its
    // clock can jump straight to the idle timeout.
    tokio::time::pause();
    alice.expect_closed().await.unwrap();
    assert_eq!(
        alice.closing.map(|e| e.reason),
        Some(ErrorReason::IdleTimeout)
    );
}

#[tokio::test]
async fn a_stalled_frame_is_cut_off_even_while_pushes_keep_coming() {
    use tokio::io::AsyncWriteExt;
    const STALL: Duration = Duration::from_secs(2);
    let server = TestServer::start(|c| {
        c.stall_timeout = STALL;
        c.push_window = 1000;
    })
    .await
    .unwrap();
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let (mut bob, _) = V3Conn::new_user(server.addr, "bob").await.unwrap();
    assert!(matches!(
        bob.call(v3::Request::Subscribe).await.unwrap(),
        v3::Response::Subscribed { .. }
    ));
    // Half a header from Bob, and never the rest.
    let mut raw = bytes::BytesMut::new();
    protocol::RequestHeader {
        client_id: bob.client_id,
        version: 3,
        code: 103,
        payload_len: 100,
    }
    .write(&mut raw);
    bob.conn
        .get_mut()
        .write_all(&raw[..raw.len() / 2])
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    // Alice writes to Bob five times a second for ten seconds: each push is
    // an event of Bob's session, but no progress of his frame.
    let to = bob.client_id;
    let sending = tokio::spawn(async move {
        for i in 0u32..50 {
            alice.send_text(to, &i.to_le_bytes()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut pushed = 0;
    loop {
        match bob.next_frame().await {
            Ok(Some(v3::Response::Delivery(_))) => pushed += 1,
            Ok(Some(v3::Response::Closing(e))) => bob.closing = Some(e),
            Ok(Some(other)) => panic!("unexpected {other:?}"),
            Ok(None) | Err(_) => break,
        }
    }
    let waited = started.elapsed();
    sending.abort();
    assert_eq!(
        bob.closing.map(|e| e.reason),
        Some(ErrorReason::IdleTimeout)
    );
    assert!(pushed > 0, "no pushes arrived meanwhile");
    // The stall timeout and one check period (a second) late, with room for
    // a loaded machine, and long before the pushes stop.
    assert!(
        (STALL..STALL + Duration::from_secs(4)).contains(&waited),
        "closed after {waited:?}"
    );
}

#[tokio::test]
async fn switching_version_closes() {
    let server = TestServer::start(|c| c.legacy_v2 = true).await.unwrap();
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let frame = protocol::RequestFrame {
        client_id: alice.client_id,
        request: protocol::Request::V2(protocol::v2::Request::Pull),
    };
    futures::SinkExt::send(&mut alice.conn, frame.into())
        .await
        .unwrap();
    let answer = alice.next_frame().await.unwrap().unwrap();
    assert_eq!(reason_of(&answer).unwrap(), ErrorReason::VersionSwitch);
    alice.expect_closed().await.unwrap();
}

#[tokio::test]
async fn shutdown_tells_connected_clients() {
    let mut server = server().await;
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    server.stop().await.unwrap();
    alice.expect_closed().await.unwrap();
    assert_eq!(
        alice.closing.map(|e| e.reason),
        Some(ErrorReason::ShuttingDown)
    );
}
