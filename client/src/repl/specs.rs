//! The menu's command table: every command's number from the reference
//! client, its words, usage line and the arguments it takes, and "did you
//! mean" for a mistyped command word.
//!
//! Data and lookups only: [`super::parse`] turns a line into a command
//! with it, completion offers its words and the help lists it.

/// The arguments a command takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Args {
    /// None.
    Nothing,
    /// A name, asked for when missing.
    Name,
    /// A name, optional.
    OptionalName,
    /// A name, then the rest of the line as a text.
    NameText,
    /// A name, then a path.
    NamePath,
    /// `on` or `off`, optional.
    Switch,
    /// A message id, asked for when missing.
    Number,
    /// A room subcommand and its arguments (`super::room_parse`).
    Room,
    /// A conversation (`NAME` or `#ROOM`, or `-` for none), optional.
    Target,
}

/// One command of the menu.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Its number in the reference menu.
    pub number: Option<&'static str>,
    /// Its words; the first is the one shown.
    pub words: &'static [&'static str],
    /// How it is typed.
    pub usage: &'static str,
    /// What it does, in a few words.
    pub about: &'static str,
    /// What follows it.
    pub args: Args,
}

/// Every command, in menu order.
pub const SPECS: &[Spec] = &[
    Spec {
        number: Some("1"),
        words: &["register"],
        usage: "register NAME",
        about: "create your identity and register NAME on the server",
        args: Args::Name,
    },
    Spec {
        number: Some("2"),
        words: &["list", "users", "ls"],
        usage: "list",
        about: "the other users on the server",
        args: Args::Nothing,
    },
    Spec {
        number: None,
        words: &["online", "who"],
        usage: "online",
        about: "who is online now (their menu or watch runs)",
        args: Args::Nothing,
    },
    Spec {
        number: Some("3"),
        words: &["key", "pubkey"],
        usage: "key NAME",
        about: "fetch, check and pin NAME's public key",
        args: Args::Name,
    },
    Spec {
        number: Some("4"),
        words: &["inbox", "read", "messages"],
        usage: "inbox",
        about: "read waiting messages (files go to the downloads folder)",
        args: Args::Nothing,
    },
    Spec {
        number: Some("5"),
        words: &["send", "text", "msg"],
        usage: "send NAME TEXT",
        about: "send an encrypted text (the rest of the line)",
        args: Args::NameText,
    },
    Spec {
        number: Some("50"),
        words: &["file", "sendfile", "send-file"],
        usage: "file NAME PATH",
        about: "send an encrypted file of any size (Ctrl-C cancels)",
        args: Args::NamePath,
    },
    Spec {
        number: Some("51"),
        words: &["session", "request-key"],
        usage: "session NAME",
        about: "start a new secure session with NAME (a key-agreement offer)",
        args: Args::Name,
    },
    Spec {
        number: Some("52"),
        words: &["answer", "send-key"],
        usage: "answer",
        about: "read waiting messages now, answering key offers from others",
        args: Args::Nothing,
    },
    Spec {
        number: None,
        words: &["to"],
        usage: "/to [NAME|#ROOM|-]",
        about: "talk in a conversation: plain lines go there (`/to -` stops)",
        args: Args::Target,
    },
    Spec {
        number: None,
        words: &["conversations", "chats"],
        usage: "conversations",
        about: "every conversation, newest first, with what is unread",
        args: Args::Nothing,
    },
    Spec {
        number: None,
        words: &["history", "hist"],
        usage: "history NAME",
        about: "the last messages with NAME, both ways, with their status",
        args: Args::Name,
    },
    Spec {
        number: None,
        words: &["forget"],
        usage: "forget NAME",
        about: "delete the history with NAME or #ROOM (keys and pins stay)",
        args: Args::Name,
    },
    Spec {
        number: None,
        words: &["retention"],
        usage: "retention [DAYS|forever]",
        about: "how long history is kept; with a value, set it",
        args: Args::OptionalName,
    },
    Spec {
        number: None,
        words: &["receipts"],
        usage: "receipts [on|off]",
        about: "whether senders see when you were shown their messages",
        args: Args::Switch,
    },
    Spec {
        number: None,
        words: &["watch"],
        usage: "watch [on|off]",
        about: "show messages live while the menu waits (on by default); off also hides you from `online`",
        args: Args::Switch,
    },
    Spec {
        number: None,
        words: &["fingerprint", "fp", "safety"],
        usage: "fingerprint [NAME]",
        about: "your fingerprint, or the safety number you share with NAME",
        args: Args::OptionalName,
    },
    Spec {
        number: None,
        words: &["verify"],
        usage: "verify NAME",
        about: "record that you compared the safety number with NAME",
        args: Args::Name,
    },
    Spec {
        number: None,
        words: &["accept"],
        usage: "accept NAME",
        about: "accept NAME's changed key (after comparing safety numbers)",
        args: Args::Name,
    },
    Spec {
        number: None,
        words: &["resume"],
        usage: "resume",
        about: "finish uploads that were interrupted",
        args: Args::Nothing,
    },
    Spec {
        number: None,
        words: &["files", "offers"],
        usage: "files",
        about: "file offers waiting for your decision (from strangers, or large)",
        args: Args::Nothing,
    },
    Spec {
        number: None,
        words: &["accept-file", "accept-offer"],
        usage: "accept-file N",
        about: "download held file offer N",
        args: Args::Number,
    },
    Spec {
        number: None,
        words: &["decline-file", "decline-offer"],
        usage: "decline-file N",
        about: "decline held file offer N (the server deletes it)",
        args: Args::Number,
    },
    Spec {
        number: None,
        words: &["delete-account"],
        usage: "delete-account NAME",
        about: "delete your account on the server for good (NAME, your own, confirms)",
        args: Args::Name,
    },
    Spec {
        number: None,
        words: &["room", "rooms"],
        usage: "room WHAT ...",
        about: "rooms, encrypted end to end: `room` alone lists what; `#NAME text` sends",
        args: Args::Room,
    },
    Spec {
        number: None,
        words: &["help", "?", "menu"],
        usage: "help",
        about: "this menu",
        args: Args::Nothing,
    },
    Spec {
        number: Some("0"),
        words: &["exit", "quit", "q"],
        usage: "exit",
        about: "leave (Ctrl-D too)",
        args: Args::Nothing,
    },
];

/// The command a first word names (a number or a word, any case).
pub fn spec_of(word: &str) -> Option<&'static Spec> {
    let word = word.to_lowercase();
    SPECS
        .iter()
        .find(|s| s.number == Some(word.as_str()) || s.words.contains(&word.as_str()))
}

/// Every command word, for completion.
pub fn command_words() -> impl Iterator<Item = &'static str> {
    SPECS.iter().flat_map(|s| s.words.iter().copied())
}

/// The command word closest to a mistyped one, if any is close.
pub fn suggest_command(word: &str) -> Option<&'static str> {
    let word = word.to_lowercase();
    if word.is_empty() || word.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    SPECS
        .iter()
        .flat_map(|s| s.words.iter().map(move |w| (s.words[0], *w)))
        .filter(|(_, w)| w.len() > 1)
        .map(|(shown, w)| (shown, strsim::damerau_levenshtein(&word, w)))
        .filter(|(_, d)| *d <= if word.chars().count() <= 3 { 1 } else { 2 })
        .min_by_key(|(_, d)| *d)
        .map(|(shown, _)| shown)
}
