//! `client tui` keeps what the user typed and saw (the harness is
//! `super::tui`'s): a text typed while the server is down stays in the box
//! and is sent once it is back; a message arriving does not move its
//! conversation in the list, so Alt-N opens what the user saw there; a
//! message that arrives while the user is scrolled back is not read (no
//! read receipt) until PageDown brings it on screen; `/open #room`, and
//! `/join` of a room the user is in, go to that room; a command that fails
//! comes back into the box, with why; `/verified` records that the safety
//! number matched.

use client::keystore::{HistoryQuery, Status};
use e2e::{ServerProcess, WAIT, bounded, texts, user};

use super::tui::{Tui, alice_on_a_server, list_row, register};
use super::tui_more::flat;

/// The rows inside the typing box (under its title ` to ... `), joined by
/// newlines, without the box's borders.
fn typing_box(screen: &str) -> String {
    let rows: Vec<&str> = screen.lines().collect();
    let Some(title) = rows.iter().rposition(|r| r.contains("Enter sends")) else {
        return String::new();
    };
    rows[title + 1..]
        .iter()
        .take_while(|r| !r.trim_start().starts_with('└'))
        .map(|r| r.trim_matches(|c: char| c == '│' || c.is_whitespace()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_typed_while_the_server_is_down_stays_in_the_box_and_is_sent_once_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    let addr = server.addr;
    let home = dir.path().join("alice");
    register(&addr.to_string(), &home, "alice").await;
    let bob = user(&addr.to_string(), &dir.path().join("bob"), "bob").await;

    let mut tui = Tui::start(&home, addr).await;
    tui.wait_for("No conversations yet").await;
    tui.keys("/open bob\r").await;
    tui.wait_for(" to bob ").await;
    tui.wait_for("connected |").await;

    server.kill9().await.unwrap();
    tui.wait_for("OFFLINE").await;
    tui.keys("typed while down\r").await;
    let screen = tui
        .wait_for("your text is back in the box: Enter sends it again")
        .await;
    assert!(
        screen.contains("cannot reach the server"),
        "the reason is not said\n{screen}"
    );
    assert_eq!(typing_box(&screen), "typed while down", "{screen}");

    // The server comes back where the client expects it; Enter sends the
    // text that waited in the box.
    let _server = ServerProcess::start_on(&data, addr.port(), &[])
        .await
        .unwrap();
    tui.wait_for("connected |").await;
    tui.keys("\r").await;
    let screen = tui
        .wait_until("the text stored", |s| {
            s.contains("you  (stored)") && typing_box(s).is_empty()
        })
        .await;
    assert!(screen.contains("typed while down"), "{screen}");
    let events = bounded("bob's inbox", bob.inbox()).await.unwrap().unwrap();
    assert_eq!(texts(&events), ["typed while down"]);

    tui.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_arriving_keeps_the_list_in_place_so_alt_n_opens_what_was_seen() {
    let (dir, server, addr, home) = alice_on_a_server().await;
    let bob = user(&addr, &dir.path().join("bob"), "bob").await;
    let carol = user(&addr, &dir.path().join("carol"), "carol").await;
    for (who, text) in [(&bob, "from bob"), (&carol, "from carol")] {
        bounded("a text", who.send_text("alice", text))
            .await
            .unwrap()
            .unwrap();
    }

    let mut tui = Tui::start(&home, server.addr).await;
    let screen = tui
        .wait_until("bob and carol listed", |s| {
            list_row(s, "bob").is_some() && list_row(s, "carol").is_some()
        })
        .await;
    let (first, second) = if list_row(&screen, "bob").unwrap().contains("1 bob") {
        (("bob", &bob), ("carol", &carol))
    } else {
        (("carol", &carol), ("bob", &bob))
    };
    // Whichever came first opened; Alt-1 opens the first row.
    tui.keys("\x1b1").await;
    tui.wait_for(&format!(" to {} ", first.0)).await;

    // The second one writes again: it keeps its place, with its count.
    bounded("another text", second.1.send_text("alice", "and again"))
        .await
        .unwrap()
        .unwrap();
    let screen = tui
        .wait_until("the second one's count", |s| {
            list_row(s, second.0).is_some_and(|r| r.contains("(2)"))
        })
        .await;
    let row = list_row(&screen, second.0).unwrap();
    assert!(
        row.contains(&format!("2 {}", second.0)),
        "moved: {row}\n{screen}"
    );
    assert!(
        list_row(&screen, first.0)
            .unwrap()
            .contains(&format!("1 {}", first.0)),
        "{screen}"
    );

    // Alt-2 opens the one the list showed second, Alt-1 the first.
    tui.keys("\x1b2").await;
    tui.wait_for(&format!(" to {} ", second.0)).await;
    tui.wait_for("and again").await;
    tui.keys("\x1b1").await;
    tui.wait_for(&format!(" to {} ", first.0)).await;

    tui.quit().await;
}

/// The status of the newest entry in `who`'s history with `with`, once
/// `who` has fetched the receipts that wait for it.
async fn newest_status(who: &client::Client, with: &str) -> (String, Status) {
    bounded("the inbox", who.inbox()).await.unwrap().unwrap();
    let (_, entries) = who.history(with, HistoryQuery::default()).await.unwrap();
    let newest = entries.last().expect("a history");
    let text = match &newest.body {
        client::keystore::Body::Text { text } => text.clone(),
        other => format!("{other:?}"),
    };
    (text, newest.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_arriving_while_scrolled_back_is_read_only_once_it_is_on_screen() {
    let (dir, server, addr, home) = alice_on_a_server().await;
    let bob = user(&addr, &dir.path().join("bob"), "bob").await;
    // More than a screen of history, so that PageUp scrolls back.
    for n in 0..40 {
        bounded("a text", bob.send_text("alice", &format!("line {n}")))
            .await
            .unwrap()
            .unwrap();
    }

    let mut tui = Tui::start(&home, server.addr).await;
    tui.wait_for("line 39").await;
    tui.wait_until("bob read", |s| {
        list_row(s, "bob").is_some_and(|r| !r.contains('('))
    })
    .await;
    tui.keys("\x1b[5~").await; // PageUp
    tui.wait_for("scrolled back, PageDown returns").await;

    bounded("a text", bob.send_text("alice", "sent during the scroll"))
        .await
        .unwrap()
        .unwrap();
    let screen = tui
        .wait_until("bob's count", |s| {
            list_row(s, "bob").is_some_and(|r| r.contains("(1)"))
        })
        .await;
    assert!(screen.contains("scrolled back"), "{screen}");
    let (text, status) = newest_status(&bob, "alice").await;
    assert_eq!(text, "sent during the scroll");
    assert_ne!(status, Status::Read, "read while it was not on screen");

    // Back at the bottom: it is shown, counted read, and bob hears so.
    tui.keys("\x1b[6~").await; // PageDown
    tui.wait_until("bob read again", |s| {
        !s.contains("scrolled back,")
            && s.contains("sent during the scroll")
            && list_row(s, "bob").is_some_and(|r| !r.contains('('))
    })
    .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, status) = newest_status(&bob, "alice").await;
        if status == Status::Read {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no read receipt within {WAIT:?}: {status:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    tui.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_with_a_hash_and_join_of_a_room_you_are_in_go_to_that_room() {
    let (dir, server, addr, home) = alice_on_a_server().await;
    let _bob = user(&addr, &dir.path().join("bob"), "bob").await;

    let mut tui = Tui::start(&home, server.addr).await;
    tui.wait_for("No conversations yet").await;
    tui.keys("/create team\r").await;
    tui.wait_for(" to #team ").await;
    tui.keys("/open bob\r").await;
    tui.wait_for(" to bob ").await;

    tui.keys("/open #team\r").await;
    tui.wait_for(" to #team ").await;
    tui.keys("/open bob\r").await;
    tui.wait_for(" to bob ").await;
    // A plain name no user has, that a room of ours has.
    tui.keys("/open team\r").await;
    tui.wait_for(" to #team ").await;
    tui.keys("/open bob\r").await;
    tui.wait_for(" to bob ").await;
    tui.keys("/join team\r").await;
    tui.wait_for(" to #team ").await;
    tui.wait_for("you are in #team already").await;

    // Neither a user nor a room: the hint names the screen's commands.
    tui.keys("/open nosuch\r").await;
    let screen = tui
        .wait_until("the hint", |s| {
            flat(s).contains("no user named \"nosuch\" on this server")
        })
        .await;
    assert!(flat(&screen).contains("/join nosuch joins"), "{screen}");
    assert!(!screen.contains("`list`"), "{screen}");
    tui.erase("/open nosuch").await;
    tui.keys("/open #nosuch\r").await;
    tui.wait_for("you are in no room named #nosuch").await;
    tui.erase("/open #nosuch").await;

    tui.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_command_comes_back_into_the_box_with_why() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = ServerProcess::start(&data, &[]).await.unwrap();
    let home = dir.path().join("alice");
    register(&server.addr.to_string(), &home, "alice").await;

    let mut tui = Tui::start(&home, server.addr).await;
    tui.wait_for("No conversations yet").await;
    tui.wait_for("connected |").await;
    // Refused by the server, unknown to it, mistyped: each comes back, and
    // the status line says why (and, where the line is long enough, that
    // the command is back).
    for (typed, why, says_back) in [
        ("/join #nosuchroom", "no such room", true),
        ("/open nosuchuser", "no user named \"nosuchuser\"", false),
        ("/opne nosuchuser", "no command /opne", true),
    ] {
        tui.keys(&format!("{typed}\r")).await;
        let screen = tui
            .wait_until("the command back", |s| {
                flat(s).contains(why) && typing_box(s) == typed
            })
            .await;
        assert!(
            !says_back || flat(&screen).contains("back in the box"),
            "{screen}"
        );
        tui.erase(typed).await;
    }
    // The server is down: the command waits in the box for Enter.
    server.kill9().await.unwrap();
    tui.wait_for("OFFLINE").await;
    tui.keys("/create team\r").await;
    let screen = tui
        .wait_until("the command back", |s| {
            s.contains("cannot reach the server") && typing_box(s) == "/create team"
        })
        .await;
    assert!(!screen.contains(" to #team "), "{screen}");
    tui.erase("/create team").await;

    tui.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verified_records_that_the_safety_number_matched_and_the_title_says_so() {
    let (dir, server, addr, home) = alice_on_a_server().await;
    let bob = user(&addr, &dir.path().join("bob"), "bob").await;

    let mut tui = Tui::start(&home, server.addr).await;
    tui.wait_for("No conversations yet").await;
    // Not in a conversation with a person: said so, and nothing is marked.
    tui.keys("/verified\r").await;
    tui.wait_until("the refusal", |s| {
        flat(s).contains("open a conversation with a person first")
    })
    .await;
    tui.erase("/verified").await;

    tui.keys("/open bob\r").await;
    tui.wait_for(" to bob ").await;
    tui.keys("/fingerprint\r").await;
    tui.wait_until("the hint", |s| {
        flat(s).contains("if they match, /verified records it")
    })
    .await;
    tui.keys("/verified\r").await;
    tui.wait_until("the mark", |s| {
        flat(s).contains("marked the safety number with bob as compared")
            && s.contains("- verified")
    })
    .await;
    tui.keys("/fingerprint\r").await;
    tui.wait_until("the number, marked", |s| {
        flat(s).contains("(marked as compared)")
    })
    .await;
    tui.quit().await;

    // The mark is the home's, as `client fingerprint bob` reads it.
    let (ok, out, err) =
        e2e::run_client(server.addr, &home, &["--json", "fingerprint", "bob"]).await;
    assert!(ok, "{out}{err}");
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["verified"], true, "{out}");
    let bob_id = bob.connection().await.unwrap().client_id();
    assert_eq!(shown["id"], bob_id.to_string(), "{out}");
}
