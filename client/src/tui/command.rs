//! What a line typed with a leading `/` asks for: the full-screen
//! client's commands, split into words the menu's way
//! ([`crate::repl::words`]: quotes and backslashes), each with a usage
//! line for a mistake.
//!
//! Pure parsing: running a command is `super::actions`.

use std::path::PathBuf;

use crate::repl::words::{expand_home, rest_value, words};

/// A `/` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Send the file at this path to the conversation.
    File(PathBuf),
    /// List the room's members and their roles.
    Members,
    /// Remove this member from the room (an open room they may join again).
    Kick(String),
    /// Ban this user from the room (removing them if they are in it).
    Ban(String),
    /// Lift this user's ban from the room.
    Unban(String),
    /// Make this member an admin of the room.
    Promote(String),
    /// Make this admin a plain member of the room.
    Demote(String),
    /// Change who may join the room (a password is set where it is typed
    /// without echo: the menu or `client room set`).
    Set(Rule),
    /// Rename the room.
    Rename(String),
    /// Delete the room for every member; the name typed again, as the
    /// confirmation there is no undo for.
    Delete(String),
    /// Join the public or hidden room of this name (and open it); open it
    /// if we are in it already.
    Join(String),
    /// Ask to leave the room.
    Leave,
    /// Who is online now.
    Online,
    /// Create a room with this name (and open it).
    Create(String),
    /// Add these users to the room.
    Add(Vec<String>),
    /// The safety number with the person, or your and the server's
    /// fingerprints.
    Fingerprint,
    /// Record that the safety number with the person matched.
    Verified,
    /// The whole stored history of the conversation, or its last N entries.
    History(Option<usize>),
    /// Open (and pin) a conversation with this user, or open the room
    /// of ours of this name (`#NAME`, or a name no user has).
    Open(String),
    /// Accept a user's changed key (or the server's new mapping of the
    /// name), by name.
    AcceptKey(String),
    /// Download held file offer N.
    AcceptFile(u64),
    /// Decline held file offer N (the server deletes it).
    DeclineFile(u64),
    /// List held file offers.
    Files,
    /// Cancel transfer N, or every transfer started here.
    Cancel(Option<u64>),
    /// Finish interrupted uploads.
    Resume,
    /// Turn the terminal bell on or off.
    Bell(bool),
    /// Show the keys and commands.
    Help,
    /// Delete our own account on the server; its name typed again, as the
    /// confirmation there is no undo for.
    DeleteAccount(String),
    /// Leave.
    Quit,
}

/// Who may join a room, as `/set` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Listed; anyone registered may join.
    Public,
    /// Not listed; anyone who types its exact name may join.
    Hidden,
    /// Only admins add members.
    Invite,
    /// Joining needs a password (asked next, without echo): then hidden,
    /// or listed with a lock.
    Password {
        /// Not listed.
        hidden: bool,
    },
}

/// Every command word, for completion and the help. `delete-account` is
/// not one: a command that deletes the account is typed in full, never
/// completed.
pub const WORDS: &[&str] = &[
    "accept",
    "add",
    "ban",
    "bell",
    "cancel",
    "create",
    "decline",
    "delete",
    "demote",
    "file",
    "files",
    "fingerprint",
    "help",
    "history",
    "join",
    "kick",
    "leave",
    "members",
    "online",
    "open",
    "promote",
    "quit",
    "rename",
    "resume",
    "set",
    "unban",
    "verified",
];

/// The help's list of commands: usage and what it does.
pub const USAGE: &[(&str, &str)] = &[
    ("/file PATH", "send a file here (Tab completes the path)"),
    ("/open NAME", "talk with NAME (#NAME: a room of yours)"),
    ("/online", "who is online now"),
    ("/create NAME", "create a room (you are its owner)"),
    ("/join NAME", "join the public or hidden room NAME"),
    ("/fingerprint", "the safety number to compare"),
    ("/verified", "record that it matched theirs"),
    ("/accept NAME", "take NAME's changed key"),
    ("/accept N", "download held file offer N"),
    ("/decline N", "delete held file offer N"),
    ("/files", "file offers waiting for you"),
    ("/cancel [N]", "stop transfer N (or all you started)"),
    ("/resume", "finish interrupted uploads"),
    ("/history [N]", "all (or N) stored entries"),
    ("/bell on|off", "ring on messages elsewhere"),
    ("/quit", "leave (also Ctrl-C)"),
];

/// The help's list of the commands for one's own account (a table of its
/// own: its long usage would widen the others).
pub const ACCOUNT_USAGE: &[(&str, &str)] = &[(
    "/delete-account NAME",
    "delete your account on the server for good (its name, typed again); this home keeps its history",
)];

