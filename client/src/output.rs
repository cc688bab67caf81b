//! How events and transfers look to a person: one escaped block per event,
//! progress bars on a terminal, JSON for scripts.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use protocol::ClientId;

use crate::client::Progress;
use crate::conversations::ConversationSummary;
use crate::display::{escape_line, escape_path, indented_message};
use crate::inbox::{Event, What};
use crate::keystore::{Body, Conversation, Direction, HistoryEntry, HoldReason, Status};

pub use crate::local_time::time;
pub use room::{room_event_words, room_line};

#[path = "output_room.rs"]
mod room;

/// How far the sender's clock may be from the server's before the server's
/// time is shown too.
pub const CLOCK_REMARK: Duration = Duration::from_secs(5 * 60);

/// When an event happened: the sender's sealed time when there is one, with
/// the server's (unauthenticated) time as a remark when they differ by more
/// than [`CLOCK_REMARK`]; else the server's time.
pub fn event_time(e: &Event) -> String {
    sent_time(e.sender_time_ms, e.sent_at_ms)
}

/// [`event_time`] of a message the sender sealed at `sender_ms` (if known)
/// and the server stored at `server_ms`: how `inbox` and `files` both date
/// a file offer.
pub fn sent_time(sender_ms: Option<u64>, server_ms: u64) -> String {
    match sender_ms {
        Some(sender) => {
            let apart = sender.abs_diff(server_ms);
            if u128::from(apart) > CLOCK_REMARK.as_millis() {
                format!("{} (server: {})", time(sender), time(server_ms))
            } else {
                time(sender)
            }
        }
        None => time(server_ms),
    }
}

/// `n` with its noun: `1 file offer`, `3 file offers`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The file offers that wait for a decision beyond those just shown;
/// `files` is the command that lists them.
pub fn offers_waiting(held: usize, files: &str) -> String {
    let (wait, them) = if held == 1 {
        ("waits", "it")
    } else {
        ("wait", "them")
    };
    format!(
        "{} {wait} for your decision: `{files}` lists {them}",
        count(held, "file offer", "file offers")
    )
}

/// `1.2 MB`.
pub use startup::size::human as size;

/// The sender as the user pinned it, with the server's name as a remark
/// when that differs, escaped; `you` for the user itself.
pub fn sender(e: &Event) -> String {
    if e.from_you {
        return "you".into();
    }
    let who = e
        .from_name
        .as_deref()
        .map(|n| escape_line(n).into_owned())
        .unwrap_or_else(|| format!("client {}", e.from));
    match &e.server_name {
        Some(s) => format!("{who} (the server calls them \"{}\")", escape_line(s)),
        None => who,
    }
}

/// The warning of a new sender whose name looks like `contact`'s, with the
/// commands as the reader types them (`client ` before each, or none).
pub fn look_alike(e: &Event, contact: &crate::keystore::LookAlike, cmd: &str) -> String {
    let name = e.server_name.as_deref().unwrap_or_default();
    format!(
        "WARNING: client {id}, new to you, goes by \"{}\" on the server, which looks like your \
         contact \"{}\" ({}) but is another account. It has no name here until you give it one \
         ({cmd}accept {}); compare safety numbers first ({cmd}fingerprint {id})",
        escape_line(name),
        escape_line(&contact.name),
        contact.client_id,
        escape_line(&crate::advice::quote_word(name)),
        id = e.from,
    )
}

