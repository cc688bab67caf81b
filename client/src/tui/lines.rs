//! What the conversation pane shows, as plain values made safe to draw:
//! an [`Item`] per history entry (sender, time, delivery status, the text
//! or the file) and per notice (a changed key, a refused message, a room
//! event, a command's answer), every peer-chosen string escaped here with
//! the menu's functions (`crate::display`, `crate::output`).
//!
//! Left out: where items go on the screen (`super::view`).

use std::collections::HashMap;

use chrono::{Local, TimeZone};
use protocol::ClientId;

use crate::display::{escape_line, escape_message, escape_path};
use crate::event::{Event, RoomChange, What};
use crate::keystore::{Body, Direction, HistoryEntry, HoldReason, Status};
use crate::output;

/// How an item is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Ours.
    Mine,
    /// Someone else's.
    Theirs,
    /// Something the user should act on: a changed key, a failed delivery.
    Warning,
    /// Information: a room event, a command's answer.
    Info,
    /// A room event kept in the history (`— bob joined —`): drawn dim,
    /// between the messages.
    Event,
}

/// One item of a conversation's pane: a header line and the lines under
/// it, all escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// When it happened here (ms since the epoch), for ordering.
    pub at_ms: u64,
    /// `20:15 bob` or `20:16 you  (read)`.
    pub header: String,
    /// The text's lines, or a file line, or the notice.
    pub body: Vec<String>,
    /// How to draw it.
    pub tone: Tone,
}

/// `20:15` today, `11-29 20:15` on another day (local time); `today` is
/// any moment of the current day.
pub fn short_time(ms: u64, today_ms: u64) -> String {
    let at = |ms: u64| Local.timestamp_millis_opt(i64::try_from(ms).unwrap_or(i64::MAX));
    match (at(ms).single(), at(today_ms).single()) {
        (Some(t), Some(now)) if t.date_naive() == now.date_naive() => t.format("%H:%M").to_string(),
        (Some(t), _) => t.format("%m-%d %H:%M").to_string(),
        _ => "??:??".into(),
    }
}

/// The item of a history entry; `peer` names the other side of a
/// one-to-one conversation, `names` the senders in a room.
pub fn entry(e: &HistoryEntry, peer: &str, names: &HashMap<ClientId, String>, now: u64) -> Item {
    let at = short_time(e.shown_time_ms(), now);
    let who = output::sender_label(e, peer, names);
    let mut tone = match e.direction {
        Direction::Out => Tone::Mine,
        Direction::In => Tone::Theirs,
    };
    let status = match (e.direction, e.status) {
        (Direction::Out, Status::Failed) => {
            tone = Tone::Warning;
            "  (NOT DELIVERED)".to_string()
        }
        (Direction::Out, _) => format!("  ({})", e.status_words()),
        (Direction::In, _) => String::new(),
    };
    if let Body::Event { change } = &e.body {
        return event_entry(e, &who, change, now);
    }
    if let Body::Key { change } = &e.body {
        return Item {
            at_ms: e.arrived_at_ms,
            header: format!("{} --", short_time(e.shown_time_ms(), now)),
            body: vec![format!("— {} —", change.words(&who))],
            tone: Tone::Warning,
        };
    }
    let mut body: Vec<String> = match &e.body {
        // Tabs have no width of their own on the screen.
        Body::Text { text } => escape_message(text)
            .replace('\t', "    ")
            .lines()
            .map(str::to_string)
            .collect(),
        Body::Event { .. } | Body::Key { .. } => Vec::new(),
        Body::File { name, size, path } => vec![match (e.direction, e.status) {
            (Direction::In, Status::Held) => format!(
                "file {} ({}), held: waiting for your answer (/accept {id} downloads it, /decline {id} deletes it)",
                escape_line(name),
                output::size(*size),
                id = e.message_id.unwrap_or_default()
            ),
            (Direction::In, Status::Declined) => format!(
                "file {} ({}), declined (never downloaded)",
                escape_line(name),
                output::size(*size)
            ),
            (Direction::In, Status::Failed) => format!(
                "file {} ({}), {}",
                escape_line(name),
                output::size(*size),
                escape_line(e.reason.as_deref().unwrap_or("not saved"))
            ),
            (Direction::In, _) => format!(
                "file {} ({}) saved as {}",
                escape_line(name),
                output::size(*size),
                escape_path(path)
            ),
            (Direction::Out, _) => {
                format!("file {} ({})", escape_line(name), output::size(*size))
            }
        }],
    };
    if body.is_empty() {
        body.push(String::new());
    }
    if e.direction == Direction::Out && e.status == Status::Failed {
        let why = e
            .reason
            .as_deref()
            .map(|r| escape_line(r).into_owned())
            .unwrap_or_else(|| "no reason given".into());
        body.push(match why.strip_prefix("not delivered: ") {
            // A type-7 notice's: the account is gone, there is nobody to
            // send it again to.
            Some(gone) => format!("not delivered: {gone}"),
            None => format!("not delivered: {why}; type it again to send it again"),
        });
    }
    Item {
        at_ms: e.arrived_at_ms,
        header: format!("{at} {who}{status}"),
        body,
        tone,
    }
}

