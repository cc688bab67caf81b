//! The operator's commands on a PostgreSQL-backed cluster (issue 15): the
//! `server` binary asks an in-process node through its socket, as on
//! SQLite; who is connected is the whole cluster's; removing an account
//! through one node closes its session on the other, and every node forgets
//! it.

use std::sync::Arc;

use e2e::{Postgres, RoomUser, TestServer, V3Conn, bounded};
use protocol::{ErrorReason, Name, v3};
use serde_json::Value;

use crate::cluster::{postgres, two_nodes};
use crate::operator::{names_of, server_cmd};
use crate::v3::{begin_upload, delete_request, room_of_two};

/// `server ARGS --json` against `node`, which must succeed, as JSON.
async fn json(node: &TestServer, args: &[&str]) -> Value {
    crate::operator::json(&node.config.data_dir, args).await
}

/// `SELECT COUNT(*)` of what `sql` (a FROM clause on) finds.
async fn count(pg: &Arc<Postgres>, from: &str) -> u64 {
    let pg = pg.clone();
    let sql = format!("SELECT COUNT(*) {from}");
    let out = tokio::task::spawn_blocking(move || pg.query(&sql))
        .await
        .unwrap()
        .unwrap();
    out.parse().unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Waits, at most ten seconds, until `server user list` on `node` says
/// whether `name` is online as `online`.
async fn wait_online(node: &TestServer, name: &str, online: bool) {
    let mut users = Value::Null;
    for _ in 0..100 {
        users = json(node, &["user", "list"]).await;
        let user = users.as_array().unwrap().iter().find(|u| u["name"] == name);
        if user.is_some_and(|u| u["online"] == online) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{name} never became online={online}: {users}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_user_through_node_a_closes_its_session_on_node_b_and_every_row_goes() {
    let pg = postgres().await;
    let files = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(&pg, files.path()).await;
    let dir = tempfile::tempdir().unwrap();

    let idle = json(&a, &["status"]).await;
    assert_eq!(idle["users_registered"], 0);
    assert_eq!(idle["storage_used"], 0);

    // Alice on A, bob on B with key packages, a room with both, three texts
    // waiting for him and an upload of his begun.
    let mut alice = RoomUser::new(a.addr, dir.path(), "alice").await.unwrap();
    let mut bob = RoomUser::new(b.addr, dir.path(), "bob").await.unwrap();
    let room = room_of_two(&mut alice, &mut bob).await;
    for i in 0..3u8 {
        alice.conn.send_text(bob.id(), &[i; 100]).await.unwrap();
    }
    begin_upload(&mut bob.conn, alice.id(), 50_000).await;
    assert_eq!(
        bob.conn.call(v3::Request::Subscribe).await.unwrap(),
        v3::Response::Subscribed { waiting: 3 }
    );
    let bob_id = bob.id();
    let bob_key = format!("'\\x{bob_id}'::bytea");
    // Five one-time and a last-resort package, one claimed by alice.
    assert_eq!(
        count(&pg, &format!("FROM key_packages WHERE owner = {bob_key}")).await,
        5
    );

    let busy = json(&a, &["status"]).await;
    assert_eq!(busy["users_registered"], 2);
    assert_eq!(busy["messages_waiting"], 3);
    assert_eq!(busy["bytes_waiting"], 300);
    assert_eq!(busy["uploads_in_progress"], 1);
    assert_eq!(busy["storage_used"], 300 + 50_000);
    let users = json(&a, &["user", "list"]).await;
    let names = names_of(&users);
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(users[1]["id"], bob_id.to_string());
    assert_eq!(users[1]["messages_waiting"], 3);
    assert_eq!(users[1]["bytes_waiting"], 300);
    // Bob is connected to B only, and does not show himself online (he
    // watches no presence); the operator sees him connected through either
    // node, through A once B's next heartbeat told it.
    assert_eq!(json(&b, &["user", "list"]).await[1]["online"], true);
    wait_online(&a, "bob", true).await;
    let status = json(&a, &["status"]).await;
    assert_eq!(status["users_online"], 2, "{status}");
    assert_eq!(
        status["connections"], 1,
        "alice's, the only one to A: {status}"
    );
    let node_a = status["node"].as_str().expect("a node name").to_owned();
    let node_b = json(&b, &["status"]).await["node"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut both = vec![node_a.clone(), node_b.clone()];
    both.sort();
    assert_eq!(status["nodes"], serde_json::json!(both), "{status}");
    let (ok, text, err) = server_cmd(&a.config.data_dir, &["status"]).await;
    assert!(ok, "{err}");
    assert!(
        text.contains(&format!("to node {node_a} (2 users online in the cluster")),
        "{text}"
    );
    assert!(text.contains("cluster      2 nodes heard from: "), "{text}");

    let removed = json(&a, &["user", "remove", "BOB"]).await;
    assert_eq!(removed["messages_deleted"], 3);
    assert_eq!(removed["bytes_deleted"], 300);
    assert_eq!(removed["uploads_deleted"], 1);
    assert_eq!(removed["sessions_closed"], 0, "bob is on the other node");
    assert_eq!(removed["closing_on_nodes"], serde_json::json!([node_b]));
    // B closes bob's session, telling him why.
    bob.conn.expect_closed().await.unwrap();
    let notice = bob.conn.closing.clone().expect("a closing notice");
    assert_eq!(notice.reason, ErrorReason::UnknownClient);
    // B tells the others his session ended: his row goes.
    let mut connected = u64::MAX;
    for _ in 0..100 {
        connected = count(&pg, &format!("FROM connected WHERE client = {bob_key}")).await;
        if connected == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(connected, 0, "bob's session on B is still told connected");

    // Nothing of bob is left in the database.
    for from in [
        format!("FROM clients WHERE id = {bob_key}"),
        format!("FROM messages WHERE recipient = {bob_key}"),
        format!("FROM uploads WHERE owner = {bob_key} OR destination = {bob_key}"),
        format!("FROM usage WHERE client = {bob_key}"),
        format!("FROM key_packages WHERE owner = {bob_key}"),
        format!("FROM room_members WHERE client = {bob_key}"),
        format!("FROM room_holds WHERE client = {bob_key}"),
    ] {
        assert_eq!(count(&pg, &from).await, 0, "{from}");
    }
    assert_eq!(
        count(
            &pg,
            &format!("FROM usage WHERE client = '\\x{}'::bytea", alice.id())
        )
        .await,
        1
    );
    // Every count came back: what waits is alice's one notice of her three
    // texts not delivered (type 7: reason, count, three ids: 29 bytes),
    // stored in the removal's transaction.
    let notice_len = 1 + 4 + 3 * 8;
    for node in [&a, &b] {
        let after = json(node, &["status"]).await;
        assert_eq!(after["users_registered"], 1, "{after}");
        assert_eq!(after["messages_waiting"], 1, "{after}");
        assert_eq!(after["bytes_waiting"], notice_len, "{after}");
        assert_eq!(after["uploads_in_progress"], 0, "{after}");
        assert_eq!(after["storage_used"], notice_len, "{after}");
    }
    let quota_left = count(
        &pg,
        "FROM usage WHERE inbox_messages <> 0 OR inbox_bytes <> 0 OR uploads <> 0",
    )
    .await;
    assert_eq!(quota_left, 1, "alice's notice only");
    let reads = v3::Pull {
        max_messages: v3::PULL_READS_NOT_DELIVERED,
        max_bytes: 0,
    };
    let v3::Response::Messages(batch) = alice.conn.call(v3::Request::Pull(reads)).await.unwrap()
    else {
        panic!("not a batch")
    };
    let notices: Vec<&v3::Delivery> = batch
        .messages
        .iter()
        .filter(|m| m.kind == protocol::MessageKind::NotDelivered)
        .collect();
    assert_eq!(notices.len(), 1, "{batch:?}");
    assert_eq!(notices[0].sender, bob_id);
    let notice = v3::NotDelivered::decode(notices[0].content.clone()).unwrap();
    assert_eq!(notice.message_ids.len(), 3, "{notice:?}");
    assert_eq!(notice.reason, v3::GoneReason::RemovedByOperator);

    // B's directory forgot him: the name is unknown there, then free.
    let (mut carol, _) = V3Conn::new_user(b.addr, "carol").await.unwrap();
    let lookup = carol
        .call(v3::Request::LookupName(Name::new("bob").unwrap()))
        .await
        .unwrap();
    assert!(
        matches!(&lookup, v3::Response::Error(e) if e.reason == ErrorReason::UnknownClient),
        "{lookup:?}"
    );
    let (new_bob, _) = V3Conn::new_user(b.addr, "bob").await.unwrap();
    assert_ne!(new_bob.client_id, bob_id);
    let found = carol
        .call(v3::Request::LookupName(Name::new("bob").unwrap()))
        .await
        .unwrap();
    assert!(
        matches!(&found, v3::Response::PublicKey(k) if k.client_id == new_bob.client_id),
        "{found:?}"
    );
    let users = json(&a, &["user", "list"]).await;
    assert_eq!(users.as_array().unwrap().len(), 3, "{users}");

    // Alice, still owner, deletes the room whose member bob was.
    let deleted = alice.conn.call(delete_request(&alice, room)).await.unwrap();
    assert_eq!(deleted, v3::Response::RoomDeleted(room));

    let (ok, out, err) =
        server_cmd(&a.config.data_dir, &["user", "remove", "nobody", "--json"]).await;
    assert!(!ok && out.is_empty(), "{out}");
    assert!(
        err.contains("no account is named") && err.contains("\"code\":\"refused\""),
        "{err}"
    );
    // Backups of a cluster are PostgreSQL's own.
    let archive = dir.path().join("cluster.tar");
    let (ok, out, err) =
        server_cmd(&a.config.data_dir, &["backup", archive.to_str().unwrap()]).await;
    assert!(!ok);
    assert!(err.contains("pg_dump"), "{out}{err}");
    assert!(!archive.exists() || std::fs::metadata(&archive).unwrap().len() == 0);
}

/// Regression: with its PostgreSQL down, `server status` on a node failed
/// outright. It reports what the node itself knows (it serves, its
/// connections) with the database marked unreachable, and exits 1 with one
/// line about PostgreSQL; `server user list`, which only the database can
/// answer, fails with that line (`failed`, not `refused`). Both work again
/// once the database is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_operator_status_with_the_database_down_says_what_the_node_knows() {
    let pg = postgres().await;
    let files = tempfile::tempdir().unwrap();
    let node = TestServer::start_node(&pg, files.path(), |_| {})
        .await
        .unwrap();
    let up = json(&node, &["status"]).await;
    assert_eq!(up["database_reachable"], true, "{up}");
    // A node with its bodies in a folder is backed up with that folder.
    let backup = files.path().join("backup.tar");
    let backup = backup.to_str().unwrap();
    let (ok, _, err) = server_cmd(&node.config.data_dir, &["backup", backup]).await;
    assert!(!ok && err.contains("pg_dump --format=custom, then a copy of its --files-dir folder"));
    tokio::task::block_in_place(|| pg.stop()).unwrap();
    let data = &node.config.data_dir;
    let (ok, out, err) = server_cmd(data, &["status", "--json"]).await;
    assert!(!ok, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    assert_eq!(v["database_reachable"], false, "{v}");
    assert_eq!(v["node"], up["node"], "{v}");
    assert!(
        v["connections"].is_u64() && v["uptime_seconds"].is_u64(),
        "{v}"
    );
    assert!(v["users_registered"].is_null(), "{v}");
    let said: Value = serde_json::from_str(err.trim()).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert!(
        said["error"].as_str().unwrap().contains("PostgreSQL"),
        "{said}"
    );
    let (ok, out, err) = server_cmd(data, &["status"]).await;
    assert!(!ok);
    assert!(
        out.contains("connections  ") && out.contains("unreachable"),
        "{out}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("PostgreSQL"), "{err}");
    let (ok, _, err) = server_cmd(data, &["user", "list", "--json"]).await;
    assert!(!ok);
    let v: Value = serde_json::from_str(err.trim()).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(v["code"], "failed", "{v}");
    let said = v["error"].as_str().unwrap();
    assert!(said.contains("PostgreSQL") && !said.contains('\n'), "{v}");
    tokio::task::block_in_place(|| pg.start_again()).unwrap();
    // The pool reconnects on its own: bounded, as a person would retry.
    bounded("status to work again", async {
        loop {
            let (ok, _, _) = server_cmd(&node.config.data_dir, &["status"]).await;
            if ok {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await
    .unwrap();
}
