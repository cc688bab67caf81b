use super::*;

fn cmd(line: &str) -> Command {
    parse(line).unwrap().unwrap()
}

fn name(n: &str) -> Option<String> {
    Some(n.to_string())
}

#[test]
fn conversations_is_a_word_of_its_own_and_takes_nothing() {
    for line in ["conversations", "chats", "  CHATS  "] {
        assert_eq!(parse(line).unwrap(), Some(Command::Conversations), "{line}");
    }
    assert!(matches!(
        parse("conversations bob"),
        Err(ParseError::TooMany { .. })
    ));
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
    // `room` alone lists the room commands, as `help` says; a room line
    // that makes no command is the error.
    assert_eq!(cmd("room"), Command::RoomForms);
    assert_eq!(cmd("/room  "), Command::RoomForms);
    assert!(matches!(
        parse("room frobnicate x"),
        Err(ParseError::RoomUsage(_))
    ));
}

#[test]
fn a_text_is_the_rest_of_the_line_as_typed() {
    assert_eq!(
        cmd("send bob hi there"),
        Command::SendText {
            to: name("bob"),
            text: name("hi there")
        }
    );
    assert_eq!(cmd("5 bob hi"), cmd("send bob hi"));
    assert_eq!(
        cmd("send bob it's   fine  "),
        Command::SendText {
            to: name("bob"),
            text: name("it's   fine")
        }
    );
    assert_eq!(
        cmd("send bob \\o/"),
        Command::SendText {
            to: name("bob"),
            text: name("\\o/")
        }
    );
    assert_eq!(
        cmd("send bob \"hi there\""),
        Command::SendText {
            to: name("bob"),
            text: name("hi there")
        }
    );
    assert_eq!(
        cmd("send \"bob smith\" 'quoted' words"),
        Command::SendText {
            to: name("bob smith"),
            text: name("'quoted' words")
        }
    );
}

#[test]
fn missing_arguments_are_left_to_ask() {
    assert_eq!(
        cmd("5"),
        Command::SendText {
            to: None,
            text: None
        }
    );
    assert_eq!(
        cmd("send bob   "),
        Command::SendText {
            to: name("bob"),
            text: None
        }
    );
    assert_eq!(
        cmd("50"),
        Command::SendFile {
            to: None,
            path: None
        }
    );
    assert_eq!(cmd("key"), Command::Key { name: None });
    assert_eq!(cmd("fingerprint"), Command::Fingerprint { name: None });
}

#[test]
fn paths_take_quotes_escapes_or_the_rest_of_the_line() {
    let file = |p: &str| Command::SendFile {
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
            Command::SendFile {
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
        Err(ParseError::BadSwitch {
            command: "watch",
            given: "maybe".into()
        })
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
fn history_leaves_texts_out() {
    assert_eq!(history_entry("send bob my secret"), name("send bob"));
    assert_eq!(history_entry("5 bob my secret"), name("5 bob"));
    assert_eq!(history_entry("  list "), name("list"));
    assert_eq!(history_entry("file bob ./x"), name("file bob ./x"));
    assert_eq!(history_entry(""), None);
    assert_eq!(history_entry("/send bob my secret"), name("/send bob"));
    assert_eq!(history_entry("/to #ops"), name("/to #ops"));
    // Room texts too, typed either way.
    assert_eq!(history_entry("#ops my secret"), name("#ops"));
    assert_eq!(
        history_entry("room send ops my secret"),
        name("room send ops")
    );
    assert_eq!(
        history_entry("ROOM Send ops my secret"),
        name("ROOM Send ops")
    );
    assert_eq!(history_entry("/#ops my secret"), name("/#ops"));
    assert_eq!(history_entry("room members ops"), name("room members ops"));
}

#[test]
fn a_slash_before_a_command_is_allowed() {
    assert_eq!(cmd("/list"), Command::List);
    assert_eq!(cmd(" /5 bob hi"), cmd("send bob hi"));
    assert_eq!(
        cmd("/to #ops"),
        Command::To {
            target: name("#ops")
        }
    );
    assert_eq!(cmd("to"), Command::To { target: None });
    assert_eq!(
        cmd("/to \"dave smith\""),
        Command::To {
            target: name("dave smith")
        }
    );
    assert!(matches!(parse("/to a b"), Err(ParseError::TooMany { .. })));
}

/// QA found `receipts maybe` answered as if it were `watch`.
#[test]
fn an_on_off_mistake_names_its_own_command() {
    for word in ["receipts", "watch"] {
        let said = parse(&format!("{word} maybe")).unwrap_err().to_string();
        assert_eq!(said, format!("`{word}` takes on or off, not \"maybe\""));
    }
}

/// A room command typed with the wrong arguments is told what is wrong
/// and its own form, not every room command's.
#[test]
fn a_room_argument_mistake_names_that_command_and_its_usage_only() {
    let said = |line: &str| parse(line).unwrap_err().to_string();
    let usage = |form: &str| format!("the usage is `room {form}` (quote a name that has spaces)");
    let cases = [
        (
            "room promote ops",
            "`room promote` is missing USER",
            "promote NAME USER",
        ),
        ("room leave", "`room leave` is missing NAME", "leave NAME"),
        ("room send", "`room send` is missing NAME", "send NAME TEXT"),
        (
            "room add ops",
            "`room add` is missing USER",
            "add NAME USER...",
        ),
        ("room leave dev team", "too many arguments", "leave NAME"),
        ("room list all", "too many arguments", "list"),
        (
            "room create ops --loud",
            "unknown option --loud",
            ROOM_CREATE,
        ),
        (
            "room create ops --hidden --hidden",
            "--hidden given twice",
            ROOM_CREATE,
        ),
        (
            "room create ops --public --hidden",
            "choose --public or --hidden, not both",
            ROOM_CREATE,
        ),
        (
            "room create --password",
            "`room create` is missing NAME",
            ROOM_CREATE,
        ),
        ("room set ops", "`room set` needs a rule", ROOM_SET),
        (
            "room members \"ops",
            "a quote is not closed",
            "members NAME",
        ),
    ];
    for (line, why, form) in cases {
        let text = said(line);
        assert!(
            text.starts_with(why) && text.ends_with(&usage(form)) && !text.contains('\n'),
            "{line}: {text}"
        );
    }
    // Not a room command at all: the list of them.
    let unknown = said("room frobnicate x");
    assert!(
        unknown.starts_with("unknown room command \"frobnicate\"")
            && unknown.contains("\n  room leave NAME"),
        "{unknown}"
    );
}

const ROOM_CREATE: &str = "create NAME [--public | --hidden] [--password]";
const ROOM_SET: &str = "set NAME --public|--hidden|--invite|--password (--hidden --password)";
