//! Screens drawn on ratatui's `TestBackend` and read back as text: the
//! list, a conversation, a room with its members, a transfer and the help,
//! at 120x40 and at 60x20, asserting what a person must be able to read
//! there and comparing each screen with its committed snapshot
//! (`snapshots/`, see `super::snapshot`; `SEALPOST_BLESS=1` rewrites them).

use std::collections::HashMap;
use std::path::PathBuf;

use protocol::ClientId;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};
use sealpost_rooms::JoinRule;

use super::app::{App, LinkState};
use super::lines::{self, Tone};
use super::snapshot::{check, render, stable, text_of};
use super::view;
use crate::conversations::ConversationSummary;
use crate::keystore::{Body, Conversation, Direction, HistoryEntry, Status};

// Noon UTC: the tests' times (the hour before) fall on one local day.
pub(super) const NOW: u64 = 1_767_225_600_000 + 12 * 3_600_000;
pub(super) const BOB: ClientId = ClientId([2; 16]);
pub(super) const CAROL: ClientId = ClientId([3; 16]);
pub(super) const ME: ClientId = ClientId([1; 16]);
const FINGERPRINT: &str = "12345 67890 13579 24680 11223 34455";

fn person(id: ClientId, label: &str, unread: usize, at: u64) -> ConversationSummary {
    ConversationSummary {
        conversation: Conversation::Person { id },
        label: label.into(),
        address: label.into(),
        last_ms: Some(at),
        unread,
        files_waiting: 0,
        key_changed: false,
        verified: false,
        online: false,
        rule: None,
        apart: None,
        restored: false,
    }
}

/// A room by its name alone (what these tests tell apart is the name).
pub(super) fn named_room(name: &str) -> Conversation {
    Conversation::Room {
        id: None,
        name: name.into(),
    }
}

fn room(name: &str, unread: usize, at: u64) -> ConversationSummary {
    ConversationSummary {
        conversation: named_room(name),
        ..person(ClientId([0; 16]), name, unread, at)
    }
}

pub(super) fn entry(
    conversation: Conversation,
    direction: Direction,
    sender: ClientId,
    body: Body,
    minutes: u64,
    status: Status,
) -> HistoryEntry {
    HistoryEntry {
        entry: minutes,
        conversation,
        direction,
        sender,
        body,
        sender_time_ms: None,
        server_time_ms: None,
        arrived_at_ms: NOW - 60_000 * (60 - minutes),
        message_id: Some(minutes),
        status,
        status_at_ms: 0,
        reason: (status == Status::Failed).then(|| "bob's client refused it as too old".into()),
        receipts: None,
    }
}

pub(super) fn text(s: &str) -> Body {
    Body::Text { text: s.into() }
}

/// alice's screen: bob (online) open with unread elsewhere, an
/// invite-only room, carol's key changed, a name that tries terminal
/// escapes, and a hidden room.
pub(super) fn base() -> App {
    let mut app = App::new("alice".into(), "192.168.1.5:1357".into());
    app.link = LinkState::Up;
    app.fingerprint = Some(FINGERPRINT.into());
    let mut bob = person(BOB, "bob", 0, NOW - 60_000);
    bob.online = true;
    let mut team = room("team", 3, NOW - 120_000);
    team.rule = Some(JoinRule::InviteOnly);
    let mut carol = person(CAROL, "carol", 1, NOW - 7_200_000);
    carol.key_changed = true;
    carol.files_waiting = 2;
    let mut lobby = room("lobby", 0, NOW - 9_500_000);
    lobby.rule = Some(JoinRule::Hidden);
    let mut public = room("news", 0, NOW - 9_600_000);
    public.rule = Some(JoinRule::Public);
    app.set_conversations(vec![
        bob,
        team,
        carol,
        person(ClientId([9; 16]), "mallory\x1b[2J", 1, NOW - 9_000_000),
        lobby,
        public,
    ]);
    app
}

