//! The words of a menu line: shell-like splitting (`'...'` literal, `"..."`
//! with `\"` and `\\`, a backslash escaping elsewhere), and the values an
//! argument makes (one word, or the rest of the line as typed).
//!
//! Pure functions on strings, apart from [`super::parse`] (which decides
//! what the words mean) so that completion can split a half-typed line the
//! same way without knowing the commands. The inverse, quoting a name, is
//! [`crate::advice::quote_word`].

use std::path::PathBuf;

/// A quote was opened and not closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnclosedQuote;

/// One word of a line: its value and where it lies (`start..end`, bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word with quotes and escapes removed.
    pub text: String,
    /// Where it starts in the line.
    pub start: usize,
    /// Where it ends in the line.
    pub end: usize,
}

/// The word starting at or after `from`, if any: whitespace separates
/// words; `'...'` is literal; in `"..."` a backslash escapes `"` and `\`;
/// elsewhere a backslash escapes the next character.
///
/// # Errors
/// An unclosed quote.
pub fn next_word(line: &str, from: usize) -> Result<Option<Word>, UnclosedQuote> {
    let rest = line.get(from..).unwrap_or_default();
    let Some(skip) = rest.find(|c: char| !c.is_whitespace()) else {
        return Ok(None);
    };
    let start = from + skip;
    let mut text = String::new();
    let mut chars = line[start..].char_indices().peekable();
    let mut end = line.len();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                end = start + i;
                break;
            }
            '\'' => loop {
                match chars.next() {
                    Some((_, '\'')) => break,
                    Some((_, c)) => text.push(c),
                    None => return Err(UnclosedQuote),
                }
            },
            '"' => loop {
                match chars.next() {
                    Some((_, '"')) => break,
                    Some((_, '\\')) => match chars.peek() {
                        Some(&(_, c @ ('"' | '\\'))) => {
                            text.push(c);
                            chars.next();
                        }
                        _ => text.push('\\'),
                    },
                    Some((_, c)) => text.push(c),
                    None => return Err(UnclosedQuote),
                }
            },
            '\\' => match chars.next() {
                Some((_, c)) => text.push(c),
                None => text.push('\\'),
            },
            c => text.push(c),
        }
    }
    Ok(Some(Word { text, start, end }))
}

/// Every word of `line`.
///
/// # Errors
/// An unclosed quote.
pub fn words(line: &str) -> Result<Vec<Word>, UnclosedQuote> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(w) = next_word(line, at)? {
        at = w.end;
        out.push(w);
    }
    Ok(out)
}

/// An answer to a sub-prompt for a name or a path: as [`rest_value`].
pub fn argument(line: &str) -> Option<String> {
    rest_value(line, 0)
}

/// An answer to a sub-prompt for a text: as typed, unless it is one quoted
/// string.
pub fn text_argument(line: &str) -> Option<String> {
    text_value(line, 0)
}

/// The rest of a line as one value: its only word if it is one word (so
/// quotes and escapes are removed), else the text as typed.
pub fn rest_value(line: &str, from: usize) -> Option<String> {
    let rest = line.get(from..).unwrap_or_default().trim();
    if rest.is_empty() {
        return None;
    }
    match words(rest) {
        Ok(w) if w.len() == 1 => w.into_iter().next().map(|w| w.text),
        _ => Some(rest.to_string()),
    }
}

/// The rest of a line as a text: as typed, unless it is one quoted string.
pub fn text_value(line: &str, from: usize) -> Option<String> {
    let rest = line.get(from..).unwrap_or_default().trim();
    if rest.starts_with(['"', '\''])
        && let Ok(w) = words(rest)
        && let [only] = w.as_slice()
    {
        return Some(only.text.clone());
    }
    (!rest.is_empty()).then(|| rest.to_string())
}

/// `~/x` is `$HOME/x`, as Tab completion shows it.
pub fn expand_home(path: String) -> PathBuf {
    if let Some(rest) = path.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    PathBuf::from(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advice::quote_word;

    #[test]
    fn words_follow_shell_quoting() {
        let texts = |l: &str| {
            words(l)
                .unwrap()
                .into_iter()
                .map(|w| w.text)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            texts("a  'b c' \"d \\\" e\" f\\ g"),
            ["a", "b c", "d \" e", "f g"]
        );
        assert_eq!(texts("\"a\\nb\""), ["a\\nb"]);
        assert_eq!(texts(""), Vec::<String>::new());
        let w = words("key  bob").unwrap();
        assert_eq!((w[1].start, w[1].end), (5, 8));
    }

    #[test]
    fn names_are_quoted_when_needed() {
        assert_eq!(quote_word("bob"), "bob");
        assert_eq!(quote_word("bob smith"), "\"bob smith\"");
        assert_eq!(quote_word("a\"b"), "\"a\\\"b\"");
        assert_eq!(
            next_word(&quote_word("x \\ \" y"), 0)
                .unwrap()
                .unwrap()
                .text,
            "x \\ \" y"
        );
    }
}