/// An event as text for a person, every peer-chosen string escaped.
pub fn event(e: &Event) -> String {
    let who = sender(e);
    let at = event_time(e);
    match &e.what {
        What::Text { text } => format!("[{at}] {who}:\n{}", indented_message(text, "    ")),
        What::File {
            name,
            path,
            size: n,
        } => format!(
            "[{at}] {who} sent a file: {} ({}), saved as {}",
            escape_line(name),
            size(*n),
            escape_path(path)
        ),
        What::SessionStarted => format!("[{at}] {who} started a secure session with you"),
        What::SessionConfirmed => format!("[{at}] {who} confirmed your secure session"),
        What::Waiting { kind } => format!(
            "[{at}] a {kind} from {who} arrived before its key; it will be opened when the key arrives"
        ),
        What::SessionLost { kind } => format!(
            "[{at}] a {kind} from {who} was sealed in a session this home does not have (a home \
             restored or copied, or it is not from {who}: only the server names senders): asked \
             {who} to start a new session and send it again"
        ),
        What::KeyChanged => format!(
            "[{at}] WARNING: {who}'s key changed. Their messages wait until you compare safety numbers \
             (client fingerprint {typed}) and accept the new key (client accept {typed})",
            typed = escape_line(&crate::advice::quote_word(
                &e.from_name.clone().unwrap_or_else(|| e.from.to_string())
            ))
        ),
        What::LookAlike { contact } => format!("[{at}] {}", look_alike(e, contact, "client ")),
        What::Rejected { reason } => format!("[{at}] message from {who} {}", reason.explain()),
        What::FileHeld {
            name,
            size: n,
            reason,
            limit,
        } => format!(
            "[{at}] {who} offers a file: {} ({}); not downloaded because {}. \
             `client accept-file {id}` downloads it, `client decline-file {id}` deletes it",
            escape_line(name),
            size(*n),
            held_because(*reason, *limit),
            id = e.message_id
        ),
        What::Deferred { kind } => format!(
            "[{at}] a {kind} from {who} arrived before its key, and this client already keeps as many \
             such messages as it may; it stays on the server until the key arrives"
        ),
        What::Expired { kind } => format!(
            "[{at}] a {kind} from {who} waited for its key longer than messages are kept and was given up unread"
        ),
        What::Refused {
            refused_id,
            counter,
            reason,
        } => format!(
            "[{at}] {who}'s client refused your message {refused_id} (counter {counter}): {}",
            reason.explain()
        ),
        What::OfferDeclined {
            offer_id,
            name,
            size: n,
        } => format!(
            "[{at}] {who} declined your file {} ({}, offer {offer_id}): never downloaded, deleted \
             from the server",
            escape_line(name),
            size(*n)
        ),
        // The server's time: a room entry carries no sealed time of its own.
        What::Room { room, change, .. } => {
            format!("[{at}] {}", room_line(room, &who, change, e.message_id))
        }
        What::SessionRenewed {
            refused_id,
            resent,
            lost,
        } => {
            let why = if *lost {
                "as sealed in a session its home no longer has (restored or copied)"
            } else {
                "as a replay (a copy of this home used the session)"
            };
            match resent {
                Some(id) => format!(
                    "[{at}] {who} refused your message {refused_id} {why}: the session is renewed and the message sent again as message {id}"
                ),
                None => format!(
                    "[{at}] {who} refused message {refused_id} {why}, which this home did not \
                     send: another copy of this home sent it, or someone else's message was passed \
                     off to them as yours (by the server); the session is renewed"
                ),
            }
        }
        What::Presence { online, name } => {
            let name = escape_line(name);
            let pinned = match &e.from_name {
                Some(p) if p != &*name => format!(" ({})", escape_line(p)),
                _ => String::new(),
            };
            if *online {
                format!("[{at}] {name}{pinned} is online")
            } else {
                format!("[{at}] {name}{pinned} went offline")
            }
        }
        What::Failed { error } => format!(
            "[{at}] a message from {who} could not be received now: {}; it stays on the server \
             and comes again with the next `inbox`",
            crate::repl::explain::one_line(error)
        ),
        What::NotDelivered { messages, by } => format!(
            "[{at}] the server says {who}'s account was deleted {}: {} to {who} {} not delivered",
            by.words(),
            count(*messages, "message", "messages"),
            if *messages == 1 { "was" } else { "were" }
        ),
    }
}

/// A user online now: the server's name, the pinned one when it differs,
/// and the id.
pub fn online_user(u: &crate::presence::OnlineUser) -> String {
    let mut remark = match &u.pinned_name {
        Some(p) if *p != u.name => format!(" (your contact {})", escape_line(p)),
        _ => String::new(),
    };
    if u.me {
        remark.push_str(" (you)");
    }
    format!("{:<30} {}{remark}", escape_line(&u.name), u.id)
}

/// What `forget` did, in one line.
pub fn forgot(gone: usize, label: &str) -> String {
    format!(
        "forgot {gone} entr{} of the conversation with {} (its keys stay)",
        if gone == 1 { "y" } else { "ies" },
        escape_line(label)
    )
}

/// The read-receipts setting, in one line.
pub fn read_receipts(on: bool) -> &'static str {
    if on {
        "read receipts: on (senders see when you were shown their messages)"
    } else {
        "read receipts: off (senders see only that your client received them)"
    }
}

/// How long history is kept (`None`: until forgotten, with `forget`, the
/// command as the reader types it), and how many entries setting it
/// deleted.
pub fn retention(kept: Option<u32>, gone: usize, forget: &str) -> String {
    match kept {
        None => format!("history is kept until you forget it (`{forget}`)"),
        Some(d) => {
            let days = if d == 1 {
                "1 day".to_string()
            } else {
                format!("{d} days")
            };
            match gone {
                0 => format!("history is kept {days} after it arrives"),
                1 => format!("history is kept {days} after it arrives; 1 older entry deleted"),
                n => format!("history is kept {days} after it arrives; {n} older entries deleted"),
            }
        }
    }
}

