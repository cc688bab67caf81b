//! A room's events in its conversation pane: kept in history between the
//! messages, each a dim, italic line of its own (`— bob removed carol —`),
//! with its own header so that no message runs into it; one that ended our
//! membership stays a warning. Compared with committed snapshots as in
//! `super::tests`.

use std::collections::HashMap;

use ratatui::style::Modifier;

use super::lines::{self, Tone};
use super::snapshot::render;
use super::tests::{BOB, CAROL, ME, NOW, base, entry, named_room, show, text};
use crate::event::RoomChange;
use crate::keystore::{Body, Direction, Status};
use crate::rooms::event::Named;

fn event(change: RoomChange) -> Body {
    Body::Event { change }
}

#[test]
fn a_rooms_events_are_dim_lines_between_its_messages() {
    let mut app = base();
    let team = named_room("team");
    app.open(Some(team.clone()));
    let names = HashMap::from([(BOB, "bob".to_string()), (CAROL, "carol".to_string())]);
    let removed = event(RoomChange::Removed {
        members: vec![Named::other("carol")],
    });
    let renamed = event(RoomChange::Renamed {
        old_name: Some("crew".into()),
        name: "team".into(),
    });
    let items = [
        entry(
            team.clone(),
            Direction::In,
            BOB,
            text("standup at 10"),
            20,
            Status::Read,
        ),
        entry(team.clone(), Direction::In, BOB, removed, 21, Status::Read),
        entry(team.clone(), Direction::Out, ME, renamed, 22, Status::Read),
        entry(
            team.clone(),
            Direction::In,
            BOB,
            text("ok"),
            22,
            Status::Read,
        ),
        entry(
            team,
            Direction::In,
            BOB,
            event(RoomChange::RemovedYou),
            23,
            Status::Read,
        ),
    ]
    .iter()
    .map(|e| lines::entry(e, "team", &names, NOW))
    .collect::<Vec<_>>();
    assert_eq!(items[1].body, ["— bob removed carol —"]);
    assert_eq!(items[1].tone, Tone::Event);
    assert_eq!(items[2].body, ["— you renamed #crew to #team —"]);
    assert_eq!(items[4].tone, Tone::Warning, "the end of our membership");
    app.set_history(items);
    for screen in show("room-events", &app) {
        let at = |what: &str| {
            screen
                .find(what)
                .unwrap_or_else(|| panic!("{what}: {screen}"))
        };
        assert!(
            at("standup at 10") < at("— bob removed carol —"),
            "{screen}"
        );
        assert!(
            at("— you renamed #crew to #team —") < at("  ok"),
            "{screen}"
        );
        assert!(screen.contains("— bob removed you;"), "{screen}");
    }
    // Drawn dim and italic, the messages around it not.
    let (text, buffer) = render(&app, 120, 40);
    let row = text
        .lines()
        .position(|l| l.contains("— bob removed carol —"))
        .unwrap();
    let column = text.lines().nth(row).unwrap().find("bob removed").unwrap();
    let column = text.lines().nth(row).unwrap()[..column].chars().count();
    let style = buffer[(u16::try_from(column).unwrap(), u16::try_from(row).unwrap())].style();
    assert!(
        style
            .add_modifier
            .contains(Modifier::DIM | Modifier::ITALIC),
        "{style:?}"
    );
    let row = text
        .lines()
        .position(|l| l.contains("standup at 10"))
        .unwrap();
    let column = text.lines().nth(row).unwrap().find("standup").unwrap();
    let column = text.lines().nth(row).unwrap()[..column].chars().count();
    let style = buffer[(u16::try_from(column).unwrap(), u16::try_from(row).unwrap())].style();
    assert!(!style.add_modifier.contains(Modifier::ITALIC), "{style:?}");
}

#[test]
fn a_join_or_a_room_that_was_not_made_is_told_on_the_status_line_not_in_a_room() {
    let cases = [
        (
            RoomChange::JoinCutShort,
            "[#lobby] a join of yours was cut short before the server took it: it was not made",
        ),
        (
            RoomChange::CreateCutShort,
            "[#lobby] your creation of the room was cut short before the server took it: \
             it was not made",
        ),
    ];
    for (change, line) in cases {
        let mut app = base();
        let team = named_room("team");
        app.open(Some(team.clone()));
        let event = crate::event::test_event(
            0,
            ME,
            "me",
            NOW,
            crate::event::What::Room {
                room_id: "07".repeat(16),
                room: "lobby".into(),
                change,
            },
        );
        // No conversation holds a room that was not joined or made.
        assert_eq!(event.conversation(), None);
        let item = lines::event_notice(&event, NOW).expect("a room not had is a notice");
        assert_eq!(item.body, [line]);
        let shown = app.items.len();
        app.notice(event.conversation().as_ref(), item);
        assert_eq!(app.items.len(), shown, "nothing added to #team");
        assert_eq!(app.flash.as_deref(), Some(line));
    }
}

/// A message the server says was never delivered (its recipient's account
/// deleted) says so, without the advice to type it again to nobody; a
/// refused one keeps it. A key change is a warning line of its own.
#[test]
fn a_message_to_a_deleted_account_is_not_offered_again_and_a_key_change_is_a_warning() {
    let bob = crate::keystore::Conversation::Person { id: BOB };
    let names = HashMap::new();
    let mut gone = entry(
        bob.clone(),
        Direction::Out,
        ME,
        text("hi"),
        30,
        Status::Failed,
    );
    gone.reason =
        Some("not delivered: the server says bob's account was deleted by its owner".into());
    let item = lines::entry(&gone, "bob", &names, NOW);
    assert_eq!(
        item.body.last().unwrap(),
        "not delivered: the server says bob's account was deleted by its owner"
    );
    let refused = entry(
        bob.clone(),
        Direction::Out,
        ME,
        text("hi"),
        31,
        Status::Failed,
    );
    let item = lines::entry(&refused, "bob", &names, NOW);
    assert!(
        item.body
            .last()
            .unwrap()
            .ends_with("; type it again to send it again"),
        "{:?}",
        item.body
    );

    let changed = Body::Key {
        change: crate::keystore::KeyEvent::Changed {
            fingerprint: "1".into(),
            pinned: "2".into(),
        },
    };
    let key = entry(bob, Direction::In, BOB, changed, 32, Status::Read);
    let item = lines::entry(&key, "bob", &names, NOW);
    assert_eq!(item.tone, Tone::Warning);
    assert!(
        item.body[0].contains("bob's key changed (new fingerprint 1, pinned 2)"),
        "{:?}",
        item.body
    );
}
