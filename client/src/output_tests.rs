//! Tests of [`crate::output`] (a file of their own: `output.rs` is near
//! the size limit).

use protocol::ClientId;

use super::*;

#[test]
fn events_escape_what_peers_chose() {
    let e = Event {
        message_id: 1,
        from: ClientId([1; 16]),
        from_name: Some("mallory\x1b[31m".into()),
        from_you: false,
        server_name: Some("bob\u{202e}".into()),
        sent_at_ms: 0,
        sender_time_ms: None,
        what: What::Text {
            text: "hi\x1b[2J\u{202E}olleh".into(),
        },
    };
    let shown = event(&e);
    assert!(!shown.contains('\x1b'));
    assert!(!shown.contains('\u{202E}'));
    assert!(shown.contains("mallory\\e[31m"));
    assert!(
        shown.contains("(the server calls them \"bob\\u{202e}\")"),
        "{shown}"
    );
    assert!(shown.contains("hi\\e[2J\\u{202e}olleh"));
}

#[test]
fn the_senders_time_is_shown_and_the_servers_only_when_far_off() {
    let server = 1_767_225_600_000;
    let mut e = Event {
        message_id: 1,
        from: ClientId([1; 16]),
        from_name: Some("bob".into()),
        from_you: false,
        server_name: None,
        sent_at_ms: server,
        sender_time_ms: Some(server - 60_000),
        what: What::Text { text: "hi".into() },
    };
    assert_eq!(event_time(&e), time(server - 60_000));
    e.sender_time_ms = Some(server - 3_600_000);
    assert_eq!(
        event_time(&e),
        format!("{} (server: {})", time(server - 3_600_000), time(server))
    );
    e.sender_time_ms = None;
    assert_eq!(event_time(&e), time(server));
}

#[test]
fn a_room_line_starts_with_the_time_the_server_stored_it() {
    let server = 1_767_225_600_000;
    let e = Event {
        message_id: 7,
        from: ClientId([1; 16]),
        from_name: Some("bob".into()),
        from_you: false,
        server_name: None,
        sent_at_ms: server,
        sender_time_ms: None,
        what: What::Room {
            room: "team".into(),
            room_id: String::new(),
            change: crate::event::RoomChange::Text {
                text: "hi all".into(),
            },
        },
    };
    assert_eq!(event(&e), format!("[{}] [#team] bob: hi all", time(server)));
}

