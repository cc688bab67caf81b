//! The command line's smaller promises, through the real binaries: the
//! commands that only read the home (`history`, `conversations`, ...) run
//! without a server address, and those that talk to the server say
//! `no_server`; a bad value on the command line has its own code (`usage`,
//! `bad_address`), never the catch-all `error`; sending by client id
//! answers with the name; `list` marks verified contacts; and the menu's
//! greeting counts texts and files, not the receipts that wait.

use std::path::Path;

use serde_json::Value;

use crate::menu::Menu;
use crate::rooms_cli::{json, ok, users};

/// The client with no `--server` (`cli_json::client`) for a command
/// that must succeed: its standard output.
async fn bare_ok(home: &Path, args: &[&str]) -> String {
    let out = crate::cli_json::client(home, args).await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "client {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The client with no `--server` and `--json` for a command that must
/// fail: its exit code and its one JSON error line.
async fn bare_refusal(home: &Path, args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = crate::cli_json::client(home, &all).await;
    assert!(!out.status.success(), "client {args:?} succeeded");
    let err = String::from_utf8_lossy(&out.stderr);
    let v = serde_json::from_str(err.trim()).unwrap_or_else(|e| panic!("{args:?}: {e}: {err}"));
    (out.status.code(), v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_home_without_a_server_still_shows_its_history_and_conversations() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    ok(addr, &alice, &["send", "bob", "lunch at noon?"]).await;
    json(addr, &bob, &["inbox"]).await;
    // The home forgets its server: no server.info, no --server.
    std::fs::remove_file(bob.join("server.info")).unwrap();

    let history = bare_ok(&bob, &["history", "alice"]).await;
    assert!(history.contains("lunch at noon?"), "{history}");
    let list = bare_ok(&bob, &["--json", "conversations"]).await;
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["name"], "alice", "{list}");
    let text = bare_ok(&bob, &["conversations"]).await;
    assert!(text.starts_with("alice"), "{text}");
    let kept = bare_ok(&bob, &["retention", "30"]).await;
    assert!(kept.contains("kept 30 days"), "{kept}");
    let receipts = bare_ok(&bob, &["receipts", "off"]).await;
    assert!(receipts.starts_with("read receipts: off"), "{receipts}");
    // The home pins one server key: shown without an address too, as it
    // is with one.
    let mine = bare_ok(&bob, &["fingerprint"]).await;
    assert!(mine.contains(" (pinned)"), "{mine}");
    assert_eq!(mine, ok(addr, &bob, &["fingerprint"]).await);
    bare_ok(&bob, &["files"]).await;

    // What needs the server says so, with its own code.
    for args in [&["list"][..], &["send", "alice", "hi"], &["inbox"]] {
        let (code, v) = bare_refusal(&bob, args).await;
        assert_eq!(code, Some(1), "{args:?}");
        assert_eq!(v["code"], "no_server", "{args:?}: {v}");
        assert!(
            v["error"].as_str().unwrap().contains("--server HOST:PORT"),
            "{v}"
        );
    }
    // Forgetting is local too; the history is gone after it.
    let gone = bare_ok(&bob, &["--json", "forget", "alice"]).await;
    assert_eq!(
        serde_json::from_str::<Value>(&gone).unwrap()["forgotten"],
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_values_on_the_command_line_have_codes_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    for (args, code, exit, says) in [
        (
            &["--server", "nohost", "list"][..],
            "bad_address",
            1,
            "HOST:PORT",
        ),
        (
            &["--server", "h:0", "history", "bob"],
            "bad_address",
            1,
            "HOST:PORT",
        ),
        (&["receipts", "maybe"], "usage", 2, "maybe"),
        (&["retention", "0"], "usage", 2, "1 or more"),
        (&["retention", "soon"], "usage", 2, "forever"),
        (&["history", "bob", "--limit", "0"], "usage", 2, "1 or more"),
        (
            &["--max-auto-download", "lots", "files"],
            "usage",
            2,
            "e.g. 64MB or 1.5GB",
        ),
        // A negative number is a wrong offer number, not an unknown option.
        (
            &["accept-file", "-1"],
            "usage",
            2,
            "not a file offer's number",
        ),
        (
            &["decline-file", "x"],
            "usage",
            2,
            "not a file offer's number",
        ),
        (&["retention", "-1"], "usage", 2, "neither a number of days"),
        (
            &["history", "bob", "--limit", "-3"],
            "usage",
            2,
            "1 or more",
        ),
    ] {
        let (status, v) = bare_refusal(home, args).await;
        assert_eq!(v["code"], code, "{args:?}: {v}");
        assert_eq!(status, Some(exit), "{args:?}: {v}");
        assert!(v["error"].as_str().unwrap().contains(says), "{args:?}: {v}");
    }
    // A server.info that names no server is the same mistake.
    std::fs::write(home.join("server.info"), "localhost\n").unwrap();
    let (_, v) = bare_refusal(home, &["list"]).await;
    assert_eq!(v["code"], "bad_address", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_by_id_answers_with_the_name_and_list_marks_verified_contacts() {
    let (server, dir, [alice, _bob, _carol]) = users(["alice", "bob", "carol"]).await;
    let addr = server.addr;
    let key = json(addr, &alice, &["key", "bob"]).await;
    let bob_id = key["id"].as_str().unwrap().to_string();

    let said = ok(addr, &alice, &["send", &bob_id, "by id"]).await;
    assert!(said.starts_with("sent to bob (message "), "{said}");
    let v = json(addr, &alice, &["send", &bob_id, "again"]).await;
    assert_eq!(
        (v["name"].as_str(), v["id"].as_str()),
        (Some("bob"), Some(&*bob_id))
    );
    assert!(v["message_id"].as_u64().is_some(), "{v}");
    let file = dir.path().join("note.txt");
    std::fs::write(&file, "a note").unwrap();
    let said = ok(
        addr,
        &alice,
        &["send-file", &bob_id, file.to_str().unwrap()],
    )
    .await;
    assert!(said.contains(" to bob (message "), "{said}");

    // Only the contact whose safety number was compared is marked.
    ok(addr, &alice, &["fingerprint", "bob", "--verified"]).await;
    let list = ok(addr, &alice, &["list"]).await;
    let line = |name: &str| {
        list.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing: {list}"))
            .to_string()
    };
    assert!(line("bob").ends_with("  verified"), "{list}");
    assert!(!line("carol").contains("verified"), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_menu_greeting_counts_messages_not_the_receipts_waiting() {
    let (server, _dir, [alice, bob, carol]) = users(["alice", "bob", "carol"]).await;
    let addr = server.addr;
    ok(addr, &alice, &["send", "bob", "hello"]).await;
    // Bob reads it: a delivered and a read receipt wait for alice.
    json(addr, &bob, &["inbox"]).await;
    let mut menu = Menu::start("alice", &alice, addr).await;
    assert_eq!(menu.expect("waiting:").await, "waiting:  no messages");
    menu.exit().await;

    // A text does count, the receipts still not (the menu's watcher read
    // them meanwhile anyway).
    ok(addr, &carol, &["send", "alice", "a text"]).await;
    let mut menu = Menu::start("alice", &alice, addr).await;
    assert_eq!(menu.expect("waiting:").await, "waiting:  1 message");
    menu.exit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_on_a_folder_that_holds_no_home_says_so_and_creates_nothing() {
    let (server, dir, [_alice]) = users(["alice"]).await;
    // A mistyped --home, with no passphrase given: what is wrong is the
    // folder, not the passphrase.
    let typo = dir.path().join("alcie");
    let commands: [&[&str]; 6] = [
        &["inbox"],
        &["send", "alice", "hi"],
        &["history", "alice"],
        &["room", "list"],
        &["watch"],
        &["tui"],
    ];
    for args in commands {
        for json in [false, true] {
            let mut all = if json { vec!["--json"] } else { vec![] };
            all.extend_from_slice(args);
            let mut cmd = e2e::client_process(server.addr, &typo, &all);
            cmd.env_remove("SEALPOST_PASSPHRASE");
            let out = e2e::bounded("a command on no home", cmd.output())
                .await
                .unwrap()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{all:?}: {err}");
            let said = match json {
                true => {
                    let v: Value = serde_json::from_str(err.trim()).unwrap();
                    assert_eq!(v["code"], "not_registered", "{all:?}: {v}");
                    v["error"].as_str().unwrap().to_string()
                }
                false => err.trim().to_string(),
            };
            assert!(
                said.contains(&format!("no user is registered in {}", typo.display()))
                    && said.contains("client register NAME"),
                "{all:?}: {said}"
            );
            assert!(!typo.exists(), "{all:?} made {}", typo.display());
        }
    }
}
