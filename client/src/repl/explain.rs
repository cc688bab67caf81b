//! One line for each thing that can go wrong, saying what to do, in the
//! menu's own words. The scripted commands print the same lines (through
//! [`error_line`]), naming their own commands (`client accept bob` where
//! the menu says `accept bob`).
//!
//! The line may quote names and the server's error text: [`one_line`]
//! escapes all of it before it is shown. An unknown peer's line suggests
//! the closest known name ([`suggest_name`]).
//!
//! A leaf under the menu: it names no other part of it (only the client's,
//! the connection's and the key store's errors, and [`crate::advice`]), so
//! the inbox, [`crate::output`] and `main` word errors through it without
//! depending on the menu.

use protocol::{ClientId, ErrorReason};

// The client's error through the crate root: `client.rs` imports what
// imports this file (the inbox words a failed message with it).
use crate::ClientError;
use crate::advice::{Audience, quote_word};
use crate::connection::ConnectionError;
use crate::display::escape_line;
use crate::keystore::KeyStoreError;

/// `text` made one safe line: line breaks become spaces, control and
/// bidirectional characters are escaped.
pub fn one_line(text: &str) -> String {
    let flat: String = text
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    escape_line(&flat).into_owned()
}

/// What to tell the menu's user about `e`; `known` are the names to suggest
/// from when a peer is unknown.
pub fn client_error(e: &ClientError, known: &[String]) -> String {
    explain(e, known, Audience::Menu)
}

/// An upload stopped by `why` (already worded) and kept: `resume`, as the
/// reader types it, continues it.
pub fn upload_kept(why: &str, resume: &str) -> String {
    format!(
        "{why}; the upload is kept: once that is past, {resume} continues it where it stopped \
         (sending the file again would send it twice)"
    )
}

