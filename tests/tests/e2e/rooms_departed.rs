//! A member removed or banned from a room, through the real `client`
//! binary: its commands on the room say who removed (or banned) it and
//! when, with codes of their own (`removed_from_room`, `banned_from_room`),
//! in the command line and the menu alike, not that it is in no such room;
//! added again, it uses the room as before. A user banned before it ever
//! joined was never told, and is answered as before.

use std::net::SocketAddr;
use std::path::Path;

use e2e::run_client_with_stdin;

use crate::rooms_cli::{json, ok, refusal, run, users};

/// `line` says `what` followed by a local time (`2026-12-05 09:17:40`).
fn says_when(line: &str, what: &str) {
    let at = line
        .find(what)
        .map(|i| &line[i + what.len()..])
        .unwrap_or_else(|| panic!("{what:?} not in {line:?}"));
    let shape: String = at
        .chars()
        .take(19)
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    assert_eq!(shape, "9999-99-99 99:99:99", "{line}");
}

/// The refusal line of `args` for a person (standard error, exit 1).
async fn refused(addr: SocketAddr, home: &Path, args: &[&str]) -> String {
    let (success, _, err) = run(addr, home, args).await;
    assert!(!success, "client {args:?} succeeded");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_departed_a_removed_member_is_told_who_removed_it_and_when() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    json(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    ok(addr, &bob, &["inbox"]).await;
    ok(addr, &alice, &["room", "remove", "team", "bob"]).await;

    // Bob's send reads the removal first, and says it.
    let err = refusal(addr, &bob, &["room", "send", "team", "hi"]).await;
    assert_eq!(err["code"], "removed_from_room", "{err}");
    let line = err["error"].as_str().unwrap();
    says_when(line, "alice removed you from #team on ");
    assert!(!line.contains("no room named"), "{line}");
    let err = refused(addr, &bob, &["room", "members", "TEAM"]).await;
    says_when(&err, "alice removed you from #team on ");
    assert!(err.contains("unless you are added again"), "{err}");
    // The removal is news in the inbox as before; the answer stays.
    let shown = ok(addr, &bob, &["inbox"]).await;
    assert!(shown.contains("[#team] alice removed you"), "{shown}");
    let err = refusal(addr, &bob, &["room", "send", "team", "hi"]).await;
    assert_eq!(err["code"], "removed_from_room", "{err}");
    // The menu answers the same.
    let (success, out, err) =
        run_client_with_stdin(addr, &bob, &[], Some("room send team hi\n")).await;
    assert!(success, "{out}\n{err}");
    assert!(
        out.contains("error: alice removed you from #team on "),
        "{out}"
    );

    // Added again, bob is in the room; a name nobody removed him from is
    // still no such room.
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    ok(addr, &bob, &["inbox"]).await;
    ok(addr, &bob, &["room", "send", "team", "back"]).await;
    let err = refusal(addr, &bob, &["room", "send", "crew", "hi"]).await;
    assert_eq!(err["code"], "no_such_room", "{err}");

    // Leaving of his own accord is not a removal: a room left, its
    // history still here.
    ok(addr, &bob, &["room", "leave", "team"]).await;
    ok(addr, &alice, &["inbox"]).await;
    ok(addr, &bob, &["inbox"]).await;
    let err = refusal(addr, &bob, &["room", "send", "team", "hi"]).await;
    assert_eq!(err["code"], "not_in_room", "{err}");
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .starts_with("you are no longer a member of #team; its history stays here"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_departed_a_banned_member_is_told_who_banned_it_and_one_never_in_the_room_is_not() {
    let (server, _dir, [alice, bob, carol]) = users(["alice", "bob", "carol"]).await;
    let addr = server.addr;
    json(addr, &alice, &["room", "create", "ops", "--public"]).await;
    json(addr, &bob, &["room", "join", "ops"]).await;
    ok(addr, &alice, &["room", "ban", "ops", "bob"]).await;

    let err = refusal(addr, &bob, &["room", "join", "ops"]).await;
    assert_eq!(err["code"], "banned_from_room", "{err}");
    let line = err["error"].as_str().unwrap();
    says_when(line, "alice banned you from #ops on ");
    assert!(line.contains("unless unbanned"), "{line}");
    assert!(!line.contains("may have banned"), "{line}");
    let err = refusal(addr, &bob, &["room", "send", "ops", "let me in"]).await;
    assert_eq!(err["code"], "banned_from_room", "{err}");

    // Carol, banned before she ever joined, read no commit that says so:
    // the listed room refusing her is all she has to go on.
    ok(addr, &alice, &["room", "ban", "ops", "carol"]).await;
    let err = refusal(addr, &carol, &["room", "join", "ops"]).await;
    assert_eq!(err["code"], "no_such_room", "{err}");
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("#ops is listed, but not for you: its admins may have banned you"),
        "{err}"
    );

    // Unbanned, bob joins again (the client cannot know of the unban
    // until it tries).
    ok(addr, &alice, &["room", "unban", "ops", "bob"]).await;
    json(addr, &bob, &["room", "join", "ops"]).await;
    ok(addr, &bob, &["room", "send", "ops", "back"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_departed_a_removal_a_command_read_is_shown_before_the_welcome_back() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    json(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    ok(addr, &bob, &["inbox"]).await;
    ok(addr, &alice, &["room", "remove", "team", "bob"]).await;
    // Bob's send reads the removal and leaves it for his inbox to show.
    let err = refusal(addr, &bob, &["room", "send", "team", "hi"]).await;
    assert_eq!(err["code"], "removed_from_room", "{err}");
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;

    // The removal happened first, so it is told first: the last word on
    // the room is that he is back in it, not that he is out.
    let shown = ok(addr, &bob, &["inbox"]).await;
    let removed = shown
        .find("[#team] alice removed you")
        .unwrap_or_else(|| panic!("no removal in {shown}"));
    let back = shown
        .find("invited by alice")
        .unwrap_or_else(|| panic!("no welcome back in {shown}"));
    assert!(removed < back, "{shown}");
    ok(addr, &bob, &["room", "send", "team", "back"]).await;
}
