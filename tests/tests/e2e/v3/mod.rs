//! Version 3 end to end over raw frames: the handshake, acknowledged
//! delivery, push, resumable files, and every limit.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bytes::Bytes;
use e2e::{TestIdentity, TestServer, V3Conn, bounded, pattern, reason_of};
use protocol::v3::{self, AckStatus};
use protocol::{ClientId, ErrorReason, MessageKind, Name, PublicKey};
use sha2::{Digest, Sha256};

async fn server() -> TestServer {
    TestServer::start(|_| {}).await.unwrap()
}

async fn refused(conn: &mut V3Conn, request: v3::Request) -> ErrorReason {
    let response = conn.call(request).await.unwrap();
    reason_of(&response).unwrap()
}

// ---- handshake ----------------------------------------------------------

#[tokio::test]
async fn handshake_succeeds_and_proves_the_server() {
    let server = server().await;
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    // The server key seen in the challenge is the server's identity.
    let expected = server::identity::ServerIdentity::load_or_create(&server.config.key_path())
        .unwrap()
        .0
        .public_key();
    assert_eq!(alice.server_key, Some(expected));
    let pong = alice.call(v3::Request::Ping(7)).await.unwrap();
    assert_eq!(pong, v3::Response::Pong(7));
    let page = alice
        .call(v3::Request::ListClients {
            after: ClientId::NIL,
        })
        .await
        .unwrap();
    assert!(matches!(page, v3::Response::ClientList(p) if p.clients.is_empty() && !p.more));
}

#[tokio::test]
async fn every_request_but_register_and_ping_needs_authentication() {
    let server = server().await;
    let (bob, _) = V3Conn::new_user(server.addr, "bob").await.unwrap();
    let mut conn = V3Conn::open(server.addr).await.unwrap();
    conn.client_id = bob.client_id;
    let upload = protocol::UploadId([1; 16]);
    let requests = vec![
        v3::Request::ListClients {
            after: ClientId::NIL,
        },
        v3::Request::GetPublicKey(bob.client_id),
        v3::Request::LookupName(Name::new("bob").unwrap()),
        v3::Request::SendMessage(v3::SendMessage {
            destination: bob.client_id,
            kind: MessageKind::Text,
            content: Bytes::from_static(b"x"),
        }),
        v3::Request::Pull(v3::Pull::default()),
        v3::Request::Ack(vec![1]),
        v3::Request::Subscribe,
        v3::Request::UploadBegin(v3::UploadBegin {
            destination: bob.client_id,
            file_size: 10,
            meta: Bytes::new(),
        }),
        v3::Request::UploadResume(upload),
        v3::Request::UploadChunk(v3::UploadChunk {
            upload_id: upload,
            offset: 0,
            data: Bytes::from_static(b"x"),
        }),
        v3::Request::UploadCancel(upload),
        v3::Request::Download(v3::Download {
            message_id: 1,
            offset: 0,
            max_len: 10,
        }),
    ];
    for request in requests {
        let code = request.code();
        assert_eq!(
            refused(&mut conn, request).await,
            ErrorReason::NotAuthenticated,
            "{code:?} before authentication"
        );
    }
    assert_eq!(
        refused(&mut conn, v3::Request::Authenticate([0; 64])).await,
        ErrorReason::NoChallenge
    );
    assert_eq!(
        conn.call(v3::Request::Ping(1)).await.unwrap(),
        v3::Response::Pong(1)
    );
    // Registering is allowed, and does not authenticate.
    conn.register("carol", &TestIdentity::generate())
        .await
        .unwrap();
    assert_eq!(
        refused(&mut conn, v3::Request::Pull(v3::Pull::default())).await,
        ErrorReason::NotAuthenticated
    );
}