/// What to tell `audience` about `e`; `known` are the names to suggest from
/// when a peer is unknown.
pub fn explain(e: &ClientError, known: &[String], audience: Audience) -> String {
    let cmd = |c: &str| audience.command(c);
    match e {
        ClientError::NotRegistered(home) => match audience {
            Audience::Menu => {
                "you are not registered yet: type `register NAME` (or `1 NAME`) first".into()
            }
            Audience::Script => format!(
                "no user is registered in {}: run `client register NAME` first, or give the --home you registered in",
                crate::display::escape_line(home)
            ),
        },
        ClientError::AlreadyRegistered { name, .. } => format!(
            "this home folder already holds the identity of {name}; start the client with another --home \
             to register someone else"
        ),
        ClientError::ServerKeyChanged {
            server,
            pinned,
            presented,
        } => format!(
            "DANGER: the server at {server} presented a different identity key ({presented}) than the one \
             pinned ({pinned}): someone may be impersonating it, or that node was given another key. Ask its operator to run `server fingerprint`; \
             only if it prints the presented digits, start the client again with --accept-server-key"
        ),
        ClientError::PeerKeyChanged { name } => {
            let q = quote_word(name);
            format!(
                "{name}'s key changed: nothing is sent to {name} until you compare safety numbers \
                 ({}) and accept the new key ({})",
                cmd(&format!("fingerprint {q}")),
                cmd(&format!("accept {q}"))
            )
        }
        ClientError::VerifyChangedKey { name } => format!(
            "{name}'s key changed and the safety number shown is the new key's: nothing was \
             marked. Compare it, accept the new key ({}), then mark it as compared",
            cmd(&format!("accept {}", quote_word(name)))
        ),
        ClientError::NameConflict(c) => c.advise(&cmd(&format!("accept {}", quote_word(&c.asked)))),
        ClientError::UnknownPeer(who) if who.parse::<ClientId>().is_ok() => format!(
            "the server has no account with the id {who}: it was deleted or removed by the \
             server's operator, so nothing can reach it"
        ),
        ClientError::UnknownPeer(who) => match suggest_name(who, known) {
            // Never offer a look-alike: it is what an impostor registers
            // once the real holder's name is free.
            Some(s) if s.to_lowercase() != who.to_lowercase() && looks_alike(&s, who) => format!(
                "no user named \"{who}\" on this server; \"{s}\" only looks like it (other \
                 letters that look the same): another name, and perhaps someone else"
            ),
            Some(s) if s != *who => {
                format!("no user named \"{who}\" on this server; did you mean \"{s}\"?")
            }
            _ => format!(
                "no user named \"{who}\" on this server; {} shows who is there",
                cmd("list")
            ),
        },
        ClientError::UnknownPeerInRoom { who, room, action } => format!(
            "{}: {}",
            action.cannot(who, room),
            explain(&ClientError::UnknownPeer(who.clone()), known, audience)
        ),
        ClientError::NoConversation { who, room: None } => format!(
            "no conversation with \"{who}\": nobody of that name is pinned here (names you sent to \
             or received from are)"
        ),
        ClientError::NoConversation {
            who,
            room: Some(room),
        } => format!(
            "no conversation with \"{who}\": nobody of that name is pinned here; did you mean \
             the room #{room}?"
        ),
        ClientError::SendToSelf(who) => {
            format!(
                "{who} is you: sending to yourself is not supported (there is no note to self) \
                 and your own key is not pinned ({} shows it)",
                cmd("fingerprint")
            )
        }
        ClientError::NoValidKey(name) => format!(
            "{name} has no valid end-to-end key (perhaps an old version-2 client); nothing can be sent to them"
        ),
        ClientError::TextTooLong { len, max } => format!(
            "the text is {len} bytes and at most {max} fit one message; send it as a file ({})",
            match audience {
                Audience::Menu => cmd("file NAME PATH"),
                Audience::Script => cmd("send-file NAME PATH"),
            }
        ),
        ClientError::File { path, source } => match source.kind() {
            std::io::ErrorKind::NotFound => match audience {
                Audience::Menu => format!("no file at {path}; check the path (Tab completes it)"),
                Audience::Script => format!("no file at {path}; check the path"),
            },
            std::io::ErrorKind::PermissionDenied => {
                format!("you may not read {path}; check its permissions")
            }
            std::io::ErrorKind::FileTooLarge => format!("{path} is too large to send: {source}"),
            std::io::ErrorKind::NotADirectory => {
                format!("{path} is not a folder (a file is in its place); move that file aside")
            }
            _ if std::path::Path::new(path).is_dir() => {
                format!("{path} is a folder; send the files in it one by one")
            }
            _ => format!("cannot read {path}: {source}"),
        },
        ClientError::Cancelled => "cancelled".into(),
        ClientError::EmptyText => e.to_string(),
        ClientError::Connection(c) => connection_error(c),
        ClientError::Store(KeyStoreError::NoPendingKey(_)) => {
            "that user's key has not changed; there is nothing to accept".into()
        }
        // Whole sentences for a person: no "store failed" before them.
        ClientError::Store(
            s @ (KeyStoreError::WrongPassphrase
            | KeyStoreError::WrongBackupPassphrase
            | KeyStoreError::HomeInUse
            | KeyStoreError::IdentityExists
            | KeyStoreError::IdentityMismatch
            | KeyStoreError::SchemaTooNew { .. }
            | KeyStoreError::PassphraseNeeded
            | KeyStoreError::FirstPassphraseNeeded
            | KeyStoreError::NewPassphraseNeeded
            | KeyStoreError::PassphraseTooShort { .. }
            | KeyStoreError::NoPassphraseHome
            | KeyStoreError::NoPassphraseToChange
            | KeyStoreError::SamePassphrase
            | KeyStoreError::Backup(_)),
        ) => s.to_string(),
        ClientError::Store(s) => format!("the local key store failed: {s}"),
        ClientError::NoHeldFile(id, was) => was
            .as_deref()
            .and_then(|d| decided(*id, d))
            .unwrap_or_else(|| {
                format!(
                    "no file offer {id} waits for a decision; {} lists them",
                    cmd("files")
                )
            }),
        ClientError::Crypto(crate::crypto::CryptoError::FileChanged) => format!(
            "the file changed while it was being sent, so it was not delivered; {} sends it again \
             from the start as it is now",
            cmd("resume")
        ),
        ClientError::Crypto(c) => format!("cryptography failed: {c}"),
        ClientError::Io(e) => format!("local error: {e}"),
        ClientError::Room(r) => room_error(r),
        ClientError::NoSuchRoom(name) => match audience {
            Audience::Menu => format!(
                "you are in no room named \"{name}\"; `room list` shows yours (`inbox` tells of an \
                 invitation that could not be used)"
            ),
            Audience::Script => format!(
                "you are in no room named \"{name}\"; `client room list` shows yours (`client inbox` \
                 tells of an invitation that could not be used)"
            ),
        },
        ClientError::UploadKept(stopped) => {
            upload_kept(&explain(stopped, known, audience), &cmd("resume"))
        }
        ClientError::NoLongerInRoom { id, .. } => {
            format!(
                "{e} ({} shows it)",
                audience.command(&format!("history '#{id}'"))
            )
        }
        ClientError::RoomGone(name) => format!(
            "{e}; {} forgets it here",
            cmd(&format!("room leave {}", quote_word(name)))
        ),
        ClientError::AmbiguousRoom { .. }
        | ClientError::RemovedFromRoom { .. }
        | ClientError::RoomLostInRestore { .. }
        | ClientError::AlreadyInRoom { .. }
        | ClientError::NoRoomToJoin { .. }
        | ClientError::RoomNameTaken(_)
        | ClientError::RoomNameInUse(_)
        | ClientError::RoomRefused { .. }
        | ClientError::RoomPassword(_)
        | ClientError::NoKeyPackage(_)
        | ClientError::NameMismatch { .. }
        | ClientError::NothingToAccept(_)
        | ClientError::BadBackup { .. } => e.to_string(),
        ClientError::StillInRooms(_)
        | ClientError::AccountGone { .. }
        | ClientError::OtherServer { .. } => match audience {
            Audience::Menu => e.to_string().replace("`client ", "`"),
            Audience::Script => e.to_string(),
        },
        ClientError::RoomPasswordNeeded(name) => match audience {
            Audience::Menu => {
                format!(
                    "#{name} needs a password: `room join {}` asks for it",
                    quote_word(name)
                )
            }
            Audience::Script => {
                format!("#{name} needs a password: give it on standard input or type it when asked")
            }
        },
    }
}

