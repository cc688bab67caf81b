//! What a menu line means: a [`Command`] from its first word (looked up in
//! the command table, [`super::specs`]) and its arguments (split into words
//! by [`super::words`]), or a [`ParseError`] that says what is wrong.
//!
//! Pure functions on strings: no terminal, no client. A text to send is the
//! rest of the line as typed (so `send bob it's fine` needs no quoting); a
//! name or a path is one word, quoted or backslash-escaped when it holds
//! spaces, as Tab completion writes it.

use std::path::PathBuf;

use super::specs::{Args, spec_of, suggest_command};
use super::words::{UnclosedQuote, expand_home, next_word, rest_value, text_value, words};

/// One thing the user asked for. `None` arguments are asked for with a
/// sub-prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// 1: create an identity and register it under a name.
    Register {
        /// The name.
        name: Option<String>,
    },
    /// 2: the other users.
    List,
    /// Who is online now.
    Online,
    /// Every conversation, newest first.
    Conversations,
    /// 3: fetch, check and pin a peer's key.
    Key {
        /// The peer.
        name: Option<String>,
    },
    /// 4: read waiting messages.
    Inbox,
    /// 5: send a text.
    SendText {
        /// The recipient.
        to: Option<String>,
        /// The text.
        text: Option<String>,
    },
    /// 50: send a file.
    SendFile {
        /// The recipient.
        to: Option<String>,
        /// The file.
        path: Option<PathBuf>,
    },
    /// 51: start a new session (a key-agreement offer).
    Session {
        /// The peer.
        name: Option<String>,
    },
    /// 52: read waiting messages now, which answers pending key offers.
    Answer,
    /// The last entries of a conversation's history.
    History {
        /// The conversation.
        name: Option<String>,
    },
    /// Read receipts on or off, or the setting shown (`None`).
    Receipts {
        /// On or off.
        on: Option<bool>,
    },
    /// Deletes a conversation's history (keys and pins stay).
    Forget {
        /// The conversation.
        name: Option<String>,
    },
    /// How long history is kept: days or `forever`, or shown (`None`).
    Retention {
        /// As typed.
        days: Option<String>,
    },
    /// Live messages on, off, or toggled (`None`).
    Watch {
        /// On or off.
        on: Option<bool>,
    },
    /// The user's and the server's fingerprints, or the safety number
    /// shared with a peer.
    Fingerprint {
        /// The peer.
        name: Option<String>,
    },
    /// Mark the safety number shared with a peer as compared.
    Verify {
        /// The peer.
        name: Option<String>,
    },
    /// Accept a peer's changed key.
    Accept {
        /// The peer.
        name: Option<String>,
    },
    /// Delete our account on the server; the name typed again confirms.
    DeleteAccount {
        /// The account's name.
        name: Option<String>,
    },
    /// Finish interrupted uploads.
    Resume,
    /// The file offers waiting for a decision.
    Files,
    /// Download a held file offer.
    AcceptFile {
        /// Its message id.
        id: Option<u64>,
    },
    /// Decline a held file offer (the server deletes it).
    DeclineFile {
        /// Its message id.
        id: Option<u64>,
    },
    /// Where plain lines go: `Some` switches (`-`: back to commands),
    /// `None` says where they go now (see [`super::talk`]).
    To {
        /// The conversation, as typed.
        target: Option<String>,
    },
    /// A room command (`room ...`, or `#NAME text`).
    Room(crate::cli::RoomCommand),
    /// The menu.
    Help,
    /// `room` alone: how each room command is typed.
    RoomForms,
    /// 0: leave.
    Exit,
}

/// A line that does not make a command, with what to say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The first word is no command.
    Unknown {
        /// What was typed.
        word: String,
        /// The closest command word, if one is close.
        suggestion: Option<&'static str>,
    },
    /// More arguments than the command takes.
    TooMany {
        /// The command's usage line.
        usage: &'static str,
    },
    /// A quote was opened and not closed.
    UnclosedQuote,
    /// An on/off command (`watch`, `receipts`) with something else.
    BadSwitch {
        /// The command's word.
        command: &'static str,
        /// What was typed instead.
        given: String,
    },
    /// A message id that is not a number.
    BadNumber(String),
    /// A `room` line that makes no room command.
    RoomUsage(super::room_parse::RoomUsage),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unknown {
                word,
                suggestion: Some(s),
            } => write!(
                f,
                "unknown command \"{word}\"; did you mean `{s}`? (`help` lists them all)"
            ),
            Self::Unknown { word, .. } => {
                write!(f, "unknown command \"{word}\"; type `help` for the menu")
            }
            Self::TooMany { usage } => write!(
                f,
                "too many arguments: the usage is `{usage}` (quote a name that has spaces)"
            ),
            Self::UnclosedQuote => write!(f, "a quote is not closed; close it or leave it out"),
            Self::BadSwitch { command, given } => {
                write!(f, "`{command}` takes on or off, not \"{given}\"")
            }
            Self::RoomUsage(usage) => usage.fmt(f),
            Self::BadNumber(s) => f.write_str(&crate::downloads::not_an_offer_number(s)),
        }
    }
}

impl From<UnclosedQuote> for ParseError {
    fn from(_: UnclosedQuote) -> Self {
        Self::UnclosedQuote
    }
}

