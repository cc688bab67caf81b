//! Several conversations at once in the menu: the *current conversation*
//! and what it decides. While one is chosen (`/to`, [`super::talk`]), a
//! plain line is a message to it (a text to the person, or a room message)
//! and a command starts with `/` (`/list`, `/5 bob hi`, `/0`); `//` sends a
//! line that starts with `/`. Before any `/to` the menu reads commands as
//! it always did (a `/` before one is allowed).
//!
//! A pushed message of the current conversation (or of any, while none is
//! chosen) is shown in full and marked read; one of another conversation
//! is announced in one line and stays unread, counted in the prompt
//! (`[#ops 3 · bob 1] alice to #dev> `: the conversations with unread
//! messages, most recent first, a few of them and `+N` for the rest).
//!
//! Unread and marking read are the client library's
//! ([`Client::conversations`], [`Client::mark_read`], [`Client::shown`]);
//! sending is the `send` and `room send` commands'. Left out: the `/to`
//! command ([`super::talk`]) and the watcher itself ([`super::watch`]).

use std::sync::{Arc, Mutex};

use super::parse::{Command, ParseError, parse};
use super::room_parse::with_spaced_room;
use super::show::show_event;
use super::terminal::Printer;
use crate::advice::quote_word;
use crate::cli::RoomCommand;
use crate::client::Client;
use crate::conversations::ConversationSummary;
use crate::display::escape_line;
use crate::event::{Event, What};
use crate::keystore::Conversation;

/// How many conversations with unread messages the prompt names; the
/// others are counted as `+N`, so that the prompt stays short.
const PROMPT_CONVERSATIONS: usize = 3;
/// The longest name the prompt shows, in characters (longer ones end in
/// `…`).
const PROMPT_LABEL: usize = 16;

/// The current conversation, shared by the menu and the watcher.
pub(super) type Focus = Arc<Mutex<Option<Current>>>;

/// The conversation plain lines go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    /// Which.
    pub conversation: Conversation,
    /// How it is shown and named in commands: the pinned name (or client
    /// id) of a person, `#ROOM` for a room (escape before printing).
    pub label: String,
}

impl Current {
    /// The command that sends `text` here.
    pub(super) fn say(&self, text: &str) -> Command {
        match &self.conversation {
            Conversation::Person { .. } => Command::SendText {
                to: Some(self.label.clone()),
                text: Some(text.to_string()),
            },
            Conversation::Room { name, .. } => Command::Room(RoomCommand::Send {
                name: name.clone(),
                text: Some(text.to_string()),
            }),
        }
    }
}

/// What a line typed at the menu's prompt means while `current` is the
/// current conversation (see the module docs); `Ok(None)`: nothing.
///
/// # Errors
/// A command that does not parse.
pub fn line_command(
    line: &str,
    current: Option<&Current>,
    rooms: &[String],
) -> Result<Option<Command>, ParseError> {
    let typed = |line: &str| {
        Ok(match parse(line)? {
            Some(Command::Room(room)) => Some(Command::Room(with_spaced_room(room, rooms, line))),
            other => other,
        })
    };
    let Some(current) = current else {
        return typed(line);
    };
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    let text = match line.strip_prefix('/') {
        Some(rest) if rest.starts_with('/') => rest,
        Some(_) => return typed(line),
        None => line,
    };
    Ok(Some(current.say(text)))
}

/// A conversation's name as the user types it: `#ROOM` or the person's.
fn typed(s: &ConversationSummary) -> String {
    if s.is_room() {
        format!("#{}", s.label)
    } else {
        s.label.clone()
    }
}

/// `text` escaped for the terminal, cut to [`PROMPT_LABEL`] characters.
fn short(text: &str) -> String {
    if text.chars().count() <= PROMPT_LABEL {
        return escape_line(text).into_owned();
    }
    let cut: String = text.chars().take(PROMPT_LABEL - 1).collect();
    format!("{}…", escape_line(&cut))
}

