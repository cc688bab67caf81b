//! Two rooms of one user that share a name, through the real binaries: a
//! command naming both is refused with each room's id and owner and the
//! `'#ID'` form (in `--json` too, with the candidates), every room command
//! takes `#ID`, and what a command did names the room as lists show it,
//! not as typed; a rename tells members the old name and the new; `room
//! members` lines up a member shown by id and says why a member is shown
//! so (its name a contact's here, or its pinned name now another
//! account's); the full-screen client's `/join NAME`, and `room join
//! NAME`, join the open room of that name rather than going to a room of
//! yours that has it (two such rooms and no open one: refused naming
//! both); and the full-screen client's list, title and password prompt
//! tell rooms of one name apart by owner (and id).

use serde_json::Value;

use crate::operator::server_cmd;
use crate::rooms_cli::{json, ok, refusal, register, room_events, users};
use crate::tui::{Tui, alice_on_a_server};

/// The ids of an `ambiguous_room` error's candidates, with their owners.
fn candidates(err: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = err["candidates"]
        .as_array()
        .unwrap_or_else(|| panic!("no candidates: {err}"))
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["owner"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rooms_of_one_name_are_told_apart_by_id_and_shown_by_their_own_names() {
    let (server, _dir, [alice, bob, _carol]) = users(["alice", "bob", "carol"]).await;
    let addr = server.addr;
    let ops = json(addr, &alice, &["room", "create", "ops", "--public"]).await;
    let theirs = ops["id"].as_str().unwrap().to_string();
    let own = json(addr, &bob, &["room", "create", "Ops"]).await;
    let mine = own["id"].as_str().unwrap().to_string();
    json(addr, &bob, &["room", "join", "ops"]).await;

    // Both rooms are named, each with its id and owner, and how to give one.
    let err = refusal(addr, &bob, &["room", "send", "ops", "which one?"]).await;
    assert_eq!(err["code"], "ambiguous_room", "{err}");
    let mut expected = vec![
        (theirs.clone(), "alice".to_string()),
        (mine.clone(), "you".to_string()),
    ];
    expected.sort();
    assert_eq!(candidates(&err), expected, "{err}");
    let text = err["error"].as_str().unwrap();
    for said in [
        format!("#ops (owner alice, id {theirs})"),
        format!("#Ops (owner you, id {mine})"),
        "name the one you mean by its id as '#ID'".to_string(),
    ] {
        assert!(text.contains(&said), "{said:?} not in {text}");
    }
    let (done, _, plain) = crate::rooms_cli::run(addr, &bob, &["room", "members", "OPS"]).await;
    assert!(!done && plain.contains(&format!("id {mine}")), "{plain}");

    // `#ID` reaches each; what was done names the room as lists show it.
    let hash = |id: &str| format!("#{id}");
    let m = hash(&mine);
    let out = ok(addr, &bob, &["room", "send", &hash(&theirs), "to alice's"]).await;
    assert!(out.starts_with("sent to #ops (entry "), "{out}");
    let sent = json(
        addr,
        &bob,
        &["room", "send", &mine.to_uppercase(), "to mine"],
    )
    .await;
    assert_eq!(
        (&sent["room"], &sent["room_id"]),
        (&Value::from("Ops"), &Value::from(mine.as_str())),
        "{sent}"
    );
    let out = ok(addr, &alice, &["room", "send", "OPS", "as typed"]).await;
    assert!(out.starts_with("sent to #ops (entry "), "{out}");
    for (args, said) in [
        (["room", "add", &m, "carol"], "added carol to #Ops"),
        (
            ["room", "promote", &m, "carol"],
            "carol is now an admin of #Ops",
        ),
        (
            ["room", "demote", &m, "carol"],
            "carol is now a member of #Ops",
        ),
        (
            ["room", "kick", &m, "carol"],
            "kicked carol from #Ops; they cannot join again unless an admin adds them (the \
             room is invite-only)",
        ),
        (["room", "ban", &m, "carol"], "banned carol from #Ops"),
        (
            ["room", "unban", &m, "carol"],
            "carol is no longer banned from #Ops; an admin may add them (the room is invite-only)",
        ),
        (["room", "set", &m, "--invite"], ""),
    ] {
        let (done, out, err) = crate::rooms_cli::run(addr, &bob, &args).await;
        if said.is_empty() {
            // Already invite-only: refused, about that room by its name.
            assert!(
                !done && err.contains("#Ops is already invite-only"),
                "{args:?}: {err}"
            );
        } else {
            assert!(done && out.contains(said), "{args:?}: {out}{err}");
        }
    }
    let members = json(addr, &bob, &["room", "members", &hash(&theirs)]).await;
    assert_eq!(members.as_array().unwrap().len(), 2, "{members}");

    // A rename names both, in the renamer's line and in the members'.
    let out = ok(addr, &alice, &["room", "rename", "#OPS", "platform"]).await;
    assert_eq!(out.trim(), "renamed #ops to #platform", "{out}");
    let inbox = json(addr, &bob, &["inbox"]).await;
    let renamed = room_events(&inbox)
        .into_iter()
        .find(|e| e["room_event"] == "renamed")
        .unwrap_or_else(|| panic!("no rename in {inbox}"));
    assert_eq!(
        (&renamed["old_name"], &renamed["name"], &renamed["room"]),
        (
            &Value::from("ops"),
            &Value::from("platform"),
            &Value::from("platform")
        ),
        "{renamed}"
    );
    let renamed = json(addr, &alice, &["room", "rename", "platform", "deck"]).await;
    assert_eq!(
        (&renamed["old_name"], &renamed["room"], &renamed["room_id"]),
        (
            &Value::from("platform"),
            &Value::from("deck"),
            &Value::from(theirs.as_str())
        ),
        "{renamed}"
    );
    let shown = ok(addr, &bob, &["inbox"]).await;
    assert!(
        shown.contains("[#deck] alice renamed #platform to #deck"),
        "{shown}"
    );
    // The names differ now: each is its own name again.
    ok(addr, &bob, &["room", "send", "ops", "mine again"]).await;
}

/// The column where `id` starts in `line`, in characters.
fn column(line: &str, id: &str) -> usize {
    let at = line
        .rfind(id)
        .unwrap_or_else(|| panic!("{id} not in {line}"));
    line[..at].chars().count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_shown_by_id_line_up_and_say_why() {
    let (server, dir, [alice, bob, _dave]) = users(["alice", "bob", "dave"]).await;
    let addr = server.addr;
    let old_bob = json(addr, &alice, &["key", "bob"]).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    json(addr, &alice, &["room", "create", "crew", "--public"]).await;
    ok(addr, &alice, &["room", "add", "crew", "bob"]).await;
    ok(addr, &bob, &["inbox"]).await;

    // The operator removes bob's account; someone else registers "bob".
    let (done, _, err) = server_cmd(&server.config.data_dir, &["user", "remove", "bob"]).await;
    assert!(done, "{err}");
    let new_bob_home = dir.path().join("new-bob");
    let new_bob = register(addr, &new_bob_home, "bob").await.to_string();
    let members = json(addr, &alice, &["room", "members", "crew"]).await;
    let old = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == old_bob.as_str())
        .unwrap_or_else(|| panic!("{members}"));
    assert_eq!(
        (&old["name"], &old["gone"], &old["name_now_of"]),
        (
            &Value::from("bob"),
            &Value::from(true),
            &Value::from(new_bob.as_str())
        ),
        "{old}"
    );
    let shown = ok(addr, &alice, &["room", "members", "crew"]).await;
    assert!(
        shown.contains(&format!(
            "the name \"bob\" now belongs to another key, {new_bob})"
        )),
        "{shown}"
    );

    // An add is refused while the server says the old bob is gone (the
    // client removes no one on its word); alice removes him by her own
    // command, then adds; the new bob joins, shown by id.
    let err = refusal(addr, &alice, &["room", "add", "crew", "dave"]).await;
    assert_eq!(err["code"], "members_gone", "{err}");
    ok(addr, &alice, &["room", "remove", "crew", "bob"]).await;
    ok(addr, &alice, &["room", "add", "crew", "dave"]).await;
    json(addr, &new_bob_home, &["room", "join", "crew"]).await;
    let members = json(addr, &alice, &["room", "members", "crew"]).await;
    let by_id = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == new_bob.as_str())
        .unwrap_or_else(|| panic!("{members}"));
    assert_eq!(by_id["name"], new_bob.as_str(), "{by_id}");
    assert_eq!(by_id["server_name"], "bob", "{by_id}");
    assert_eq!(by_id["name_held_by"]["name"], "bob", "{by_id}");
    assert_eq!(
        by_id["name_held_by"]["client_id"],
        old_bob.as_str(),
        "{by_id}"
    );
    let shown = ok(addr, &alice, &["room", "members", "crew"]).await;
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 3, "{shown}");
    let ids: Vec<String> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    let columns: Vec<usize> = lines
        .iter()
        .zip(&ids)
        .map(|(l, id)| column(l, id))
        .collect();
    assert!(columns.iter().all(|c| *c == columns[0]), "{shown}");
    let line = lines
        .iter()
        .find(|l| l.starts_with(&new_bob))
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(
        line.ends_with(&format!(
            "(registered as \"bob\"; here \"bob\" is your contact {old_bob}, another key)"
        )),
        "{line}"
    );
}

