//! Lines for a batch of events, where a run of messages from one sender
//! rejected for one reason is one line that counts them. An account deleted
//! since it wrote leaves its key-agreement offer and each of its texts
//! unreadable, and a person would otherwise read the same line once for
//! each, with nothing to tell them apart. Likewise a member's request to
//! leave a room, when the batch also holds their leaving, is told once, as
//! the leaving (`carol left`, not `carol asked to leave` before it).

use crate::event::{Event, RoomChange, What};
use crate::output;

/// `events` as lines, each shown by `line`, except that consecutive
/// rejections of one sender for one reason become one line, and a leave
/// request followed by its leave is the leave alone.
pub fn event_lines(events: &[Event], line: impl Fn(&Event) -> String) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest = events;
    while let Some((first, after)) = rest.split_first() {
        if leave_told_later(first, after) {
            rest = after;
            continue;
        }
        let run = match first.what {
            What::Rejected { reason } => {
                1 + after
                    .iter()
                    .take_while(|e| {
                        e.from == first.from
                            && matches!(e.what, What::Rejected { reason: r } if r == reason)
                    })
                    .count()
            }
            _ => 1,
        };
        lines.push(match (run, &first.what) {
            (2.., What::Rejected { reason }) => format!(
                "[{}] {run} messages from {} {}",
                output::event_time(first),
                output::sender(first),
                reason.explain()
            ),
            _ => line(first),
        });
        rest = &rest[run..];
    }
    lines
}

/// Whether `e` asks to leave a room and `later` holds that member leaving it.
pub fn leave_told_later(e: &Event, later: &[Event]) -> bool {
    let What::Room {
        room_id,
        change: RoomChange::LeaveAsked,
        ..
    } = &e.what
    else {
        return false;
    };
    let Some(who) = &e.from_name else {
        return false;
    };
    later.iter().any(|l| {
        matches!(&l.what, What::Room { room_id: r, change: RoomChange::Left { members }, .. }
            if r == room_id && members.iter().any(|m| m.name == *who && m.you == e.from_you))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Rejection;
    use protocol::ClientId;

    fn from(sender: u8, what: What) -> Event {
        Event {
            message_id: 1,
            from: ClientId([sender; 16]),
            from_name: None,
            from_you: false,
            server_name: None,
            sent_at_ms: 0,
            sender_time_ms: None,
            what,
        }
    }

    #[test]
    fn a_run_of_one_senders_rejections_for_one_reason_is_one_counted_line() {
        let gone = || What::Rejected {
            reason: Rejection::UnknownSender,
        };
        let forged = What::Rejected {
            reason: Rejection::Tampered,
        };
        let text = What::Text { text: "hi".into() };
        let events = [
            from(1, gone()),
            from(1, gone()),
            from(1, gone()),
            from(2, gone()),
            from(2, forged),
            from(2, text),
            from(1, gone()),
        ];
        let lines = event_lines(&events, output::event);
        assert_eq!(lines.len(), 5, "{lines:#?}");
        assert!(
            lines[0].contains("3 messages from client 01010101")
                && lines[0].contains("not registered on this server"),
            "{}",
            lines[0]
        );
        // Another sender, another reason, or a message between: a line each.
        assert_eq!(lines[1], output::event(&events[3]));
        assert_eq!(lines[2], output::event(&events[4]));
        assert!(lines[3].contains("hi"), "{}", lines[3]);
        assert_eq!(lines[4], output::event(&events[6]));
        assert!(lines[4].starts_with("[") && lines[4].contains("] message from client"));
    }

    #[test]
    fn a_leave_request_followed_by_the_leave_is_told_once_as_the_leave() {
        let room = |id: &str, change: RoomChange| What::Room {
            room: format!("room {id}"),
            room_id: id.into(),
            change,
        };
        let named = |sender: u8, name: &str, what: What| Event {
            from_name: Some(name.into()),
            ..from(sender, what)
        };
        let left = |who: &str| RoomChange::Left {
            members: vec![crate::rooms::event::Named::other(who)],
        };
        let events = [
            named(3, "carol", room("a", RoomChange::LeaveAsked)),
            named(4, "dave", room("a", RoomChange::LeaveAsked)),
            named(3, "carol", room("b", RoomChange::LeaveAsked)),
            named(2, "bob", room("a", left("carol"))),
        ];
        let lines = event_lines(&events, output::event);
        // Carol's request in room a is told by her leaving; dave's has no
        // leave yet, and carol's in room b is another room's.
        assert_eq!(
            lines,
            [&events[1], &events[2], &events[3]].map(output::event),
            "{lines:#?}"
        );
    }
}