#[tokio::test]
async fn wrong_key_replayed_answer_and_someone_elses_key_fail() {
    let server = server().await;
    let addr = server.addr;
    let alice_keys = TestIdentity::generate();
    let mut conn = V3Conn::open(addr).await.unwrap();
    let alice = conn.register("alice", &alice_keys).await.unwrap();
    let mallory_keys = TestIdentity::generate();
    conn.register("mallory", &mallory_keys).await.unwrap();

    // Signed with the wrong (another user's) key.
    let nonce = [3u8; 32];
    let challenge = conn.hello(alice, nonce).await.unwrap();
    let forged = V3Conn::proof(&mallory_keys.signing, alice, &nonce, &challenge);
    assert_eq!(
        refused(&mut conn, v3::Request::Authenticate(forged)).await,
        ErrorReason::AuthFailed
    );
    // The challenge is spent.
    let good = V3Conn::proof(&alice_keys.signing, alice, &nonce, &challenge);
    assert_eq!(
        refused(&mut conn, v3::Request::Authenticate(good)).await,
        ErrorReason::NoChallenge
    );

    // A genuine answer, replayed on another connection, fails there.
    let mut first = V3Conn::open(addr).await.unwrap();
    let challenge = first.hello(alice, nonce).await.unwrap();
    let answer = V3Conn::proof(&alice_keys.signing, alice, &nonce, &challenge);
    assert!(matches!(
        first.call(v3::Request::Authenticate(answer)).await.unwrap(),
        v3::Response::Authenticated(_)
    ));
    let mut second = V3Conn::open(addr).await.unwrap();
    second.hello(alice, nonce).await.unwrap();
    assert_eq!(
        refused(&mut second, v3::Request::Authenticate(answer)).await,
        ErrorReason::AuthFailed
    );

    // Hello for nobody.
    let mut stranger = V3Conn::open(addr).await.unwrap();
    stranger.client_id = ClientId([0xee; 16]);
    assert_eq!(
        refused(
            &mut stranger,
            v3::Request::Hello(v3::Hello {
                client_nonce: [0; 32]
            })
        )
        .await,
        ErrorReason::UnknownClient
    );

    // Three failures close the connection.
    let mut guesser = V3Conn::open(addr).await.unwrap();
    for _ in 0..3 {
        guesser.hello(alice, nonce).await.unwrap();
        let _ = guesser.call(v3::Request::Authenticate([9; 64])).await;
    }
    guesser.expect_closed().await.unwrap();

    // An authenticated connection cannot authenticate again.
    assert_eq!(
        refused(
            &mut first,
            v3::Request::Hello(v3::Hello {
                client_nonce: nonce
            })
        )
        .await,
        ErrorReason::AlreadyAuthenticated
    );
}

#[tokio::test]
async fn header_id_mismatch_after_authentication_closes() {
    let server = server().await;
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let (bob, _) = V3Conn::new_user(server.addr, "bob").await.unwrap();
    alice.client_id = bob.client_id;
    assert_eq!(
        refused(&mut alice, v3::Request::Pull(v3::Pull::default())).await,
        ErrorReason::ClientIdMismatch
    );
    alice.expect_closed().await.unwrap();
}

#[tokio::test]
async fn registration_checks_bundles_and_names() {
    let server = server().await;
    let mut conn = V3Conn::open(server.addr).await.unwrap();
    let register = |name: &str, key: PublicKey| {
        v3::Request::Register(v3::Register {
            name: Name::new(name).unwrap(),
            public_key: key,
        })
    };
    // Garbage.
    assert_eq!(
        refused(&mut conn, register("eve", PublicKey([7; 160]))).await,
        ErrorReason::BadKeyBundle
    );
    // A valid bundle with one byte changed.
    let mut tampered = TestIdentity::generate().bundle;
    tampered.0[40] ^= 1;
    assert_eq!(
        refused(&mut conn, register("eve", tampered)).await,
        ErrorReason::BadKeyBundle
    );
    // A correctly signed bundle whose prekey is of small order (all zero).
    let keys = TestIdentity::generate();
    let mut bundle = protocol::bundle::KeyBundle::from_public_key(&keys.bundle);
    bundle.signed_prekey = [0; 32];
    use ed25519_dalek::Signer;
    bundle.signature = keys.signing.sign(&bundle.signed_message()).to_bytes();
    assert_eq!(
        refused(&mut conn, register("eve", bundle.to_public_key())).await,
        ErrorReason::BadKeyBundle
    );
    // Names are unique ignoring ASCII case.
    conn.register("Eve", &TestIdentity::generate())
        .await
        .unwrap();
    assert_eq!(
        refused(&mut conn, register("eVE", TestIdentity::generate().bundle)).await,
        ErrorReason::NameTaken
    );
}

// ---- acknowledged delivery ------------------------------------------------

