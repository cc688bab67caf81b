//! The rules a version-3 name must meet beyond the wire format's (PROTOCOL.md,
//! Common fields): normalised to NFC, not blank, no invisible or
//! direction-changing characters, and not confusable with a name already
//! registered.
//!
//! Confusability is decided by the UTS #39 skeleton (Unicode Security
//! Mechanisms, tables from the `unicode-security` crate): two names are
//! confusable when their [`skeleton_key`]s are equal. The key is stored with
//! the account under a UNIQUE index, so the check is atomic with the
//! registration. Version 2 keeps its own, older rules (see `v2.rs`).

use protocol::Name;
use protocol::names::{NotAsTyped, code_point, not_as_typed};
use unicode_normalization::UnicodeNormalization;

/// Why a version-3 name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameRefusal {
    /// Only whitespace.
    #[error("the name is blank; use at least one visible character")]
    Blank,
    /// Whitespace at either end, or two in a row.
    #[error(
        "the name starts or ends with a space, or has two spaces in a row; it would look like another name"
    )]
    StraySpace,
    /// Whitespace other than the plain space (U+0020).
    #[error("the name contains {0}, a space other than the plain space; use U+0020")]
    OtherSpace(String),
    /// A character that changes the direction of the text around it.
    #[error("the name contains {0}, a character that reorders how text is shown")]
    Bidi(String),
    /// A character that is not shown at all.
    #[error("the name contains {0}, a character that is not shown")]
    Invisible(String),
    /// 32 hex digits: the form of an account id, which clients read as one.
    #[error("the name is 32 hex digits, the form of an account id; clients would read it as one")]
    IdShaped,
    /// Starts with `#`, which names a room wherever a person types a name.
    #[error("the name starts with #, which clients read as a room's name")]
    RoomSigil,
    /// Longer than the format allows once normalised.
    #[error("the name is {0} bytes once normalised (NFC), over the limit of 254")]
    TooLong(usize),
}

/// A version-3 name that passed the rules.
#[derive(Debug, Clone)]
pub struct CheckedName {
    /// The name in NFC, as stored and shown.
    pub name: Name,
    /// Its confusability key (see [`skeleton_key`]).
    pub skeleton: String,
}

/// Checks a version-3 name and returns its stored form and key.
///
/// # Errors
/// The name breaks one of the rules.
pub fn check(name: &Name) -> Result<CheckedName, NameRefusal> {
    // Control characters never get here: `Name` refuses them on the wire.
    let nfc = normalise(name.as_str());
    // Invisible characters the skeleton drops, and so should a person's eye.
    if let Some(why) = not_as_typed(&nfc) {
        return Err(why.into());
    }
    // Where a person types a name, clients also take an id and a room:
    // such a name would reach someone else, or no one.
    if nfc.len() == 32 && nfc.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(NameRefusal::IdShaped);
    }
    if nfc.starts_with('#') {
        return Err(NameRefusal::RoomSigil);
    }
    let len = nfc.len();
    let name = Name::new(nfc).map_err(|_| NameRefusal::TooLong(len))?;
    let skeleton = skeleton_key(name.as_str());
    Ok(CheckedName { name, skeleton })
}

impl From<NotAsTyped> for NameRefusal {
    fn from(why: NotAsTyped) -> Self {
        match why {
            NotAsTyped::Reorders(c) => Self::Bidi(code_point(c)),
            NotAsTyped::Invisible(c) => Self::Invisible(code_point(c)),
            NotAsTyped::Blank => Self::Blank,
            NotAsTyped::OtherSpace(c) => Self::OtherSpace(code_point(c)),
            NotAsTyped::StraySpace => Self::StraySpace,
        }
    }
}

/// Checks a name that a 132 or a commit gives a room (PROTOCOL.md "Room
/// name"): shown as typed, by the same character rules as a user's name. A
/// name compares byte for byte, so it is not normalised; a room keeps a name
/// it had before servers checked this, since only a new name is checked.
///
/// # Errors
/// [`crate::error::StoreError::RoomRefused`] saying which rule it breaks.
pub fn check_room_name(name: &str) -> Result<(), crate::error::StoreError> {
    match not_as_typed(name) {
        None => Ok(()),
        Some(why) => Err(crate::error::StoreError::RoomRefused(format!(
            "a room's name must be shown as typed: {}",
            NameRefusal::from(why)
        ))),
    }
}

