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
