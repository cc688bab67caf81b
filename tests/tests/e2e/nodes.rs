//! A server given as several nodes (issue 15, item 5): the client starts at
//! a random node and moves on when one is down or silent, for registering
//! and for every later connection; a node presenting another key is
//! refused, not skipped.

use e2e::{TestServer, open_client, texts, user};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_given_three_nodes_reaches_the_live_one_whichever_it_tries_first() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let live = server.addr.to_string();
    // Down: a bound port that refuses. Silent: accepts the connection (the
    // kernel's backlog) and never answers the handshake.
    let (_down_socket, down) = e2e::refusing_address().unwrap();
    let silent_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = silent_listener.local_addr().unwrap();
    let nodes = format!("{down},{silent},{live}");
    let dir = tempfile::tempdir().unwrap();
    let alice_home = dir.path().join("alice");
    let alice = user(&nodes, &alice_home, "alice").await;
    let bob = user(&live, &dir.path().join("bob"), "bob").await;
    alice.send_text("bob", "hello 0").await.unwrap();
    drop(alice);
    // Each new client starts at a random node (the down, the silent or the
    // live one); whichever it is, every one must get through.
    for i in 1..6 {
        let alice = open_client(&nodes, &alice_home).await;
        alice.send_text("bob", &format!("hello {i}")).await.unwrap();
    }
    let got = texts(&bob.inbox().await.unwrap());
    assert_eq!(
        got,
        (0..6).map(|i| format!("hello {i}")).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_another_key_is_refused_not_skipped() {
    let mut first = TestServer::start(|_| {}).await.unwrap();
    // The second node is down while alice registers, so her client pins
    // the first node's key for the list.
    let (socket, second) = e2e::refusing_address().unwrap();
    let nodes = format!("{},{second}", first.addr);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("alice");
    drop(user(&nodes, &home, "alice").await);
    // The first node goes down; at the second address comes a node that
    // knows alice (on a copy of the first one's SQLite database, or on the
    // same PostgreSQL database) but made a key of its own in its own data
    // folder: a node of a cluster set up without the shared `server.key`.
    first.stop().await.unwrap();
    let other_data = dir.path().join("other");
    std::fs::create_dir_all(&other_data).unwrap();
    let mut options = server::Options::new(&other_data);
    options.durability = server::Durability::Normal;
    options.database = first.config.database.clone();
    if options.database.is_none() {
        let data = first.config.db_path().parent().unwrap().to_path_buf();
        for name in ["server.db", "server.db-wal"] {
            if data.join(name).exists() {
                std::fs::copy(data.join(name), other_data.join(name)).unwrap();
            }
        }
    }
    let on_postgres = options.database.is_some();
    let other = server::Server::open(server::Config::new(options).unwrap()).await;
    if on_postgres {
        // The cluster's database recorded the first node's key: such a
        // node does not even start (`cluster_identity.rs`), and the
        // client's refusal is shown on SQLite.
        let err = other.err().expect("a node with another key started");
        assert!(
            matches!(
                err.downcast_ref::<server::error::StoreError>(),
                Some(server::error::StoreError::NotTheClustersKey { .. })
            ),
            "{err:#}"
        );
        return;
    }
    let other = other.unwrap();
    let listener = socket.listen(64).unwrap();
    tokio::spawn(other.serve(listener, std::future::pending::<()>()));
    // Whichever node a client starts at, it ends at the second one, and is
    // refused there loudly: a node with another key is not the server.
    for _ in 0..4 {
        let alice = open_client(&nodes, &home).await;
        let got = alice.connection().await;
        // The error names the node that presented the other key.
        match got {
            Err(client::ClientError::ServerKeyChanged { server, .. }) => {
                assert_eq!(server, second.to_string());
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
}
