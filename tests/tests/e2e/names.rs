//! A malicious server moves names: it renames the real `bob` and gives the
//! name `bob` to mallory. The client's own pins stay the authority: sending
//! by the pinned name is refused with a warning naming both sides, the
//! pinned contact is still reached by its id, `accept bob` takes the new
//! mapping, and messages from the real bob still show under the name he
//! was pinned under.
//!
//! The real server never renames anyone, so the attack is built by editing
//! its database while it is stopped.

use std::path::Path;

use client::contacts::NameConflict;
use client::{Client, ClientError};
use e2e::{Engine, TestServer};
use e2e::{open_client, run_client, texts};
use protocol::ClientId;

/// Like [`e2e::user`], with the id the server gave.
pub(crate) async fn user_with_id(server: &str, home: &Path, name: &str) -> (Client, ClientId) {
    let c = open_client(server, home).await;
    let id = c.register(name).await.unwrap();
    (c, id)
}

/// With the server stopped: renames `from` to `to` in its database, then,
/// if `taker` is given, gives `taker`'s row the name `from`.
fn rename_in_database(db_path: &Path, from: &str, to: &str, taker: Option<&str>) {
    let db = rusqlite::Connection::open(db_path).unwrap();
    // Keep whatever the server derives for uniqueness (name_key) in step,
    // without assuming how it derives it: move the keys along with the names.
    let key_of = |name: &str| -> String {
        db.query_row(
            "SELECT name_key FROM clients WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
        .unwrap()
    };
    let from_key = key_of(from);
    let taker_key = taker.map(key_of);
    let renamed = db
        .execute(
            "UPDATE clients SET name = ?2, name_key = ?3 WHERE name = ?1",
            rusqlite::params![from, to, format!("{from_key}-moved")],
        )
        .unwrap();
    assert_eq!(renamed, 1);
    if let (Some(taker), Some(taker_key)) = (taker, taker_key) {
        db.execute(
            "UPDATE clients SET name = ?2, name_key = ?3 WHERE name = ?1",
            rusqlite::params![taker, from, from_key],
        )
        .unwrap();
        db.execute(
            "UPDATE clients SET name_key = ?2 WHERE name = ?1",
            rusqlite::params![to, format!("{taker_key}-was")],
        )
        .unwrap();
    }
}

fn conflict(e: ClientError) -> NameConflict {
    match e {
        ClientError::NameConflict(c) => *c,
        other => panic!("expected a name conflict, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_moves_a_verified_name_cannot_redirect_sends() {
    let dir = tempfile::tempdir().unwrap();
    // SQLite whatever the engine: the test rewrites the server's database by hand.
    let mut server = TestServer::start_on(Engine::Sqlite, |_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let (alice, _) = user_with_id(&addr, &dir.path().join("alice"), "alice").await;
    let (bob, bob_id) = user_with_id(&addr, &dir.path().join("bob"), "bob").await;
    let (mallory, mallory_id) = user_with_id(&addr, &dir.path().join("mallory"), "mallory").await;
    drop((bob, mallory));
    alice.safety_number("bob").await.unwrap();
    alice.mark_verified("bob").await.unwrap();
    alice.send_text("bob", "before").await.unwrap();
    drop(alice);

    // The server renames bob and gives his name to mallory.
    server.stop().await.unwrap();
    rename_in_database(&server.config.db_path(), "bob", "bob-old", Some("mallory"));
    server.restart().await.unwrap();
    let addr = server.addr.to_string();

    // The binary refuses, naming the pinned and the server's mapping.
    let alice_home = dir.path().join("alice");
    let (ok, _, err) = run_client(&addr, &alice_home, &["send", "bob", "for bob only"]).await;
    assert!(!ok, "sending by a moved name must fail: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("WARNING"), "{err}");
    assert!(err.contains(&bob_id.to_string()), "{err}");
    assert!(err.contains(&mallory_id.to_string()), "{err}");
    assert!(err.contains("bob-old"), "{err}");
    assert!(err.contains("client accept bob"), "{err}");

    // So does the library, with both sides in the error.
    let alice = open_client(&addr, &alice_home).await;
    let c = conflict(alice.send_text("bob", "still for bob").await.unwrap_err());
    assert_eq!((c.pinned_id, c.server_id), (bob_id, Some(mallory_id)));
    assert_eq!(c.server_name.as_deref(), Some("bob-old"));
    // `key bob` and `list` warn too.
    conflict(alice.fetch_key("bob").await.unwrap_err());
    let (ok, out, _) = run_client(&addr, &alice_home, &["list"]).await;
    assert!(ok);
    let bob_line = out.lines().find(|l| l.starts_with("bob ")).unwrap();
    assert!(bob_line.contains("not the \"bob\" you pinned"), "{out}");
    assert!(bob_line.contains(&mallory_id.to_string()), "{out}");
    let old_line = out.lines().find(|l| l.starts_with("bob-old ")).unwrap();
    assert!(old_line.contains("pinned as \"bob\""), "{out}");
    // By name, whatever order the server's ids give.
    let listed: Vec<&str> = out.lines().filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(listed, ["bob", "bob-old"], "{out}");

    // By id, the pinned bob is still reached, and only he.
    alice.send_text(&bob_id.to_string(), "by id").await.unwrap();
    let bob = open_client(&addr, &dir.path().join("bob")).await;
    assert_eq!(texts(&bob.inbox().await.unwrap()), vec!["before", "by id"]);
    let mallory = open_client(&addr, &dir.path().join("mallory")).await;
    assert!(texts(&mallory.inbox().await.unwrap()).is_empty());

    // The user takes the new mapping: now `bob` is mallory, unverified.
    let (ok, out, err) = run_client(&addr, &alice_home, &["accept", "bob"]).await;
    assert!(ok, "{err}");
    assert!(out.contains(&mallory_id.to_string()), "{out}");
    let alice = open_client(&addr, &alice_home).await;
    let info = alice.fetch_key("bob").await.unwrap();
    assert_eq!(info.id, mallory_id);
    assert!(!info.verified);
    alice.send_text("bob", "to the new bob").await.unwrap();
    assert_eq!(
        texts(&mallory.inbox().await.unwrap()),
        vec!["to the new bob"]
    );
    // The old contact keeps its verified key under the server's new name.
    let old = alice.fetch_key(&bob_id.to_string()).await.unwrap();
    assert_eq!(old.name, "bob-old");
    assert!(old.verified);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_show_the_pinned_name_with_the_servers_as_a_remark() {
    let dir = tempfile::tempdir().unwrap();
    // SQLite whatever the engine: the test rewrites the server's database by hand.
    let mut server = TestServer::start_on(Engine::Sqlite, |_| {}).await.unwrap();
    let addr = server.addr.to_string();
    let (alice, _) = user_with_id(&addr, &dir.path().join("alice"), "alice").await;
    let (bob, _) = user_with_id(&addr, &dir.path().join("bob"), "bob").await;
    let (mallory, _) = user_with_id(&addr, &dir.path().join("mallory"), "mallory").await;
    alice.send_text("bob", "hi bob").await.unwrap();
    bob.inbox().await.unwrap();
    drop((alice, bob, mallory));

    server.stop().await.unwrap();
    rename_in_database(&server.config.db_path(), "bob", "robert", Some("mallory"));
    server.restart().await.unwrap();
    let addr = server.addr.to_string();

    let bob = open_client(&addr, &dir.path().join("bob")).await;
    bob.send_text("alice", "from the real bob").await.unwrap();
    let mallory = open_client(&addr, &dir.path().join("mallory")).await;
    // Mallory, now called bob by the server, is a stranger to alice.
    mallory
        .send_text("alice", "from the fake bob")
        .await
        .unwrap();

    let (ok, out, err) = run_client(&addr, &dir.path().join("alice"), &["inbox"]).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("bob (the server calls them \"robert\"):\n    from the real bob"),
        "{out}"
    );
    // The stranger cannot take the pinned name: no local name, the
    // server's as a remark.
    let fake = out
        .lines()
        .position(|l| l.trim() == "from the fake bob")
        .expect("the stranger's text is shown");
    let header = out.lines().nth(fake - 1).unwrap();
    assert!(header.contains("client "), "{header}");
    assert!(
        header.contains("(the server calls them \"bob\")"),
        "{header}"
    );

    // --json carries the pinned name and the remark as fields.
    bob.send_text("alice", "again").await.unwrap();
    let (ok, out, err) = run_client(&addr, &dir.path().join("alice"), &["--json", "inbox"]).await;
    assert!(ok, "{err}");
    let events: serde_json::Value = serde_json::from_str(&out).unwrap();
    let text = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["text"] == "again")
        .unwrap();
    assert_eq!(text["from_name"], "bob");
    assert_eq!(text["server_name"], "robert");
}
