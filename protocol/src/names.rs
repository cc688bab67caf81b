//! Characters a name must not hold because a person would not see them as
//! typed: those that reorder the text around them, and those that are not
//! shown at all. The server refuses them in user names (its version-3 name
//! rules, PROTOCOL.md "Common fields"); the client also keeps them out of
//! the room names it gives.

use unicode_security::GeneralSecurityProfile;
use unicode_security::general_security_profile::IdentifierType;

/// The characters of the Unicode `Bidi_Control` property: embeddings,
/// overrides, isolates and marks, each of which can make a name display as
/// another (unchanged since Unicode 6.3).
pub const BIDI_CONTROLS: &[char] = &[
    '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}',
    '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
];

/// A character of a name that is not shown as typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unshown {
    /// It changes the direction of the text around it.
    Reorders(char),
    /// It is not shown at all (zero-width spaces and joiners, soft
    /// hyphens, variation selectors, tags: Unicode's default-ignorable
    /// code points).
    Invisible(char),
}

/// The first character of `name` that is not shown as typed, if any.
pub fn unshown(name: &str) -> Option<Unshown> {
    name.chars().find_map(|c| {
        if BIDI_CONTROLS.contains(&c) {
            Some(Unshown::Reorders(c))
        } else if c.identifier_type() == Some(IdentifierType::Default_Ignorable) {
            Some(Unshown::Invisible(c))
        } else {
            None
        }
    })
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
        assert_eq!(unshown("team"), None);
        assert_eq!(unshown("Équipe ops-2 tеam"), None);
        assert_eq!(unshown("r\u{202E}oom"), Some(Unshown::Reorders('\u{202E}')));
        assert_eq!(unshown("a\u{2067}b"), Some(Unshown::Reorders('\u{2067}')));
        assert_eq!(
            unshown("te\u{200B}am"),
            Some(Unshown::Invisible('\u{200B}'))
        );
        assert_eq!(
            unshown("te\u{00AD}am"),
            Some(Unshown::Invisible('\u{00AD}'))
        );
        assert_eq!(unshown("x\u{FE0F}"), Some(Unshown::Invisible('\u{FE0F}')));
        assert_eq!(code_point('\u{202E}'), "U+202E");
        assert_eq!(code_point('a'), "U+0061");
    }
}
