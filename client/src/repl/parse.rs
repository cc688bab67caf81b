//! What a menu line means: the command table (numbers from the reference
//! client, and words), the splitting of arguments with shell-like quoting,
//! and "did you mean" for mistyped commands.
//!
//! Pure functions on strings: no terminal, no client. A text to send is the
//! rest of the line as typed (so `send bob it's fine` needs no quoting); a
//! name or a path is one word, quoted or backslash-escaped when it holds
//! spaces, as Tab completion writes it.

use std::path::PathBuf;

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
    /// 3: fetch, check and pin a peer's key.
    Key {
        /// The peer.
        name: Option<String>,
    },
    /// 4: read waiting messages.
    Inbox,
    /// 5: send a text.
    Send {
        /// The recipient.
        to: Option<String>,
        /// The text.
        text: Option<String>,
    },
    /// 50: send a file.
    File {
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
    /// The menu.
    Help,
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
    /// `watch` with something other than on or off.
    BadSwitch(String),
    /// A message id that is not a number.
    BadNumber(String),
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
            Self::BadSwitch(s) => write!(f, "`watch` takes on or off, not \"{s}\""),
            Self::BadNumber(s) => write!(
                f,
                "\"{s}\" is not a file offer's number; `files` lists them with their numbers"
            ),
        }
    }
}

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
        words: &["watch"],
        usage: "watch [on|off]",
        about: "show messages live while the menu waits (on by default)",
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

/// One word of a line: its value and where it lies (`start..end`, bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word with quotes and escapes removed.
    pub text: String,
    /// Where it starts in the line.
    pub start: usize,
    /// Where it ends in the line.
    pub end: usize,
}

/// The word starting at or after `from`, if any: whitespace separates
/// words; `'...'` is literal; in `"..."` a backslash escapes `"` and `\`;
/// elsewhere a backslash escapes the next character.
///
/// # Errors
/// An unclosed quote.
pub fn next_word(line: &str, from: usize) -> Result<Option<Word>, ParseError> {
    let rest = line.get(from..).unwrap_or_default();
    let Some(skip) = rest.find(|c: char| !c.is_whitespace()) else {
        return Ok(None);
    };
    let start = from + skip;
    let mut text = String::new();
    let mut chars = line[start..].char_indices().peekable();
    let mut end = line.len();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                end = start + i;
                break;
            }
            '\'' => loop {
                match chars.next() {
                    Some((_, '\'')) => break,
                    Some((_, c)) => text.push(c),
                    None => return Err(ParseError::UnclosedQuote),
                }
            },
            '"' => loop {
                match chars.next() {
                    Some((_, '"')) => break,
                    Some((_, '\\')) => match chars.peek() {
                        Some(&(_, c @ ('"' | '\\'))) => {
                            text.push(c);
                            chars.next();
                        }
                        _ => text.push('\\'),
                    },
                    Some((_, c)) => text.push(c),
                    None => return Err(ParseError::UnclosedQuote),
                }
            },
            '\\' => match chars.next() {
                Some((_, c)) => text.push(c),
                None => text.push('\\'),
            },
            c => text.push(c),
        }
    }
    Ok(Some(Word { text, start, end }))
}

/// Every word of `line`.
///
/// # Errors
/// An unclosed quote.
pub fn words(line: &str) -> Result<Vec<Word>, ParseError> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(w) = next_word(line, at)? {
        at = w.end;
        out.push(w);
    }
    Ok(out)
}

/// An answer to a sub-prompt for a name or a path: as [`rest_value`].
pub fn argument(line: &str) -> Option<String> {
    rest_value(line, 0)
}

/// An answer to a sub-prompt for a text: as typed, unless it is one quoted
/// string.
pub fn text_argument(line: &str) -> Option<String> {
    text_value(line, 0)
}

/// The rest of a line as one value: its only word if it is one word (so
/// quotes and escapes are removed), else the text as typed.
fn rest_value(line: &str, from: usize) -> Option<String> {
    let rest = line.get(from..).unwrap_or_default().trim();
    if rest.is_empty() {
        return None;
    }
    match words(rest) {
        Ok(w) if w.len() == 1 => w.into_iter().next().map(|w| w.text),
        _ => Some(rest.to_string()),
    }
}

/// The rest of a line as a text: as typed, unless it is one quoted string.
fn text_value(line: &str, from: usize) -> Option<String> {
    let rest = line.get(from..).unwrap_or_default().trim();
    if rest.starts_with(['"', '\''])
        && let Ok(w) = words(rest)
        && let [only] = w.as_slice()
    {
        return Some(only.text.clone());
    }
    (!rest.is_empty()).then(|| rest.to_string())
}