/// The help's list of the commands for the open room.
pub const ROOM_USAGE: &[(&str, &str)] = &[
    ("/members", "who is in it, with roles"),
    ("/leave", "leave it"),
    ("/add USER...", "add users"),
    (
        "/kick USER",
        "remove USER (from an open room they may join again)",
    ),
    ("/ban USER", "remove USER and keep them out"),
    (
        "/unban USER",
        "lift USER's ban (they may join an open room)",
    ),
    ("/promote USER", "make USER an admin"),
    ("/demote USER", "make admin USER a plain member"),
    (
        "/set RULE",
        "who may join: public, hidden, invite, password (asked next) or hidden-password",
    ),
    ("/rename NEW", "rename it"),
    (
        "/delete NAME",
        "delete it for everyone (its name, typed again)",
    ),
];

const SET_USAGE: &str = "/set public|hidden|invite|password|hidden-password";

/// Parses `line` (which starts with `/`).
///
/// # Errors
/// One line saying what is wrong, with the usage.
pub fn parse(line: &str) -> Result<Command, String> {
    let body = line.strip_prefix('/').unwrap_or(line);
    let parts = words(body).map_err(|_| "a quote is not closed".to_string())?;
    let Some(first) = parts.first() else {
        return Err("type a command after /; F1 lists them".into());
    };
    let word = first.text.to_lowercase();
    let rest: Vec<String> = parts[1..].iter().map(|w| w.text.clone()).collect();
    // Names of rooms and users may hold spaces, and each command takes one:
    // the rest of the line as typed is it (quoted, as one word, too).
    let one = |usage: &str| rest_value(body, first.end).ok_or_else(|| format!("usage: {usage}"));
    let none = |c: Command| {
        if rest.is_empty() {
            Ok(c)
        } else {
            Err(format!("/{word} takes nothing after it"))
        }
    };
    match word.as_str() {
        "file" => match rest_value(body, first.end) {
            Some(path) => Ok(Command::File(expand_home(path))),
            None => Err("usage: /file PATH".into()),
        },
        "members" => none(Command::Members),
        "kick" => one("/kick USER").map(Command::Kick),
        "ban" => one("/ban USER").map(Command::Ban),
        "unban" => one("/unban USER").map(Command::Unban),
        "promote" => one("/promote USER").map(Command::Promote),
        "demote" => one("/demote USER").map(Command::Demote),
        "set" => match one(SET_USAGE)?.to_lowercase().as_str() {
            "public" => Ok(Command::Set(Rule::Public)),
            "hidden" => Ok(Command::Set(Rule::Hidden)),
            "invite" | "invite-only" => Ok(Command::Set(Rule::Invite)),
            "password" => Ok(Command::Set(Rule::Password { hidden: false })),
            "hidden-password" => Ok(Command::Set(Rule::Password { hidden: true })),
            _ => Err(format!("usage: {SET_USAGE}")),
        },
        "rename" => one("/rename NEW").map(Command::Rename),
        "delete" => one("/delete NAME (this room's name, typed again)").map(Command::Delete),
        "join" => one("/join NAME").map(Command::Join),
        "leave" | "part" => none(Command::Leave),
        "online" | "who" => none(Command::Online),
        "create" => one("/create NAME").map(Command::Create),
        "add" if rest.is_empty() => Err("usage: /add USER...".into()),
        "add" => Ok(Command::Add(rest)),
        "fingerprint" => none(Command::Fingerprint),
        "verified" => none(Command::Verified),
        "history" => match rest.as_slice() {
            [] => Ok(Command::History(None)),
            [n] => n
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .map(|n| Command::History(Some(n)))
                .ok_or_else(|| "usage: /history [N], N a number of entries".into()),
            _ => Err("usage: /history [N]".into()),
        },
        "open" | "msg" | "query" => one("/open NAME").map(Command::Open),
        "accept" => {
            let what = one("/accept NAME or /accept N (a file offer's number)")?;
            Ok(match what.parse::<u64>() {
                Ok(n) => Command::AcceptFile(n),
                Err(_) => Command::AcceptKey(what),
            })
        }
        "decline" => one("/decline N")?
            .parse::<u64>()
            .map(Command::DeclineFile)
            .map_err(|_| "usage: /decline N, N the offer's number from /files".into()),
        "files" => none(Command::Files),
        "cancel" => match rest.as_slice() {
            [] => Ok(Command::Cancel(None)),
            [n] => n
                .parse::<u64>()
                .map(|n| Command::Cancel(Some(n)))
                .map_err(|_| "usage: /cancel [N], N a transfer's number".into()),
            _ => Err("usage: /cancel [N]".into()),
        },
        "resume" => none(Command::Resume),
        "bell" => match one("/bell on|off")?.as_str() {
            "on" => Ok(Command::Bell(true)),
            "off" => Ok(Command::Bell(false)),
            _ => Err("usage: /bell on|off".into()),
        },
        "delete-account" => one("/delete-account NAME (your account's name, typed again)")
            .map(Command::DeleteAccount),
        "help" | "?" => none(Command::Help),
        "quit" | "exit" | "q" => none(Command::Quit),
        other => Err(match suggest(other) {
            Some(s) => format!("no command /{other}; did you mean /{s}? (F1 lists them)"),
            None => format!("no command /{other}; F1 lists them"),
        }),
    }
}

