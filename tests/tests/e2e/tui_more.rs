//! More of `client tui` through a pseudo-terminal (the harness is
//! `super::tui`'s): a file over the automatic download limit is offered on
//! the screen and fetched with `/accept N`; `NO_COLOR` leaves every colour
//! out of what the real binary writes (and without it there are colours);
//! a panic gives the terminal back, cooked, before its message is printed;
//! a room's owner promotes, opens, renames and deletes it from the screen;
//! room passwords are typed as dots, to set one (twice) and to join (a
//! mistyped one is asked for again); a room open on the screen sends its
//! read receipt, and shows a member's as it comes.

use e2e::{bounded, run_client, run_client_with_stdin, user};
use tokio_util::sync::CancellationToken;

use super::tui::{
    LEAVE_ALTERNATE_SCREEN, Start, Tui, alice_on_a_server, register, sha256, write_file,
};

/// What crossterm writes when it takes the alternate screen.
const ENTER_ALTERNATE_SCREEN: &str = "\x1b[?1049h";

/// The screen's text run together: box lines and runs of blanks become one
/// space, so that a notice wrapped over several rows reads as one line
/// (rows of the list come between, so use it where the list is short).
pub(super) fn flat(screen: &str) -> String {
    screen
        .replace(['│', '┌', '┐', '└', '┘', '─'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The SGR sequences in `raw` that set a colour (foreground or background:
/// 30-37, 38;..., 40-47, 48;..., 90-97, 100-107); resets (0, 39, 49) and
/// attributes (bold, reverse) are not colours.
fn colour_codes(raw: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = raw;
    while let Some(at) = rest.find("\x1b[") {
        let after = &rest[at + 2..];
        let end = after
            .find(|c: char| !(c.is_ascii_digit() || c == ';' || c == ':'))
            .unwrap_or(after.len());
        if after[end..].starts_with('m') {
            let params = &after[..end];
            let colour = params
                .split([';', ':'])
                .filter_map(|p| p.parse::<u32>().ok())
                .any(|p| matches!(p, 30..=38 | 40..=48 | 90..=97 | 100..=107));
            if colour {
                found.push(format!("ESC[{params}m"));
            }
        }
        rest = &after[end..];
    }
    found
}

#[test]
fn colour_codes_are_told_from_resets_and_attributes() {
    assert!(colour_codes("\x1b[0m\x1b[1m\x1b[7m\x1b[39m\x1b[49m\x1b[?1049l\x1b[2J").is_empty());
    assert_eq!(colour_codes("a\x1b[38;5;2mb"), ["ESC[38;5;2m"]);
    assert_eq!(colour_codes("\x1b[1;31m"), ["ESC[1;31m"]);
    assert_eq!(colour_codes("\x1b[48;2;1;2;3m"), ["ESC[48;2;1;2;3m"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_over_the_limit_is_asked_for_on_the_screen_and_fetched_with_accept() {
    let (dir, server, addr, home) = alice_on_a_server().await;
    let bob = user(&addr, &dir.path().join("bob"), "bob").await;

    let how = Start {
        options: "--max-auto-download 100K",
        ..Start::default()
    };
    let mut tui = Tui::start_with(&home, server.addr, how).await;
    tui.wait_for("No conversations yet").await;
    // bob becomes a contact: only the size holds his file back.
    tui.keys("/open bob\r").await;
    tui.wait_for(" to bob ").await;
    let big = write_file(dir.path(), "big.bin", 5, 300_000);
    let id = bounded(
        "bob's file",
        bob.send_file("alice", &big, CancellationToken::new()),
    )
    .await
    .unwrap()
    .unwrap();
    let screen = tui
        .wait_until("the offer", |s| {
            flat(s).contains(&format!("/accept {id} downloads it"))
        })
        .await;
    let said = flat(&screen);
    assert!(
        said.contains(
            "bob offers a file: big.bin (300.00 kB); not downloaded because it is larger than \
             your automatic download limit (100.00 kB)."
        ),
        "{screen}"
    );
    assert!(
        !home.join("downloads").join("big.bin").exists(),
        "downloaded without asking"
    );

    tui.keys(&format!("/accept {id}\r")).await;
    tui.wait_for("file big.bin (300.00 kB) saved as").await;
    let got = home.join("downloads").join("big.bin");
    assert_eq!(sha256(&got), sha256(&big));

    tui.quit().await;
}

/// Alice's screen with room #team, to which she added bob.
async fn team_with_bob(home: &std::path::Path, server: std::net::SocketAddr) -> Tui {
    let mut tui = Tui::start(home, server).await;
    tui.wait_for("No conversations yet").await;
    tui.keys("/create team\r").await;
    tui.wait_for(" #team ").await;
    tui.keys("/add bob\r").await;
    tui.wait_for("added bob to #team").await;
    tui
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_owner_promotes_opens_renames_and_deletes_the_room_from_the_screen() {
    let (dir, server, addr, home) = alice_on_a_server().await;
    let bob = user(&addr, &dir.path().join("bob"), "bob").await;
    let carol_home = dir.path().join("carol");
    register(&addr, &carol_home, "carol").await;

    let mut tui = team_with_bob(&home, server.addr).await;
    tui.keys("/promote bob\r").await;
    tui.wait_for("bob is now an admin of #team").await;
    tui.keys("/set public\r").await;
    tui.wait_for("#team is now public").await;
    // Public now: carol finds it by name.
    let (ok, out, err) = run_client(&addr, &carol_home, &["room", "join", "team"]).await;
    assert!(ok, "carol's join: {out}{err}");

    // A password, typed twice as dots (a mismatch asks again); dave's
    // command line then joins with it, a wrong one does not.
    tui.keys("/set password\r").await;
    tui.wait_for("new password of #team (not shown)").await;
    tui.keys("first-try\rsecond-try\r").await;
    tui.wait_for("the two passwords differ").await;
    tui.keys("tiger-lily-7\r").await;
    tui.wait_for("the same password again").await;
    tui.keys("tiger-lily-7\r").await;
    let screen = tui.wait_for("#team is now public+password").await;
    assert!(!screen.contains("tiger-lily"), "{screen}");
    let dave_home = dir.path().join("dave");
    register(&addr, &dave_home, "dave").await;
    let join = ["room", "join", "team"];
    let (ok, _, _) = run_client_with_stdin(&addr, &dave_home, &join, Some("tiger-lily\n")).await;
    assert!(!ok, "a wrong password joined");
    let (ok, out, err) =
        run_client_with_stdin(&addr, &dave_home, &join, Some("tiger-lily-7\n")).await;
    assert!(
        ok,
        "dave's join with the password set on the screen: {out}{err}"
    );

    // Joining a room that needs a password asks for it the same way.
    let lab = ["room", "create", "lab", "--password"];
    let (ok, out, err) =
        run_client_with_stdin(&addr, &carol_home, &lab, Some("lab-secret\n")).await;
    assert!(ok, "carol's room: {out}{err}");
    tui.keys("/join lab\r").await;
    tui.wait_for("password of #lab (not shown) - Enter joins")
        .await;
    // A mistyped one is refused and asked for again at once.
    tui.keys("lab-secrte\r").await;
    let screen = tui
        .wait_for("wrong password for #lab; type it again (Esc cancels)")
        .await;
    assert!(
        screen.contains("password of #lab (not shown) - Enter joins"),
        "{screen}"
    );
    tui.keys("lab-secret\r").await;
    let screen = tui.wait_for("joined #lab").await;
    assert!(!screen.contains("lab-secret"), "{screen}");
    assert!(!screen.contains("lab-secrte"), "{screen}");
    assert!(screen.contains(" #lab "), "{screen}");
    // Back to the first room for what follows (Alt and its number).
    let number = screen
        .lines()
        .filter_map(|l| l.strip_prefix('│'))
        .find(|l| l.chars().take(28).collect::<String>().contains("#team"))
        .and_then(|l| l.chars().next())
        .expect("#team in the list");
    tui.keys(&format!("\x1b{number}")).await;
    tui.wait_for(" #team ").await;

    // Renamed, the room stays open under its new name.
    tui.keys("/rename ops\r").await;
    let screen = tui.wait_for("renamed #team to #ops").await;
    assert!(screen.contains(" #ops "), "{screen}");

    // Deleting asks for the name again; a wrong one deletes nothing.
    tui.keys("/delete team\r").await;
    tui.wait_until("the confirmation asked for", |s| {
        flat(s).contains("to delete #ops for every member, type its name: /delete ops")
    })
    .await;
    let events = bounded("bob's inbox", bob.inbox()).await.unwrap().unwrap();
    let said: Vec<String> = events
        .iter()
        .map(|e| e2e::untimed(&client::output::event(e)).to_string())
        .collect();
    for line in [
        "[#team] alice made you an admin",
        "[#team] alice made the room public",
        "[#team] carol joined",
        "[#team] alice made the room public+password",
        "[#team] dave joined",
        "[#ops] alice renamed #team to #ops",
    ] {
        assert!(said.iter().any(|l| l == line), "{line:?} not in {said:#?}");
    }
    assert!(!said.iter().any(|l| l.contains("deleted")), "{said:#?}");

    tui.erase("/delete team").await;
    tui.keys("/delete ops\r").await;
    tui.wait_for("deleted #ops for its 3 other members").await;
    let events = bounded("bob's inbox", bob.inbox()).await.unwrap().unwrap();
    let said: Vec<String> = events
        .iter()
        .map(|e| e2e::untimed(&client::output::event(e)).to_string())
        .collect();
    assert!(
        said.iter().any(|l| l == "[#ops] alice deleted the room"),
        "{said:#?}"
    );

    tui.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_open_on_the_screen_sends_and_shows_read_receipts() {
    let (dir, server, addr, home) = alice_on_a_server().await;
    let bob = user(&addr, &dir.path().join("bob"), "bob").await;
    let mut tui = team_with_bob(&home, server.addr).await;
    bounded("bob's inbox", bob.inbox()).await.unwrap().unwrap();
    bob.room_send("team", "seen on the screen?").await.unwrap();
    // Shown in the open room: alice's client tells the room in a moment.
    tui.wait_for("seen on the screen?").await;
    let mut counts = None;
    for _ in 0..50 {
        bounded("bob's inbox", bob.inbox()).await.unwrap().unwrap();
        let (_, entries) = bob
            .history("#team", client::keystore::HistoryQuery::default())
            .await
            .unwrap();
        counts = entries
            .iter()
            .find(|e| matches!(&e.body, client::keystore::Body::Text { text } if text == "seen on the screen?"))
            .and_then(|e| e.receipts);
        if counts.is_some_and(|c| c.read == 1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let counts = counts.expect("bob's message has its recipients");
    assert_eq!((counts.members, counts.delivered, counts.read), (1, 1, 1));

    // The other way: alice's text shows bob's receipt as it comes, with
    // nothing else arriving to redraw the room.
    tui.keys("standup at ten\r").await;
    tui.wait_for("you  (stored)").await;
    let events = bounded("bob's inbox", bob.inbox()).await.unwrap().unwrap();
    bob.shown(&events).await;
    tui.wait_for("you  (read)").await;
    tui.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quitting_right_after_a_room_text_showed_still_tells_the_room() {
    let (dir, server, addr, home) = alice_on_a_server().await;
    let bob = user(&addr, &dir.path().join("bob"), "bob").await;
    let tui = team_with_bob(&home, server.addr).await;
    bounded("bob's inbox", bob.inbox()).await.unwrap().unwrap();
    bob.room_send("team", "read and gone").await.unwrap();
    // Quit as soon as it shows, within the moment the client waits before
    // telling the room: the receipt goes out before the client exits.
    tui.wait_for("read and gone").await;
    tui.quit().await;
    bounded("bob's inbox", bob.inbox()).await.unwrap().unwrap();
    let (_, entries) = bob
        .history("#team", client::keystore::HistoryQuery::default())
        .await
        .unwrap();
    let counts = entries
        .iter()
        .find(
            |e| matches!(&e.body, client::keystore::Body::Text { text } if text == "read and gone"),
        )
        .and_then(|e| e.receipts)
        .expect("bob's message has its recipients");
    assert_eq!((counts.members, counts.delivered, counts.read), (1, 1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_color_leaves_every_colour_out_of_what_the_binary_writes() {
    let (_dir, server, _addr, home) = alice_on_a_server().await;

    for no_color in [true, false] {
        let env: &[(&str, &str)] = if no_color { &[("NO_COLOR", "1")] } else { &[] };
        let how = Start {
            env,
            ..Start::default()
        };
        let mut tui = Tui::start_with(&home, server.addr, how).await;
        // The status line says "connected" (green when colours are on).
        tui.wait_until("the connection", |s| s.contains("connected |"))
            .await;
        tui.keys("/nosuchcommand\r").await;
        tui.wait_for("no command /nosuchcommand").await;
        tui.erase("/nosuchcommand").await;
        let raw = tui.quit().await;
        let colours = colour_codes(&raw);
        if no_color {
            assert!(colours.is_empty(), "colours under NO_COLOR: {colours:?}");
        } else {
            assert!(!colours.is_empty(), "no colour at all without NO_COLOR");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_gives_the_terminal_back_before_its_message() {
    let (_dir, server, _addr, home) = alice_on_a_server().await;

    // The client panics once its first screen is up (a debug build's test
    // switch); `stty -a` then shows the terminal's modes in the same
    // pseudo-terminal.
    let how = Start {
        env: &[(client::tui::TEST_PANIC, "1")],
        after: Some("stty -a"),
        ..Start::default()
    };
    let tui = Tui::start_with(&home, server.addr, how).await;
    let (_, raw) = tui.exit().await;
    let taken = raw
        .find(ENTER_ALTERNATE_SCREEN)
        .unwrap_or_else(|| panic!("the screen was not taken before the panic:\n{raw:?}"));
    let message = raw
        .find("panicking on purpose")
        .unwrap_or_else(|| panic!("no panic message:\n{raw:?}"));
    let given_back = raw[taken..]
        .find(LEAVE_ALTERNATE_SCREEN)
        .map(|i| i + taken)
        .unwrap_or_else(|| panic!("the alternate screen was not left:\n{raw:?}"));
    // Printed on the normal screen, where the user can read it: the hook
    // gave the terminal back first.
    assert!(
        given_back < message,
        "the panic message was printed on the alternate screen:\n{raw:?}"
    );
    // Cooked again: line editing and echo are back on.
    let modes: Vec<&str> = raw[message..].split_whitespace().collect();
    for mode in ["icanon", "echo", "isig"] {
        assert!(
            modes.contains(&mode),
            "{mode} is off after the panic:\n{}",
            &raw[message..]
        );
    }
}

/// A text sent from another terminal of the same home (`client send`
/// while the screen is open) shows on the screen as if live: the screen
/// watches the store for other processes' changes, not only its own
/// connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_sent_from_another_terminal_of_the_home_shows_on_the_open_screen() {
    let (dir, server, addr, home) = alice_on_a_server().await;
    let bob_home = dir.path().join("bob");
    register(&addr, &bob_home, "bob").await;
    let mut tui = Tui::start(&home, server.addr).await;
    tui.wait_for("No conversations yet").await;
    tui.keys("/open bob\r").await;
    tui.wait_for(" to bob ").await;

    let (ok, out, err) =
        run_client(&addr, &home, &["send", "bob", "from the other terminal"]).await;
    assert!(ok, "{out}{err}");
    tui.wait_for("from the other terminal").await;
    tui.quit().await;
}