/// What the rooms engine's refusal means for the user.
fn room_error(e: &sealpost_rooms::RoomsError) -> String {
    use sealpost_rooms::{IdentityError, RoomsError};
    match e {
        RoomsError::Identity(IdentityError::PinMismatch(id)) => format!(
            "DANGER: room member {id} presents another identity key than the one you pinned; \
             the room is refused until you compare safety numbers and accept the new key"
        ),
        RoomsError::Identity(i) => format!("a room member is refused: {i}"),
        RoomsError::Policy(p) => format!("refused by the room's rules: {p}"),
        RoomsError::NotMember => "you are no longer a member of that room".into(),
        RoomsError::Leaving => "you asked to leave that room: nothing more can be sent to it \
                                while another member's client completes it"
            .into(),
        RoomsError::DecryptFailed => {
            "a room message did not decrypt (altered, or not for you)".into()
        }
        RoomsError::Limit(l) => (*l).to_string(),
        RoomsError::InvitationKeyLost => "it was made for a key package this home no longer \
                                          holds (used before, or this home's rooms state was \
                                          lost or restored from a backup); its sender is told, \
                                          and can remove you and add you again"
            .into(),
        other => format!("the rooms engine failed: {other}"),
    }
}

/// The known name closest to a mistyped `who`, if one is close: the same
/// name in another case, a name that starts with it (three letters or
/// more), or one a typo or two away (Damerau-Levenshtein).
pub fn suggest_name(who: &str, names: &[String]) -> Option<String> {
    let typed = who.to_lowercase();
    if typed.is_empty() {
        return None;
    }
    let lower = |n: &String| n.to_lowercase();
    if let Some(n) = names.iter().find(|n| lower(n) == typed) {
        return Some(n.clone());
    }
    if typed.chars().count() >= 3
        && let Some(n) = names.iter().find(|n| lower(n).starts_with(&typed))
    {
        return Some(n.clone());
    }
    let allowed = match typed.chars().count() {
        0..=2 => 1,
        3..=6 => 2,
        _ => 3,
    };
    names
        .iter()
        .map(|n| (n, strsim::damerau_levenshtein(&typed, &lower(n))))
        .filter(|(_, d)| *d <= allowed)
        .min_by_key(|(n, d)| (*d, (*n).clone()))
        .map(|(n, _)| n.clone())
}

/// Whether two names look the same to a person (the server's rule for
/// names that may not both be registered).
fn looks_alike(a: &str, b: &str) -> bool {
    protocol::names::skeleton_key(a) == protocol::names::skeleton_key(b)
}

