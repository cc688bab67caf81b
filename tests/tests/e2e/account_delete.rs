//! Deleting one's own account (114) through the real binaries: a wrong name
//! deletes nothing; the right one deletes what waited for the account, frees
//! the name and closes its other sessions; the home then says why it cannot
//! connect and keeps its history; a peer still reads what it sent before,
//! quietly (a peer who never pinned it is told once how many it could not
//! read); peers' pins hold against whoever takes the name next. An account
//! still in a room is refused until it asked to leave
//! every one (or deleted those it owns); a `watch` on the home stops. The
//! menu and the full-screen client delete it the same way.

use std::path::PathBuf;
use std::process::Stdio;

use e2e::{ServerProcess, bounded, pattern, wait_for_line};
use protocol::ErrorReason;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::menu::Menu;
use crate::operator::{json as server_json, names_of};
use crate::rooms_cli::{json, ok, refusal, register, users};

/// A server on a fresh folder with alice registered: the folder (kept
/// while the test runs), the server's data folder, the server, and the
/// homes of alice and of bob (not registered).
async fn alice_registered() -> (tempfile::TempDir, PathBuf, ServerProcess, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::start(&data, &[]).await.unwrap();
    let (alice, bob) = (dir.path().join("alice"), dir.path().join("bob"));
    register(server.addr, &alice, "alice").await;
    (dir, data, server, alice, bob)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_delete_frees_the_name_drops_what_waits_and_closes_the_other_sessions() {
    let (dir, data, server, alice, bob) = alice_registered().await;
    let addr = server.addr;
    // Bob also holds a session of his own in this process, as a second
    // terminal would.
    let bob_elsewhere = e2e::user(&addr.to_string(), &bob, "bob").await;
    let other_session = bob_elsewhere.connection().await.unwrap();
    ok(addr, &alice, &["send", "bob", "read before"]).await;
    ok(addr, &bob, &["inbox"]).await;
    ok(addr, &bob, &["send", "alice", "last words"]).await;
    // Carol never met bob: she has no pin of him when she reads these.
    let carol = dir.path().join("carol");
    register(addr, &carol, "carol").await;
    ok(addr, &bob, &["send", "carol", "one"]).await;
    ok(addr, &bob, &["send", "carol", "two"]).await;
    ok(addr, &alice, &["send", "bob", "never read"]).await;
    let file = dir.path().join("report.bin");
    std::fs::write(&file, pattern(3, 100_000)).unwrap();
    ok(addr, &alice, &["send-file", "bob", file.to_str().unwrap()]).await;

    let wrong = refusal(addr, &bob, &["delete-account", "alice"]).await;
    assert_eq!(wrong["code"], "name_mismatch", "{wrong}");
    assert!(other_session.is_alive());
    let users = server_json(&data, &["user", "list"]).await;
    assert_eq!(names_of(&users), ["alice", "bob", "carol"]);
    let waiting = users[1].clone();
    assert!(
        waiting["messages_waiting"].as_u64().unwrap() >= 2,
        "{users}"
    );
    assert_eq!(e2e::blobs_in(&data), 1);

    // Names ignore ASCII case, as on the server.
    let deleted = json(addr, &bob, &["delete-account", "BOB"]).await;
    assert_eq!(deleted["deleted"], "bob", "{deleted}");
    assert_eq!(deleted["messages_deleted"], waiting["messages_waiting"]);
    assert_eq!(deleted["bytes_deleted"], waiting["bytes_waiting"]);
    bounded("bob's other session to close", async {
        while other_session.is_alive() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    let notice = other_session.closing_notice().expect("a closing notice");
    assert_eq!(notice.reason, ErrorReason::UnknownClient);
    assert!(notice.text.contains("deleted"), "{}", notice.text);
    let users = server_json(&data, &["user", "list"]).await;
    assert_eq!(names_of(&users), ["alice", "carol"]);
    assert_eq!(
        e2e::blobs_in(&data),
        0,
        "the file waiting for bob is deleted"
    );

    // Bob's home says why it cannot connect, and keeps what it read.
    let gone = refusal(addr, &bob, &["inbox"]).await;
    assert_eq!(gone["code"], "account_gone", "{gone}");
    assert!(
        gone["error"]
            .as_str()
            .unwrap()
            .contains("you deleted the account \"bob\""),
        "{gone}"
    );
    let history = json(addr, &bob, &["history", "alice"]).await;
    let texts: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert_eq!(texts, ["read before", "last words"], "{history}");

    // What bob sent before is still read by alice, whose pin proves it;
    // that his receipts have nobody to go to is no warning.
    let (success, out, err) = e2e::run_client(addr, &alice, &["inbox"]).await;
    assert!(success && out.contains("last words"), "{out}{err}");
    assert_eq!(err, "", "nothing on standard error");

    // Carol's cannot be read (nothing proves who sent them): the key offer
    // and the two texts are one line that counts them, not three alike.
    let (success, out, err) = e2e::run_client(addr, &carol, &["inbox"]).await;
    assert!(success, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].contains("] 3 messages from client ")
            && lines[0].contains("rejected: the sender is not registered on this server"),
        "{out}"
    );

    // Until someone takes the name, alice is told bob's account is gone:
    // a fact, not a warning (it was a `name_conflict` WARNING).
    let gone = refusal(addr, &alice, &["send", "bob", "still there?"]).await;
    assert_eq!(gone["code"], "contact_gone", "{gone}");
    let line = gone["error"].as_str().unwrap();
    assert!(
        line.contains("nothing can be sent to \"bob\" now"),
        "{gone}"
    );
    assert!(!line.contains("WARNING"), "{gone}");

    // The name is free; alice's pin of the old bob holds against the new one.
    register(addr, &dir.path().join("bob2"), "bob").await;
    let conflict = refusal(addr, &alice, &["send", "bob", "is that you?"]).await;
    assert_eq!(conflict["code"], "name_conflict", "{conflict}");
}

/// Regression: after `accept` moved a name to its new account, the old
/// pin, with nothing ever said to it, stayed in `conversations` as a bare
/// id with "nothing yet", and the new one was not there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_puts_the_new_holder_of_a_name_in_conversations_in_place_of_an_unused_old_pin() {
    let (dir, _data, server, alice, bob) = alice_registered().await;
    let addr = server.addr;
    register(addr, &bob, "bob").await;
    ok(addr, &alice, &["key", "bob"]).await;
    json(addr, &bob, &["delete-account", "bob"]).await;
    let new_bob = register(addr, &dir.path().join("bob2"), "bob").await;
    // The new bob is a contact once taken, as `key bob` makes one.
    ok(addr, &alice, &["accept", "bob"]).await;
    let listed = json(addr, &alice, &["conversations"]).await;
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [new_bob.to_string().as_str()], "{listed}");
}

