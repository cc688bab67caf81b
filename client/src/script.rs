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

/// What `inbox` prints: each batch's lines for a person, or one JSON array
/// written a batch at a time; each batch flushed before [`Self::batch`]
/// returns, so that what it acknowledges next was written.
pub(crate) struct InboxPrinter {
    json: bool,
    /// Events written into the JSON array so far.
    written: usize,
    /// The write that failed, if one did.
    pub(crate) failed: Option<std::io::Error>,
}

impl InboxPrinter {
    pub(crate) fn new(json: bool) -> Self {
        Self {
            json,
            written: 0,
            failed: None,
        }
    }

    /// Writes and flushes one batch.
    pub(crate) fn batch(&mut self, events: &[crate::inbox::Event]) -> std::io::Result<()> {
        let written = self.write(events);
        if let Err(e) = &written {
            self.failed = Some(std::io::Error::new(e.kind(), e.to_string()));
        }
        written
    }

    fn write(&mut self, events: &[crate::inbox::Event]) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        if self.json {
            for e in events {
                out.write_all(if self.written == 0 { b"[" } else { b"," })?;
                serde_json::to_writer(&mut out, e)?;
                self.written += 1;
            }
        } else {
            for line in crate::rejections::event_lines(events, crate::output::event) {
                writeln!(out, "{line}")?;
            }
        }
        out.flush()
    }

    /// Ends what was printed: closes the JSON array (`[]` if empty).
    pub(crate) fn end(&mut self) -> std::io::Result<()> {
        if !self.json {
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        out.write_all(if self.written == 0 { b"[]\n" } else { b"]\n" })?;
        out.flush()
    }
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