/// The command word closest to a mistyped one.
fn suggest(typed: &str) -> Option<&'static str> {
    WORDS
        .iter()
        .copied()
        .map(|w| (w, strsim::damerau_levenshtein(typed, w)))
        .filter(|(w, d)| *d <= 2 || w.starts_with(typed))
        .min_by_key(|(_, d)| *d)
        .map(|(w, _)| w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_take_their_arguments_the_menu_way() {
        assert_eq!(
            parse("/file \"my report.pdf\"").unwrap(),
            Command::File("my report.pdf".into())
        );
        assert_eq!(
            parse("/file my report.pdf").unwrap(),
            Command::File("my report.pdf".into())
        );
        assert_eq!(
            parse("/add bob \"dave smith\"").unwrap(),
            Command::Add(vec!["bob".into(), "dave smith".into()])
        );
        assert_eq!(parse("/accept 42").unwrap(), Command::AcceptFile(42));
        assert_eq!(
            parse("/accept bob").unwrap(),
            Command::AcceptKey("bob".into())
        );
        assert_eq!(parse("/history 20").unwrap(), Command::History(Some(20)));
        assert_eq!(
            parse("/join \"the lobby\"").unwrap(),
            Command::Join("the lobby".into())
        );
        assert_eq!(parse("/ban bob").unwrap(), Command::Ban("bob".into()));
        assert_eq!(parse("/unban bob").unwrap(), Command::Unban("bob".into()));
        assert_eq!(parse("/online").unwrap(), Command::Online);
        assert_eq!(parse("/cancel").unwrap(), Command::Cancel(None));
        assert_eq!(parse("/cancel 3").unwrap(), Command::Cancel(Some(3)));
        assert_eq!(parse("/leave").unwrap(), Command::Leave);
        assert_eq!(
            parse("/promote bob").unwrap(),
            Command::Promote("bob".into())
        );
        assert_eq!(parse("/demote bob").unwrap(), Command::Demote("bob".into()));
        assert_eq!(parse("/set Public").unwrap(), Command::Set(Rule::Public));
        assert_eq!(parse("/set invite").unwrap(), Command::Set(Rule::Invite));
        assert_eq!(
            parse("/set hidden-password").unwrap(),
            Command::Set(Rule::Password { hidden: true })
        );
        assert_eq!(
            parse("/rename \"ops team\"").unwrap(),
            Command::Rename("ops team".into())
        );
        assert_eq!(
            parse("/delete team").unwrap(),
            Command::Delete("team".into())
        );
        assert_eq!(
            parse("/delete-account alice").unwrap(),
            Command::DeleteAccount("alice".into())
        );
        assert_eq!(parse("/QUIT").unwrap(), Command::Quit);
    }

    #[test]
    fn a_name_with_spaces_is_the_rest_of_the_line() {
        assert_eq!(
            parse("/open #lounge 2").unwrap(),
            Command::Open("#lounge 2".into())
        );
        assert_eq!(
            parse("/join the  lobby ").unwrap(),
            Command::Join("the  lobby".into())
        );
        assert_eq!(
            parse("/kick bob smith").unwrap(),
            Command::Kick("bob smith".into())
        );
        assert_eq!(
            parse("/create ops team").unwrap(),
            Command::Create("ops team".into())
        );
        assert_eq!(
            parse("/accept dave smith").unwrap(),
            Command::AcceptKey("dave smith".into())
        );
        assert_eq!(
            parse("/rename \"ops team\"").unwrap(),
            Command::Rename("ops team".into())
        );
    }

    #[test]
    fn mistakes_get_one_line_with_the_usage() {
        assert_eq!(parse("/kick").unwrap_err(), "usage: /kick USER");
        assert_eq!(parse("/join").unwrap_err(), "usage: /join NAME");
        assert_eq!(
            parse("/decline 3 4").unwrap_err(),
            "usage: /decline N, N the offer's number from /files"
        );
        assert_eq!(
            parse("/members x").unwrap_err(),
            "/members takes nothing after it"
        );
        assert_eq!(
            parse("/memebrs").unwrap_err(),
            "no command /memebrs; did you mean /members? (F1 lists them)"
        );
        assert!(parse("/").unwrap_err().contains("F1"));
        assert_eq!(parse("/bell maybe").unwrap_err(), "usage: /bell on|off");
        assert_eq!(
            parse("/set open").unwrap_err(),
            "usage: /set public|hidden|invite|password|hidden-password"
        );
        assert_eq!(
            parse("/delete").unwrap_err(),
            "usage: /delete NAME (this room's name, typed again)"
        );
        assert_eq!(
            parse("/delete-account").unwrap_err(),
            "usage: /delete-account NAME (your account's name, typed again)"
        );
    }

    #[test]
    fn deleting_the_account_is_in_the_help_but_not_a_completed_word() {
        assert!(!WORDS.contains(&"delete-account"));
        assert!(
            ACCOUNT_USAGE
                .iter()
                .any(|(u, _)| u.starts_with("/delete-account "))
        );
    }
}
