//! What looking up a peer's key found against the key pinned for it
//! ([`PinState`]), and the one line both front ends print for it.
//!
//! Separate from [`crate::client`], which only reports the state, so that
//! the scripted commands and the menu word it through the same function
//! and a new state cannot fall into a catch-all warning in one of them.
//! `--json` shows the state as the same lowercase word as before
//! (`"new"`, `"same"`, `"changed"`, `"accepted"`, `"renamed"`).

use serde::Serialize;

use crate::advice::{Audience, quote_word};
use crate::display::escape_line;

/// What pinning found for a peer's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinState {
    /// First contact: the key is pinned now.
    New,
    /// The key is the pinned one.
    Same,
    /// The key differs from the pinned one; it waits until accepted.
    Changed,
    /// The user accepted a changed key (or the server's new mapping of a
    /// name): it is pinned now.
    Accepted,
    /// `accept` moved a pinned contact off a name the server gave to
    /// nobody; its key is the pinned one.
    Renamed,
}

impl PinState {
    /// The word `--json` shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Same => "same",
            Self::Changed => "changed",
            Self::Accepted => "accepted",
            Self::Renamed => "renamed",
        }
    }

    /// The line shown under a looked-up key, for `audience`; `verified`:
    /// the safety number was marked as compared; `label`: the peer as the
    /// user names it (quoted and escaped here where the advice names it).
    pub fn describe(self, verified: bool, label: &str, audience: Audience) -> String {
        let quoted = || escape_line(&quote_word(label)).into_owned();
        match (self, audience) {
            (Self::New, _) => format!(
                "pinned now (first contact); compare safety numbers to be sure ({})",
                audience.command(&format!("fingerprint {}", quoted()))
            ),
            (Self::Same | Self::Renamed, Audience::Script) if verified => {
                "matches the pinned key (safety number verified)".into()
            }
            (Self::Same | Self::Renamed, Audience::Menu) if verified => {
                "matches the pinned key (safety number compared)".into()
            }
            (Self::Same | Self::Renamed, _) => "matches the pinned key".into(),
            (Self::Accepted, _) => "the new key is accepted and pinned".into(),
            (Self::Changed, _) => {
                let q = quoted();
                format!(
                    "WARNING: this key differs from the pinned one; nothing is sent until you compare safety \
                     numbers ({}) and accept it ({})",
                    audience.command(&format!("fingerprint {q}")),
                    audience.command(&format!("accept {q}"))
                )
            }
        }
    }
}

impl Serialize for PinState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [PinState; 5] = [
        PinState::New,
        PinState::Same,
        PinState::Changed,
        PinState::Accepted,
        PinState::Renamed,
    ];

    #[test]
    fn json_shows_the_same_words_as_before() {
        let words: Vec<String> = ALL
            .iter()
            .map(|p| serde_json::to_string(p).unwrap())
            .collect();
        assert_eq!(
            words,
            [
                "\"new\"",
                "\"same\"",
                "\"changed\"",
                "\"accepted\"",
                "\"renamed\""
            ]
        );
    }

    #[test]
    fn an_accepted_key_is_not_shown_as_a_warning_in_either_front_end() {
        for audience in [Audience::Menu, Audience::Script] {
            assert_eq!(
                PinState::Accepted.describe(false, "bob", audience),
                "the new key is accepted and pinned"
            );
        }
    }

    #[test]
    fn only_a_changed_key_is_a_warning() {
        for audience in [Audience::Menu, Audience::Script] {
            for pin in ALL {
                let line = pin.describe(false, "bob", audience);
                assert_eq!(
                    line.starts_with("WARNING"),
                    pin == PinState::Changed,
                    "{line}"
                );
            }
        }
    }

    #[test]
    fn the_menu_names_its_commands_with_the_name_quoted_and_escaped() {
        let line = PinState::Changed.describe(false, "bob smith\u{202e}", Audience::Menu);
        assert_eq!(
            line,
            "WARNING: this key differs from the pinned one; nothing is sent until you compare safety \
             numbers (`fingerprint \"bob smith\\u{202e}\"`) and accept it (`accept \"bob smith\\u{202e}\"`)"
        );
        assert_eq!(
            PinState::New.describe(false, "bob", Audience::Menu),
            "pinned now (first contact); compare safety numbers to be sure (`fingerprint bob`)"
        );
        assert_eq!(
            PinState::Same.describe(true, "bob", Audience::Menu),
            "matches the pinned key (safety number compared)"
        );
        assert_eq!(
            PinState::Same.describe(true, "bob", Audience::Script),
            "matches the pinned key (safety number verified)"
        );
    }
}