fn bob_history(app: &mut App) {
    let bob = Conversation::Person { id: BOB };
    let names = HashMap::new();
    let items = [
        entry(
            bob.clone(),
            Direction::In,
            BOB,
            text("lunch at noon?"),
            10,
            Status::Read,
        ),
        entry(
            bob.clone(),
            Direction::Out,
            ME,
            text("yes\nat the usual place"),
            11,
            Status::Read,
        ),
        entry(
            bob.clone(),
            Direction::In,
            BOB,
            Body::File {
                name: "menu.pdf".into(),
                size: 1_200_000,
                path: PathBuf::from("/home/alice/downloads/menu.pdf"),
            },
            12,
            Status::Read,
        ),
        entry(bob, Direction::Out, ME, text("see you"), 13, Status::Failed),
    ]
    .iter()
    .map(|e| lines::entry(e, "bob", &names, NOW))
    .collect();
    app.set_history(items);
}

/// `app` at 120x40 and 60x20, each compared with its snapshot `name`.
pub(super) fn show(name: &str, app: &App) -> [String; 2] {
    [(120, 40), (60, 20)].map(|(w, h)| {
        let (text, _) = render(app, w, h);
        check(name, w, h, &stable(&text, NOW));
        for line in text.lines() {
            assert_eq!(
                line.chars().count(),
                usize::from(w),
                "a row overflows: {line}"
            );
        }
        text
    })
}

#[test]
fn the_list_shows_unread_counts_marks_and_the_status() {
    let app = base();
    for screen in show("list", &app) {
        assert!(screen.contains("1 *bob"), "{screen}");
        assert!(screen.contains("2 -#team"), "{screen}");
        assert!(screen.contains("(3)"), "{screen}");
        assert!(screen.contains("3 !car"), "{screen}");
        assert!(screen.contains("(1+2f)"), "an offer waits: {screen}");
        assert!(screen.contains("4 mallory"), "{screen}");
        assert!(screen.contains("5 ~#lobby"), "{screen}");
        assert!(screen.contains("6 #news"), "{screen}");
        assert!(screen.contains(" bob - online "), "{screen}");
        assert!(!screen.contains('\x1b'));
        assert!(
            screen.contains("connected | 192.168.1.5:1357 | server pinned 12345 67890"),
            "{screen}"
        );
    }
    let [wide, _] = show("list", &app);
    assert!(
        wide.contains(&format!("server pinned {FINGERPRINT} | alice | F1 help")),
        "{wide}"
    );
    assert!(wide.contains("4 mallory\\e[2J"), "{wide}");
}

#[test]
fn a_conversation_shows_senders_times_statuses_and_file_events() {
    let mut app = base();
    bob_history(&mut app);
    let at = |m: u64| lines::short_time(NOW - 60_000 * (60 - m), NOW);
    for screen in show("conversation", &app) {
        assert!(screen.contains(&format!("{} bob", at(10))), "{screen}");
        assert!(screen.contains("  lunch at noon?"), "{screen}");
        assert!(
            screen.contains(&format!("{} you  (read)", at(11))),
            "{screen}"
        );
        assert!(screen.contains("  at the usual place"), "{screen}");
        assert!(
            screen.contains("file menu.pdf (1.20 MB) saved as"),
            "{screen}"
        );
        assert!(screen.contains("you  (NOT DELIVERED)"), "{screen}");
        assert!(
            screen.contains("not delivered: bob's client refused it"),
            "{screen}"
        );
        assert!(screen.contains(" to bob "), "{screen}");
    }
}

#[test]
fn a_room_shows_its_senders_and_members() {
    let mut app = base();
    app.open(Some(named_room("team")));
    let team = named_room("team");
    let names = HashMap::from([(BOB, "bob".to_string()), (CAROL, "carol".to_string())]);
    let items = [
        entry(
            team.clone(),
            Direction::In,
            BOB,
            text("standup at 10"),
            20,
            Status::Read,
        ),
        entry(
            team.clone(),
            Direction::In,
            CAROL,
            text("ok"),
            21,
            Status::Read,
        ),
        entry(
            team.clone(),
            Direction::Out,
            ME,
            text("on my way"),
            22,
            Status::Stored,
        ),
    ]
    .iter()
    .map(|e| lines::entry(e, "team", &names, NOW))
    .collect();
    app.set_history(items);
    app.notice(
        Some(&team),
        lines::escaped_notice(
            NOW,
            NOW,
            vec![
                "3 members of #team:".into(),
                "  alice (owner)".into(),
                "  bob (admin)".into(),
                "  carol (member)".into(),
            ],
            Tone::Info,
        ),
    );
    for screen in show("room-members", &app) {
        assert!(screen.contains("#team"), "{screen}");
        assert!(
            screen.contains(" bob\n") || screen.contains(" bob "),
            "{screen}"
        );
        assert!(screen.contains("  standup at 10"), "{screen}");
        assert!(screen.contains("carol"), "{screen}");
        assert!(screen.contains("you  (stored)"), "{screen}");
        assert!(screen.contains("3 members of #team:"), "{screen}");
        assert!(screen.contains("alice (owner)"), "{screen}");
        assert!(screen.contains("carol (member)"), "{screen}");
        assert!(screen.contains(" to #team "), "{screen}");
    }
}

