//! What every scripted command shares: printing one JSON value, and
//! reading a message's text from standard input.

use std::io::{Read, Write};

use anyhow::{Context, bail};

/// Prints `value` as JSON on standard output.
pub(crate) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    // One line an answer, as `watch` prints its events: a script reads
    // it with a line reader, and a person pipes it to `jq`.
    let line = serde_json::to_string(value)?;
    writeln!(std::io::stdout().lock(), "{line}").context("writing to standard output")?;
    Ok(())
}

/// The text of a message from standard input (not empty), without the one
/// line break that ends it (`echo hi` sends `hi`).
pub(crate) fn read_stdin() -> anyhow::Result<String> {
    let mut buf = String::new();
    std::io::stdin()
        .read_to_string(&mut buf)
        .context("reading the text from standard input")?;
    let text = without_final_line_break(buf);
    if text.is_empty() {
        bail!(crate::ClientError::EmptyText);
    }
    Ok(text)
}

/// `text` without one final `\n` or `\r\n`; any line break before it stays.
fn without_final_line_break(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

#[cfg(test)]
#[test]
fn one_final_line_break_is_dropped_and_no_more() {
    let cut = |s: &str| without_final_line_break(s.to_string());
    assert_eq!(cut("hi\n"), "hi");
    assert_eq!(cut("hi\r\n"), "hi");
    assert_eq!(cut("a\nb\n\n"), "a\nb\n");
    assert_eq!(cut("hi"), "hi");
    assert_eq!(cut("hi\r"), "hi\r");
    assert_eq!(cut("\n"), "");
    assert_eq!(cut("ünï\n"), "ünï");
}

/// A cancelled command's error: `words` (what resumes it) for a person,
/// the code `cancelled` for a script.
pub(crate) fn cancelled(words: impl std::fmt::Display + Send + Sync + 'static) -> anyhow::Error {
    anyhow::Error::new(crate::ClientError::Cancelled).context(words)
}