/// `~/x` is `$HOME/x`, as Tab completion shows it.
pub fn expand_home(path: String) -> PathBuf {
    if let Some(rest) = path.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    PathBuf::from(path)
}

/// A file offer's number (as `files` shows it, `#` allowed before it).
///
/// # Errors
/// Not a number.
pub fn number(text: &str) -> Result<u64, ParseError> {
    let t = text.trim();
    t.strip_prefix('#')
        .unwrap_or(t)
        .parse()
        .map_err(|_| ParseError::BadNumber(t.to_string()))
}

/// Parses one line; `Ok(None)` for an empty line.
///
/// # Errors
/// What is wrong with the line, to show as it is.
pub fn parse(line: &str) -> Result<Option<Command>, ParseError> {
    let Some(first) = next_word(line, 0)? else {
        return Ok(None);
    };
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
                _ => Command::Accept { name },
            }
        }
        Args::NameText => match next_word(line, first.end)? {
            None => Command::Send {
                to: None,
                text: None,
            },
            Some(to) => Command::Send {
                text: text_value(line, to.end),
                to: Some(to.text),
            },
        },
        Args::NamePath => match next_word(line, first.end)? {
            None => Command::File {
                to: None,
                path: None,
            },
            Some(to) => Command::File {
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
                    _ => return Err(ParseError::BadSwitch(w.text.clone())),
                },
                _ => return Err(too_many()),
            };
            Command::Watch { on }
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
/// encrypted), keeping `send NAME` to reuse. `None`: nothing to keep.
pub fn history_entry(line: &str) -> Option<String> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let Ok(Some(first)) = next_word(line, 0) else {
        return Some(line.to_string());
    };
    if spec_of(&first.text).is_some_and(|s| s.args == Args::NameText) {
        return match next_word(line, first.end) {
            Ok(Some(to)) => Some(line[..to.end].to_string()),
            _ => Some(line.to_string()),
        };
    }
    Some(line.to_string())
}