/// A file offer's number (as `files` shows it, `#` allowed before it).
///
/// # Errors
/// Not a number.
pub fn number(text: &str) -> Result<u64, ParseError> {
    crate::downloads::offer_number(text).map_err(|_| ParseError::BadNumber(text.trim().to_string()))
}

/// Parses one line; `Ok(None)` for an empty line.
///
/// # Errors
/// What is wrong with the line, to show as it is.
pub fn parse(line: &str) -> Result<Option<Command>, ParseError> {
    // `/list` is `list`: commands take a `/` (needed while a conversation
    // is chosen, see `super::talk`).
    let line = line.trim_start();
    let line = line.strip_prefix('/').unwrap_or(line);
    let Some(first) = next_word(line, 0)? else {
        return Ok(None);
    };
    if let Some(send) = super::room_parse::parse_hash(line) {
        return Ok(Some(Command::Room(send)));
    }
    let Some(spec) = spec_of(&first.text) else {
        return Err(ParseError::Unknown {
            suggestion: suggest_command(&first.text),
            word: first.text,
        });
    };
    let word = spec.words[0];
    let too_many = || ParseError::TooMany { usage: spec.usage };
    let command = match spec.args {
        Args::Nothing => {
            if next_word(line, first.end)?.is_some() {
                return Err(too_many());
            }
            match word {
                "list" => Command::List,
                "online" => Command::Online,
                "conversations" => Command::Conversations,
                "inbox" => Command::Inbox,
                "answer" => Command::Answer,
                "resume" => Command::Resume,
                "files" => Command::Files,
                "help" => Command::Help,
                _ => Command::Exit,
            }
        }
        Args::Name | Args::OptionalName => {
            let all = words(&line[first.end..])?;
            if all.len() > 1 {
                return Err(too_many());
            }
            let name = all.into_iter().next().map(|w| w.text);
            match word {
                "register" => Command::Register { name },
                "key" => Command::Key { name },
                "session" => Command::Session { name },
                "fingerprint" => Command::Fingerprint { name },
                "verify" => Command::Verify { name },
                "history" => Command::History { name },
                "forget" => Command::Forget { name },
                "retention" => Command::Retention { days: name },
                "delete-account" => Command::DeleteAccount { name },
                _ => Command::Accept { name },
            }
        }
        Args::Target => {
            let all = words(&line[first.end..])?;
            if all.len() > 1 {
                return Err(too_many());
            }
            Command::To {
                target: all.into_iter().next().map(|w| w.text),
            }
        }
        // `room` alone asks what there is (as `help` says), which is no error.
        Args::Room if next_word(line, first.end)?.is_none() => Command::RoomForms,
        Args::Room => Command::Room(
            super::room_parse::parse_room(line, first.end).map_err(ParseError::RoomUsage)?,
        ),
        Args::NameText => match next_word(line, first.end)? {
            None => Command::SendText {
                to: None,
                text: None,
            },
            Some(to) => Command::SendText {
                text: text_value(line, to.end),
                to: Some(to.text),
            },
        },
        Args::NamePath => match next_word(line, first.end)? {
            None => Command::SendFile {
                to: None,
                path: None,
            },
            Some(to) => Command::SendFile {
                path: rest_value(line, to.end).map(expand_home),
                to: Some(to.text),
            },
        },
        Args::Switch => {
            let all = words(&line[first.end..])?;
            let on = match all.as_slice() {
                [] => None,
                [w] => match w.text.to_lowercase().as_str() {
                    "on" | "yes" | "true" | "1" => Some(true),
                    "off" | "no" | "false" | "0" => Some(false),
                    _ => {
                        return Err(ParseError::BadSwitch {
                            command: word,
                            given: w.text.clone(),
                        });
                    }
                },
                _ => return Err(too_many()),
            };
            match word {
                "receipts" => Command::Receipts { on },
                _ => Command::Watch { on },
            }
        }
        Args::Number => {
            let all = words(&line[first.end..])?;
            let id = match all.as_slice() {
                [] => None,
                [w] => Some(number(&w.text)?),
                _ => return Err(too_many()),
            };
            match word {
                "accept-file" => Command::AcceptFile { id },
                _ => Command::DeclineFile { id },
            }
        }
    };
    Ok(Some(command))
}

/// What goes into the history for a line: the line, except that the text of
/// a message is left out (texts are secrets; the history file is not
/// encrypted), keeping `send NAME`, `room send NAME` or `#NAME` to reuse.
/// `None`: nothing to keep.
pub fn history_entry(line: &str) -> Option<String> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    if let Some(command) = line.strip_prefix('/') {
        return history_entry(command).map(|c| format!("/{c}"));
    }
    let Ok(Some(first)) = next_word(line, 0) else {
        return Some(line.to_string());
    };
    // Up to the end of the word after `from`, or the whole line.
    let through_next = |from: usize| match next_word(line, from) {
        Ok(Some(w)) => Some(line[..w.end].to_string()),
        _ => Some(line.to_string()),
    };
    if first.text.starts_with('#') {
        // `#NAME text`: the room's name is the first word.
        return Some(line[..first.end].to_string());
    }
    match spec_of(&first.text).map(|s| s.args) {
        Some(Args::NameText) => through_next(first.end),
        Some(Args::Room) => match next_word(line, first.end) {
            Ok(Some(sub)) if sub.text.eq_ignore_ascii_case("send") => through_next(sub.end),
            _ => Some(line.to_string()),
        },
        _ => Some(line.to_string()),
    }
}

#[cfg(test)]
mod tests;