#[test]
fn a_transfer_has_a_progress_line_in_the_clients_units() {
    let mut app = base();
    bob_history(&mut app);
    app.transfer_started(Some(1), "report.pdf".into(), 3_400_000, 0);
    app.transfer_advanced(Some(1), 1_200_000);
    app.transfer_started(None, "photos.tar".into(), 52_000_000, 52_000_000);
    app.transfer_finished(None);
    for screen in show("transfer", &app) {
        assert!(screen.contains("[1] report.pdf  ["), "{screen}");
        assert!(screen.contains("1.20 MB /   3.40 MB   35%"), "{screen}");
        assert!(screen.contains("[2] photos.tar"), "{screen}");
        assert!(
            screen.contains("52.00 MB /  52.00 MB  100%  done"),
            "{screen}"
        );
    }
}

#[test]
fn the_help_lists_keys_and_commands_and_scrolls_when_short() {
    let mut app = base();
    app.help = true;
    let [wide, narrow] = show("help", &app);
    for needle in [
        "Ctrl-N / Ctrl-P",
        "Alt-1 .. Alt-9",
        "Ctrl-F",
        "/file PATH",
        "/quit",
        "/kick USER",
        "/verified",
    ] {
        assert!(wide.contains(needle), "{needle}\n{wide}");
    }
    assert!(narrow.contains("Ctrl-N / Ctrl-P"), "{narrow}");
    assert!(narrow.contains("PageDown for more"), "{narrow}");
    // Scrolled to its end on the small screen, the last marks show.
    app.help_scroll = super::help::max_scroll(60, 20);
    let (narrow, _) = render(&app, 60, 20);
    check("help-scrolled", 60, 20, &stable(&narrow, NOW));
    assert!(narrow.contains("~*#  a hidden room with"), "{narrow}");
    assert!(narrow.contains("(3+1f) and a file offer"), "{narrow}");
    assert!(narrow.contains("Any other line is sent"), "{narrow}");
}

#[test]
fn the_typing_box_grows_with_its_lines() {
    let mut app = base();
    let (one, _) = render(&app, 60, 20);
    app.input.set("first\nsecond\nthird".into());
    let (three, _) = render(&app, 60, 20);
    let box_top = |s: &str| s.lines().position(|l| l.contains(" to bob ")).unwrap();
    assert_eq!(box_top(&one) - box_top(&three), 2, "{three}");
    assert!(three.contains("third"));
}

#[test]
fn without_colour_the_screen_stays_readable() {
    let mut app = base();
    app.no_color = true;
    bob_history(&mut app);
    let (_, buffer) = render(&app, 120, 40);
    for cell in &buffer.content {
        assert!(
            matches!(cell.fg, Color::Reset) && matches!(cell.bg, Color::Reset),
            "a colour under NO_COLOR: {cell:?}"
        );
    }
    // The open conversation is reversed, an unread one bold.
    let row = |y: u16| (1..29).map(|x| buffer[(x, y)].clone()).collect::<Vec<_>>();
    assert!(
        row(1)
            .iter()
            .all(|c| c.modifier.contains(Modifier::REVERSED))
    );
    assert!(row(2).iter().any(|c| c.modifier.contains(Modifier::BOLD)));
    app.no_color = false;
    let (_, coloured) = render(&app, 120, 40);
    assert!(coloured.content.iter().any(|c| c.fg != Color::Reset));
}

