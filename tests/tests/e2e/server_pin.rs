//! One server key per home (the regression: pins were per `--server`
//! string, so the same nodes in another order, or a rogue node given as a
//! new address, were pinned on their own first use): every address a
//! registered home is given must present the key it pinned.

use e2e::{Engine, TestServer, open_client, user};

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