/// `/join team` with a room of hers named `team`: alice joins bob's public
/// `team` and writes there; `/join team` again goes to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_on_the_screen_joins_the_open_room_that_shares_a_name_with_yours() {
    let (dir, server, _addr, home) = alice_on_a_server().await;
    let bob = dir.path().join("bob");
    register(server.addr, &bob, "bob").await;
    json(server.addr, &bob, &["room", "create", "team", "--public"]).await;

    let mut tui = Tui::start(&home, server.addr).await;
    tui.wait_for("No conversations yet").await;
    tui.keys("/create team\r").await;
    tui.wait_for(" to #team ").await;
    tui.keys("/join team\r").await;
    tui.wait_for("joined #team (2 members)").await;
    tui.keys("in bob's room\r").await;
    tui.wait_for("in bob's room").await;
    tui.keys("/members\r").await;
    tui.wait_for("2 members of #team").await;
    // Now the open room of that name is one she is in: she goes there.
    tui.keys("/join #team\r").await;
    tui.wait_for("you are in #team already").await;
    tui.keys("there again\r").await;
    tui.wait_for("there again").await;
    tui.quit().await;

    let inbox = json(server.addr, &bob, &["inbox"]).await;
    let texts = crate::rooms_cli::texts(&room_events(&inbox));
    assert_eq!(texts, ["in bob's room", "there again"], "{inbox}");
}