#[tokio::test]
async fn pull_without_ack_redelivers_and_ack_deletes() {
    let server = server().await;
    let addr = server.addr;
    let (mut alice, _) = V3Conn::new_user(addr, "alice").await.unwrap();
    let (mut bob, bob_keys) = V3Conn::new_user(addr, "bob").await.unwrap();
    let (mut carol, _) = V3Conn::new_user(addr, "carol").await.unwrap();
    let first = alice.send_text(bob.client_id, b"one").await.unwrap();
    let second = alice.send_text(bob.client_id, b"two").await.unwrap();
    assert!(second > first);

    let batch = bob.pull().await.unwrap();
    assert_eq!(batch.messages.len(), 2);
    assert!(!batch.more);
    assert_eq!(&batch.messages[0].content[..], b"one");
    assert_eq!(batch.messages[0].sender, alice.client_id);
    // Reconnect without acknowledging: the same messages again.
    let bob_id = bob.client_id;
    drop(bob);
    let mut bob = V3Conn::open(addr).await.unwrap();
    bob.authenticate(bob_id, &bob_keys).await.unwrap();
    let again = bob.pull().await.unwrap();
    assert_eq!(
        again
            .messages
            .iter()
            .map(|m| m.message_id)
            .collect::<Vec<_>>(),
        vec![first, second]
    );
    // Someone else's id is not theirs to remove.
    assert_eq!(
        carol.ack(vec![first]).await.unwrap(),
        vec![AckStatus::NotWaiting]
    );
    assert_eq!(bob.pull().await.unwrap().messages.len(), 2);
    // Acknowledging removes; a second acknowledgement is harmless.
    assert_eq!(
        bob.ack(vec![first, second, 999_999]).await.unwrap(),
        vec![
            AckStatus::Removed,
            AckStatus::Removed,
            AckStatus::NotWaiting
        ]
    );
    assert!(bob.pull().await.unwrap().messages.is_empty());
    assert_eq!(
        bob.ack(vec![first]).await.unwrap(),
        vec![AckStatus::NotWaiting]
    );
}

#[tokio::test]
async fn pulls_are_bounded_batches_in_id_order() {
    let server = server().await;
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let (mut bob, _) = V3Conn::new_user(server.addr, "bob").await.unwrap();
    let mut sent = Vec::new();
    for i in 0..25u32 {
        sent.push(
            alice
                .send_text(bob.client_id, &pattern(i.into(), 1000))
                .await
                .unwrap(),
        );
    }
    let limited = bob
        .call(v3::Request::Pull(v3::Pull {
            max_messages: 10,
            max_bytes: 0,
        }))
        .await
        .unwrap();
    let v3::Response::Messages(batch) = limited else {
        panic!()
    };
    assert_eq!(batch.messages.len(), 10);
    assert!(batch.more);
    // A byte limit smaller than one message still returns one.
    let tiny = bob
        .call(v3::Request::Pull(v3::Pull {
            max_messages: 0,
            max_bytes: 10,
        }))
        .await
        .unwrap();
    let v3::Response::Messages(batch) = tiny else {
        panic!()
    };
    assert_eq!(batch.messages.len(), 1);
    assert!(batch.more);
    // Acknowledge batch by batch until empty; ids come in order.
    let mut seen: Vec<u64> = Vec::new();
    loop {
        let batch = bob
            .call(v3::Request::Pull(v3::Pull {
                max_messages: 7,
                max_bytes: 0,
            }))
            .await
            .unwrap();
        let v3::Response::Messages(batch) = batch else {
            panic!()
        };
        let ids: Vec<u64> = batch.messages.iter().map(|m| m.message_id).collect();
        seen.extend(&ids);
        if ids.is_empty() {
            break;
        }
        bob.ack(ids).await.unwrap();
    }
    assert_eq!(seen, sent);
}

#[tokio::test]
async fn message_ids_never_repeat_after_deletion_and_restart() {
    let mut server = server().await;
    let alice_keys = TestIdentity::generate();
    let bob_keys = TestIdentity::generate();
    let mut conn = V3Conn::open(server.addr).await.unwrap();
    let alice = conn.register("alice", &alice_keys).await.unwrap();
    let bob = conn.register("bob", &bob_keys).await.unwrap();
    conn.authenticate(alice, &alice_keys).await.unwrap();
    let first = conn.send_text(bob, b"x").await.unwrap();
    let mut b = V3Conn::open(server.addr).await.unwrap();
    b.authenticate(bob, &bob_keys).await.unwrap();
    b.ack(vec![first]).await.unwrap();
    drop((conn, b));
    server.restart().await.unwrap();
    let mut conn = V3Conn::open(server.addr).await.unwrap();
    conn.authenticate(alice, &alice_keys).await.unwrap();
    let next = conn.send_text(bob, b"y").await.unwrap();
    assert!(next > first, "id {next} after {first}");
}

// ---- push ----------------------------------------------------------------

