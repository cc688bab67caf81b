//! What a name must not hold because a person would not see it as typed:
//! characters that reorder the text around them or are not shown at all,
//! and spaces other than single plain ones between words. The server
//! refuses such user names (its version-3 name rules, PROTOCOL.md "Common
//! fields") and new room names ("Room name"); the client keeps them out of
//! the room names it gives before the server is asked. Also the key under
//! which two names look alike ([`skeleton_key`]).

use unicode_security::GeneralSecurityProfile;
use unicode_security::general_security_profile::IdentifierType;

/// The characters of the Unicode `Bidi_Control` property: embeddings,
/// overrides, isolates and marks, each of which can make a name display as
/// another (unchanged since Unicode 6.3).
pub const BIDI_CONTROLS: &[char] = &[
    '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}',
    '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
];

/// Why a name is not shown as typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAsTyped {
    /// A character that changes the direction of the text around it.
    Reorders(char),
    /// A character not shown at all (zero-width spaces and joiners, soft
    /// hyphens, variation selectors, tags: Unicode's default-ignorable
    /// code points).
    Invisible(char),
    /// Only whitespace.
    Blank,
    /// Whitespace other than the plain space (U+0020).
    OtherSpace(char),
    /// A space at either end, or two in a row.
    StraySpace,
}

/// The first reason, in the order above, why `name` is not shown as typed.
pub fn not_as_typed(name: &str) -> Option<NotAsTyped> {
    let unshown = name.chars().find_map(|c| {
        if BIDI_CONTROLS.contains(&c) {
            Some(NotAsTyped::Reorders(c))
        } else if c.identifier_type() == Some(IdentifierType::Default_Ignorable) {
            Some(NotAsTyped::Invisible(c))
        } else {
            None
        }
    });
    if unshown.is_some() {
        return unshown;
    }
    if name.chars().all(char::is_whitespace) {
        return Some(NotAsTyped::Blank);
    }
    if let Some(c) = name.chars().find(|c| c.is_whitespace() && *c != ' ') {
        return Some(NotAsTyped::OtherSpace(c));
    }
    if name.starts_with(' ') || name.ends_with(' ') || name.contains("  ") {
        return Some(NotAsTyped::StraySpace);
    }
    None
}

/// The key under which two names count as the same name to a person's eye:
/// the UTS #39 skeleton (Unicode Security Mechanisms), lower-cased, and the
/// skeleton of that. The skeleton comes first so that capitals that look
/// alike (Greek `Β`, Latin `B`) meet before lower-casing pulls them apart
/// (`β`, `b`); the second skeleton maps what lower-casing produced (`bOb`
/// from `b0b` becomes `bob`). The server keeps version-3 names and room
/// names unique under it; the client compares a new sender's name with its
/// pinned contacts' under it.
pub fn skeleton_key(name: &str) -> String {
    let first: String = unicode_security::skeleton(name).collect();
    let lower = first.to_lowercase();
    unicode_security::skeleton(&lower).collect()
}

/// `U+XXXX`, for messages: the character itself may be invisible.
pub fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reordering_and_invisible_characters_are_found_and_others_pass() {
        let unshown = not_as_typed;
        assert_eq!(unshown("team"), None);
        assert_eq!(unshown("Équipe ops-2 tеam"), None);
        assert_eq!(
            unshown("r\u{202E}oom"),
            Some(NotAsTyped::Reorders('\u{202E}'))
        );
        assert_eq!(
            unshown("a\u{2067}b"),
            Some(NotAsTyped::Reorders('\u{2067}'))
        );
        assert_eq!(
            unshown("te\u{200B}am"),
            Some(NotAsTyped::Invisible('\u{200B}'))
        );
        assert_eq!(
            unshown("te\u{00AD}am"),
            Some(NotAsTyped::Invisible('\u{00AD}'))
        );
        assert_eq!(
            unshown("x\u{FE0F}"),
            Some(NotAsTyped::Invisible('\u{FE0F}'))
        );
        assert_eq!(code_point('\u{202E}'), "U+202E");
        assert_eq!(code_point('a'), "U+0061");
    }
}
