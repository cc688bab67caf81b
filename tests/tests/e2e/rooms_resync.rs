//! A home restored from a backup gets back into every room that still
//! lists it by itself, through the real `client` binary: `room join NAME`
//! finds the room by its id (the server answers a member it lists, whatever
//! the rule) and takes the old place again (a resync, PROTOCOL.md
//! "Access"), in an invite-only room, as its owner, and in a password room
//! without the password, which a newcomer still needs. A backup made
//! before backups kept the room key cannot take the old place: the join
//! says so and which admin to ask; nor can a home a member removed
//! meanwhile get back into an invite-only room by itself. A room whose
//! last change came from an older client (which stores no group info after
//! its commits) is joined again after the next change of a current one; a
//! newcomer to an open room in that state is told so too, not that others
//! kept changing the room.

use std::path::Path;

use serde_json::Value;

use e2e::{Engine, TestServer};

use crate::rooms_cli::{inbox_room_texts, json, ok, refusal, register, room_events, users};
use crate::rooms_password::with_stdin;
use crate::rooms_restored::{named, restore};

/// The room `name` of `room list --json`'s own rooms in `home`.
async fn mine(addr: std::net::SocketAddr, home: &Path, name: &str) -> Value {
    let list = json(addr, home, &["room", "list"]).await;
    assert_eq!(list["restored"], serde_json::json!([]), "{list}");
    named(&list["mine"], name).clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_resync_a_restored_member_of_an_invite_only_room_joins_it_again_by_itself() {
    let (server, dir, [alice, bob, carol]) = users(["alice", "bob", "carol"]).await;
    let addr = server.addr;
    let created = json(addr, &alice, &["room", "create", "team"]).await;
    let id = created["id"].as_str().unwrap().to_string();
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    ok(addr, &bob, &["inbox"]).await;
    ok(addr, &alice, &["room", "send", "team", "before the loss"]).await;
    ok(addr, &bob, &["inbox"]).await;
    restore(addr, dir.path(), &bob).await;

    // The way back is `room join`, whatever the rule.
    let err = refusal(addr, &bob, &["room", "send", "team", "hi"]).await;
    assert_eq!(err["code"], "room_lost_in_restore", "{err}");
    let text = err["error"].as_str().unwrap();
    assert!(
        text.contains("join it again with `room join team`"),
        "{text}"
    );

    // Someone the room never listed finds nothing by its id.
    let err = refusal(addr, &carol, &["room", "join", &id]).await;
    assert_eq!(err["code"], "no_such_room", "{err}");

    let joined = json(addr, &bob, &["room", "join", "team"]).await;
    assert_eq!(joined["members"], 2, "{joined}");
    assert_eq!(mine(addr, &bob, "team").await["role"], "member");
    ok(addr, &bob, &["room", "send", "team", "back"]).await;
    let inbox = json(addr, &alice, &["inbox"]).await;
    let events = room_events(&inbox);
    let again = events
        .iter()
        .find(|e| e["room_event"] == "joined_by_name")
        .unwrap_or_else(|| panic!("no join in {events:?}"));
    assert_eq!(again["again"], true, "{again}");
    assert_eq!(crate::rooms_cli::texts(&events), ["back"]);
    let members = json(addr, &alice, &["room", "members", "team"]).await;
    let bobs = members
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["name"] == "bob")
        .count();
    assert_eq!(
        (members.as_array().unwrap().len(), bobs),
        (2, 1),
        "{members}"
    );

    // The room goes on: alice adds carol, and all three talk.
    ok(addr, &alice, &["room", "add", "team", "carol"]).await;
    ok(addr, &carol, &["inbox"]).await;
    ok(addr, &alice, &["room", "send", "team", "hi all"]).await;
    assert_eq!(inbox_room_texts(addr, &bob).await, ["hi all"]);
    assert_eq!(inbox_room_texts(addr, &carol).await, ["hi all"]);
    ok(addr, &bob, &["room", "send", "team", "hi carol"]).await;
    assert_eq!(inbox_room_texts(addr, &carol).await, ["hi carol"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_resync_the_restored_owner_of_an_invite_only_room_is_its_owner_again() {
    let (server, dir, [alice, bob, carol]) = users(["alice", "bob", "carol"]).await;
    let addr = server.addr;
    json(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    ok(addr, &bob, &["inbox"]).await;
    restore(addr, dir.path(), &alice).await;

    json(addr, &alice, &["room", "join", "team"]).await;
    assert_eq!(mine(addr, &alice, "team").await["role"], "owner");
    let shown = ok(addr, &bob, &["inbox"]).await;
    assert!(
        shown.contains("[#team] alice joined again (a home restored from a backup)"),
        "{shown}"
    );
    ok(addr, &alice, &["room", "add", "team", "carol"]).await;
    ok(addr, &carol, &["inbox"]).await;
    ok(addr, &alice, &["room", "send", "team", "mine again"]).await;
    assert_eq!(inbox_room_texts(addr, &carol).await, ["mine again"]);
    assert_eq!(inbox_room_texts(addr, &bob).await, ["mine again"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_resync_a_restored_member_of_a_password_room_needs_no_password_a_newcomer_does() {
    let (server, dir, [alice, bob, carol]) = users(["alice", "bob", "carol"]).await;
    let addr = server.addr;
    let args = ["room", "create", "vault", "--password"];
    assert!(with_stdin(addr, &alice, &args, "open sesame\n").await.0);
    let (joined, _, err) =
        with_stdin(addr, &bob, &["room", "join", "vault"], "open sesame\n").await;
    assert!(joined, "{err}");
    ok(addr, &alice, &["inbox"]).await;
    restore(addr, dir.path(), &bob).await;

    // No password on standard input: the room lists bob.
    let (joined, out, err) = with_stdin(addr, &bob, &["room", "join", "vault"], "").await;
    assert!(joined, "{err}");
    assert!(out.contains("\"members\":2"), "{out}");
    ok(addr, &bob, &["room", "send", "vault", "back"]).await;
    assert_eq!(inbox_room_texts(addr, &alice).await, ["back"]);
    // Carol, never a member, still needs it.
    let (joined, _, err) = with_stdin(addr, &carol, &["room", "join", "vault"], "").await;
    assert!(!joined && err.contains("password"), "{err}");
}

/// Makes `home`, just imported, as one imported from a backup made before
/// backups kept the room key: no `restored_leaf_key` row, and no rooms
/// state made from it.
fn forget_leaf_key(home: &Path) {
    let db = e2e::open_store_db(home);
    assert_eq!(db.execute("DELETE FROM restored_leaf_key", []).unwrap(), 1);
    for file in ["rooms.db", "rooms.db-wal", "rooms.db-shm"] {
        let _ = std::fs::remove_file(home.join(file));
    }
    db.execute(
        "INSERT OR REPLACE INTO settings (key, value) VALUES ('stale_key_packages', '1')",
        [],
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_resync_an_old_backup_is_told_to_ask_an_admin_and_a_removed_home_to_be_added() {
    let (server, dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    json(addr, &alice, &["room", "create", "lobby", "--public"]).await;
    json(addr, &alice, &["room", "create", "team"]).await;
    json(addr, &bob, &["room", "join", "lobby"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    ok(addr, &bob, &["inbox"]).await;
    ok(addr, &alice, &["inbox"]).await;
    restore(addr, dir.path(), &bob).await;
    forget_leaf_key(&bob);

    // The rooms list bob with a key this home does not have.
    let err = refusal(addr, &bob, &["room", "join", "lobby"]).await;
    assert_eq!(err["code"], "room_lost_in_restore", "{err}");
    let text = err["error"].as_str().unwrap();
    assert!(
        text.contains("older than those that keep your key of the room")
            && text.contains(
                "ask an admin of it (alice) to remove you, then join it again with `room join lobby`"
            ),
        "{text}"
    );
    let err = refusal(addr, &bob, &["room", "join", "team"]).await;
    let text = err["error"].as_str().unwrap();
    assert!(
        text.contains("ask an admin of it (alice) to remove you and add you again"),
        "{text}"
    );

    // Removed, bob joins the open room as anyone does; the invite-only
    // one no longer lists him, and says so.
    ok(addr, &alice, &["room", "remove", "lobby", "bob"]).await;
    ok(addr, &alice, &["room", "remove", "team", "bob"]).await;
    let joined = json(addr, &bob, &["room", "join", "lobby"]).await;
    assert_eq!(joined["members"], 2, "{joined}");
    ok(addr, &bob, &["room", "send", "lobby", "new key"]).await;
    assert_eq!(inbox_room_texts(addr, &alice).await, ["new key"]);
    let err = refusal(addr, &bob, &["room", "join", "team"]).await;
    assert_eq!(err["code"], "room_lost_in_restore", "{err}");
    let text = err["error"].as_str().unwrap();
    assert!(
        text.contains("it no longer lists you")
            && text.contains("ask an admin of it (alice) to add you again"),
        "{text}"
    );
}

/// The group info for joiners the server's database holds of the room
/// `id` (32 hex digits): its epoch and bytes.
fn stored_group_info(db: &Path, id: &str) -> (Option<i64>, Option<Vec<u8>>) {
    let db = rusqlite::Connection::open(db).unwrap();
    db.query_row(
        "SELECT group_epoch, group_info FROM rooms WHERE hex(id) = upper(?1)",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

/// Puts `info` (epoch and bytes, or none) as the server's group info of the
/// room `id`, with the server stopped, as an older client's last commit
/// leaves it; then starts the server again.
async fn put_group_info(server: &mut TestServer, id: &str, info: (Option<i64>, Option<Vec<u8>>)) {
    server.stop().await.unwrap();
    let conn = rusqlite::Connection::open(server.config.db_path()).unwrap();
    let put = conn
        .execute(
            "UPDATE rooms SET group_epoch = ?1, group_info = ?2 WHERE hex(id) = upper(?3)",
            rusqlite::params![info.0, info.1, id],
        )
        .unwrap();
    assert_eq!(put, 1);
    drop(conn);
    server.restart().await.unwrap();
}

/// A server on SQLite whatever the engine (the tests put what an older
/// client leaves in its database by hand), and alice, bob, carol and dave
/// registered, each in a home of their own.
async fn four_on_sqlite() -> (TestServer, tempfile::TempDir, [std::path::PathBuf; 4]) {
    let server = TestServer::start_on(Engine::Sqlite, |_| {}).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let homes = ["alice", "bob", "carol", "dave"].map(|n| dir.path().join(n));
    for (home, name) in homes.iter().zip(["alice", "bob", "carol", "dave"]) {
        register(server.addr, home, name).await;
    }
    (server, dir, homes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_resync_a_room_last_changed_by_an_older_client_is_joined_after_the_next_change() {
    let (mut server, dir, [alice, bob, _carol, dave]) = four_on_sqlite().await;
    let created = json(server.addr, &alice, &["room", "create", "team"]).await;
    let id = created["id"].as_str().unwrap().to_string();
    ok(server.addr, &alice, &["room", "add", "team", "bob"]).await;
    ok(server.addr, &bob, &["inbox"]).await;
    let db = server.config.db_path();
    let older = stored_group_info(&db, &id);
    ok(server.addr, &alice, &["room", "add", "team", "carol"]).await;
    assert!(stored_group_info(&db, &id).0 > older.0);

    let says = "cannot join #team again yet: the server holds no group info of the room as it \
                is now to join from (most likely an older client made its last change); try \
                again after a member changes the room (adds or removes someone, for example)";
    // What carol's add by an older client leaves: the group info where it
    // was before; and what a room made before servers kept one and changed
    // by older clients only leaves: none. Each time a change by alice's
    // client (which stores it after every commit of its own) lets bob in.
    for (stale, change) in [
        (older, ["room", "add", "team", "dave"]),
        ((None, None), ["room", "promote", "team", "carol"]),
    ] {
        restore(server.addr, dir.path(), &bob).await;
        put_group_info(&mut server, &id, stale).await;
        let addr = server.addr;

        let (done, _, text) = crate::rooms_cli::run(addr, &bob, &["room", "join", "team"]).await;
        assert!(!done, "{change:?}");
        assert_eq!(text.trim(), format!("client: {says}"), "{change:?}");
        let err = refusal(addr, &bob, &["room", "join", "team"]).await;
        assert_eq!(err["code"], "room_busy", "{err}");
        assert_eq!(err["error"], says, "{err}");
        // Still the restored room, nothing half joined left behind.
        let err = refusal(addr, &bob, &["room", "send", "team", "hi"]).await;
        assert_eq!(err["code"], "room_lost_in_restore", "{err}");

        ok(addr, &alice, &change).await;
        let joined = json(addr, &bob, &["room", "join", "team"]).await;
        assert_eq!(joined["members"], 4, "{joined}");
        ok(addr, &bob, &["room", "send", "team", "back"]).await;
        assert_eq!(inbox_room_texts(addr, &alice).await, ["back"], "{change:?}");
    }
    assert_eq!(inbox_room_texts(server.addr, &dave).await, ["back", "back"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_resync_a_newcomer_to_an_open_room_with_an_older_group_info_is_told_so() {
    let (mut server, _dir, [alice, _bob, carol, dave]) = four_on_sqlite().await;
    let created = json(
        server.addr,
        &alice,
        &["room", "create", "lobby", "--public"],
    )
    .await;
    let id = created["id"].as_str().unwrap().to_string();
    ok(server.addr, &alice, &["room", "add", "lobby", "bob"]).await;
    let db = server.config.db_path();
    let older = stored_group_info(&db, &id);
    // Carol's add as an older client leaves it: the group info stays where
    // it was, one epoch behind the room.
    ok(server.addr, &alice, &["room", "add", "lobby", "carol"]).await;
    put_group_info(&mut server, &id, older).await;
    let addr = server.addr;

    let err = refusal(addr, &dave, &["room", "join", "lobby"]).await;
    assert_eq!(err["code"], "room_busy", "{err}");
    assert_eq!(
        err["error"],
        "cannot join #lobby yet: the server's group info of the room is older than the room \
         (most likely an older client made its last change), so every join made from it is \
         refused; try again after a member changes the room (adds or removes someone, for \
         example)",
        "{err}"
    );
    assert_eq!(
        json(addr, &dave, &["room", "list"]).await["mine"],
        serde_json::json!([])
    );

    ok(addr, &alice, &["room", "promote", "lobby", "bob"]).await;
    let joined = json(addr, &dave, &["room", "join", "lobby"]).await;
    assert_eq!(joined["members"], 4, "{joined}");
    ok(addr, &dave, &["room", "send", "lobby", "hello"]).await;
    assert_eq!(inbox_room_texts(addr, &carol).await, ["hello"]);
}