/// The rooms named in a `still_in_rooms` refusal's line.
fn still_in(refused: &Value) -> &str {
    assert_eq!(refused["code"], "still_in_rooms", "{refused}");
    refused["error"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_delete_waits_until_every_room_is_left_or_deleted() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    json(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    json(addr, &alice, &["room", "create", "solo"]).await;

    // Bob has not opened his invitation yet: the room is named by its id,
    // with what opens it.
    let line = still_in(&refusal(addr, &bob, &["delete-account", "bob"]).await).to_string();
    assert!(
        line.contains("1 room (a room not opened here yet") && line.contains("`client inbox`"),
        "{line}"
    );
    ok(addr, &bob, &["inbox"]).await;
    let line = still_in(&refusal(addr, &bob, &["delete-account", "bob"]).await).to_string();
    assert!(line.contains("1 room (#team)"), "{line}");
    // Asking to leave is enough: a member's client commits it.
    ok(addr, &bob, &["room", "leave", "team"]).await;
    json(addr, &bob, &["delete-account", "bob"]).await;
    let members = json(addr, &alice, &["room", "members", "team"]).await;
    assert!(!members.to_string().contains("\"bob\""), "{members}");

    let line = still_in(&refusal(addr, &alice, &["delete-account", "alice"]).await).to_string();
    assert!(line.contains("2 rooms (#solo, #team)"), "{line}");
    ok(addr, &alice, &["room", "delete", "solo"]).await;
    ok(addr, &alice, &["room", "delete", "team"]).await;
    // A `watch` in another terminal stops, saying why, instead of trying
    // again for ever.
    let mut watch = e2e::client_process(addr, &alice, &["watch"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // It says on standard error when it watches, and why it stopped.
    let mut err = BufReader::new(watch.stderr.take().unwrap()).lines();
    wait_for_line("watch to start", &mut err, |l| l.starts_with("watching"))
        .await
        .unwrap();
    let deleted = json(addr, &alice, &["delete-account", "alice"]).await;
    assert_eq!(deleted["deleted"], "alice", "{deleted}");
    let status = bounded("watch to stop", watch.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(!status.success());
    let mut rest = Vec::new();
    while let Some(line) = bounded("watch's last words", err.next_line())
        .await
        .unwrap()
        .unwrap()
    {
        rest.push(line);
    }
    let err = rest.join("\n");
    assert!(err.contains("you deleted the account \"alice\""), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_menu_deletes_its_account_once_the_name_is_typed_again() {
    let (dir, data, server, alice, _) = alice_registered().await;
    let addr = server.addr;
    let mut bob = Menu::start("bob", &dir.path().join("bob"), addr).await;
    bob.run("register bob", "registered bob with id").await;
    bob.expect("watching: on").await;
    ok(addr, &alice, &["send", "bob", "never read"]).await;
    bob.expect("never read").await;
    ok(addr, &alice, &["send", "bob", "still waiting"]).await;
    bob.expect("still waiting").await;

    let wrong = bob.run("delete-account alice", "error:").await;
    assert!(
        wrong.contains("\"alice\" is not this account's name")
            && wrong.contains("nothing was deleted"),
        "{wrong}"
    );
    let users = server_json(&data, &["user", "list"]).await;
    assert_eq!(names_of(&users), ["alice", "bob"]);
    // Live messages go on after a refusal.
    ok(addr, &alice, &["send", "bob", "after the mistake"]).await;
    bob.expect("after the mistake").await;

    // Without the name on the line the menu asks for it (here, the next
    // line of standard input).
    bob.type_line("delete-account").await;
    let done = bob.run("Bob", "deleted your account").await;
    assert!(
        done.starts_with("deleted your account bob from the server")
            && done.contains("the name is free now")
            && done.contains("`history NAME`"),
        "{done}"
    );
    let users = server_json(&data, &["user", "list"]).await;
    assert_eq!(names_of(&users), ["alice"]);
    // The home says why nothing more can be done, and the history stays.
    let gone = bob.run("list", "error:").await;
    assert!(gone.contains("you deleted the account \"bob\""), "{gone}");
    bob.run("history alice", "still waiting").await;
    let transcript = bob.exit().await;
    // The watcher stopped before the server closed the connection.
    assert!(
        !transcript.contains("live messages stopped")
            && !transcript.contains("connection to the server lost"),
        "{transcript}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_full_screen_client_deletes_its_account_once_the_name_is_typed_again() {
    use crate::tui::{LEAVE_ALTERNATE_SCREEN, Tui, list_row};

    let (_dir, data, server, alice, bob) = alice_registered().await;
    let addr = server.addr;
    register(addr, &bob, "bob").await;
    let mut tui = Tui::start(&alice, addr).await;
    tui.wait_for("No conversations yet").await;

    tui.keys("/delete-account bob\r").await;
    tui.wait_for("\"bob\" is not this account's name").await;
    let users = server_json(&data, &["user", "list"]).await;
    assert_eq!(names_of(&users), ["alice", "bob"]);
    // The command came back into the box; live messages go on.
    tui.erase("/delete-account bob").await;
    ok(addr, &bob, &["send", "alice", "after the mistake"]).await;
    tui.wait_until("bob in the list", |s| list_row(s, "bob").is_some())
        .await;
    tui.keys("/open bob\r").await;
    tui.wait_for("after the mistake").await;

    tui.keys("/delete-account alice\r").await;
    let (status, raw) = tui.exit().await;
    assert!(status.success(), "exit status {status}\n{raw}");
    // Said on the normal screen, after the full screen was given back.
    let normal = &raw[raw
        .rfind(LEAVE_ALTERNATE_SCREEN)
        .expect("the screen was given back")..];
    assert!(
        normal.contains("deleted your account alice from the server")
            && normal.contains("the name is free now"),
        "{normal:?}"
    );
    let users = server_json(&data, &["user", "list"]).await;
    assert_eq!(names_of(&users), ["bob"]);
    // The home cannot reach the server any more; its history stays.
    let gone = refusal(addr, &alice, &["inbox"]).await;
    assert_eq!(gone["code"], "account_gone", "{gone}");
    let kept = json(addr, &alice, &["history", "bob"]).await;
    assert!(kept.to_string().contains("after the mistake"), "{kept}");
}
