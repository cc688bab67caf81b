//! Who is online across the nodes of a cluster: a user watching through
//! node B is online for a watcher and for `client online` on node A, and
//! goes offline there when the watch ends; a node that stops takes its
//! users offline on the others; a node that fell silent without a word
//! (killed) is dropped by the others within the timeout, its users with
//! it; the operator's `user list` counts a user connected to a node heard
//! from within the timeout. Waits are bounded; nothing is timed.

use std::sync::Arc;

use e2e::{Postgres, TestServer};
use protocol::ClientId;

use crate::cluster::{postgres, two_nodes};
use crate::presence::{Watch, online, wait_until_online};
use crate::rooms_cli::register;

/// Runs `sql` on the cluster's database.
async fn sql(pg: &Arc<Postgres>, sql: String) -> String {
    let pg = pg.clone();
    tokio::task::spawn_blocking(move || pg.query(&sql))
        .await
        .unwrap()
        .unwrap()
}

fn hex(id: ClientId) -> String {
    id.0.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_online_through_one_node_is_online_on_every_node_until_it_goes() {
    let pg = postgres().await;
    let files = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(&pg, files.path()).await;
    let dir = tempfile::tempdir().unwrap();
    let [alice, bob, carol, dave] = ["alice", "bob", "carol", "dave"].map(|n| dir.path().join(n));
    register(a.addr, &alice, "alice").await;
    register(a.addr, &bob, "bob").await;
    let carol_id = register(a.addr, &carol, "carol").await;
    register(a.addr, &dave, "dave").await;

    // Alice watches through A: B lists her too.
    let mut alice_watch = Watch::start(a.addr, &alice, &[]);
    wait_until_online(a.addr, &dave, &["alice"]).await;
    wait_until_online(b.addr, &dave, &["alice"]).await;

    // Bob watches through B: alice's watch on A is told.
    let bob_watch = Watch::start(b.addr, &bob, &[]);
    let v = alice_watch.next("presence").await;
    assert_eq!(
        (v["name"].as_str(), v["online"].as_bool()),
        (Some("bob"), Some(true))
    );
    assert_eq!(online(a.addr, &dave).await, vec!["alice", "bob"]);

    // Bob's watch ends: A hears he went offline.
    bob_watch.stop().await;
    let v = alice_watch.next("presence").await;
    assert_eq!(
        (v["name"].as_str(), v["online"].as_bool()),
        (Some("bob"), Some(false))
    );
    assert_eq!(online(a.addr, &dave).await, vec!["alice"]);

    // A third node stops while carol watches through it: she goes offline
    // on A at once (the node says it is gone), not at the timeout.
    let mut c = TestServer::start_node(&pg, files.path(), |_| {})
        .await
        .unwrap();
    let carol_watch = Watch::start(c.addr, &carol, &[]);
    let v = alice_watch.next("presence").await;
    assert_eq!(
        (v["name"].as_str(), v["online"].as_bool()),
        (Some("carol"), Some(true))
    );
    c.stop().await.unwrap();
    let v = alice_watch.next("presence").await;
    assert_eq!(
        (v["name"].as_str(), v["online"].as_bool()),
        (Some("carol"), Some(false))
    );
    drop(carol_watch);

    // A node killed 7 s ago left its rows (the timeout is 10 s). Its
    // word is heard (carol online), then a live node's next heartbeat finds
    // it silent past the timeout and drops it, carol with it.
    let carol_hex = hex(carol_id);
    sql(
        &pg,
        format!(
            "INSERT INTO presence_nodes (node, seen) VALUES ('killed', now() - interval '7 seconds');
             INSERT INTO presence (node, client) VALUES ('killed', '\\x{carol_hex}');
             SELECT pg_notify('sealpost_presence', 'killed:all');"
        ),
    )
    .await;
    let v = alice_watch.next("presence").await;
    assert_eq!(
        (v["name"].as_str(), v["online"].as_bool()),
        (Some("carol"), Some(true))
    );
    let v = alice_watch.next("presence").await;
    assert_eq!(
        (v["name"].as_str(), v["online"].as_bool()),
        (Some("carol"), Some(false))
    );
    wait_until_online(b.addr, &dave, &["alice"]).await;
    let left = sql(
        &pg,
        "SELECT count(*) FROM presence_nodes WHERE node = 'killed'".into(),
    )
    .await;
    assert_eq!(left.trim(), "0");

    // The operator's view: a node heard from within the timeout that told
    // it has carol connected (invisible to presence: no presence row) makes
    // her online for `user list` on A; a node silent past the timeout does
    // not, even before a live node drops it.
    sql(
        &pg,
        format!(
            "INSERT INTO presence_nodes (node, seen) VALUES ('quiet', now());
             INSERT INTO connected (node, client) VALUES ('quiet', '\\x{carol_hex}');"
        ),
    )
    .await;
    assert!(operator_online(&a, "carol").await);
    assert_eq!(online(a.addr, &dave).await, vec!["alice"], "not shown");
    sql(
        &pg,
        "UPDATE presence_nodes SET seen = now() - interval '11 seconds' WHERE node = 'quiet'"
            .into(),
    )
    .await;
    assert!(!operator_online(&a, "carol").await);

    alice_watch.stop().await;
}

/// Whether `server user list` on `node` says `name` is online.
async fn operator_online(node: &TestServer, name: &str) -> bool {
    let users = crate::operator::json(&node.config.data_dir, &["user", "list"]).await;
    let user = users.as_array().unwrap().iter().find(|u| u["name"] == name);
    user.unwrap_or_else(|| panic!("no {name} in {users}"))["online"]
        .as_bool()
        .unwrap()
}
