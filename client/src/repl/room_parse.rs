//! What a menu line about rooms means: `room SUB ...` with the words of the
//! scripted `client room SUB ...`, and `#NAME text`, which sends the rest of
//! the line to the room. Pure functions on strings, like [`super::parse`].

use super::words::{next_word, text_value, words};
use crate::cli::{RoomCommand, RuleFlags};

/// How each `room` command is typed, in the order `client room --help`
/// lists them.
pub const ROOM_FORMS: &[&str] = &[
    "create NAME [--public | --hidden] [--password]",
    "list",
    "join NAME",
    "send NAME TEXT",
    "send-file NAME PATH",
    "members NAME",
    "add NAME USER...",
    "remove NAME USER",
    "kick NAME USER",
    "ban NAME USER",
    "unban NAME USER",
    "promote NAME USER",
    "demote NAME USER",
    "set NAME --public|--hidden|--invite|--password (--hidden --password)",
    "rename NAME NEW",
    "leave NAME",
    "delete NAME",
];

/// "the room commands are:" and [`ROOM_FORMS`], one a line: what `room`
/// alone shows, and what a line that makes no room command is told.
pub fn forms() -> String {
    let mut shown = String::from("the room commands are:");
    for form in ROOM_FORMS {
        shown.push_str("\n  room ");
        shown.push_str(form);
    }
    shown
}

/// The room subcommands, for completion.
pub const ROOM_WORDS: &[&str] = &[
    "create",
    "join",
    "set",
    "add",
    "remove",
    "kick",
    "ban",
    "unban",
    "promote",
    "demote",
    "rename",
    "delete",
    "leave",
    "send",
    "send-file",
    "members",
    "list",
];

/// A room line that does not make a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomUsage {
    /// No room command of that word (none typed: `None`): all of them are
    /// shown.
    Unknown(Option<String>),
    /// A room command with arguments it does not take: what is wrong, and
    /// its own form (one of [`ROOM_FORMS`]).
    Arguments {
        /// What is wrong, in a few words.
        why: String,
        /// How the command is typed.
        form: &'static str,
    },
}

impl std::fmt::Display for RoomUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unknown(Some(word)) => write!(
                f,
                "unknown room command \"{}\"; {}",
                crate::display::escape_line(word),
                forms()
            ),
            Self::Unknown(None) => f.write_str(&forms()),
            Self::Arguments { why, form } => write!(
                f,
                "{why}: the usage is `room {form}` (quote a name that has spaces)"
            ),
        }
    }
}

/// The form of the room command `sub` (lower case), if it is one.
fn form_of(sub: &str) -> Option<&'static str> {
    ROOM_FORMS
        .iter()
        .copied()
        .find(|f| f.split(' ').next() == Some(sub))
}

/// What is wrong with `sub` given `args`, which its form does not take.
fn wrong(sub: &str, why: impl Into<String>) -> RoomUsage {
    match form_of(sub) {
        Some(form) => RoomUsage::Arguments {
            why: why.into(),
            form,
        },
        None => RoomUsage::Unknown(Some(sub.to_string())),
    }
}

/// For a count of arguments that `sub`'s form does not take: the first
/// one missing, or that there are too many.
fn miscounted(sub: &str, given: usize) -> RoomUsage {
    let wanted: Vec<&str> = form_of(sub)
        .unwrap_or_default()
        .split(' ')
        .skip(1)
        .filter(|w| w.starts_with(|c: char| c.is_ascii_uppercase()))
        .collect();
    match wanted.get(given) {
        Some(next) => wrong(
            sub,
            format!("`room {sub}` is missing {}", next.trim_end_matches("...")),
        ),
        None => wrong(sub, "too many arguments"),
    }
}

