//! Version-3 handshake and registration: the server proves its key, every
//! request but register and ping needs authentication, replays and foreign
//! keys fail, and bundles and names are checked.

use bytes::Bytes;
use e2e::{TestIdentity, V3Conn};
use protocol::{ClientId, ErrorReason, MessageKind, Name, PublicKey, v3};

use super::{refused, server};

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

    // Hello for nobody: the server proves its key first (the raw
    // connection's hello checks the signature), and only then says the id
    // is unknown.
    let mut stranger = V3Conn::open(addr).await.unwrap();
    stranger.hello(ClientId([0xee; 16]), nonce).await.unwrap();
    assert_eq!(
        refused(&mut stranger, v3::Request::Authenticate([0; 64])).await,
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
