//! A home restored from a backup (`export`, then `import` into a fresh
//! home) that was in rooms, through the real `client` binary: a backup
//! holds no room's keys, so every command on such a room says the home
//! was restored and how to get back in (`room join`, whatever the rule:
//! `rooms_resync`; code `room_lost_in_restore`),
//! `room list` and `conversations` mark it, the rooms a member removed the
//! home from still say who did it, and an admin's remove and add brings
//! the restored home back into the room.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::rooms_cli::{inbox_room_texts, json, ok, refusal, run, users};

/// Exports `home` into the temp folder, deletes it and imports the backup
/// into a fresh home at the same place; the import's line.
pub(crate) async fn restore(addr: SocketAddr, dir: &Path, home: &PathBuf) -> String {
    let backup = dir.join("restore.backup");
    let _ = std::fs::remove_file(&backup);
    ok(addr, home, &["export", backup.to_str().unwrap()]).await;
    std::fs::remove_dir_all(home).unwrap();
    ok(addr, home, &["import", backup.to_str().unwrap()]).await
}

/// The entry of `list` (a JSON array) whose `name` is `name`.
pub(crate) fn named<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_restored_a_restored_home_is_told_how_to_get_back_in_and_an_admin_brings_it_back() {
    let (server, dir, [alice, bob, carol]) = users(["alice", "bob", "carol"]).await;
    let addr = server.addr;
    // Alice is in bob's invite-only #team and owns public #lobby; bob
    // removed her from his #ops.
    json(addr, &bob, &["room", "create", "team"]).await;
    ok(addr, &bob, &["room", "add", "team", "alice"]).await;
    ok(addr, &bob, &["room", "add", "team", "carol"]).await;
    json(addr, &alice, &["room", "create", "lobby", "--public"]).await;
    json(addr, &bob, &["room", "create", "ops"]).await;
    ok(addr, &bob, &["room", "add", "ops", "alice"]).await;
    ok(addr, &alice, &["inbox"]).await;
    ok(addr, &bob, &["room", "remove", "ops", "alice"]).await;
    ok(addr, &alice, &["room", "send", "team", "before the loss"]).await;
    ok(addr, &bob, &["inbox"]).await;
    ok(addr, &carol, &["inbox"]).await;

    let line = restore(addr, dir.path(), &alice).await;
    assert!(
        line.contains("2 rooms must be joined again or added to again"),
        "{line}"
    );

    // Each room command says why and what to do, by the room's rule.
    let err = refusal(addr, &alice, &["room", "send", "team", "hi"]).await;
    assert_eq!(err["code"], "room_lost_in_restore", "{err}");
    let text = err["error"].as_str().unwrap();
    assert!(text.contains("restored from a backup"), "{text}");
    assert!(
        text.contains("join it again with `room join team`"),
        "{text}"
    );
    let (success, _, err) = run(addr, &alice, &["room", "members", "lobby"]).await;
    assert!(!success);
    assert!(
        err.contains("join it again with `room join lobby`"),
        "{err}"
    );
    // A room a member removed her from still says who and when.
    let err = refusal(addr, &alice, &["room", "send", "ops", "hi"]).await;
    assert_eq!(err["code"], "removed_from_room", "{err}");
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("bob removed you from #ops")
    );

    // The lists mark them, with the way back.
    let list = json(addr, &alice, &["room", "list"]).await;
    let team = named(&list["restored"], "team");
    assert_eq!(team["rule"], "invite-only", "{list}");
    assert_eq!(team["admins"], serde_json::json!(["bob"]), "{list}");
    let shown = ok(addr, &alice, &["room", "list"]).await;
    assert!(shown.contains("(restored: rejoin)"), "{shown}");
    assert!(!shown.contains("none yet"), "{shown}");
    let conversations = json(addr, &alice, &["conversations"]).await;
    assert_eq!(named(&conversations, "team")["restored"], true);
    assert_eq!(named(&conversations, "lobby")["restored"], true);
    let shown = ok(addr, &alice, &["conversations"]).await;
    let team_line = shown.lines().find(|l| l.starts_with("#team")).unwrap();
    assert!(team_line.contains("(restored: rejoin)"), "{shown}");
    // The room's history is kept under its name.
    let history = ok(addr, &alice, &["history", "#team"]).await;
    assert!(history.contains("before the loss"), "{history}");

    // Bob, an admin, removes her old membership and adds her again: she
    // reads and sends in the room as before, and it is no longer marked.
    // Adding her while the room still lists her says how.
    let err = refusal(addr, &bob, &["room", "add", "team", "alice"]).await;
    assert_eq!(err["code"], "already_member", "{err}");
    let text = err["error"].as_str().unwrap();
    assert!(
        text.contains("restored from a backup") && text.contains("client room remove team alice"),
        "{text}"
    );
    ok(addr, &bob, &["room", "remove", "team", "alice"]).await;
    ok(addr, &bob, &["room", "add", "team", "alice"]).await;
    ok(addr, &alice, &["inbox"]).await;
    ok(addr, &bob, &["room", "send", "team", "welcome back"]).await;
    assert_eq!(inbox_room_texts(addr, &alice).await, ["welcome back"]);
    ok(addr, &alice, &["room", "send", "team", "thanks"]).await;
    assert!(
        inbox_room_texts(addr, &carol)
            .await
            .contains(&"thanks".to_string())
    );
    let list = json(addr, &alice, &["room", "list"]).await;
    assert!(
        !list["restored"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "team"),
        "{list}"
    );
    assert_eq!(named(&list["mine"], "team")["role"], "member", "{list}");

    // A backup of the restored home still names the room not yet rejoined.
    let line = restore(addr, dir.path(), &alice).await;
    assert!(line.contains("2 rooms must be joined again"), "{line}");
    let err = refusal(addr, &alice, &["room", "send", "lobby", "hi"]).await;
    assert_eq!(err["code"], "room_lost_in_restore", "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_restored_an_open_room_is_joined_again_in_place_of_the_old_membership() {
    let (server, dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    json(addr, &alice, &["room", "create", "lobby", "--public"]).await;
    json(addr, &bob, &["room", "join", "lobby"]).await;
    ok(addr, &alice, &["inbox"]).await;
    restore(addr, dir.path(), &alice).await;

    // The server and bob still count her old membership: the join
    // replaces it (a resync), and she keeps her role.
    json(addr, &alice, &["room", "join", "lobby"]).await;
    let list = json(addr, &alice, &["room", "list"]).await;
    assert_eq!(list["restored"], serde_json::json!([]), "{list}");
    let lobby = named(&list["mine"], "lobby");
    assert_eq!(lobby["role"], "owner", "{list}");
    assert_eq!(lobby["members"], 2, "{list}");
    ok(addr, &alice, &["room", "send", "lobby", "back"]).await;
    assert_eq!(inbox_room_texts(addr, &bob).await, ["back"]);
    let members = json(addr, &bob, &["room", "members", "lobby"]).await;
    assert_eq!(members.as_array().unwrap().len(), 2, "{members}");
    ok(addr, &bob, &["room", "send", "lobby", "hi again"]).await;
    assert_eq!(inbox_room_texts(addr, &alice).await, ["hi again"]);
}