/// The unread counts as the prompt shows them (`#ops 3 · bob 1 +2`), most
/// recent first; `None` when nothing is unread.
pub fn unread_counts(list: &[ConversationSummary]) -> Option<String> {
    let unread: Vec<&ConversationSummary> = list.iter().filter(|s| s.unread > 0).collect();
    if unread.is_empty() {
        return None;
    }
    let mut text = unread
        .iter()
        .take(PROMPT_CONVERSATIONS)
        .map(|s| format!("{} {}", short(&typed(s)), s.unread))
        .collect::<Vec<_>>()
        .join(" · ");
    if unread.len() > PROMPT_CONVERSATIONS {
        text.push_str(&format!(" +{}", unread.len() - PROMPT_CONVERSATIONS));
    }
    Some(text)
}

/// The menu's prompt: the unread counts, who the user is and where plain
/// lines go (`[#ops 3 · bob 1] alice to #dev> `).
pub fn prompt_text(me: &str, current: Option<&Current>, list: &[ConversationSummary]) -> String {
    let mut text = match unread_counts(list) {
        Some(counts) => format!("[{counts}] "),
        None => String::new(),
    };
    text.push_str(&escape_line(me));
    if let Some(c) = current {
        text.push_str(" to ");
        text.push_str(&short(&c.label));
    }
    text.push_str("> ");
    text
}

/// One line for a message that arrived in a conversation other than the
/// current one: `· #ops: 2 new, the last from carol (/to #ops)`. `from`
/// is the sender in a room.
pub fn announcement(s: &ConversationSummary, from: Option<&str>) -> String {
    let name = typed(s);
    let switch = escape_line(&quote_word(&name)).into_owned();
    let name = escape_line(&name);
    let n = s.unread;
    match from.map(escape_line) {
        Some(from) if n == 1 => format!("· {name}: 1 new from {from} (/to {switch})"),
        Some(from) => format!("· {name}: {n} new, the last from {from} (/to {switch})"),
        None => format!("· {name}: {n} new (/to {switch})"),
    }
}

/// Shows `events`, pushed by the server together, as the current
/// conversation says (see the module docs); what was shown in full is
/// marked shown at once (one receipt for a room's burst, not one a text).
pub(super) async fn arrived(client: &Client, printer: &Printer, focus: &Focus, events: Vec<Event>) {
    let mut shown = Vec::new();
    for e in events {
        if let Some(e) = show_or_announce(client, printer, focus, e).await {
            shown.push(e);
        }
    }
    if !shown.is_empty() {
        mark_shown(client, &shown).await;
    }
}

/// Prints `e` in full (returned, to be marked shown) or, for another
/// conversation than the current one, its one-line announcement.
async fn show_or_announce(
    client: &Client,
    printer: &Printer,
    focus: &Focus,
    e: Event,
) -> Option<Event> {
    let place = e.conversation().filter(|_| e.is_message());
    let current = focus.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let (Some(place), Some(current)) = (&place, &current)
        && *place != current.conversation
        // Shown in full after all when history does not hold it unread
        // (such as a room file that could not be saved).
        && let Ok(list) = client.conversations().await
        && let Some(s) = list.iter().find(|s| s.conversation == *place && s.unread > 0)
    {
        let from = match &e.what {
            What::Room { .. } if e.from_you => Some("you".into()),
            What::Room { .. } => Some(e.from_name.clone().unwrap_or_else(|| e.from.to_string())),
            _ => None,
        };
        printer.print(announcement(s, from.as_deref()));
        return None;
    }
    printer.print(show_event(&e));
    Some(e)
}

/// The user was shown `events` in full: their messages are read (with
/// read receipts to people), rooms' included.
pub(super) async fn mark_shown(client: &Client, events: &[Event]) {
    // The menu keeps running: its rooms are told a moment later.
    client.shown_live(events).await;
    let mut rooms: Vec<Conversation> = events
        .iter()
        .filter(|e| e.is_message())
        .filter_map(Event::conversation)
        .filter(|c| matches!(c, Conversation::Room { .. }))
        .collect();
    rooms.dedup();
    for room in rooms {
        if let Err(e) = client.mark_read(&room).await {
            tracing::warn!(error = %e, "could not mark a room's messages as read");
        }
    }
}

