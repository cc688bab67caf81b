//! A room's creation in its creator's history, through the real `client`
//! binary: the first entry of each room the user created (invite-only,
//! public, hidden with a password), once, with the rule it was made with
//! (in words when not invite-only), in plain text and in JSON; never
//! unread, never shown by `inbox`. A member who came later reads no creation: they
//! did not see it. A creation a crash cut short is finished by the next
//! command: recorded once and told once if the server took the room, else
//! forgotten (the name free again) and told once that it was not made.

use serde_json::Value;

use crate::rooms_cli::{json, ok, refusal, room_events, run, users};
use crate::rooms_history_events::{entries, event_lines};

/// The lines of a plain `history` that hold an entry (they start with its
/// time), without the time.
fn entry_lines(history: &str) -> Vec<&str> {
    history
        .lines()
        .filter(|l| l.starts_with('['))
        .map(e2e::untimed)
        .collect()
}

/// The `history --json` entry of a creation of `name` with `rule`, as
/// (type, room_event, name, rule, direction, status, message_id).
fn creation(e: &Value) -> [Value; 7] {
    [
        e["type"].clone(),
        e["room_event"].clone(),
        e["name"].clone(),
        e["rule"].clone(),
        e["direction"].clone(),
        e["status"].clone(),
        e["message_id"].clone(),
    ]
}

