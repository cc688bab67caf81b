//! How the menu words what it shows besides command results: an event
//! (as [`crate::output::event`], with the menu's commands in the advice),
//! the server line of the greeting and `fingerprint`, and the help.

use super::specs::SPECS;
use crate::advice::quote_word;
use crate::display::escape_line;
use crate::event::RoomChange;
use crate::inbox::{Event, What};
use crate::output;

/// An event as the menu shows it: as [`output::event`], with the menu's
/// commands in the advice.
pub fn show_event(e: &Event) -> String {
    match &e.what {
        What::KeyChanged => {
            let raw = e.from_name.clone().unwrap_or_else(|| e.from.to_string());
            let who = escape_line(&raw);
            let quoted = escape_line(&quote_word(&raw)).into_owned();
            format!(
                "[{}] WARNING: {who}'s key changed. Their messages wait until you compare safety numbers \
                 (`fingerprint {quoted}`) and accept the new key (`accept {quoted}`)",
                output::event_time(e)
            )
        }
        What::FileHeld {
            name,
            size,
            reason,
            limit,
        } => {
            let who = e
                .from_name
                .as_deref()
                .map(|n| escape_line(n).into_owned())
                .unwrap_or_else(|| format!("client {}", e.from));
            format!(
                "[{}] {who} offers a file: {} ({}); not downloaded because {}. `accept-file {id}` downloads it, \
                 `decline-file {id}` deletes it",
                output::time(e.sent_at_ms),
                escape_line(name),
                output::size(*size),
                output::held_because(*reason, *limit),
                id = e.message_id
            )
        }
        What::Room {
            room,
            change: RoomChange::FileHeld { name, size, limit },
            ..
        } => format!(
            "[{}] [#{}] {} {}",
            output::event_time(e),
            escape_line(room),
            output::sender(e),
            output::room_file_held(
                name,
                *size,
                *limit,
                &format!("`accept-file {}`", e.message_id),
                &format!("`decline-file {}`", e.message_id)
            )
        ),
        What::LookAlike { contact } => format!(
            "[{}] {}",
            output::event_time(e),
            output::look_alike(e, contact, "")
        ),
        _ => output::event(e),
    }
}

pub(super) fn server_line(server: &str, pinned: Option<&str>) -> String {
    match pinned {
        Some(f) => format!("server:   {server}, identity {f} (pinned)"),
        None => format!("server:   {server} (not contacted yet)"),
    }
}

/// The menu.
pub fn help() -> String {
    let mut text = String::from(
        "Type a number or a word; arguments may follow on the same line (`5 bob hi`, `send bob hi there`,\n\
         `file bob ./x.pdf`). Without them you are asked. Quote names with spaces; Tab completes commands,\n\
         names and paths.\n",
    );
    for spec in SPECS {
        let number = spec.number.unwrap_or("");
        text.push_str(&format!(
            "\n  {number:>2}  {:<20} {}",
            spec.usage, spec.about
        ));
    }
    text.push_str(&format!(
        "\n\nKey agreement is automatic: a text to someone without a session starts one, and an offer you\n\
         receive is answered as soon as your messages are read. 51 starts a new session on purpose (the\n\
         reference's \"request symmetric key\"); 52 reads messages now so that offers waiting for you are\n\
         answered (its \"send symmetric key\"). Ctrl-C cancels a transfer (`resume` continues an upload; a\n\
         download resumes by itself) or clears the line; the up arrow recalls commands, never texts.\n\
         Files download by themselves only from contacts (people you sent to or looked up) and up to the\n\
         client's --max-auto-download SIZE ({} unless set, e.g. 500kB or 1.5GB); others wait in `files`\n\
         for `accept-file N`.\n\
         \n\
         Several conversations: `/to bob` or `/to #ops` makes plain lines go there (a text, or a room\n\
         message); commands then start with / (`/list`, `/0`), `//` sends a line starting with /, `/to -`\n\
         goes back to commands and `/to` says where lines go. Switching shows what arrived there unread.\n\
         Messages elsewhere are announced in one line; the prompt counts them: `[#ops 2 · bob 1] alice> `.",
        output::size(crate::downloads::DEFAULT_MAX_AUTO_DOWNLOAD)
    ));
    text
}

#[cfg(test)]
mod tests {
    use protocol::ClientId;

    use super::*;

    #[test]
    fn help_lists_every_reference_number() {
        let help = help();
        for n in ["1", "2", "3", "4", "5", "50", "51", "52", "0"] {
            assert!(
                help.lines()
                    .any(|l| l.trim_start().starts_with(&format!("{n} "))),
                "{n} missing from:\n{help}"
            );
        }
    }

    #[test]
    fn help_says_watch_off_also_hides_you_from_online() {
        let help = help();
        let watch = help
            .lines()
            .find(|l| l.contains("watch [on|off]"))
            .unwrap_or_default();
        assert!(watch.contains("`online`"), "{watch}");
    }

    #[test]
    fn key_change_advice_names_menu_commands() {
        let e = Event {
            message_id: 1,
            from: ClientId([1; 16]),
            from_name: Some("bob smith\u{202e}".into()),
            from_you: false,
            server_name: None,
            sent_at_ms: 0,
            sender_time_ms: None,
            what: What::KeyChanged,
        };
        let shown = show_event(&e);
        assert!(shown.contains("`accept \"bob smith\\u{202e}\"`"), "{shown}");
        assert!(
            shown.contains("WARNING: bob smith\\u{202e}'s key changed"),
            "{shown}"
        );
        assert!(!shown.contains('\u{202e}'));
    }
}