/// The item of a room event kept in history: `— alice removed carol —`
/// under a notice's header; one that ended our membership, or an
/// invitation refused, is a warning as it was when it came.
fn event_entry(e: &HistoryEntry, who: &str, change: &RoomChange, now: u64) -> Item {
    let room = match &e.conversation {
        crate::keystore::Conversation::Room { name, .. } => name.as_str(),
        crate::keystore::Conversation::Person { .. } => "",
    };
    let words = output::room_event_words(room, who, change);
    let tone = match change {
        RoomChange::RemovedYou | RoomChange::BannedYou | RoomChange::InvitationRefused { .. } => {
            Tone::Warning
        }
        _ => Tone::Event,
    };
    Item {
        at_ms: e.arrived_at_ms,
        header: format!("{} --", short_time(e.shown_time_ms(), now)),
        body: words.lines().map(|l| format!("— {l} —")).collect(),
        tone,
    }
}

/// Lines already escaped (a command's answer built from escaped parts).
pub fn escaped_notice(at_ms: u64, now: u64, lines: Vec<String>, tone: Tone) -> Item {
    Item {
        at_ms,
        header: format!("{} --", short_time(at_ms, now)),
        body: lines,
        tone,
    }
}

/// What an event adds to its conversation besides its history entry: a
/// notice for everything that is not a plain text or a saved file, in
/// words a person acts on; `None` for texts and files (their history
/// entries show them).
pub fn event_notice(e: &Event, now: u64) -> Option<Item> {
    let who = output::sender(e);
    let (text, tone) = match &e.what {
        What::Text { .. } | What::File { .. } => return None,
        What::Room {
            change, room_id, ..
        } => match change {
            RoomChange::Text { .. } => return None,
            // Its history entry shows it (a room we are in, or were).
            c if c.kept_as_event() && !room_id.is_empty() => return None,
            RoomChange::File { path: Some(_), .. } => return None,
            RoomChange::RemovedYou
            | RoomChange::BannedYou
            | RoomChange::Unreadable { .. }
            | RoomChange::InvitationRefused { .. } => (room_notice(e), Tone::Warning),
            RoomChange::File { path: None, .. } => (room_notice(e), Tone::Warning),
            RoomChange::FileHeld { name, size, limit } => (
                format!(
                    "{who} {}",
                    output::room_file_held(
                        name,
                        *size,
                        *limit,
                        &format!("/accept {}", e.message_id),
                        &format!("/decline {}", e.message_id)
                    )
                ),
                Tone::Warning,
            ),
            _ => (room_notice(e), Tone::Info),
        },
        What::KeyChanged => (
            format!(
                "{who}'s KEY CHANGED. Their messages wait and nothing is sent to them until you \
                 compare safety numbers with them (/fingerprint) and accept the new key \
                 (/accept {})",
                escape_line(&crate::advice::quote_word(
                    &e.from_name.clone().unwrap_or_else(|| e.from.to_string())
                ))
            ),
            Tone::Warning,
        ),
        What::LookAlike { contact } => (output::look_alike(e, contact, "/"), Tone::Warning),
        What::FileHeld {
            name,
            size,
            reason: HoldReason::Cancelled,
            ..
        } => (
            format!(
                "you stopped the download of {} ({}) from {who}; what arrived is kept. \
                 /accept {id} resumes it, /decline {id} deletes it",
                escape_line(name),
                output::size(*size),
                id = e.message_id
            ),
            Tone::Warning,
        ),
        What::FileHeld {
            name,
            size,
            reason,
            limit,
        } => (
            format!(
                "{who} offers a file: {} ({}); not downloaded because {}. /accept {id} downloads \
                 it, /decline {id} deletes it",
                escape_line(name),
                output::size(*size),
                output::held_because(*reason, *limit),
                id = e.message_id
            ),
            Tone::Warning,
        ),
        What::Refused { .. }
        | What::Rejected { .. }
        | What::Failed { .. }
        | What::NotDelivered { .. }
        | What::Expired { .. }
        | What::SessionLost { .. }
        | What::SessionRenewed { .. } => (strip_prefix(&output::event(e)), Tone::Warning),
        What::OfferDeclined { .. } => (strip_prefix(&output::event(e)), Tone::Info),
        What::SessionStarted
        | What::SessionConfirmed
        | What::Waiting { .. }
        | What::Deferred { .. }
        | What::Presence { .. } => (strip_prefix(&output::event(e)), Tone::Info),
    };
    // `output::event` escaped what the peer chose already; keep its lines.
    let lines = text.lines().map(str::to_string).collect();
    Some(escaped_notice(now, now, lines, tone))
}