#[tokio::test]
async fn subscribed_client_gets_pushes_without_pulling() {
    let server = server().await;
    let addr = server.addr;
    let (mut alice, _) = V3Conn::new_user(addr, "alice").await.unwrap();
    let (mut bob, bob_keys) = V3Conn::new_user(addr, "bob").await.unwrap();
    // One message waiting before the subscription comes first.
    let early = alice.send_text(bob.client_id, b"early").await.unwrap();
    assert_eq!(
        bob.call(v3::Request::Subscribe).await.unwrap(),
        v3::Response::Subscribed { waiting: 1 }
    );
    let pushed = bob.next_push().await.unwrap();
    assert_eq!(pushed.message_id, early);
    // A second connection of bob, also subscribed.
    let mut bob2 = bob.again(addr, &bob_keys).await.unwrap();
    assert_eq!(
        bob2.call(v3::Request::Subscribe).await.unwrap(),
        v3::Response::Subscribed { waiting: 1 }
    );
    assert_eq!(bob2.next_push().await.unwrap().message_id, early);
    // A new message reaches both connections, with no pull.
    let live = alice.send_text(bob.client_id, b"live").await.unwrap();
    for conn in [&mut bob, &mut bob2] {
        let d = conn.next_push().await.unwrap();
        assert_eq!(d.message_id, live);
        assert_eq!(&d.content[..], b"live");
        assert_eq!(d.sender, alice.client_id);
        assert_eq!(d.kind, MessageKind::Text);
    }
    // The first acknowledgement removes; the other connection's then says so.
    assert_eq!(
        bob.ack(vec![early, live]).await.unwrap(),
        vec![AckStatus::Removed; 2]
    );
    assert_eq!(
        bob2.ack(vec![live]).await.unwrap(),
        vec![AckStatus::NotWaiting]
    );
}

#[tokio::test]
async fn push_window_holds_back_until_acknowledged() {
    let server = TestServer::start(|c| c.push_window = 5).await.unwrap();
    let (mut alice, _) = V3Conn::new_user(server.addr, "alice").await.unwrap();
    let (mut bob, _) = V3Conn::new_user(server.addr, "bob").await.unwrap();
    bob.call(v3::Request::Subscribe).await.unwrap();
    let mut sent = Vec::new();
    for i in 0..20u32 {
        sent.push(
            alice
                .send_text(bob.client_id, &i.to_le_bytes())
                .await
                .unwrap(),
        );
    }
    let mut received: Vec<u64> = Vec::new();
    for round in 0u64.. {
        if received.len() >= 20 {
            break;
        }
        // Read what arrives: never more than the window before an ack. A
        // ping answered after the first push brings along (set aside by
        // `call`) whatever else the server pushed before answering it.
        let mut burst = vec![bob.next_push().await.unwrap().message_id];
        assert_eq!(
            bob.call(v3::Request::Ping(round)).await.unwrap(),
            v3::Response::Pong(round)
        );
        burst.extend(bob.pushed.drain(..).map(|d| d.message_id));
        assert!(
            burst.len() <= 5,
            "{} pushed while the window is 5",
            burst.len()
        );
        received.extend(&burst);
        bob.ack(burst).await.unwrap();
    }
    assert_eq!(received, sent);
}

