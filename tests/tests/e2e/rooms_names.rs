//! Room names through the real `client` binary: an open (public or hidden)
//! room's name is the server's to give once, with every name that looks
//! like it, and a client that asks for a taken one is told so and keeps no
//! room the server does not have. And on PostgreSQL, the rooms of a
//! database from before the look-alike rule get their keys at start.
//! `#NAME` is NAME when a room is created or renamed too, and a name that
//! would keep a `#` is refused (one another client gave is shown with it);
//! a room of yours that shares an open room's name does not stop you
//! joining the open one.

use e2e::{RoomUser, TestServer};
use protocol::{RoomId, v3};
use sealpost_rooms::{JoinRule, RoomName};

use crate::cluster::postgres;
use crate::rooms_cli::{json, ok, refusal, register, users};

/// Every room command takes `#NAME` for NAME, and creating and renaming
/// do too: `room create '#ops'` asks for `ops` (alice's, so refused), and a
/// name that would still start with `#` is refused, as typed back it would
/// reach another room (a list showed dave's `#ops` as alice's `#ops`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_name_given_with_a_hash_is_the_name_without_it_and_a_second_hash_is_refused() {
    let (server, _dir, [alice, dave, carol]) = users(["alice", "dave", "carol"]).await;
    let addr = server.addr;
    let ops = json(addr, &alice, &["room", "create", "ops", "--public"]).await;

    let err = refusal(addr, &dave, &["room", "create", "#ops", "--public"]).await;
    assert_eq!(err["code"], "room_name_taken", "{err}");
    let crew = json(addr, &dave, &["room", "create", "#crew", "--public"]).await;
    assert_eq!(crew["name"], "crew", "{crew}");
    for rule in [&["--public"][..], &[]] {
        let mut args = vec!["room", "create", "##ops"];
        args.extend_from_slice(rule);
        let err = refusal(addr, &dave, &args).await;
        assert_eq!(err["code"], "bad_room_name", "{err}");
        let text = err["error"].as_str().unwrap();
        assert!(text.contains("may not start with `#`"), "{text}");
    }
    let err = refusal(addr, &dave, &["room", "rename", "crew", "##ops"]).await;
    assert_eq!(err["code"], "bad_room_name", "{err}");
    let text = err["error"].as_str().unwrap();
    assert!(text.contains("may not start with `#`"), "{text}");
    ok(addr, &dave, &["room", "rename", "crew", "#deck"]).await;
    let listed = json(addr, &carol, &["room", "list"]).await;
    let mut open: Vec<&str> = listed["public"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    open.sort_unstable();
    assert_eq!(open, ["deck", "ops"], "{listed}");

    // `#ops` is alice's ops; `##ops` is no room (not one carol is in).
    let joined = json(addr, &carol, &["room", "join", "#ops"]).await;
    assert_eq!(joined["id"], ops["id"], "{joined}");
    let err = refusal(addr, &carol, &["room", "join", "##ops"]).await;
    assert_eq!(err["code"], "no_such_room", "{err}");
}

/// A public room another client named `#ops` (this one refuses to) is
/// listed under its own name, `##ops`, not as the room `ops`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_another_client_named_with_a_hash_is_listed_with_it() {
    let (server, dir, [alice, carol]) = users(["alice", "carol"]).await;
    let addr = server.addr;
    let ops = json(addr, &alice, &["room", "create", "ops", "--public"]).await;
    let mut mallory = RoomUser::new(addr, dir.path(), "mallory").await.unwrap();
    let room = RoomId(rand::random());
    let created = mallory
        .engine
        .create_room_with_rule(
            sealpost_rooms::RoomId(room.0),
            &RoomName::new("#ops").unwrap(),
            JoinRule::Public,
        )
        .unwrap();
    mallory
        .call_ok(v3::Request::RoomCreate(v3::RoomCreate {
            room,
            group_info: created.group_info.into(),
            ratchet_tree: created.ratchet_tree.into(),
        }))
        .await
        .unwrap();

    let listed = json(addr, &carol, &["room", "list"]).await;
    let theirs = listed["public"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "#ops")
        .unwrap_or_else(|| panic!("{listed}"))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = ok(addr, &carol, &["room", "list"]).await;
    let line = |id: &str| {
        shown
            .lines()
            .find(|l| l.contains(id))
            .unwrap_or_else(|| panic!("{id} not listed: {shown}"))
            .trim_start()
            .to_string()
    };
    assert!(
        line(ops["id"].as_str().unwrap()).starts_with("#ops "),
        "{shown}"
    );
    assert!(line(&theirs).starts_with("##ops "), "{shown}");
}