/// What `conversations` says when there is none.
pub const NO_CONVERSATIONS: &str =
    "no conversations yet (`send NAME TEXT` starts one, `room create NAME` a room)";

/// One conversation of `conversations`: its name (`#` before a room's),
/// its last activity, what is unread and what needs the user.
pub fn conversation_line(c: &ConversationSummary) -> String {
    let name = if c.is_room() {
        format!("#{}", escape_line(&c.label))
    } else {
        escape_line(&c.label).into_owned()
    };
    let last = c.last_ms.map_or_else(|| "nothing yet".to_string(), time);
    let mut line = format!("{name:<24} {last}");
    if c.unread > 0 {
        line.push_str(&format!("  {} unread", c.unread));
    }
    if c.files_waiting > 0 {
        line.push_str(&format!(
            "  {} waiting for your answer (`files`)",
            count(c.files_waiting, "file", "files")
        ));
    }
    if c.key_changed {
        line.push_str("  KEY CHANGED: compare safety numbers, then `accept` it");
    } else if c.verified {
        line.push_str("  verified");
    }
    if let Some(apart) = c.apart.as_ref().filter(|_| c.rule.is_some() || c.restored) {
        line.push_str(&format!("  ({})", escape_line(apart)));
    }
    if c.is_room() && c.rule.is_none() && !c.restored {
        // The name may be another room's now: the id reaches this one
        // (quoted as typed into a shell, where `#` starts a comment).
        match &c.conversation {
            Conversation::Room { id: Some(_), .. } => line.push_str(&format!(
                "  (no longer a member; `history '#{}'` shows it)",
                c.address
            )),
            _ => line.push_str("  (no longer a member)"),
        }
    }
    line
}

/// [`conversation_line`]'s fields for `--json`; a room's `id` (32 hex
/// digits) is missing for history kept by name from before rooms were
/// kept by id.
pub fn conversation_json(c: &ConversationSummary) -> serde_json::Value {
    let id = match &c.conversation {
        Conversation::Room { id: Some(id), .. } => Some(crate::rooms::hex(id)),
        Conversation::Room { id: None, .. } => None,
        Conversation::Person { id } => Some(id.to_string()),
    };
    serde_json::json!({
        "name": c.label,
        "id": id,
        "room": c.is_room(),
        "address": c.address,
        "last_ms": c.last_ms,
        "unread": c.unread,
        "files_waiting": c.files_waiting,
        "key_changed": c.key_changed,
        "verified": c.verified,
        "member": !c.is_room() || c.rule.is_some(),
        "restored": c.restored,
    })
}

/// A history entry for a person: `[time] who (status)` and the text
/// indented below, or one line for a file or a room event (`[time] --
/// alice removed carol`). `peer` names the other side of
/// a one-to-one conversation (escaped here). The time is the sender's
/// sealed clock when known, else the server's, else the arrival here.
pub fn history_entry(e: &HistoryEntry, peer: &str, names: &HashMap<ClientId, String>) -> String {
    let at = time(e.shown_time_ms());
    let who = sender_label(e, peer, names);
    let status = match (&e.direction, e.status, &e.reason) {
        (_, Status::Failed, Some(reason)) => {
            format!("  (failed: {})", escape_line(reason))
        }
        (Direction::Out, Status::Sent, Some(_)) => {
            "  (sent, not finished: `resume` sends the rest)".to_string()
        }
        (Direction::Out, _, _) => format!("  ({})", e.status_words()),
        // Not shown before (received by the TUI or `watch` of another
        // conversation, or the library): marked so the reader finds
        // where they left off; showing it makes it read.
        (Direction::In, Status::Received, _) => "  (new)".to_string(),
        (Direction::In, _, _) => String::new(),
    };
    match &e.body {
        Body::Text { text } => {
            format!("[{at}] {who}{status}\n{}", indented_message(text, "    "))
        }
        Body::File {
            name,
            size: n,
            path,
        } => {
            let file = format!(
                "[{at}] {who} sent a file: {} ({})",
                escape_line(name),
                size(*n)
            );
            match (e.direction, e.status) {
                (Direction::In, Status::Held) => format!(
                    "{file}; held, waiting for your answer: accept-file {id} downloads it, \
                     decline-file {id} deletes it",
                    id = e.message_id.unwrap_or_default()
                ),
                (Direction::In, Status::Declined) => {
                    format!("{file}; you declined it (never downloaded)")
                }
                (Direction::In, Status::Failed) => format!("{file}{status}"),
                (Direction::In, _) => format!("{file}, saved as {}{status}", escape_path(path)),
                (Direction::Out, _) => format!("{file}, from {}{status}", escape_path(path)),
            }
        }
        Body::Event { change } => format!(
            "[{at}] -- {}",
            room_event_words(room_name(&e.conversation), &who, change)
        ),
        Body::Key { change } => format!("[{at}] -- {}", change.words(&who)),
    }
}