/// The room command of the words after `room` (`line[from..]`); a `send`
/// without its text leaves it to be asked for.
///
/// # Errors
/// An unknown subcommand, missing or extra arguments, an open quote.
pub fn parse_room(line: &str, from: usize) -> Result<RoomCommand, RoomUsage> {
    let Ok(Some(sub)) = next_word(line, from) else {
        return Err(RoomUsage::Unknown(None));
    };
    let sub_word = sub.text.to_lowercase();
    let unclosed = |_| wrong(&sub_word, "a quote is not closed");
    if sub_word == "send" {
        let Some(name) = next_word(line, sub.end).map_err(unclosed)? else {
            return Err(miscounted("send", 0));
        };
        return Ok(RoomCommand::Send {
            text: text_value(line, name.end),
            name: name.text,
        });
    }
    let args: Vec<String> = words(&line[sub.end..])
        .map_err(unclosed)?
        .into_iter()
        .map(|w| w.text)
        .collect();
    Ok(match (sub_word.as_str(), args.as_slice()) {
        ("create", [_, ..]) => {
            let (name, flags) = name_and_flags("create", args.as_slice())?;
            if flags.invite {
                return Err(wrong("create", "--invite is for `room set`"));
            }
            if flags.public && flags.hidden {
                return Err(wrong("create", "choose --public or --hidden, not both"));
            }
            RoomCommand::Create {
                name,
                public: flags.public,
                hidden: flags.hidden,
                password: flags.password,
                secret: None,
            }
        }
        ("join", [name]) => RoomCommand::Join {
            name: name.clone(),
            secret: None,
        },
        ("set", [_, ..]) => {
            let (name, rule) = name_and_flags("set", args.as_slice())?;
            let chosen = [rule.public, rule.hidden, rule.invite, rule.password];
            if !chosen.contains(&true) {
                return Err(wrong("set", "`room set` needs a rule"));
            }
            if rule.invite && chosen.iter().filter(|&&c| c).count() > 1 {
                return Err(wrong("set", "--invite goes alone"));
            }
            if rule.public && rule.hidden {
                return Err(wrong("set", "choose --public or --hidden, not both"));
            }
            RoomCommand::Set {
                name,
                rule,
                secret: None,
            }
        }
        ("kick", [name, user]) => RoomCommand::Kick {
            name: name.clone(),
            user: user.clone(),
        },
        ("ban", [name, user]) => RoomCommand::Ban {
            name: name.clone(),
            user: user.clone(),
        },
        ("unban", [name, user]) => RoomCommand::Unban {
            name: name.clone(),
            user: user.clone(),
        },
        ("demote", [name, user]) => RoomCommand::Demote {
            name: name.clone(),
            user: user.clone(),
        },
        ("rename", [name, new]) => RoomCommand::Rename {
            name: name.clone(),
            new: new.clone(),
        },
        ("delete", [name]) => RoomCommand::Delete { name: name.clone() },
        ("add", [name, users @ ..]) if !users.is_empty() => RoomCommand::Add {
            name: name.clone(),
            users: users.to_vec(),
        },
        ("remove", [name, user]) => RoomCommand::Remove {
            name: name.clone(),
            user: user.clone(),
        },
        ("promote", [name, user]) => RoomCommand::Promote {
            name: name.clone(),
            user: user.clone(),
        },
        ("leave", [name]) => RoomCommand::Leave { name: name.clone() },
        ("send-file", [name, path]) => RoomCommand::SendFile {
            name: name.clone(),
            path: path.into(),
        },
        ("members", [name]) => RoomCommand::Members { name: name.clone() },
        ("list", []) => RoomCommand::List,
        (sub, args) => return Err(miscounted(sub, args.len())),
    })
}

/// One room name and the flags `--public`, `--hidden`, `--invite` and
/// `--password` in any order, each at most once (for `room sub`).
fn name_and_flags(sub: &str, args: &[String]) -> Result<(String, RuleFlags), RoomUsage> {
    let mut name = None;
    let mut flags = RuleFlags::default();
    for arg in args {
        let flag = match arg.as_str() {
            "--public" => &mut flags.public,
            "--hidden" => &mut flags.hidden,
            "--invite" => &mut flags.invite,
            "--password" => &mut flags.password,
            other if other.starts_with("--") => {
                return Err(wrong(sub, format!("unknown option {other}")));
            }
            _ if name.is_some() => return Err(wrong(sub, "too many arguments")),
            other => {
                name = Some(other.to_string());
                continue;
            }
        };
        if std::mem::replace(flag, true) {
            return Err(wrong(sub, format!("{arg} given twice")));
        }
    }
    let name = name.ok_or_else(|| wrong(sub, format!("`room {sub}` is missing NAME")))?;
    Ok((name, flags))
}

