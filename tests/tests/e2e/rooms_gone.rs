//! A room's history and its end, through the real `client` binary: a
//! rename keeps one conversation (history is kept by room id); a new room
//! with a deleted room's name starts a conversation of its own, the old
//! one still shown by its id; a member
//! removed while away, whose room is then deleted, sees the room gone from
//! the server and forgets it with `room leave`; a member behind on the
//! room's epochs is told of a deletion it cannot check; a join by a name in
//! the wrong case offers the listed room's name.

use serde_json::Value;

use crate::operator::server_cmd;
use crate::rooms_cli::{inbox_room_texts, json, ok, refusal, room_events, users};

/// The texts of a `history --json`, oldest first.
fn history_texts(history: &Value) -> Vec<&str> {
    history
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["text"].as_str())
        .collect()
}

/// `client --json ...` with `line` (its arguments as a user types them)
/// read by `sh`; its standard output as JSON.
async fn through_shell(addr: std::net::SocketAddr, home: &std::path::Path, line: &str) -> Value {
    let out = e2e::bounded(
        "client through sh",
        tokio::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "exec \"$0\" --json --home \"$1\" --server \"$2\" {line}"
            ))
            .arg(e2e::binary("client").unwrap())
            .arg(home)
            .arg(addr.to_string())
            .env("SEALPOST_PASSPHRASE", e2e::TEST_PASSPHRASE)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "sh -c {line:?}: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stderr}"))
}

