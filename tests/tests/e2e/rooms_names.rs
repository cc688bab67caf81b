//! Room names through the real `client` binary: an open (public or hidden)
//! room's name is the server's to give once, and a client that asks for a
//! taken one is told so and keeps no room the server does not have.

use crate::rooms_cli::{json, ok, refusal, users};

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