/// `#NAME text`: a text to the room NAME (`None` if the line is not one).
pub fn parse_hash(line: &str) -> Option<RoomCommand> {
    let first = next_word(line, 0).ok()??;
    let name = first.text.strip_prefix('#')?;
    if name.is_empty() {
        return None;
    }
    Some(RoomCommand::Send {
        name: name.to_string(),
        text: text_value(line, first.end),
    })
}

/// `room send lounge 2 hi` and `#lounge 2 hi` split at the first space, so
/// a room whose name has spaces is read back from `rooms`, ours: the
/// longest of ours that the line starts with (a space after it, or the end)
/// is the room, and the rest the text. With rooms `ops` and `ops team`,
/// `#ops team hi` goes to `ops team`; quotes say otherwise (`#ops "team
/// hi"`). Only for a typed command (`typed`, the line it was parsed from):
/// a line said in an open room is all text.
pub fn with_spaced_room(command: RoomCommand, rooms: &[String], typed: &str) -> RoomCommand {
    let RoomCommand::Send {
        name,
        text: Some(text),
    } = &command
    else {
        return command;
    };
    // A text given as one quoted string: the line does not end with it.
    if !typed.trim_end().ends_with(text.as_str()) {
        return command;
    }
    let line = format!("{name} {text}");
    let spaced = rooms
        .iter()
        .filter(|r| r.contains(' '))
        .filter_map(|r| {
            let rest = line.strip_prefix(r.as_str())?;
            let rest = if rest.is_empty() {
                rest
            } else {
                rest.strip_prefix(' ')?.trim_start()
            };
            Some((r, rest))
        })
        .max_by_key(|(r, _)| r.len());
    let Some((room, rest)) = spaced else {
        return command;
    };
    RoomCommand::Send {
        name: room.clone(),
        text: (!rest.is_empty()).then(|| rest.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_name_with_spaces_is_read_back_from_ours_before_the_text() {
        let rooms = ["lounge".to_string(), "lounge 2".into(), "ops team".into()];
        let send = |name: &str, text: Option<&str>| RoomCommand::Send {
            name: name.into(),
            text: text.map(Into::into),
        };
        let cases = [
            // The longest name wins: lounge 2, not lounge.
            (
                send("lounge", Some("2 hello")),
                send("lounge 2", Some("hello")),
            ),
            (
                send("lounge", Some("3 hello")),
                send("lounge", Some("3 hello")),
            ),
            (
                send("ops", Some("team hello")),
                send("ops team", Some("hello")),
            ),
            (send("ops", Some("team")), send("ops team", None)),
            (send("ops", Some("teamwork")), send("ops", Some("teamwork"))),
            (send("dev", Some("hi")), send("dev", Some("hi"))),
            (send("ops", None), send("ops", None)),
        ];
        for (typed, meant) in cases {
            let RoomCommand::Send { name, text } = &typed else {
                unreachable!()
            };
            let line = format!("#{name} {}", text.as_deref().unwrap_or_default());
            assert_eq!(
                with_spaced_room(typed.clone(), &rooms, &line),
                meant,
                "{typed:?}"
            );
        }
        let hash = |line: &str| parse_hash(line).map(|c| with_spaced_room(c, &rooms, line));
        assert_eq!(hash("#ops team hi"), Some(send("ops team", Some("hi"))));
        // Quotes keep the split: the text is one quoted string.
        assert_eq!(
            hash("#ops \"team hi\" "),
            Some(send("ops", Some("team hi")))
        );
        assert_eq!(
            hash("#ops team said \"hi\""),
            Some(send("ops team", Some("said \"hi\"")))
        );
    }

    #[test]
    fn every_room_word_has_a_form_and_the_usage_lists_one_a_line() {
        let mut firsts: Vec<&str> = ROOM_FORMS
            .iter()
            .map(|f| f.split(' ').next().unwrap())
            .collect();
        let mut words = ROOM_WORDS.to_vec();
        firsts.sort_unstable();
        words.sort_unstable();
        assert_eq!(firsts, words);
        let shown = crate::repl::parse::ParseError::RoomUsage(RoomUsage::Unknown(None)).to_string();
        assert_eq!(shown.lines().count(), ROOM_FORMS.len() + 1, "{shown}");
        assert!(
            shown.lines().skip(1).all(|l| l.starts_with("  room ")),
            "{shown}"
        );
    }

    #[test]
    fn room_lines_use_the_scripted_words() {
        let send = |l: &str| match parse_room(l, 4).unwrap() {
            RoomCommand::Send { name, text } => (name, text),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            send("room send team it's fine"),
            ("team".into(), Some("it's fine".into()))
        );
        assert_eq!(send("room send team"), ("team".into(), None));
        assert!(matches!(
            parse_room("room add team bob carol", 4),
            Ok(RoomCommand::Add { users, .. }) if users == ["bob", "carol"]
        ));
        assert!(matches!(parse_room("room list", 4), Ok(RoomCommand::List)));
        assert!(matches!(
            parse_room("room create ops --hidden", 4),
            Ok(RoomCommand::Create { name, public: false, hidden: true, .. }) if name == "ops"
        ));
        assert!(matches!(
            parse_room("room set ops --invite", 4),
            Ok(RoomCommand::Set {
                rule: RuleFlags { invite: true, .. },
                ..
            })
        ));
        assert!(matches!(
            parse_room("room ban ops mallory", 4),
            Ok(RoomCommand::Ban { name, user }) if name == "ops" && user == "mallory"
        ));
        assert!(parse_room("room create ops --loud", 4).is_err());
        assert!(matches!(
            parse_room("room create vault --password", 4),
            Ok(RoomCommand::Create { name, public: false, hidden: false, password: true, secret: None })
                if name == "vault"
        ));
        assert!(matches!(
            parse_room("room create --password vault --hidden", 4),
            Ok(RoomCommand::Create { name, hidden: true, password: true, .. }) if name == "vault"
        ));
        assert!(matches!(
            parse_room("room set vault --password", 4),
            Ok(RoomCommand::Set {
                rule: RuleFlags {
                    password: true,
                    hidden: false,
                    ..
                },
                ..
            })
        ));
        assert!(matches!(
            parse_room("room set vault --hidden --password", 4),
            Ok(RoomCommand::Set {
                rule: RuleFlags {
                    password: true,
                    hidden: true,
                    ..
                },
                ..
            })
        ));
        for bad in [
            "room create vault --password --password",
            "room create vault --public --hidden",
            "room create vault --invite",
            "room create vault other --password",
            "room create --password",
            "room set vault",
            "room set vault --invite --password",
            "room set vault --public --hidden",
        ] {
            assert!(
                matches!(parse_room(bad, 4), Err(RoomUsage::Arguments { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_room("room send-file team \"my notes.txt\"", 4),
            Ok(RoomCommand::SendFile { name, path })
                if name == "team" && path == std::path::Path::new("my notes.txt")
        ));
        for bad in ["room send-file team", "room add team"] {
            assert!(
                matches!(parse_room(bad, 4), Err(RoomUsage::Arguments { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            parse_room("room frobnicate x", 4).unwrap_err(),
            RoomUsage::Unknown(Some("frobnicate".into()))
        );
        assert_eq!(parse_room("room", 4).unwrap_err(), RoomUsage::Unknown(None));
    }

    #[test]
    fn a_hash_line_sends_the_rest_to_the_room() {
        assert!(matches!(
            parse_hash("#team hello there"),
            Some(RoomCommand::Send { name, text: Some(t) }) if name == "team" && t == "hello there"
        ));
        assert!(parse_hash("# hello").is_none());
        assert!(parse_hash("send bob hi").is_none());
    }
}