#[test]
fn a_changed_key_is_said_where_it_happened_with_what_to_do() {
    let mut app = base();
    let carol = Conversation::Person { id: CAROL };
    app.open(Some(carol.clone()));
    let event = crate::event::test_event(7, CAROL, "carol", NOW, crate::event::What::KeyChanged);
    let item = lines::event_notice(&event, NOW).expect("a changed key is a notice");
    assert_eq!(item.tone, Tone::Warning);
    app.notice(Some(&carol), item);
    // Texts and files are history entries, not notices.
    let text = crate::event::Event {
        what: crate::event::What::Text { text: "hi".into() },
        ..event
    };
    assert!(lines::event_notice(&text, NOW).is_none());
    for screen in show("changed-key", &app) {
        assert!(screen.contains("carol - KEY CHANGED"), "{screen}");
        assert!(screen.contains("carol's KEY CHANGED."), "{screen}");
        assert!(screen.contains("(/fingerprint)"), "{screen}");
        assert!(screen.contains("(/accept"), "{screen}");
    }
}

#[test]
fn a_resized_screen_is_drawn_whole_at_its_new_size() {
    let mut app = base();
    bob_history(&mut app);
    app.transfer_started(None, "report.pdf".into(), 3_400_000, 1_200_000);
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    terminal.draw(|f| view::draw(f, &app)).unwrap();
    let wide = text_of(terminal.backend().buffer());
    assert_eq!(wide, render(&app, 120, 40).0);
    // Narrowed as a window is: the next frame fills the new size, with
    // nothing of the wide one left over, as if drawn there first.
    terminal.backend_mut().resize(60, 20);
    terminal.draw(|f| view::draw(f, &app)).unwrap();
    let narrow = text_of(terminal.backend().buffer());
    assert_eq!(narrow, render(&app, 60, 20).0);
    check("resized", 60, 20, &stable(&narrow, NOW));
    assert!(narrow.contains(" to bob "), "{narrow}");
    assert!(narrow.contains("1.20 MB /   3.40 MB"), "{narrow}");
    // And back.
    terminal.backend_mut().resize(120, 40);
    terminal.draw(|f| view::draw(f, &app)).unwrap();
    assert_eq!(text_of(terminal.backend().buffer()), wide);
}

#[test]
fn what_peers_chose_reaches_the_screen_escaped() {
    // Escape sequences (clear screen, set title, OSC 8 link), C1 controls,
    // a bell and bidi overrides, in every place a peer chooses a string:
    // a person's name, a room's name, a text, a file name, a room member.
    let hostile = "\x1b[2J\x1b]0;pwned\x07\u{9b}31m\u{202e}evil\x1b]8;;http://x\x1b\\";
    let eve = ClientId([7; 16]);
    let mut app = App::new("alice".into(), "127.0.0.1:1".into());
    app.link = LinkState::Up;
    let room_name = format!("r{hostile}");
    app.set_conversations(vec![
        room(&room_name, 2, NOW - 60_000),
        person(eve, &format!("eve{hostile}"), 1, NOW - 120_000),
    ]);
    let here = named_room(&room_name);
    let names = HashMap::from([(eve, format!("eve{hostile}"))]);
    let items = [
        entry(
            here.clone(),
            Direction::In,
            eve,
            text(&format!("hi{hostile}\nline two\x08\x08")),
            30,
            Status::Read,
        ),
        entry(
            here,
            Direction::In,
            eve,
            Body::File {
                name: format!("f{hostile}.pdf"),
                size: 10,
                path: PathBuf::from(format!("/tmp/f{hostile}.pdf")),
            },
            31,
            Status::Read,
        ),
    ]
    .iter()
    .map(|e| lines::entry(e, &room_name, &names, NOW))
    .collect();
    app.set_history(items);
    for screen in show("hostile", &app) {
        assert!(
            !screen
                .chars()
                .any(|c| c != '\n' && (c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c))),
            "a control or bidi character reached the screen:\n{screen:?}"
        );
        assert!(screen.contains("\\e[2J"), "{screen}");
    }
}

