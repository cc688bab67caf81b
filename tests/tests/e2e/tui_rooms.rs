//! A room change made from `client tui` (the harness is `super::tui`'s):
//! the room's history records it, and its pane shows it there once, as
//! the other members read it (`— you removed carol —`); the command's own
//! answer goes to the status line. A refusal is still said in the pane.

use e2e::user;

use super::rooms_cli::json;
use super::tui::{Tui, alice_on_a_server, register};

/// The conversation pane of a 120-column screen: the rows of the top
/// boxes (down to the list's bottom border), right of the list.
fn pane(screen: &str) -> Vec<String> {
    let mut rows = Vec::new();
    for (i, row) in screen.lines().enumerate() {
        rows.push(row.chars().skip(30).collect::<String>());
        if i > 0 && row.starts_with('└') {
            break;
        }
    }
    rows
}

/// How many rows of the pane contain `what`.
fn in_pane(screen: &str, what: &str) -> usize {
    pane(screen).iter().filter(|r| r.contains(what)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_change_made_on_the_screen_shows_once_in_the_rooms_pane() {
    let (dir, server, addr, home) = alice_on_a_server().await;
    user(&addr, &dir.path().join("bob"), "bob").await;
    user(&addr, &dir.path().join("carol"), "carol").await;
    let mut tui = Tui::start(&home, server.addr).await;
    tui.wait_for("No conversations yet").await;
    tui.keys("/create crew\r").await;
    tui.wait_for(" #crew ").await;
    // The room's history opens with its creation.
    let screen = tui.wait_for("— you created #crew —").await;
    assert_eq!(in_pane(&screen, "created #crew"), 1, "{screen}");

    tui.keys("/add bob carol\r").await;
    tui.wait_for("— you added bob, carol —").await;
    tui.keys("/kick carol\r").await;
    tui.wait_for("— you removed carol —").await;
    // Its answer, with what the pane's line leaves out, on the status line.
    let screen = tui
        .wait_for("kicked carol from #crew; they cannot join again unless an admin adds them")
        .await;
    // Each change once, as the room's history has it: not its answer too.
    for (what, rows) in [
        ("— you added bob, carol —", 1),
        ("added bob", 1),
        ("— you removed carol —", 1),
        ("kicked carol", 0),
    ] {
        assert_eq!(in_pane(&screen, what), rows, "{what:?}:\n{screen}");
    }

    tui.keys("/rename team\r").await;
    let screen = tui.wait_for("— you renamed #crew to #team —").await;
    assert_eq!(in_pane(&screen, "renamed #crew"), 1, "{screen}");
    // Created as #crew, whatever it is called now.
    assert_eq!(in_pane(&screen, "— you created #crew —"), 1, "{screen}");

    // A refusal changes nothing, and is still said in the pane (the
    // command back in the box).
    tui.keys("/promote dave\r").await;
    tui.wait_until("the refusal", |s| in_pane(s, "dave") > 0)
        .await;
    tui.erase("/promote dave").await;
    tui.quit().await;
}

/// `/join lobby` of bob's public room: the pane shows the join once, as
/// the room's history records it (`— you joined —`), and the answer
/// (`joined #lobby (2 members)`) is on the status line, not in the pane.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_made_on_the_screen_shows_once_in_the_rooms_pane() {
    let (dir, server, addr, home) = alice_on_a_server().await;
    let bob = dir.path().join("bob");
    register(&addr, &bob, "bob").await;
    json(server.addr, &bob, &["room", "create", "lobby", "--public"]).await;
    let mut tui = Tui::start(&home, server.addr).await;
    tui.wait_for("No conversations yet").await;

    tui.keys("/join lobby\r").await;
    tui.wait_for("— you joined —").await;
    let screen = tui.wait_for("joined #lobby (2 members)").await;
    assert_eq!(in_pane(&screen, "you joined"), 1, "{screen}");
    assert_eq!(in_pane(&screen, "joined #lobby"), 0, "{screen}");
    tui.quit().await;
}