/// `room join lab` with two invite-only `lab`s, bob's own and alice's
/// that she added him to, and no open room of that name: refused naming
/// both (it said there was no such room); once carol opens a `lab`, it
/// joins hers, as the screen's `/join` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_by_a_name_two_of_your_rooms_share_names_both_or_joins_the_open_one() {
    let (server, _dir, [alice, bob, carol]) = users(["alice", "bob", "carol"]).await;
    let addr = server.addr;
    let own = json(addr, &bob, &["room", "create", "lab"]).await;
    let hers = json(addr, &alice, &["room", "create", "lab"]).await;
    ok(addr, &alice, &["room", "add", "lab", "bob"]).await;
    ok(addr, &bob, &["inbox"]).await;

    let err = refusal(addr, &bob, &["room", "join", "lab"]).await;
    assert_eq!(err["code"], "ambiguous_room", "{err}");
    let mut expected = vec![
        (own["id"].as_str().unwrap().to_string(), "you".to_string()),
        (
            hers["id"].as_str().unwrap().to_string(),
            "alice".to_string(),
        ),
    ];
    expected.sort();
    assert_eq!(candidates(&err), expected, "{err}");

    let open = json(addr, &carol, &["room", "create", "lab", "--public"]).await;
    let joined = json(addr, &bob, &["room", "join", "lab"]).await;
    assert_eq!(joined["id"], open["id"], "{joined}");
    let err = refusal(addr, &bob, &["room", "join", "#lab"]).await;
    assert_eq!(err["code"], "already_member", "{err}");
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains(open["id"].as_str().unwrap()),
        "{err}"
    );
}

/// The screen's list tells two rooms of one name apart by owner, as an
/// ambiguous name's refusal does (and `conversations` too); the pane's
/// title and `/set password`'s prompt name the room so, not by its id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_screen_tells_rooms_of_one_name_apart_in_its_list_title_and_prompts() {
    let (dir, server, _addr, home) = alice_on_a_server().await;
    let addr = server.addr;
    let bob = dir.path().join("bob");
    register(addr, &bob, "bob").await;
    json(addr, &bob, &["room", "create", "team", "--public"]).await;
    let mine = json(addr, &home, &["room", "create", "team"]).await;
    let mine = mine["id"].as_str().unwrap().to_string();
    json(addr, &home, &["room", "join", "team"]).await;
    let listed = ok(addr, &home, &["conversations"]).await;
    for said in ["(owner bob)", "(owner you)"] {
        assert!(listed.contains(said), "{said} not in {listed}");
    }

    let mut tui = Tui::start(&home, addr).await;
    let screen = tui.wait_for("#team (owner bob)").await;
    assert!(
        crate::tui::list_row(&screen, "#team (owner you)").is_some(),
        "{screen}"
    );
    tui.keys(&format!("/open #{mine}\r")).await;
    tui.wait_for(" #team (owner you) - invite-only ").await;
    tui.keys("/set password\r").await;
    let screen = tui.wait_for("new password of #team (owner you)").await;
    assert!(!screen.contains(&mine), "{screen}");
    tui.keys("\x1b").await;
    // Esc and the next keys in one read would be Alt and a key.
    tui.wait_until("the prompt gone", |s| !s.contains("new password of"))
        .await;
    tui.quit().await;
}