/// The names an error about an unknown peer suggests from (the server's
/// list and the pinned names), attached as the error's outermost context
/// by a scripted command, which has a client to ask them of; never shown.
#[derive(Debug)]
pub struct KnownNames(pub Vec<String>);

impl std::fmt::Display for KnownNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} names known", self.0.len())
    }
}

/// `e` and its causes as one line for a script: the same words as the
/// menu for the client's own errors (an unknown peer's with the closest of
/// the [`KnownNames`] attached), and every cause said once (an error that
/// quotes its source is not followed by that source again).
pub fn error_line(e: &anyhow::Error) -> String {
    let (known, skip) = match e.downcast_ref::<KnownNames>() {
        Some(k) => (k.0.as_slice(), 1),
        None => (&[][..], 0),
    };
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain().skip(skip) {
        // A cancellation under words of its own (what resumes it) is
        // said by them alone.
        if matches!(cause.downcast_ref(), Some(ClientError::Cancelled)) && !parts.is_empty() {
            break;
        }
        let (text, last) = if let Some(c) = cause.downcast_ref::<ClientError>() {
            (explain(c, known, Audience::Script), true)
        } else if let Some(c) = cause.downcast_ref::<ConnectionError>() {
            (connection_error(c), true)
        } else {
            (cause.to_string(), false)
        };
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        if last {
            break;
        }
    }
    one_line(&parts.join(": "))
}

/// The `--json` error for `e`: `{"error": LINE, "code": CODE}`, and what a
/// script needs to act on beside them: `candidates` for an ambiguous room
/// (each with its `id`, to give as `#ID`), the `room` a room command about
/// an unknown user was for.
pub fn error_json(e: &anyhow::Error) -> serde_json::Value {
    let mut value =
        serde_json::json!({ "error": error_line(e), "code": super::codes::error_code(e) });
    let Some(object) = value.as_object_mut() else {
        return value;
    };
    match e.chain().find_map(|c| c.downcast_ref::<ClientError>()) {
        Some(ClientError::AmbiguousRoom { candidates, .. }) => {
            object.insert("candidates".into(), serde_json::json!(candidates));
        }
        Some(ClientError::UnknownPeerInRoom { room, .. }) => {
            object.insert("room".into(), serde_json::json!(room));
        }
        _ => {}
    }
    value
}

fn connection_error(c: &ConnectionError) -> String {
    match c {
        ConnectionError::Connect { addr, source } => format!(
            "cannot reach the server at {addr} ({source}); is it running? Try again when it is"
        ),
        ConnectionError::Refused(e) => match e.reason {
            ErrorReason::NameTaken => "that name is taken on this server, or one too like it (other case, look-alike letters); choose another".into(),
            ErrorReason::BadName => format!("that name cannot be used: {}", e.text),
            ErrorReason::InboxFull | ErrorReason::InboxBytesFull => {
                "the recipient's inbox is full; try again after they have read their messages"
                    .into()
            }
            // A failed store (a cluster node without its database, an I/O
            // error) may fail reads too: promise nothing.
            // The server's own text says that nothing was stored and when
            // to try again; said once, not twice.
            ErrorReason::StorageFailed => format!(
                "the server could not store or read anything now: {}; if it lasts, ask its \
                 operator",
                e.text.trim_end_matches('.')
            ),
            ErrorReason::StorageFull | ErrorReason::StorageReadOnly => format!(
                "the server cannot store anything now ({}: {}); reading and deleting your \
                 messages still work. Try again later, or ask its operator",
                e.reason.name(),
                e.text
            ),
            ErrorReason::FileTooLarge => {
                format!("the server refuses a file this large: {}", e.text)
            }
            ErrorReason::RateLimited => {
                "the server says you are sending too fast; wait a moment and try again".into()
            }
            ErrorReason::TooManyConnections => {
                "the server has too many connections; try again in a moment".into()
            }
            ErrorReason::ShuttingDown => {
                "the server is shutting down; try again when it is back".into()
            }
            _ => format!("the server refused: {}", e.text),
        },
        ConnectionError::Closed(_) | ConnectionError::Lost(_) | ConnectionError::Timeout(_) => {
            format!("{c}; try again (the server may be down)")
        }
        other => other.to_string(),
    }
}

