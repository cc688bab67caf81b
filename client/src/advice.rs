//! How advice names a command for whoever reads it: the menu's user types
//! `accept bob` at its prompt, a script's author runs `client accept bob`;
//! a name with spaces is quoted the way the menu's parser reads it back.
//!
//! A leaf shared by the error wording ([`crate::repl::explain`]), the key
//! pin wording ([`crate::pin`]) and the menu, so that none of them has to
//! import another to say a command the same way.

/// Who reads the advice: the menu's user or a script's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The interactive menu: commands as typed at its prompt.
    Menu,
    /// The command line: `client ...`.
    Script,
}

impl Audience {
    /// `command` as this audience types it, in backquotes.
    pub fn command(self, command: &str) -> String {
        match self {
            Self::Menu => format!("`{command}`"),
            Self::Script => format!("`client {command}`"),
        }
    }
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