#[test]
fn a_held_file_is_offered_where_it_arrived_with_the_command_that_fetches_it() {
    let mut app = base();
    bob_history(&mut app);
    let bob = Conversation::Person { id: BOB };
    let held = |id: u64, name: &str, size: u64, reason, limit| {
        crate::event::test_event(
            id,
            BOB,
            "bob",
            NOW,
            crate::event::What::FileHeld {
                name: name.into(),
                size,
                reason,
                limit,
            },
        )
    };
    use crate::keystore::HoldReason;
    let said = [
        (
            held(
                42,
                "video.mkv",
                300_000_000,
                HoldReason::TooLarge,
                Some(64_000_000),
            ),
            "bob offers a file: video.mkv (300.00 MB); not downloaded because it is larger \
             than your automatic download limit (64.00 MB). /accept 42 downloads it, /decline 42 \
             deletes it",
        ),
        (
            held(43, "slides.pdf", 2_000_000, HoldReason::Cancelled, None),
            "you stopped the download of slides.pdf (2.00 MB) from bob; what arrived is kept. \
             /accept 43 resumes it, /decline 43 deletes it",
        ),
    ];
    for (event, words) in said {
        let item = lines::event_notice(&event, NOW).expect("a held file is a notice");
        assert_eq!(item.tone, Tone::Warning);
        assert_eq!(item.body, [words]);
        app.notice(Some(&bob), item);
    }
    // The download the client ran by itself, stopped with /cancel.
    let id = app.transfer_started(None, "slides.pdf from bob".into(), 2_000_032, 0);
    app.transfer_advanced(None, 1_048_592);
    assert_eq!(app.job_of(id), Ok(None));
    app.transfer_finished(None);
    let [wide, narrow] = show("held-file", &app);
    for needle in [
        "video.mkv (300.00 MB)",
        "slides.pdf (2.00 MB)",
        "[1] slides.pdf from bob",
    ] {
        assert!(wide.contains(needle), "{needle}\n{wide}");
    }
    for needle in ["video.mkv", "slides.pdf", &format!("[{id}] slides.pdf")] {
        assert!(narrow.contains(needle), "{needle}\n{narrow}");
    }
}

#[test]
fn a_held_room_file_is_offered_in_its_room_with_the_commands_that_decide_it() {
    let mut app = base();
    let team = named_room("team");
    app.open(Some(team.clone()));
    let event = crate::event::test_event(
        4711,
        BOB,
        "bob",
        NOW,
        crate::event::What::Room {
            room_id: String::new(),
            room: "team".into(),
            change: crate::event::RoomChange::FileHeld {
                name: "video.mkv".into(),
                size: 300_000_000,
                limit: 64_000_000,
            },
        },
    );
    let item = lines::event_notice(&event, NOW).expect("a held room file is a notice");
    assert_eq!(item.tone, Tone::Warning);
    assert_eq!(
        item.body,
        [
            "bob sent a file: video.mkv (300.00 MB); it is larger than your automatic download \
          limit (64.00 MB), so the server keeps it for you: /accept 4711 downloads it, \
          /decline 4711 lets it go"
        ]
    );
    app.notice(Some(&team), item);
    let [wide, narrow] = show("held-room-file", &app);
    assert!(wide.contains("/accept 4711 downloads it"), "{wide}");
    assert!(narrow.contains("video.mkv"), "{narrow}");
    assert!(narrow.contains("/decline 4711"), "{narrow}");
}

#[test]
fn a_room_password_is_typed_as_dots_under_a_title_that_says_so() {
    let mut app = base();
    app.input.insert("draft text");
    app.ask_secret(super::app::SecretFor::Join("lab".into()));
    app.input.insert("hunter2");
    let (screen, _) = render(&app, 120, 40);
    assert!(!screen.contains("hunter2"), "{screen}");
    assert!(screen.contains("\u{2022}".repeat(7).as_str()), "{screen}");
    assert!(
        screen.contains("password of #lab (not shown) - Enter joins, Esc cancels"),
        "{screen}"
    );
    let (narrow, _) = render(&app, 60, 20);
    assert!(
        !narrow.contains("hunter2") && narrow.contains("password of #lab"),
        "{narrow}"
    );
    app.end_secret();
    assert_eq!(app.input.text, "draft text");
}