// ---- files ---------------------------------------------------------------

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
    let resumed = match conn
        .call(v3::Request::UploadResume(status.upload_id))
        .await
        .unwrap()
    {
        v3::Response::UploadStatus(s) => s,
        other => panic!("resume: {other:?}"),
    };
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
    let done = upload_range(
        &mut conn,
        status.upload_id,
        &data,
        resumed.offset as usize,
        SIZE,
    )
    .await;
    let v3::Response::FileSent(sent) = done else {
        panic!("last chunk: {done:?}")
    };
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
    // Acknowledging deletes the file from disk.
    b.ack(vec![sent.message_id]).await.unwrap();
    let blobs = || {
        std::fs::read_dir(server.config.files_dir())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "blob")
            })
            .count()
    };
    bounded("file to be deleted", async {
        while blobs() > 0 {
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
    let sent = upload_range(&mut alice, up.upload_id, b"hello", 0, 5).await;
    let v3::Response::FileSent(sent) = sent else {
        panic!("{sent:?}")
    };
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

// ---- limits and quotas -------------------------------------------------------

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
    let begun_ms = server::store::now_ms();
    drop(conn);
    // Ages are wall-clock milliseconds: wait until this upload is older
    // than the maximum age.
    bounded("the clock to pass the maximum age", async {
        while server::store::now_ms() <= begun_ms + 1 {
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

// ---- scale ---------------------------------------------------------------------

/// 1,000 persistent authenticated connections, each subscribed, sending to
/// others and acknowledging what it receives: every message exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_connections_deliver_exactly_once() {
    const USERS: usize = 1000;
    const PER_USER: usize = 5;
    // Both ends of every connection live in this process.
    e2e::raise_open_files_limit(2 * USERS as u64 + 512).unwrap();
    let server = server().await;
    let addr = server.addr;
    let mut conns = Vec::with_capacity(USERS);
    for i in 0..USERS {
        let (mut c, _) = V3Conn::new_user(addr, &format!("u{i}")).await.unwrap();
        assert!(matches!(
            c.call(v3::Request::Subscribe).await.unwrap(),
            v3::Response::Subscribed { .. }
        ));
        conns.push(c);
    }
    let ids: Vec<ClientId> = conns.iter().map(|c| c.client_id).collect();
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, mut conn) in conns.into_iter().enumerate() {
        let ids = ids.clone();
        tasks.spawn(async move {
            // Send: pipelined, then the answers.
            let mut sent = Vec::new();
            for j in 0..PER_USER {
                let to = ids[(i + 1 + j * 37) % USERS];
                let content = format!("{i}->{j}").into_bytes();
                conn.feed(v3::Request::SendMessage(v3::SendMessage {
                    destination: to,
                    kind: MessageKind::Text,
                    content: Bytes::from(content.clone()),
                }))
                .await
                .unwrap();
                sent.push((to, content));
            }
            futures::SinkExt::<protocol::codec::RequestPart>::flush(&mut conn.conn)
                .await
                .unwrap();
            for _ in 0..PER_USER {
                assert!(matches!(
                    conn.answer().await.unwrap(),
                    v3::Response::MessageStored(_)
                ));
            }
            (conn, sent)
        });
    }
    let mut expected: HashMap<(ClientId, Vec<u8>), usize> = HashMap::new();
    let mut conns = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (conn, sent) = r.unwrap();
        for s in sent {
            *expected.entry(s).or_default() += 1;
        }
        conns.push(conn);
    }
    // Each user receives its share by push and acknowledges it.
    let inbound: HashMap<ClientId, usize> =
        expected.iter().fold(HashMap::new(), |mut m, ((to, _), n)| {
            *m.entry(*to).or_default() += n;
            m
        });
    let mut tasks = tokio::task::JoinSet::new();
    for mut conn in conns {
        let want = inbound.get(&conn.client_id).copied().unwrap_or(0);
        tasks.spawn(async move {
            let mut got = Vec::new();
            let mut seen = HashSet::new();
            while got.len() < want {
                let d = conn.next_push().await.unwrap();
                assert!(
                    seen.insert(d.message_id),
                    "message {} pushed twice",
                    d.message_id
                );
                got.push((conn.client_id, d.content.to_vec(), d.message_id));
            }
            let ids: Vec<u64> = got.iter().map(|g| g.2).collect();
            if !ids.is_empty() {
                assert!(
                    conn.ack(ids)
                        .await
                        .unwrap()
                        .iter()
                        .all(|s| *s == AckStatus::Removed)
                );
            }
            assert!(conn.pull().await.unwrap().messages.is_empty());
            (conn, got)
        });
    }
    let mut delivered = 0;
    let mut conns = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (conn, got) = r.unwrap();
        conns.push(conn);
        for (to, content, _) in got {
            let n = expected
                .get_mut(&(to, content))
                .expect("a message nobody sent");
            assert!(*n > 0, "delivered twice");
            *n -= 1;
            delivered += 1;
        }
    }
    assert_eq!(delivered, USERS * PER_USER);
    // Drain to quiet: now that everything is acknowledged everywhere, a ping
    // on each connection comes back behind anything the server still had
    // to push there; any push before the pong (or set aside while
    // acknowledging) is a duplicate.
    let mut tasks = tokio::task::JoinSet::new();
    for mut conn in conns {
        tasks.spawn(async move {
            assert_eq!(
                conn.call(v3::Request::Ping(7)).await.unwrap(),
                v3::Response::Pong(7)
            );
            let late: Vec<u64> = conn.pushed.iter().map(|d| d.message_id).collect();
            assert!(late.is_empty(), "pushed again after delivery: {late:?}");
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    eprintln!(
        "1000 connections: {} messages sent, pushed and acknowledged in {:?}",
        USERS * PER_USER,
        started.elapsed()
    );
}