/// The room names in a `conversations --json`.
fn room_conversations(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .filter(|c| c["room"] == true)
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_gone_a_renamed_room_keeps_one_history_for_every_member() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    json(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    ok(addr, &bob, &["inbox"]).await;
    ok(addr, &alice, &["room", "send", "team", "before the rename"]).await;
    ok(addr, &bob, &["inbox"]).await;

    ok(addr, &alice, &["room", "rename", "team", "crew"]).await;
    ok(addr, &alice, &["room", "send", "crew", "after the rename"]).await;
    ok(addr, &bob, &["inbox"]).await;

    // The renamer (its own commit read back) and the member who read it.
    for home in [&alice, &bob] {
        let history = json(addr, home, &["history", "#crew"]).await;
        assert_eq!(
            history_texts(&history),
            ["before the rename", "after the rename"],
            "{history}"
        );
        let rooms = json(addr, home, &["conversations"]).await;
        assert_eq!(room_conversations(&rooms), ["crew"], "{rooms}");
    }
}

/// The texts and the room id of each text of a `history --json` (its
/// events, joins and the like, left out).
fn texts_in(history: &Value) -> Vec<(&str, &str)> {
    history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "text")
        .map(|e| {
            assert_eq!(e["conversation"]["kind"], "room", "{e}");
            (
                e["text"].as_str().unwrap(),
                e["conversation"]["id"].as_str().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_gone_a_new_room_with_an_old_name_has_its_own_history() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    let old = json(addr, &alice, &["room", "create", "team"]).await;
    let old = old["id"].as_str().unwrap().to_string();
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    ok(addr, &bob, &["inbox"]).await;
    ok(addr, &alice, &["room", "send", "team", "old hello"]).await;
    ok(addr, &bob, &["inbox"]).await;
    ok(addr, &bob, &["room", "send", "team", "old reply"]).await;
    ok(addr, &alice, &["inbox"]).await;
    ok(addr, &alice, &["room", "delete", "team"]).await;
    ok(addr, &bob, &["inbox"]).await;

    let new = json(addr, &alice, &["room", "create", "team"]).await;
    let new = new["id"].as_str().unwrap().to_string();
    assert_ne!(old, new);
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    ok(addr, &bob, &["inbox"]).await;
    ok(addr, &alice, &["room", "send", "team", "new hello"]).await;
    ok(addr, &bob, &["inbox"]).await;

    for home in [&alice, &bob] {
        // By name: the room of that name we are in, and only its history.
        let history = json(addr, home, &["history", "#team"]).await;
        assert_eq!(
            texts_in(&history),
            [("new hello", new.as_str())],
            "{history}"
        );

        // Both are listed; the deleted one by its id, which shows its history.
        let list = json(addr, home, &["conversations"]).await;
        let rooms: Vec<(&str, &str, bool)> = list
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["room"] == true)
            .map(|c| {
                assert_eq!(c["name"], "team", "{c}");
                (
                    c["id"].as_str().unwrap(),
                    c["address"].as_str().unwrap(),
                    c["member"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            rooms,
            [
                (new.as_str(), "team", true),
                (old.as_str(), old.as_str(), false)
            ],
            "{list}"
        );
        let shown = ok(addr, home, &["conversations"]).await;
        assert!(
            shown.contains(&format!(
                "(no longer a member; `history '#{old}'` shows it)"
            )),
            "{shown}"
        );
        // The hint, typed into a shell as shown, reaches that room (an
        // unquoted `#` would make the rest of the line a comment).
        let hint = shown
            .split("; `")
            .nth(1)
            .and_then(|rest| rest.split('`').next())
            .unwrap_or_else(|| panic!("no hint in {shown}"));
        assert_eq!(
            history_texts(&through_shell(addr, home, hint).await),
            ["old hello", "old reply"]
        );
        let history = json(addr, home, &["history", &format!("#{old}")]).await;
        assert_eq!(
            texts_in(&history),
            [("old hello", old.as_str()), ("old reply", old.as_str())],
            "{history}"
        );
        assert_eq!(history[0]["conversation"]["name"], "team", "{history}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_gone_a_room_deleted_while_a_member_was_away_is_shown_gone_and_leave_forgets_it() {
    let (server, _dir, [alice, bob, carol]) = users(["alice", "bob", "carol"]).await;
    let addr = server.addr;
    json(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob", "carol"]).await;
    ok(addr, &bob, &["inbox"]).await;
    ok(addr, &carol, &["inbox"]).await;

    // Bob is removed and the room deleted while bob and carol are away:
    // no notice reaches bob, and carol's comes from an epoch she never saw
    // (the room's log went with it).
    ok(addr, &alice, &["room", "remove", "team", "bob"]).await;
    ok(addr, &alice, &["room", "delete", "team"]).await;

    let told = room_events(&json(addr, &carol, &["inbox"]).await);
    let kinds: Vec<&str> = told
        .iter()
        .map(|e| e["room_event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["deleted_unchecked"], "{told:?}");
    let shown = ok(addr, &carol, &["room", "list"]).await;
    assert!(shown.contains("`room leave team` forgets it"), "{shown}");

    for home in [&bob, &carol] {
        let list = json(addr, home, &["room", "list"]).await;
        assert_eq!(list["mine"][0]["name"], "team", "{list}");
        assert_eq!(list["mine"][0]["gone"], true, "{list}");
        let err = refusal(addr, home, &["room", "send", "team", "hello?"]).await;
        assert_eq!(err["code"], "room_gone", "{err}");
        assert!(
            err["error"]
                .as_str()
                .unwrap()
                .contains("`client room leave team` forgets it here"),
            "{err}"
        );

        let left = json(addr, home, &["room", "leave", "team"]).await;
        assert_eq!(left["forgotten"], true, "{left}");
        let list = json(addr, home, &["room", "list"]).await;
        assert!(list["mine"].as_array().unwrap().is_empty(), "{list}");
    }

    // A room still on the server is listed as it is, and left as before.
    json(addr, &alice, &["room", "create", "crew"]).await;
    ok(addr, &alice, &["room", "add", "crew", "bob"]).await;
    ok(addr, &alice, &["room", "promote", "crew", "bob"]).await;
    ok(addr, &bob, &["inbox"]).await;
    let list = json(addr, &bob, &["room", "list"]).await;
    assert_eq!(list["mine"][0]["gone"], false, "{list}");
    let left = json(addr, &bob, &["room", "leave", "crew"]).await;
    assert_eq!(left["leave_requested"], true, "{left}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_gone_a_join_in_the_wrong_case_names_the_listed_room() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    json(addr, &alice, &["room", "create", "Lobby", "--public"]).await;
    json(addr, &alice, &["room", "create", "den", "--hidden"]).await;

    let err = refusal(addr, &bob, &["room", "join", "lobby"]).await;
    assert_eq!(err["code"], "no_such_room", "{err}");
    let line = err["error"].as_str().unwrap();
    assert!(line.contains("did you mean #Lobby?"), "{err}");
    // A hidden room stays as secret as its name: no suggestion.
    let err = refusal(addr, &bob, &["room", "join", "Den"]).await;
    assert_eq!(err["code"], "no_such_room", "{err}");
    assert!(
        !err["error"].as_str().unwrap().contains("did you mean"),
        "{err}"
    );

    json(addr, &bob, &["room", "join", "Lobby"]).await;
}

/// A member whose account the operator removed: `room members` marks it,
/// and `room add` refuses, naming it (its leaf would make the new member's
/// client refuse the invitation: a member it cannot check), and removes
/// no one on the server's word; once the admin removes it by their own
/// command, the new member joins and reads the room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_whose_account_was_removed_is_named_by_add_until_an_admin_removes_it() {
    let (server, _dir, [alice, bob, carol, dave]) = users(["alice", "bob", "carol", "dave"]).await;
    let addr = server.addr;
    json(addr, &alice, &["room", "create", "crew"]).await;
    ok(addr, &alice, &["room", "add", "crew", "bob", "carol"]).await;
    ok(addr, &bob, &["inbox"]).await;
    ok(addr, &carol, &["inbox"]).await;
    let (done, _, err) = server_cmd(&server.config.data_dir, &["user", "remove", "carol"]).await;
    assert!(done, "{err}");

    let members = json(addr, &alice, &["room", "members", "crew"]).await;
    let gone: Vec<&str> = members
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["gone"] == true)
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(gone, ["carol"], "{members}");
    let shown = ok(addr, &alice, &["room", "members", "crew"]).await;
    assert!(shown.contains("account gone from the server"), "{shown}");

    let err = refusal(addr, &alice, &["room", "add", "crew", "dave"]).await;
    assert_eq!(err["code"], "members_gone", "{err}");
    assert_eq!(
        err["error"],
        "cannot add to #crew yet: the server says the account of carol, a member, is gone, and a \
         new member's client refuses an invitation naming a member the server does not know; if \
         it is gone, remove carol first (client room remove crew carol), then add again",
        "{err}"
    );
    let members = json(addr, &alice, &["room", "members", "crew"]).await;
    assert_eq!(
        members.as_array().unwrap().len(),
        3,
        "nobody removed: {members}"
    );
    let seen = ok(addr, &bob, &["inbox"]).await;
    assert!(!seen.contains("removed carol"), "{seen}");

    ok(addr, &alice, &["room", "remove", "crew", "carol"]).await;
    let added = json(addr, &alice, &["room", "add", "crew", "dave"]).await;
    assert_eq!(added["added"], serde_json::json!(["dave"]), "{added}");
    ok(addr, &alice, &["room", "send", "crew", "welcome dave"]).await;
    assert_eq!(inbox_room_texts(addr, &dave).await, ["welcome dave"]);
    let members = json(addr, &dave, &["room", "members", "crew"]).await;
    assert_eq!(members.as_array().unwrap().len(), 3, "{members}");
    let seen = ok(addr, &bob, &["inbox"]).await;
    assert!(seen.contains("[#crew] alice removed carol"), "{seen}");
    assert!(seen.contains("welcome dave"), "{seen}");
}