/// A room event's line without its time and its `[#room] `: the screen
/// shows both already.
fn room_notice(e: &Event) -> String {
    let What::Room { room, change, .. } = &e.what else {
        return strip_prefix(&output::event(e));
    };
    let line = output::room_line(room, &output::sender(e), change, e.message_id);
    if e.conversation().is_none() {
        // Told on the status line, not in the room's pane: named.
        return line;
    }
    line.strip_prefix(&format!("[#{}] ", escape_line(room)))
        .map_or_else(|| line.clone(), str::to_string)
}

/// `text` without the `[time] ` that starts the menu's lines (the pane has
/// its own header).
fn strip_prefix(text: &str) -> String {
    if text.starts_with('[')
        && let Some(end) = text.find("] ")
    {
        return text[end + 2..].to_string();
    }
    text.to_string()
}

/// A transfer's line: `[2] report.pdf  [=====>    ]   1.20 MB /   3.40 MB   35%`,
/// fitted into `width` columns (sizes in the client's one unit system,
/// padded so that the bars of several lines line up).
pub fn transfer_line(
    id: u64,
    label: &str,
    total: u64,
    done: u64,
    ended: bool,
    width: usize,
) -> String {
    let pct = if total == 0 {
        100
    } else {
        (u128::from(done.min(total)) * 100 / u128::from(total)) as u64
    };
    let sizes = format!(
        "{:>9} / {:>9}  {pct:>3}%{}",
        output::size(done.min(total)),
        output::size(total),
        // Running and finished lines' bars line up; a stopped one's (which
        // no longer moves) is shorter by the longer word.
        match (ended, done >= total) {
            (false, _) => "      ",
            (true, true) => "  done",
            // Cancelled or failed part-way (`/resume` goes on).
            (true, false) => "  stopped",
        }
    );
    let label = format!("[{id}] {}", escape_line(label));
    // The number and name keep at least 16 columns before a bar gets any.
    let room = width.saturating_sub(sizes.len() + 6);
    let bar_width = room.saturating_sub(16).min(30);
    let bar_width = if bar_width < 5 { 0 } else { bar_width };
    let name_width = if bar_width == 0 {
        width.saturating_sub(sizes.len() + 2)
    } else {
        room - bar_width
    };
    let name: String = if label.chars().count() > name_width {
        let keep = name_width.saturating_sub(1);
        let mut n: String = label.chars().take(keep).collect();
        n.push('~');
        n
    } else {
        label
    };
    if bar_width == 0 {
        return format!("{name}  {sizes}");
    }
    let filled = (bar_width as u64 * pct / 100) as usize;
    let bar: String = (0..bar_width)
        .map(|i| match i.cmp(&filled) {
            std::cmp::Ordering::Less => '=',
            std::cmp::Ordering::Equal if filled < bar_width => '>',
            _ => ' ',
        })
        .collect();
    format!("{name}  [{bar}]  {sizes}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::Conversation;

    fn text_entry(direction: Direction, text: &str, status: Status) -> HistoryEntry {
        HistoryEntry {
            entry: 1,
            conversation: Conversation::Person {
                id: ClientId([2; 16]),
            },
            direction,
            sender: ClientId([2; 16]),
            body: Body::Text { text: text.into() },
            sender_time_ms: None,
            server_time_ms: None,
            arrived_at_ms: 1_767_225_600_000,
            message_id: Some(4),
            status,
            status_at_ms: 0,
            reason: Some("its counter was used already".into()),
            receipts: None,
        }
    }

    #[test]
    fn entries_escape_what_peers_chose_and_say_what_to_do_on_failure() {
        let now = 1_767_225_600_000;
        let e = text_entry(Direction::In, "hi\x1b[2J\n\u{202e}two", Status::Received);
        let item = entry(&e, "bob\x1b", &HashMap::new(), now);
        assert!(item.header.ends_with("bob\\e"), "{}", item.header);
        assert_eq!(item.body, vec!["hi\\e[2J", "\\u{202e}two"]);
        let failed = text_entry(Direction::Out, "lunch?", Status::Failed);
        let item = entry(&failed, "bob", &HashMap::new(), now);
        assert_eq!(item.tone, Tone::Warning);
        assert!(item.header.ends_with("you  (NOT DELIVERED)"));
        assert_eq!(
            item.body[1],
            "not delivered: its counter was used already; type it again to send it again"
        );
    }

    #[test]
    fn a_room_message_of_ours_says_how_many_members_read_it() {
        let now = 1_767_225_600_000;
        let mut sent = text_entry(Direction::Out, "standup?", Status::Stored);
        sent.reason = None;
        sent.receipts = Some(crate::keystore::RoomReceipts {
            members: 3,
            delivered: 2,
            read: 1,
        });
        let item = entry(&sent, "team", &HashMap::new(), now);
        assert!(
            item.header.ends_with("you  (read by 1 of 3)"),
            "{}",
            item.header
        );
        sent.receipts = Some(crate::keystore::RoomReceipts {
            members: 3,
            delivered: 3,
            read: 3,
        });
        sent.status = Status::Read;
        let item = entry(&sent, "team", &HashMap::new(), now);
        assert!(item.header.ends_with("you  (read)"), "{}", item.header);
    }

    #[test]
    fn transfer_lines_fit_and_use_the_clients_units() {
        let line = transfer_line(2, "report.pdf", 3_400_000, 1_200_000, false, 80);
        assert!(line.contains("1.20 MB /   3.40 MB   35%"), "{line}");
        assert!(line.starts_with("[2] report.pdf  ["), "{line}");
        assert!(line.chars().count() <= 80);
        let other = transfer_line(3, "photos.tar", 52_000_000, 0, false, 80);
        assert_eq!(line.find('['), other.find('['));
        assert_eq!(line.rfind(']'), other.rfind(']'), "{line}\n{other}");
        let narrow = transfer_line(4, "a-very-long-file-name-indeed.tar.gz", 10, 10, true, 40);
        assert!(narrow.chars().count() <= 40, "{narrow}");
        assert!(narrow.ends_with("100%  done"), "{narrow}");
        let stopped = transfer_line(5, "bigfile.gz", 20_000_000, 1_050_000, true, 80);
        assert!(stopped.ends_with("5%  stopped"), "{stopped}");
        assert!(stopped.chars().count() <= 80, "{stopped}");
    }
}