#[cfg(test)]
mod tests {
    use protocol::ClientId;

    use super::*;

    fn summary(label: &str, room: bool, unread: usize) -> ConversationSummary {
        ConversationSummary {
            conversation: if room {
                Conversation::Room {
                    id: None,
                    name: label.into(),
                }
            } else {
                Conversation::Person {
                    id: ClientId([label.len() as u8; 16]),
                }
            },
            label: label.into(),
            address: label.into(),
            last_ms: Some(1),
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

    fn bob() -> Current {
        Current {
            conversation: Conversation::Person {
                id: ClientId([3; 16]),
            },
            label: "bob".into(),
        }
    }

    #[test]
    fn plain_lines_go_to_the_current_conversation() {
        let ops = Current {
            conversation: Conversation::Room {
                id: None,
                name: "ops".into(),
            },
            label: "#ops".into(),
        };
        assert_eq!(
            line_command("list", Some(&bob()), &[]).unwrap(),
            Some(Command::SendText {
                to: Some("bob".into()),
                text: Some("list".into())
            })
        );
        assert_eq!(
            line_command(" 0 ", Some(&ops), &[]).unwrap(),
            Some(Command::Room(RoomCommand::Send {
                name: "ops".into(),
                text: Some("0".into())
            }))
        );
        assert_eq!(
            line_command("//etc/hosts is fine", Some(&bob()), &[]).unwrap(),
            Some(Command::SendText {
                to: Some("bob".into()),
                text: Some("/etc/hosts is fine".into())
            })
        );
        assert_eq!(
            line_command("/list", Some(&bob()), &[]).unwrap(),
            Some(Command::List)
        );
        assert_eq!(
            line_command("/0", Some(&ops), &[]).unwrap(),
            Some(Command::Exit)
        );
        assert_eq!(line_command("   ", Some(&ops), &[]).unwrap(), None);
        assert!(line_command("/lsit", Some(&ops), &[]).is_err());
        // Without a current conversation, lines are commands as before.
        assert_eq!(
            line_command("list", None, &[]).unwrap(),
            Some(Command::List)
        );
        assert!(line_command("hello there", None, &[]).is_err());
    }

    #[test]
    fn the_prompt_counts_unread_and_stays_short() {
        assert_eq!(prompt_text("alice", None, &[]), "alice> ");
        let list = [
            summary("ops", true, 3),
            summary("carol", false, 0),
            summary("bob", false, 1),
        ];
        assert_eq!(
            prompt_text("alice", Some(&bob()), &list),
            "[#ops 3 · bob 1] alice to bob> "
        );
        let many: Vec<_> = (0..7)
            .map(|i| summary(&format!("room{i}"), true, i + 1))
            .collect();
        assert_eq!(
            prompt_text("alice", None, &many),
            "[#room0 1 · #room1 2 · #room2 3 +4] alice> "
        );
        let odd = [summary(
            "evil\u{1b}[2J\u{202e}with a very long name",
            false,
            2,
        )];
        let shown = prompt_text("alice", None, &odd);
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\u{202e}'),
            "{shown}"
        );
        assert!(shown.contains("…"), "{shown}");
        assert!(shown.chars().count() < 60, "{shown}");
    }

    #[test]
    fn an_announcement_is_one_line_with_the_switch() {
        assert_eq!(
            announcement(&summary("ops", true, 1), Some("carol")),
            "· #ops: 1 new from carol (/to #ops)"
        );
        assert_eq!(
            announcement(&summary("ops", true, 2), Some("carol")),
            "· #ops: 2 new, the last from carol (/to #ops)"
        );
        assert_eq!(
            announcement(&summary("dave smith", false, 1), None),
            "· dave smith: 1 new (/to \"dave smith\")"
        );
        let shown = announcement(&summary("ops", true, 1), Some("x\ny\u{202e}"));
        assert_eq!(shown.lines().count(), 1, "{shown}");
        assert!(!shown.contains('\u{202e}'), "{shown}");
    }
}