/// The NFC form of a name, as version-3 names are stored (for lookups).
pub fn normalise(name: &str) -> String {
    name.nfc().collect()
}

/// The key under which version-3 names must be unique (see
/// [`protocol::names::skeleton_key`], shared with the client).
pub use protocol::names::skeleton_key;

#[cfg(test)]
mod tests {
    use super::*;

    fn check_str(s: &str) -> Result<CheckedName, NameRefusal> {
        check(&Name::new(s).unwrap())
    }

    #[test]
    fn look_alikes_share_a_key_and_different_names_do_not() {
        let bob = skeleton_key("bob");
        for same in [
            "bob",
            "Bob",
            "BOB",
            "b\u{043E}b",
            "B\u{043E}b",
            "b0b",
            "\u{0392}OB",
        ] {
            assert_eq!(skeleton_key(same), bob, "{same:?}");
        }
        for other in ["alice", "bobby", "rob", "b ob"] {
            assert_ne!(skeleton_key(other), bob, "{other:?}");
        }
        assert_eq!(skeleton_key("I1l"), skeleton_key("lll"));
        assert_eq!(skeleton_key("modern"), skeleton_key("rnodern"));
    }

    #[test]
    fn names_are_normalised_to_nfc() {
        let decomposed = check_str("Jose\u{0301}").unwrap();
        assert_eq!(decomposed.name.as_str(), "Jos\u{00E9}");
        assert_eq!(
            decomposed.skeleton,
            check_str("Jos\u{00E9}").unwrap().skeleton
        );
    }

    #[test]
    fn blank_invisible_and_reordering_names_are_refused() {
        assert_eq!(check_str(" ").unwrap_err(), NameRefusal::Blank);
        assert_eq!(check_str("   ").unwrap_err(), NameRefusal::Blank);
        assert_eq!(check_str(" bob").unwrap_err(), NameRefusal::StraySpace);
        assert_eq!(check_str("bob ").unwrap_err(), NameRefusal::StraySpace);
        assert_eq!(check_str("bo  b").unwrap_err(), NameRefusal::StraySpace);
        assert_eq!(
            check_str("bob\u{00A0}smith").unwrap_err(),
            NameRefusal::OtherSpace("U+00A0".into())
        );
        assert_eq!(check_str("\u{3000}").unwrap_err(), NameRefusal::Blank);
        assert_eq!(
            check_str("a\u{3000}b").unwrap_err(),
            NameRefusal::OtherSpace("U+3000".into())
        );
        for bidi in ["bob\u{202E}", "\u{2067}bob", "b\u{200F}ob", "\u{061C}x"] {
            assert!(
                matches!(check_str(bidi).unwrap_err(), NameRefusal::Bidi(_)),
                "{bidi:?}"
            );
        }
        for invisible in ["bo\u{200B}b", "b\u{00AD}ob", "bob\u{FE0F}", "a\u{200D}b"] {
            assert!(
                matches!(check_str(invisible).unwrap_err(), NameRefusal::Invisible(_)),
                "{invisible:?}"
            );
        }
    }

    #[test]
    fn names_a_client_reads_as_an_id_or_a_room_are_refused() {
        for id in [
            "fd61755841d24bbc9dc42da82b4a5476",
            "0123456789ABCDEF0123456789abcdef",
        ] {
            assert_eq!(check_str(id).unwrap_err(), NameRefusal::IdShaped, "{id}");
        }
        for room in ["#room", "#", "#ops team"] {
            assert_eq!(
                check_str(room).unwrap_err(),
                NameRefusal::RoomSigil,
                "{room}"
            );
        }
        // Near misses are ordinary names.
        for fine in [
            "fd61755841d24bbc9dc42da82b4a547",
            "fd61755841d24bbc9dc42da82b4a54761",
            "gd61755841d24bbc9dc42da82b4a5476",
            "team#2",
        ] {
            assert!(check_str(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn ordinary_names_pass() {
        for ok in [
            "alice",
            "Bob Smith",
            "j.doe-2",
            "Zoë",
            "山田",
            "Ελένη",
            "😀",
        ] {
            let checked = check_str(ok).unwrap();
            assert_eq!(checked.name.as_str(), ok);
        }
    }
}
