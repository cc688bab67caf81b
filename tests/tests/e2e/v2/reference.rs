//! Version 2's reference scenario, in process and against the real binary,
//! and the switch that turns version 2 off.

use e2e::{ServerProcess, TestServer, pattern, v2_call, v2_register};
use protocol::{ClientId, MessageKind, Name, PublicKey, v2};

use super::{expected_stream, legacy, pull, send, send_streamed, stored_id};

#[tokio::test]
async fn reference_scenario() {
    let mut server = legacy().await;
    reference_flow(server.addr).await;
    server.stop().await.unwrap();
    assert_eq!(
        server.bodies().await.unwrap(),
        0,
        "delivered files are deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_scenario_against_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("data"), &["--legacy-v2"])
        .await
        .unwrap();
    // An operator is told at start what the flag opens.
    assert!(
        server.startup.iter().any(|l| l.contains("WARN")
            && l.contains("serving protocol version 2 (--legacy-v2): it has no authentication")),
        "{:#?}",
        server.startup
    );
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