/// What became of message `id`, no offer waiting: a file accepted or
/// declined already, or a text; `None` if history says nothing more useful.
fn decided(id: u64, d: &crate::downloads::Decided) -> Option<String> {
    use crate::display::{escape_line, escape_path};
    use crate::keystore::{Body, Status};
    let from = d.from_name.as_deref().map_or_else(
        || format!("client {}", d.entry.sender),
        |n| escape_line(n).into_owned(),
    );
    match &d.entry.body {
        Body::Text { .. } => Some(format!(
            "message {id} from {from} is a text, not a file offer"
        )),
        Body::File { name, path, .. } => {
            let what = format!("file offer {id} ({} from {from})", escape_line(name));
            match d.entry.status {
                Status::Declined => Some(format!("{what} was declined already")),
                _ if path.as_os_str().is_empty() => None,
                _ => Some(format!(
                    "{what} was accepted already: saved as {}",
                    escape_path(path)
                )),
            }
        }
        // Events have no message id: none is found by one.
        Body::Event { .. } | Body::Key { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_look_alike_is_never_suggested_and_an_unknown_id_is_said_to_be_gone() {
        // `Bоb` with a Cyrillic o: what an impostor registers once bob's
        // account is gone.
        let known = names(&["B\u{43e}b", "alice"]);
        let e = ClientError::UnknownPeer("bob".into());
        let said = client_error(&e, &known);
        assert!(!said.contains("did you mean"), "{said}");
        assert!(said.contains("only looks like it"), "{said}");
        let e = ClientError::UnknownPeer("9bf9cec8b51f4ce39f02eac02e97dc9f".into());
        let said = client_error(&e, &known);
        assert!(said.contains("no account with the id 9bf9cec8"), "{said}");
        assert!(!said.contains("no user named"), "{said}");
    }

    #[test]
    fn unknown_peers_get_a_suggestion_when_close() {
        let known = names(&["bob", "alice"]);
        let e = ClientError::UnknownPeer("bbo".into());
        assert_eq!(
            client_error(&e, &known),
            "no user named \"bbo\" on this server; did you mean \"bob\"?"
        );
        let e = ClientError::UnknownPeer("zed".into());
        assert!(client_error(&e, &known).contains("`list` shows who is there"));
    }

    #[test]
    fn a_storage_failure_is_explained_without_saying_the_server_s_words_twice() {
        let refused = ConnectionError::Refused(protocol::v3::ServerError::new(
            ErrorReason::StorageFailed,
            "the server's disk failed; nothing was stored, try again later",
        ));
        let line = client_error(&ClientError::Connection(refused), &[]);
        assert_eq!(
            line,
            "the server could not store or read anything now: the server's disk failed; \
             nothing was stored, try again later; if it lasts, ask its operator"
        );
    }

    #[test]
    fn every_explanation_is_one_escaped_line() {
        let errors = [
            ClientError::NotRegistered("/h".into()),
            ClientError::ServerKeyChanged {
                server: "s:1".into(),
                pinned: "1".into(),
                presented: "2".into(),
            },
            ClientError::PeerKeyChanged {
                name: "eve\u{1b}[2J".into(),
            },
            ClientError::File {
                path: "/nope".into(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            },
            ClientError::Connection(ConnectionError::Connect {
                addr: "127.0.0.1:9".into(),
                source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
            }),
        ];
        for e in &errors {
            let line = one_line(&client_error(e, &[]));
            assert!(!line.contains('\n') && !line.contains('\u{1b}'), "{line}");
        }
        assert!(
            one_line(&client_error(&errors[2], &[])).contains("`accept \"eve\\e[2J\"`")
                || one_line(&client_error(&errors[2], &[])).contains("`accept eve\\e[2J`")
        );
        assert_eq!(one_line("a\n  b\r\n"), "a b");
    }

    #[test]
    fn suggests_close_names() {
        let names: Vec<String> = ["bob", "alice", "Carol", "robert"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(suggest_name("bbo", &names).as_deref(), Some("bob"));
        assert_eq!(suggest_name("carol", &names).as_deref(), Some("Carol"));
        assert_eq!(suggest_name("alcie", &names).as_deref(), Some("alice"));
        assert_eq!(suggest_name("rob", &names).as_deref(), Some("robert"));
        assert_eq!(suggest_name("bb", &names).as_deref(), Some("bob"));
        assert_eq!(suggest_name("robe", &names).as_deref(), Some("robert"));
        assert_eq!(suggest_name("zzzzzz", &names), None);
        assert_eq!(suggest_name("", &names), None);
    }
}
