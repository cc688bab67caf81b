//! One server key per home (the regression: pins were per `--server`
//! string, so the same nodes in another order, or a rogue node given as a
//! new address, were pinned on their own first use): every address a
//! registered home is given must present the key it pinned; and a
//! changed server key is refused loudly, whatever that server says of the
//! account, until the user accepts it.

use e2e::{Engine, Relay, ServerProcess, TestServer, open_client, run_client_with_stdin, user};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_home_given_a_rogue_nodes_address_refuses_it_instead_of_pinning_it() {
    // SQLite: the rogue below is a copy of the server's database with a key
    // of its own (on PostgreSQL such a node does not even start).
    let mut first = TestServer::start_on(Engine::Sqlite, |_| {}).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("alice");
    let server = first.addr.to_string();
    drop(user(&server, &home, "alice").await);
    // The same server as another list (a node down beside it): its key is
    // the home's, so it is served.
    let (_down_socket, down) = e2e::refusing_address().unwrap();
    let list = format!("{down},{server}");
    let alice = open_client(&list, &home).await;
    alice.connection().await.unwrap();
    let pinned = alice.server_fingerprint().await.unwrap();
    assert!(pinned.is_some());
    drop(alice);
    // A rogue node that knows alice (a copy of the database) but holds a
    // key of its own, at an address this home never used.
    first.stop().await.unwrap();
    let rogue_data = dir.path().join("rogue");
    std::fs::create_dir_all(&rogue_data).unwrap();
    let data = first.config.db_path().parent().unwrap().to_path_buf();
    for name in ["server.db", "server.db-wal"] {
        if data.join(name).exists() {
            std::fs::copy(data.join(name), rogue_data.join(name)).unwrap();
        }
    }
    let mut options = server::Options::new(&rogue_data);
    options.durability = server::Durability::Normal;
    let rogue = TestServer::start_with(server::Config::new(options).unwrap())
        .await
        .unwrap();
    let rogue_addr = rogue.addr.to_string();
    for given in [rogue_addr.clone(), format!("{rogue_addr},{server}")] {
        let alice = open_client(&given, &home).await;
        match alice.connection().await {
            Err(client::ClientError::ServerKeyChanged { server, .. }) => {
                assert_eq!(server, rogue_addr);
            }
            other => panic!("{given}: {:?}", other.map(|_| ())),
        }
    }
    // Nothing was pinned for it: the home still holds the server's key.
    let alice = open_client(&rogue_addr, &home).await;
    assert_eq!(alice.server_fingerprint().await.unwrap(), pinned);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_server_key_is_refused_loudly_even_by_a_server_without_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    // Clients reach the server through one address that stays put.
    let relay = Relay::start(server.addr).await.unwrap();
    let home = dir.path().join("alice");
    std::fs::create_dir_all(&home).unwrap();
    let (ok, _, err) = run_client_with_stdin(relay.addr, &home, &["register", "alice"], None).await;
    assert!(ok, "{err}");
    let (ok, _, err) = run_client_with_stdin(relay.addr, &home, &["inbox"], None).await;
    assert!(ok, "{err}");
    let server_fingerprint = |out: &str| {
        serde_json::from_str::<serde_json::Value>(out).unwrap()["server"]
            .as_str()
            .unwrap_or_else(|| panic!("{out}"))
            .to_string()
    };
    let fingerprint = ["--json", "fingerprint"];
    let (_, out, _) = run_client_with_stdin(relay.addr, &home, &fingerprint, None).await;
    let old = server_fingerprint(&out);
    // The server's key is replaced (as by an impostor on the same address).
    server.terminate_cleanly().await.unwrap();
    std::fs::remove_file(data.join("server.key")).unwrap();
    let server = ServerProcess::start(&data, &[]).await.unwrap();
    relay.set_target(server.addr);
    let (ok, _, err) = run_client_with_stdin(relay.addr, &home, &["inbox"], None).await;
    assert!(!ok);
    assert!(err.contains("DANGER"), "{err}");
    assert!(err.contains("--accept-server-key"), "{err}");
    // A server that never had the account (a reinstalled one, or an
    // impostor with its own empty folder) gets the same warning, not word
    // that the account is gone.
    let elsewhere = ServerProcess::start(&dir.path().join("other"), &[])
        .await
        .unwrap();
    relay.set_target(elsewhere.addr);
    let (ok, _, err) = run_client_with_stdin(relay.addr, &home, &["inbox"], None).await;
    assert!(!ok);
    assert!(err.contains("DANGER"), "{err}");
    assert!(!err.contains("registered"), "{err}");
    // One that refuses before proving any key is not believed either.
    let refuser = refuses_every_hello().await;
    relay.set_target(refuser);
    let (ok, _, err) = run_client_with_stdin(relay.addr, &home, &["--json", "inbox"], None).await;
    assert!(!ok);
    let err: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(err["code"], "unproven_server", "{err}");
    assert!(
        err["error"].as_str().unwrap().contains("before proving"),
        "{err}"
    );
    // Its key accepted, a server without the account is named as most
    // likely not this home's server (it was: "register in a new home").
    relay.set_target(elsewhere.addr);
    let args = ["--json", "--accept-server-key", "inbox"];
    let (ok, _, err) = run_client_with_stdin(relay.addr, &home, &args, None).await;
    assert!(!ok && err.contains("\"other_server\""), "{err}");
    relay.set_target(server.addr);
    let (ok, _, err) =
        run_client_with_stdin(relay.addr, &home, &["--accept-server-key", "inbox"], None).await;
    let (_, out, _) = run_client_with_stdin(relay.addr, &home, &fingerprint, None).await;
    let new = server_fingerprint(&out);
    assert_ne!(old, new);
    // Said to the person in a sentence naming both keys, not as a log line.
    assert!(ok, "{err}");
    assert!(
        err.contains(&format!(
            "client: accepted the server's new key as instructed (--accept-server-key): its \
             fingerprint was {old} and is now {new}"
        )),
        "{err}"
    );
    assert!(!err.contains("WARN") && !err.contains("pinned="), "{err}");
}

/// A loopback listener that answers every request with `UNKNOWN_CLIENT`,
/// as a server that does not prove its key before judging an account
/// would; its address. It lives until the test's runtime ends.
async fn refuses_every_hello() -> std::net::SocketAddr {
    use futures::{SinkExt, StreamExt};
    use protocol::codec::{Inbound, ServerCodec};
    use protocol::v3::{self, ServerError};
    use protocol::{ErrorReason, Response};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut framed = tokio_util::codec::Framed::new(stream, ServerCodec::default());
                while let Some(Ok(Inbound::Request(_))) = framed.next().await {
                    let no = v3::Response::Error(ServerError {
                        reason: ErrorReason::UnknownClient,
                        text: "no client is registered".into(),
                    });
                    if framed.send(Response::V3(no).into()).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}
