//! What an `inbox` or a `watch` could not print (standard output refusing
//! every write: `> /dev/full`) is shown by the next `inbox`, once, whatever
//! it was: a session started, a room joined by invitation, a room's texts
//! and changes read from its log, besides the texts and files
//! (`received_files` has those). The `inbox` after that has nothing new.

use std::net::SocketAddr;
use std::path::Path;

use crate::rooms_cli::{ok, users};

/// The client run with `args` (`inbox`, `--json inbox`, `watch`, ...) and
/// standard output on `/dev/full`: it must end by itself and fail, saying
/// so.
pub(crate) async fn output_into_full_disk(server: SocketAddr, home: &Path, args: &[&str]) {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let child = e2e::client_process(server, home, args)
        .stdout(std::process::Stdio::from(full))
        .spawn()
        .unwrap();
    let out = e2e::bounded("a client into /dev/full", child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("cannot write to standard output"), "{err}");
}

/// `client inbox`'s lines without their times.
async fn inbox(server: SocketAddr, home: &Path) -> Vec<String> {
    ok(server, home, &["inbox"])
        .await
        .lines()
        .map(|l| match l.starts_with('[') {
            true => e2e::untimed(l).to_string(),
            false => l.to_string(),
        })
        .collect()
}

/// Asserts that each of `lines` is in `shown` exactly once.
fn each_once(shown: &[String], lines: &[&str]) {
    for line in lines {
        let n = shown.iter().filter(|l| l == line).count();
        assert_eq!(n, 1, "{line:?} shown {n} times in {shown:#?}");
    }
}

/// A first text (its session's offer with it) and an invitation wait for
/// bob; `client` with `args` cannot print them; the next `inbox` shows
/// each once, and the one after nothing.
async fn a_session_and_an_invitation_not_printed_by(args: &[&str]) {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    ok(addr, &alice, &["send", "bob", "hello bob"]).await;
    ok(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    output_into_full_disk(addr, &bob, args).await;
    let shown = inbox(addr, &bob).await;
    each_once(
        &shown,
        &[
            "alice started a secure session with you",
            "    hello bob",
            "[#team] you joined, invited by alice; members: alice, you",
        ],
    );
    assert_eq!(inbox(addr, &bob).await, ["no new messages"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_and_an_invitation_an_inbox_could_not_print_are_shown_by_the_next_once() {
    a_session_and_an_invitation_not_printed_by(&["inbox"]).await;
}

/// Bob is in alice's room `team`, its invitation read; alice runs each of
/// `then` (read by bob from the room's log, or delivered); `client` with
/// `args` cannot print it; the next `inbox` shows each of `lines` once, and
/// the one after nothing.
async fn a_rooms_news_not_printed_by(args: &[&str], then: &[&[&str]], lines: &[&str]) {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    ok(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["room", "add", "team", "bob"]).await;
    ok(addr, &bob, &["inbox"]).await;
    for command in then {
        ok(addr, &alice, command).await;
    }
    output_into_full_disk(addr, &bob, args).await;
    each_once(&inbox(addr, &bob).await, lines);
    assert_eq!(inbox(addr, &bob).await, ["no new messages"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rooms_text_and_change_an_inbox_could_not_print_are_shown_by_the_next_once() {
    // Read from the room's log only, after every delivery.
    a_rooms_news_not_printed_by(
        &["inbox"],
        &[
            &["room", "send", "team", "standup at 10"],
            &["room", "rename", "team", "ops"],
        ],
        &[
            "[#team] alice: standup at 10",
            "[#ops] alice renamed #team to #ops",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_that_cannot_print_stops_and_the_next_inbox_shows_what_it_took_once() {
    a_session_and_an_invitation_not_printed_by(&["watch"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_watch_that_cannot_print_leaves_a_rooms_texts_for_the_next_inbox_once() {
    a_rooms_news_not_printed_by(
        &["--json", "watch"],
        &[
            &["room", "send", "team", "standup at 10"],
            &["room", "send", "team", "in room 4"],
            &["send", "bob", "see you there"],
        ],
        &[
            "[#team] alice: standup at 10",
            "[#team] alice: in room 4",
            "    see you there",
        ],
    )
    .await;
}
