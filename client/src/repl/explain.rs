//! One line for each thing that can go wrong, saying what to do, in the
//! menu's own words (`accept bob`, not `client accept bob`).
//!
//! The line may quote names and the server's error text: [`one_line`]
//! escapes all of it before it is shown.

use protocol::ErrorReason;

use super::complete::suggest_name;
use super::parse::quote_word;
use crate::client::ClientError;
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

/// What to tell the user about `e`; `known` are the names to suggest from
/// when a peer is unknown.
pub fn client_error(e: &ClientError, known: &[String]) -> String {
    match e {
        ClientError::NotRegistered(_) => {
            "you are not registered yet: type `register NAME` (or `1 NAME`) first".into()
        }
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
             pinned ({pinned}): someone may be impersonating it. Ask its operator to run `server fingerprint`; \
             only if it prints the presented digits, start the client again with --accept-server-key"
        ),
        ClientError::PeerKeyChanged { name } => {
            let q = quote_word(name);
            format!(
                "{name}'s key changed: nothing is sent to {name} until you compare safety numbers \
                 (`fingerprint {q}`) and accept the new key (`accept {q}`)"
            )
        }
        ClientError::UnknownPeer(who) => match suggest_name(who, known) {
            Some(s) if s != *who => {
                format!("no user named \"{who}\" on this server; did you mean \"{s}\"?")
            }
            _ => format!("no user named \"{who}\" on this server; `list` shows who is there"),
        },
        ClientError::NoValidKey(name) => format!(
            "{name} has no valid end-to-end key (perhaps an old version-2 client); nothing can be sent to them"
        ),
        ClientError::TextTooLong { len, max } => format!(
            "the text is {len} bytes and at most {max} fit one message; send it as a file (`file NAME PATH`)"
        ),
        ClientError::File { path, source } => match source.kind() {
            std::io::ErrorKind::NotFound => {
                format!("no file at {path}; check the path (Tab completes it)")
            }
            std::io::ErrorKind::PermissionDenied => {
                format!("you may not read {path}; check its permissions")
            }
            _ if std::path::Path::new(path).is_dir() => {
                format!("{path} is a folder; send the files in it one by one")
            }
            _ => format!("cannot read {path}: {source}"),
        },
        ClientError::Cancelled => "cancelled".into(),
        ClientError::Connection(c) => connection_error(c),
        ClientError::Store(KeyStoreError::NoPendingKey(_)) => {
            "that user's key has not changed; there is nothing to accept".into()
        }
        ClientError::Store(s) => format!("the local key store failed: {s}"),
        ClientError::Crypto(c) => format!("cryptography failed: {c}"),
        ClientError::Io(e) => format!("local error: {e}"),
    }
}

fn connection_error(c: &ConnectionError) -> String {
    match c {
        ConnectionError::Connect { addr, source } => format!(
            "cannot reach the server at {addr} ({source}); is it running? Try again when it is"
        ),
        ConnectionError::Refused(e) => match e.reason {
            ErrorReason::NameTaken => "that name is taken on this server; choose another".into(),
            ErrorReason::BadName => format!("that name cannot be used: {}", e.text),
            ErrorReason::InboxFull | ErrorReason::InboxBytesFull => {
                "the recipient's inbox is full; try again after they have read their messages"
                    .into()
            }
            ErrorReason::StorageFull
            | ErrorReason::StorageFailed
            | ErrorReason::StorageReadOnly => format!(
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
        ConnectionError::Closed(_) | ConnectionError::Timeout(_) => {
            format!("{c}; try again (the server may be down)")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
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
}