/// A name as it is typed on a command line: quoted when it has spaces,
/// quotes or backslashes.
pub fn quote_word(name: &str) -> String {
    if !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\'))
    {
        return name.to_string();
    }
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(line: &str) -> Command {
        parse(line).unwrap().unwrap()
    }

    fn name(n: &str) -> Option<String> {
        Some(n.to_string())
    }

    #[test]
    fn file_offer_commands_take_a_number() {
        assert_eq!(parse("files").unwrap(), Some(Command::Files));
        assert_eq!(
            parse("accept-file 17").unwrap(),
            Some(Command::AcceptFile { id: Some(17) })
        );
        assert_eq!(
            parse("decline-file #3").unwrap(),
            Some(Command::DeclineFile { id: Some(3) })
        );
        assert_eq!(
            parse("accept-file").unwrap(),
            Some(Command::AcceptFile { id: None })
        );
        assert!(matches!(
            parse("accept-file bob"),
            Err(ParseError::BadNumber(_))
        ));
        assert!(matches!(
            parse("decline-file 1 2"),
            Err(ParseError::TooMany { .. })
        ));
    }

    #[test]
    fn numbers_and_words_name_the_same_commands() {
        assert_eq!(
            cmd("1 alice"),
            Command::Register {
                name: name("alice")
            }
        );
        assert_eq!(cmd("register alice"), cmd("1 alice"));
        assert_eq!(cmd("2"), Command::List);
        assert_eq!(cmd("LIST"), Command::List);
        assert_eq!(cmd("3 bob"), Command::Key { name: name("bob") });
        assert_eq!(cmd("key bob"), cmd("3 bob"));
        assert_eq!(cmd("4"), Command::Inbox);
        assert_eq!(cmd("inbox"), Command::Inbox);
        assert_eq!(cmd("51 bob"), Command::Session { name: name("bob") });
        assert_eq!(cmd("52"), Command::Answer);
        assert_eq!(cmd("0"), Command::Exit);
        assert_eq!(cmd("quit"), Command::Exit);
        assert_eq!(cmd("?"), Command::Help);
        assert_eq!(cmd("resume"), Command::Resume);
        assert_eq!(parse("   ").unwrap(), None);
    }

    #[test]
    fn a_text_is_the_rest_of_the_line_as_typed() {
        assert_eq!(
            cmd("send bob hi there"),
            Command::Send {
                to: name("bob"),
                text: name("hi there")
            }
        );
        assert_eq!(cmd("5 bob hi"), cmd("send bob hi"));
        assert_eq!(
            cmd("send bob it's   fine  "),
            Command::Send {
                to: name("bob"),
                text: name("it's   fine")
            }
        );
        assert_eq!(
            cmd("send bob \\o/"),
            Command::Send {
                to: name("bob"),
                text: name("\\o/")
            }
        );
        assert_eq!(
            cmd("send bob \"hi there\""),
            Command::Send {
                to: name("bob"),
                text: name("hi there")
            }
        );
        assert_eq!(
            cmd("send \"bob smith\" 'quoted' words"),
            Command::Send {
                to: name("bob smith"),
                text: name("'quoted' words")
            }
        );
    }

    #[test]
    fn missing_arguments_are_left_to_ask() {
        assert_eq!(
            cmd("5"),
            Command::Send {
                to: None,
                text: None
            }
        );
        assert_eq!(
            cmd("send bob   "),
            Command::Send {
                to: name("bob"),
                text: None
            }
        );
        assert_eq!(
            cmd("50"),
            Command::File {
                to: None,
                path: None
            }
        );
        assert_eq!(cmd("key"), Command::Key { name: None });
        assert_eq!(cmd("fingerprint"), Command::Fingerprint { name: None });
    }

    #[test]
    fn paths_take_quotes_escapes_or_the_rest_of_the_line() {
        let file = |p: &str| Command::File {
            to: name("bob"),
            path: Some(PathBuf::from(p)),
        };
        assert_eq!(cmd("file bob ./x.pdf"), file("./x.pdf"));
        assert_eq!(cmd("50 bob ./my\\ file.pdf"), file("./my file.pdf"));
        assert_eq!(cmd("file bob \"./my file.pdf\""), file("./my file.pdf"));
        assert_eq!(cmd("file bob ./my file.pdf"), file("./my file.pdf"));
        if let Some(home) = std::env::var_os("HOME") {
            assert_eq!(
                cmd("file bob ~/x"),
                Command::File {
                    to: name("bob"),
                    path: Some(PathBuf::from(home).join("x"))
                }
            );
        }
    }

    #[test]
    fn watch_takes_on_off_or_nothing() {
        assert_eq!(cmd("watch"), Command::Watch { on: None });
        assert_eq!(cmd("watch on"), Command::Watch { on: Some(true) });
        assert_eq!(cmd("watch OFF"), Command::Watch { on: Some(false) });
        assert_eq!(
            parse("watch maybe"),
            Err(ParseError::BadSwitch("maybe".into()))
        );
    }

    #[test]
    fn mistakes_are_explained() {
        assert_eq!(
            parse("lsit"),
            Err(ParseError::Unknown {
                word: "lsit".into(),
                suggestion: Some("list")
            })
        );
        assert_eq!(
            parse("sned bob hi"),
            Err(ParseError::Unknown {
                word: "sned".into(),
                suggestion: Some("send")
            })
        );
        assert_eq!(
            parse("frobnicate"),
            Err(ParseError::Unknown {
                word: "frobnicate".into(),
                suggestion: None
            })
        );
        assert_eq!(
            parse("7"),
            Err(ParseError::Unknown {
                word: "7".into(),
                suggestion: None
            })
        );
        assert_eq!(
            parse("key bob carol"),
            Err(ParseError::TooMany { usage: "key NAME" })
        );
        assert_eq!(
            parse("list now"),
            Err(ParseError::TooMany { usage: "list" })
        );
        assert_eq!(parse("key \"bob"), Err(ParseError::UnclosedQuote));
        assert!(
            ParseError::Unknown {
                word: "lsit".into(),
                suggestion: Some("list")
            }
            .to_string()
            .contains("did you mean `list`?")
        );
    }

    #[test]
    fn words_follow_shell_quoting() {
        let texts = |l: &str| {
            words(l)
                .unwrap()
                .into_iter()
                .map(|w| w.text)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            texts("a  'b c' \"d \\\" e\" f\\ g"),
            ["a", "b c", "d \" e", "f g"]
        );
        assert_eq!(texts("\"a\\nb\""), ["a\\nb"]);
        assert_eq!(texts(""), Vec::<String>::new());
        let w = words("key  bob").unwrap();
        assert_eq!((w[1].start, w[1].end), (5, 8));
    }

    #[test]
    fn history_leaves_texts_out() {
        assert_eq!(history_entry("send bob my secret"), name("send bob"));
        assert_eq!(history_entry("5 bob my secret"), name("5 bob"));
        assert_eq!(history_entry("  list "), name("list"));
        assert_eq!(history_entry("file bob ./x"), name("file bob ./x"));
        assert_eq!(history_entry(""), None);
    }

    #[test]
    fn names_are_quoted_when_needed() {
        assert_eq!(quote_word("bob"), "bob");
        assert_eq!(quote_word("bob smith"), "\"bob smith\"");
        assert_eq!(quote_word("a\"b"), "\"a\\\"b\"");
        assert_eq!(
            next_word(&quote_word("x \\ \" y"), 0)
                .unwrap()
                .unwrap()
                .text,
            "x \\ \" y"
        );
    }
}