#[test]
fn room_events_name_the_user_in_json_and_say_you_in_lines() {
    use crate::rooms::event::Named;
    let me = Named {
        name: "bob".into(),
        you: true,
    };
    let mut e = Event {
        message_id: 7,
        from: ClientId([1; 16]),
        from_name: Some("alice".into()),
        from_you: false,
        server_name: None,
        sent_at_ms: 0,
        sender_time_ms: None,
        what: What::Room {
            room: "team".into(),
            room_id: String::new(),
            change: crate::event::RoomChange::Joined {
                members: vec![Named::other("alice"), me],
            },
        },
    };
    assert!(
        event(&e).ends_with("[#team] you joined, invited by alice; members: alice, you"),
        "{}",
        event(&e)
    );
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(
        json["members"],
        serde_json::json!([{"name": "alice", "you": false}, {"name": "bob", "you": true}]),
        "{json}"
    );
    e.what = What::Room {
        room: "team".into(),
        room_id: String::new(),
        change: crate::event::RoomChange::Role {
            member: "bob".into(),
            you: true,
            role: "admin".into(),
        },
    };
    assert!(
        event(&e).ends_with("alice made you an admin"),
        "{}",
        event(&e)
    );
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(
        (&json["member"], &json["you"]),
        (&"bob".into(), &true.into())
    );
    // An event queued before names were kept so reads "you" as the user.
    let old: crate::event::RoomChange =
        serde_json::from_str(r#"{"room_event":"added","members":["you","carol"]}"#).unwrap();
    let crate::event::RoomChange::Added { members } = old else {
        panic!("{old:?}");
    };
    assert_eq!((members[0].you, members[1].you), (true, false));
}

#[test]
fn retention_counts_days_and_entries_in_words() {
    assert_eq!(
        retention(Some(1), 0, "forget NAME"),
        "history is kept 1 day after it arrives"
    );
    assert_eq!(
        retention(Some(30), 1, "forget NAME"),
        "history is kept 30 days after it arrives; 1 older entry deleted"
    );
    assert_eq!(
        retention(Some(7), 12, "forget NAME"),
        "history is kept 7 days after it arrives; 12 older entries deleted"
    );
}

#[test]
fn a_refused_invitation_offers_a_removal_only_when_there_is_one_to_make() {
    use crate::crypto::RefusalReason;
    use crate::event::RoomChange;
    let line = |in_room, listed| {
        let change = RoomChange::InvitationRefused {
            member: "bob".into(),
            reason: RefusalReason::InvitationUnusable,
            listed,
            in_room,
        };
        room_line("dev team", "bob", &change, 3)
    };
    assert!(
        line(true, true).ends_with(
            "bob is listed but cannot read the room; remove them with: client room remove \
             \"dev team\" bob"
        ),
        "{}",
        line(true, true)
    );
    assert!(
        line(true, false)
            .ends_with("; #dev team no longer lists bob, so there is nothing to remove")
    );
    assert!(
        line(false, false)
            .ends_with("; you are no longer in #dev team, so there is nothing for you to remove")
    );
    // One kept before `in_room` was recorded: in the room unless unnamed.
    let kept: RoomChange = serde_json::from_str(
        r#"{"room_event":"invitation_refused","member":"bob","reason":"invitation_unusable","listed":false}"#,
    )
    .unwrap();
    assert!(matches!(
        kept,
        RoomChange::InvitationRefused { in_room: true, .. }
    ));
}

#[test]
fn a_room_creation_names_its_rule_in_words_unless_invite_only() {
    use crate::event::RoomChange;
    let words = |name: &str, rule: &str| {
        let change = RoomChange::Created {
            name: name.into(),
            rule: rule.into(),
        };
        room_event_words("crew", "you", &change)
    };
    // Named as it was created, whatever it is called now.
    assert_eq!(words("team", "invite-only"), "you created #team");
    assert_eq!(words("ops", "public"), "you created #ops (public)");
    assert_eq!(words("lab", "hidden"), "you created #lab (hidden)");
    assert_eq!(
        words("vault", "public+password"),
        "you created #vault (public, with a password)"
    );
    assert_eq!(
        words("den", "hidden+password"),
        "you created #den (hidden, with a password)"
    );
    assert_eq!(
        words("x\u{202e}", "odd\x1b"),
        format!(
            "you created #{} ({})",
            escape_line("x\u{202e}"),
            escape_line("odd\x1b")
        )
    );
}

#[test]
fn a_session_refused_or_unknown_leaves_room_for_a_sender_the_server_lied_about() {
    // Only the server names a sealed message's sender: one this home cannot
    // open, or a refusal of a message this home never sent, may be another
    // user's passed off by the server, and the lines say so.
    let at = |what| Event {
        message_id: 38,
        from: ClientId([1; 16]),
        from_name: Some("bob".into()),
        from_you: false,
        server_name: None,
        sent_at_ms: 0,
        sender_time_ms: None,
        what,
    };
    let lost = event(&at(What::SessionLost { kind: "text" }));
    assert!(lost.contains("or it is not from bob"), "{lost}");
    let renewed = event(&at(What::SessionRenewed {
        refused_id: 38,
        resent: None,
        lost: true,
    }));
    assert!(
        renewed.contains("which this home did not send"),
        "{renewed}"
    );
    assert!(renewed.contains("passed off to them as yours"), "{renewed}");
}

#[test]
fn counted_nouns_are_singular_for_one() {
    assert_eq!(
        offers_waiting(1, "files"),
        "1 file offer waits for your decision: `files` lists it"
    );
    assert_eq!(
        offers_waiting(3, "client files"),
        "3 file offers wait for your decision: `client files` lists them"
    );
    assert_eq!(count(1, "upload", "uploads"), "1 upload");
    assert_eq!(count(0, "upload", "uploads"), "0 uploads");
    let one = crate::rooms::ResumedUploads {
        abandoned: vec!["a.bin".into()],
        restarted: vec!["b.bin".into(), "c.bin".into()],
        ..Default::default()
    };
    assert_eq!(
        one.abandoned_line().unwrap(),
        "gave up 1 interrupted upload whose file is gone, not sent: a.bin"
    );
    assert!(
        one.restarted_line()
            .unwrap()
            .starts_with("sent 2 interrupted uploads again from the start"),
        "{:?}",
        one.restarted_line()
    );
}