fn created(name: &str, rule: &str) -> [Value; 7] {
    [
        "event".into(),
        "created".into(),
        name.into(),
        rule.into(),
        "out".into(),
        "read".into(),
        Value::Null,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_history_created_opens_the_creators_history_once_with_its_rule() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    ok(addr, &alice, &["room", "create", "lobby", "--public"]).await;
    ok(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    ok(addr, &alice, &["room", "send", "team", "hello bob"]).await;
    json(addr, &bob, &["inbox"]).await;
    // Bob joins the public room by name; alice's inbox reads his join.
    json(addr, &bob, &["room", "join", "lobby"]).await;
    let shown = room_events(&json(addr, &alice, &["inbox"]).await);
    let kinds: Vec<&str> = shown
        .iter()
        .map(|e| e["room_event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["joined_by_name"], "no creation is shown: {shown:?}");

    let event = |what: &str| ("event".to_string(), what.to_string());
    let text = |what: &str| ("text".to_string(), what.to_string());
    let team = json(addr, &alice, &["history", "#team"]).await;
    assert_eq!(
        entries(&team),
        [event("created"), event("added"), text("hello bob")],
        "{team}"
    );
    assert_eq!(creation(&team[0]), created("team", "invite-only"), "{team}");
    let lobby = json(addr, &alice, &["history", "#lobby"]).await;
    assert_eq!(
        entries(&lobby),
        [event("created"), event("joined_by_name")],
        "{lobby}"
    );
    assert_eq!(creation(&lobby[0]), created("lobby", "public"), "{lobby}");

    let plain = ok(addr, &alice, &["history", "#team"]).await;
    assert_eq!(
        entry_lines(&plain)[0],
        "-- you created #team",
        "the first entry: {plain}"
    );
    assert_eq!(
        event_lines(&plain),
        ["you created #team", "you added bob"],
        "{plain}"
    );
    let plain = ok(addr, &alice, &["history", "#lobby"]).await;
    assert_eq!(
        event_lines(&plain),
        ["you created #lobby (public)", "bob joined"],
        "{plain}"
    );
    assert_eq!(entry_lines(&plain).len(), 2, "{plain}");

    // A room made with a password (`room create` registers it after the
    // room is made) says so.
    let (success, _, err) = crate::rooms_password::with_stdin(
        addr,
        &alice,
        &["room", "create", "vault", "--hidden", "--password"],
        "open sesame\n",
    )
    .await;
    assert!(success, "{err}");
    let vault = json(addr, &alice, &["history", "#vault"]).await;
    assert_eq!(entries(&vault), [event("created")], "{vault}");
    assert_eq!(
        creation(&vault[0]),
        created("vault", "hidden+password"),
        "{vault}"
    );
    let plain = ok(addr, &alice, &["history", "#vault"]).await;
    assert_eq!(
        entry_lines(&plain),
        ["-- you created #vault (hidden, with a password)"],
        "{plain}"
    );

    // Never unread: alice's rooms have nothing unread.
    let list = json(addr, &alice, &["conversations"]).await;
    for c in list.as_array().unwrap() {
        assert_eq!(c["unread"], 0, "{list}");
    }

    // Bob, who came later, reads no creation in either room.
    let team = json(addr, &bob, &["history", "#team"]).await;
    assert_eq!(
        entries(&team),
        [event("joined"), text("hello bob")],
        "{team}"
    );
    let lobby = json(addr, &bob, &["history", "#lobby"]).await;
    assert_eq!(entries(&lobby), [event("joined_by_name")], "{lobby}");
    for room in ["#team", "#lobby"] {
        let plain = ok(addr, &bob, &["history", room]).await;
        assert!(!plain.contains("created"), "{room}: {plain}");
    }
}

/// The names of `home`'s own rooms, as `room list --json` gives them.
async fn own_rooms(addr: std::net::SocketAddr, home: &std::path::Path) -> Vec<String> {
    let list = json(addr, home, &["room", "list"]).await;
    list["mine"]
        .as_array()
        .unwrap_or_else(|| panic!("no rooms in {list}"))
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_history_created_a_creation_cut_short_by_a_crash_is_finished_by_the_next_command() {
    // Killed with the room made here but not sent (the server never had
    // it), or taken by the server but not recorded; then the next command
    // is an inbox or the same creation again.
    let event = |what: &str| ("event".to_string(), what.to_string());
    for (at, next) in [
        ("made", "inbox"),
        ("made", "create"),
        ("taken", "inbox"),
        ("taken", "create"),
    ] {
        let case = format!("{at}, then {next}");
        let (server, _dir, [alice]) = users(["alice"]).await;
        let addr = server.addr;
        let create = ["room", "create", "lobby", "--public"];
        e2e::run_client_crashing_at(addr, &alice, &create, client::rooms::CREATE_TEST_CRASH, at)
            .await;
        let (notice, line) = match at {
            "made" => (
                "create_cut_short",
                "[#lobby] your creation of the room was cut short before the server took it: \
                 it was not made",
            ),
            _ => ("created", "[#lobby] you created #lobby (public)"),
        };
        if next == "create" {
            let (success, _, err) = run(addr, &alice, &create).await;
            // Not made: the name is free again. Made: it is ours.
            assert_eq!(success, at == "made", "{case}: {err}");
            if at == "taken" {
                assert!(
                    err.contains("you are already in a room named"),
                    "{case}: {err}"
                );
            }
        }
        // No command said what became of it: the next inbox does, once.
        if next == "inbox" {
            let shown = room_events(&json(addr, &alice, &["inbox"]).await);
            let kinds: Vec<&str> = shown
                .iter()
                .map(|e| e["room_event"].as_str().unwrap())
                .collect();
            assert_eq!(kinds, [notice], "{case}: {shown:?}");
            assert_eq!(shown[0]["room"], "lobby", "{case}: {shown:?}");
        } else {
            let shown = ok(addr, &alice, &["inbox"]).await;
            let lines: Vec<&str> = shown.lines().filter(|l| l.contains("#lobby")).collect();
            assert_eq!(lines.len(), 1, "{case}: {shown}");
            assert!(lines[0].ends_with(line), "{case}: {shown}");
        }
        assert!(
            room_events(&json(addr, &alice, &["inbox"]).await).is_empty(),
            "{case}: told once"
        );

        assert_eq!(
            own_rooms(addr, &alice).await,
            if at == "made" && next == "inbox" {
                Vec::<String>::new()
            } else {
                vec!["lobby".to_string()]
            },
            "{case}"
        );
        if at == "made" && next == "inbox" {
            // Never made: no room of that name here, nor any history.
            let err = refusal(addr, &alice, &["history", "#lobby"]).await;
            assert_eq!(err["code"], "no_such_room", "{case}: {err}");
        } else {
            let history = json(addr, &alice, &["history", "#lobby"]).await;
            assert_eq!(entries(&history), [event("created")], "{case}: {history}");
            assert_eq!(creation(&history[0]), created("lobby", "public"), "{case}");
            // The room works: a text to it is the next entry.
            ok(addr, &alice, &["room", "send", "lobby", "still here"]).await;
            let history = json(addr, &alice, &["history", "#lobby"]).await;
            assert_eq!(history.as_array().unwrap().len(), 2, "{case}: {history}");
        }
    }
}
