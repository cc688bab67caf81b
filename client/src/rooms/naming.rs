//! The names this client gives rooms (creating or renaming one): the wire's
//! limits (1 to 64 bytes, no control characters) and, as the server's rules
//! for user names ask, shown as typed (`protocol::names`). A name that looks
//! like another, or that nobody can type back, is refused before it reaches
//! the room. Names that other clients gave are read as they are (and shown
//! escaped).
//!
//! Every room command takes `#NAME` for `NAME` (one leading `#` dropped),
//! so a name is given the same way: `room create '#ops'` makes `ops`, and a
//! name that would still start with `#` is refused, since `#ops` typed back
//! would reach `ops`, another room, and a list would show both as `#ops`.

use protocol::names::{NotAsTyped, code_point, not_as_typed};
use sealpost_rooms::RoomName;

use crate::error::{ClientError, RoomRefusal};

/// A room as typed in a command: `#NAME` is `NAME` (one leading `#`
/// dropped), in every room command alike.
pub fn typed_room(typed: &str) -> &str {
    typed.strip_prefix('#').unwrap_or(typed)
}

/// `name` as a room name this client gives, one leading `#` dropped as
/// every room command drops it.
///
/// # Errors
/// [`ClientError::RoomRefused`] saying which rule the name breaks.
pub(crate) fn new_room_name(typed: &str) -> Result<RoomName, ClientError> {
    let refused = |why: String| {
        ClientError::room(
            RoomRefusal::BadRoomName,
            format!("{typed:?} cannot name a room: {why}"),
        )
    };
    let name = typed_room(typed);
    if name.is_empty() && !typed.is_empty() {
        return Err(refused("a name is needed after the `#`".into()));
    }
    if let Some(other) = name.strip_prefix('#') {
        return Err(refused(format!(
            "a room's name may not start with `#`: every room command takes `{name}` \
             for the room {other:?}"
        )));
    }
    let checked =
        RoomName::new(name).map_err(|_| refused("1 to 64 bytes, no control characters".into()))?;
    let Some(why) = not_as_typed(name) else {
        return Ok(checked);
    };
    Err(refused(match why {
        NotAsTyped::Reorders(c) => format!(
            "it holds {}, a character that reorders how text is shown",
            code_point(c)
        ),
        NotAsTyped::Invisible(c) => {
            format!("it holds {}, a character that is not shown", code_point(c))
        }
        NotAsTyped::Blank => "it is blank".into(),
        NotAsTyped::OtherSpace(c) => format!(
            "it holds {}, a space other than the plain space",
            code_point(c)
        ),
        NotAsTyped::StraySpace => "it starts or ends with a space, or has two in a row".into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(name: &str) -> String {
        match new_room_name(name) {
            Ok(_) => "ok".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_room_is_given_only_a_name_shown_as_typed() {
        for ok in ["team", "dev ops", "Équipe-2", "tеam", "1 #fans", "a#"] {
            assert_eq!(new_room_name(ok).unwrap().as_str(), ok);
        }
        // `#NAME` is NAME, as in every other room command.
        assert_eq!(new_room_name("#ops").unwrap().as_str(), "ops");
        assert_eq!(new_room_name("#1 fans").unwrap().as_str(), "1 fans");
        for (name, said) in [
            ("r\u{202E}oom", "U+202E, a character that reorders"),
            ("te\u{200B}am", "U+200B, a character that is not shown"),
            ("   ", "it is blank"),
            (
                "dev\u{00A0}ops",
                "U+00A0, a space other than the plain space",
            ),
            (" team", "starts or ends with a space"),
            ("team ", "starts or ends with a space"),
            ("dev  ops", "two in a row"),
            ("", "1 to 64 bytes"),
            ("#", "a name is needed after the `#`"),
            ("##ops", "may not start with `#`"),
            ("# ops", "starts or ends with a space"),
            ("a\u{1b}b", "no control characters"),
        ] {
            let got = why(name);
            assert!(got.contains(said), "{name:?}: {got}");
        }
        assert!(why(&"x".repeat(65)).contains("1 to 64 bytes"));
    }
}