/// Bob's invite-only `ops` does not stop him joining alice's public `ops`:
/// the join is of the server's room of that name (or of the id `room
/// list` shows), and "already a member" is said of that very room only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_of_yours_that_shares_an_open_rooms_name_does_not_stop_joining_it() {
    let (server, _dir, [alice, bob, carol]) = users(["alice", "bob", "carol"]).await;
    let addr = server.addr;
    let ops = json(addr, &alice, &["room", "create", "ops", "--public"]).await;
    let id = ops["id"].as_str().unwrap();
    let own = json(addr, &bob, &["room", "create", "ops"]).await;
    assert_eq!(own["rule"], "invite-only", "{own}");

    let joined = json(addr, &bob, &["room", "join", "ops"]).await;
    assert_eq!(joined["id"], ops["id"], "{joined}");
    let mine = json(addr, &bob, &["room", "list"]).await;
    assert_eq!(mine["mine"].as_array().unwrap().len(), 2, "{mine}");
    // Now he is in it: said of alice's room, by its id.
    let err = refusal(addr, &bob, &["room", "join", "ops"]).await;
    assert_eq!(err["code"], "already_member", "{err}");
    let text = err["error"].as_str().unwrap();
    assert!(
        text.contains("already a member") && text.contains(id),
        "{text}"
    );

    // By the id `room list` shows, as `#ID`.
    json(addr, &carol, &["room", "create", "ops"]).await;
    let joined = json(addr, &carol, &["room", "join", &format!("#{id}")]).await;
    assert_eq!(joined["id"], ops["id"], "{joined}");
    let err = refusal(addr, &carol, &["room", "join", &format!("#{id}")]).await;
    assert_eq!(err["code"], "already_member", "{err}");

    // A name only a room of ours has: that room is named, with its id.
    let lab = json(addr, &carol, &["room", "create", "lab"]).await;
    let err = refusal(addr, &carol, &["room", "join", "lab"]).await;
    assert_eq!(err["code"], "already_member", "{err}");
    let text = err["error"].as_str().unwrap();
    assert!(
        text.contains("already a member of #lab")
            && text.contains(lab["id"].as_str().unwrap())
            && text.contains("no other room you may join"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_rooms_name_taken_on_the_server_is_refused_and_leaves_no_room_here() {
    let (server, _dir, [alice, dave]) = users(["alice", "dave"]).await;
    let addr = server.addr;
    json(addr, &alice, &["room", "create", "ops", "--public"]).await;

    for rule in ["--public", "--hidden"] {
        let err = refusal(addr, &dave, &["room", "create", "ops", rule]).await;
        assert_eq!(err["code"], "room_name_taken", "{err}");
        let text = err["error"].as_str().unwrap();
        assert!(text.contains("another public or hidden room"), "{text}");
    }
    let mine = json(addr, &dave, &["room", "list"]).await;
    assert!(mine["mine"].as_array().unwrap().is_empty(), "{mine}");

    // An invite-only room may share the name: dave's is his own, and works.
    let created = json(addr, &dave, &["room", "create", "ops"]).await;
    assert_eq!(created["rule"], "invite-only");
    ok(addr, &dave, &["room", "send", "ops", "mine"]).await;
    // Opening it, or renaming another open room to the name, is refused
    // with the same line; the room stays as it was.
    let err = refusal(addr, &dave, &["room", "set", "ops", "--public"]).await;
    assert_eq!(err["code"], "room_name_taken", "{err}");
    json(addr, &dave, &["room", "create", "crew", "--public"]).await;
    let err = refusal(addr, &dave, &["room", "rename", "crew", "ops"]).await;
    assert_eq!(err["code"], "room_name_taken", "{err}");
    let mine = json(addr, &dave, &["room", "list"]).await;
    let rules: Vec<(&str, &str)> = mine["mine"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["rule"].as_str().unwrap()))
        .collect();
    assert!(rules.contains(&("ops", "invite-only")), "{mine}");
    assert!(rules.contains(&("crew", "public")), "{mine}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_rooms_name_that_looks_like_a_taken_one_is_refused_too() {
    let (server, _dir, [alice, dave]) = users(["alice", "dave"]).await;
    let addr = server.addr;
    json(addr, &alice, &["room", "create", "team", "--public"]).await;

    // Other case, a Cyrillic e, Greek capitals: each would list as the same
    // room to a person, so none may be open beside it.
    for (name, rule) in [
        ("Team", "--public"),
        ("t\u{435}am", "--hidden"),
        ("\u{3a4}\u{395}\u{391}M", "--public"),
    ] {
        let err = refusal(addr, &dave, &["room", "create", name, rule]).await;
        assert_eq!(err["code"], "room_name_taken", "{name}: {err}");
        let text = err["error"].as_str().unwrap();
        assert!(text.contains("looks the same"), "{text}");
    }
    // Nor by opening an invite-only room, or by a rename.
    json(addr, &dave, &["room", "create", "t\u{435}am"]).await;
    let err = refusal(addr, &dave, &["room", "set", "t\u{435}am", "--public"]).await;
    assert_eq!(err["code"], "room_name_taken", "{err}");
    json(addr, &dave, &["room", "create", "crew", "--public"]).await;
    let err = refusal(addr, &dave, &["room", "rename", "crew", "TEAM"]).await;
    assert_eq!(err["code"], "room_name_taken", "{err}");

    // The room that has the name may change its case, and the old look
    // then blocks nobody: the name is the one room's either way.
    ok(addr, &alice, &["room", "rename", "team", "Team"]).await;
    let listed = json(addr, &dave, &["room", "list"]).await;
    let open: Vec<&str> = listed["public"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(open.contains(&"Team") && open.contains(&"crew"), "{listed}");
    assert_eq!(open.len(), 2, "{listed}");
}

/// The keys of the `rooms` rows on `pg`, by id: `id|key` lines, the key
/// empty when there is none.
fn room_keys(pg: &e2e::Postgres) -> Vec<String> {
    pg.query("SELECT encode(id, 'hex') || '|' || coalesce(name_key, '') FROM rooms ORDER BY id")
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// PostgreSQL's rooms from before the look-alike rule (no key), as an
/// upgraded database has them: a start keys them, the older of two
/// look-alikes first, and the key then refuses a new look-alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_rooms_named_before_the_rule_get_their_keys_at_start_on_postgresql() {
    let pg = postgres().await;
    let mut server = TestServer::start_node_with(&pg, None, |_| {})
        .await
        .unwrap();
    // Two open rooms that look alike (the older with a Cyrillic е),
    // another open one, and an invite-only one (no name kept).
    pg.query(
        "INSERT INTO rooms (id, epoch, creator, created_at, rule, name) VALUES
             ('\\x01', 1, '\\x00', 5, 1, 'team'),
             ('\\x02', 1, '\\x00', 3, 2, 't\u{435}am'),
             ('\\x03', 1, '\\x00', 9, 1, 'ops'),
             ('\\x04', 1, '\\x00', 1, 0, NULL)",
    )
    .unwrap();
    assert!(
        room_keys(&pg).iter().all(|k| k.ends_with('|')),
        "{:?}",
        room_keys(&pg)
    );
    // Twice: the younger look-alike stays without a key, and is only
    // warned about again.
    server.restart().await.unwrap();
    server.restart().await.unwrap();
    let keys = room_keys(&pg);
    let key = |id: &str| {
        keys.iter()
            .find_map(|k| k.strip_prefix(&format!("{id}|")))
            .unwrap()
            .to_string()
    };
    assert_eq!(
        key("01"),
        "",
        "the younger look-alike keeps no key: {keys:?}"
    );
    assert_ne!(key("02"), "", "{keys:?}");
    assert_ne!(key("03"), "", "{keys:?}");
    assert_ne!(key("02"), key("03"), "{keys:?}");
    assert_eq!(key("04"), "", "{keys:?}");

    // The key is the rule's: another look-alike of team is refused.
    let dir = tempfile::tempdir().unwrap();
    let dave = dir.path().join("dave");
    register(server.addr, &dave, "dave").await;
    let err = refusal(server.addr, &dave, &["room", "create", "TEAM", "--public"]).await;
    assert_eq!(err["code"], "room_name_taken", "{err}");
    json(server.addr, &dave, &["room", "create", "crew", "--public"]).await;
}