/// The name a room's history goes by (empty for a person's).
fn room_name(c: &Conversation) -> &str {
    match c {
        Conversation::Room { name, .. } => name,
        Conversation::Person { .. } => "",
    }
}

/// Who sent `e`, escaped for one line: `you`, `peer` in a one-to-one
/// conversation, and in a room the member as pinned here (`names`, from
/// [`crate::client::Client::pinned_labels`]) or the id of one who is not.
pub fn sender_label(e: &HistoryEntry, peer: &str, names: &HashMap<ClientId, String>) -> String {
    match e.direction {
        Direction::Out => "you".to_string(),
        Direction::In if matches!(e.conversation, Conversation::Room { .. }) => names
            .get(&e.sender)
            .map_or_else(|| e.sender.to_string(), |n| escape_line(n).into_owned()),
        Direction::In => escape_line(peer).into_owned(),
    }
}

/// Why a file was held, as the end of a sentence; `limit` is the
/// automatic download limit it was over, if known.
pub fn held_because(reason: HoldReason, limit: Option<u64>) -> String {
    match (reason, limit) {
        (HoldReason::Stranger, _) => "the sender is not one of your contacts".into(),
        (HoldReason::TooLarge, Some(limit)) => {
            format!(
                "it is larger than your automatic download limit ({})",
                size(limit)
            )
        }
        (HoldReason::TooLarge, None) => "it is larger than the automatic download limit".into(),
        (HoldReason::Cancelled, _) => "you stopped its download (what arrived is kept)".into(),
    }
}

/// A room file held on the server for the user's decision, after its
/// sender's name: `accept` and `decline` are the commands in the words of
/// the interface.
pub fn room_file_held(name: &str, n: u64, limit: u64, accept: &str, decline: &str) -> String {
    format!(
        "sent a file: {} ({}); it is larger than your automatic download limit ({}), so the \
         server keeps it for you: {accept} downloads it, {decline} lets it go",
        escape_line(name),
        size(n),
        size(limit)
    )
}

/// A progress bar on standard error, drawn only on a terminal.
pub struct Bars {
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    /// Bars if standard error is a terminal; `None` otherwise.
    pub fn for_terminal() -> Option<Self> {
        std::io::stderr().is_terminal().then(|| Self {
            bar: Mutex::new(None),
        })
    }
}

impl Progress for Bars {
    fn start(&self, label: &str, total: u64, done: u64) {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        // The template is a constant; a broken one falls back to the default.
        // The label in full; sizes in the client's one unit system.
        let style = ProgressStyle::with_template(
            "{msg} [{bar:30}] {decimal_bytes}/{decimal_total_bytes} {decimal_bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(label.to_string());
        bar.set_position(done);
        // The speed counts what moves from now on, not what was there.
        bar.reset_eta();
        bar.enable_steady_tick(Duration::from_millis(200));
        if let Some(old) = self
            .bar
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(bar)
        {
            old.finish_and_clear();
        }
    }

    fn advance(&self, n: u64) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            bar.inc(n);
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

/// Ends the process on a command line clap refused. With `--json`
/// anywhere on it, a script reads one JSON line on standard error, with
/// the code `usage` and clap's message, as it reads every other error; else
/// clap's own text. Help and version (exit code 0) are always clap's text,
/// and the exit code is always clap's (2 for a usage error).
pub fn usage_error(e: clap::Error) -> ! {
    let json = std::env::args_os().skip(1).any(|a| a == "--json");
    if e.exit_code() == 0 || !json {
        e.exit()
    }
    let error = match e.kind() {
        // Its text is the whole help, which is no one-line message.
        clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            "a subcommand is missing; --help lists them".to_string()
        }
        _ => {
            // What clap says before its usage lines, on one line.
            let text = e.render().to_string();
            let said = text.split("\nUsage:").next().unwrap_or_default();
            let said = said
                .split("\n\nFor more information")
                .next()
                .unwrap_or_default();
            let said = said.split_whitespace().collect::<Vec<_>>().join(" ");
            said.strip_prefix("error: ").unwrap_or(&said).to_string()
        }
    };
    eprintln!("{}", serde_json::json!({ "error": error, "code": "usage" }));
    std::process::exit(e.exit_code())
}

#[cfg(test)]
#[path = "output_tests.rs"]
mod tests;
