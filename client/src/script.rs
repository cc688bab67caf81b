//! What every scripted command shares: its flags, printing one JSON value,
//! reading a message's text from standard input, Ctrl-C for transfers, and
//! accepting a peer's changed key when told to.

use std::io::{Read, Write};

use anyhow::{Context, bail};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::client::{Client, ClientError};
use crate::display::escape_line;

/// Flags that change how commands behave.
#[derive(Debug, Clone, Copy)]
pub struct Flags {
    /// Print JSON.
    pub json: bool,
    /// Accept a peer's changed key before sending.
    pub accept_new_key: bool,
}

/// A token cancelled by Ctrl-C or SIGTERM, for transfers and `watch`: a
/// transfer stopped so records how far it got (`client resume` goes on
/// from there), where the default action would kill the process before it
/// could. SIGHUP keeps its default: under `nohup` it is ignored, and
/// catching it would undo that.
pub(crate) fn cancel_on_signal() -> CancellationToken {
    use tokio::signal::unix::{SignalKind, signal};
    let token = CancellationToken::new();
    // Installed now, not when the task first runs: a signal in between
    // would kill the process instead of stopping the transfer cleanly.
    for kind in [SignalKind::interrupt(), SignalKind::terminate()] {
        match signal(kind) {
            Ok(mut arrivals) => {
                let t = token.clone();
                tokio::spawn(async move {
                    if arrivals.recv().await.is_some() {
                        t.cancel();
                    }
                    // A second one means it: leave now, as by default.
                    if arrivals.recv().await.is_some() {
                        std::process::exit(128 + kind.as_raw_value());
                    }
                });
            }
            Err(e) => tracing::warn!("signal {kind:?} cannot be caught: {e}"),
        }
    }
    token
}

/// Runs `f`; if it fails because `who`'s key changed and the user said to
/// accept new keys, accepts it and runs `f` again.
pub(crate) async fn accepting<T, F, Fut>(
    client: &Client,
    flags: Flags,
    who: &str,
    f: F,
) -> Result<T, ClientError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, ClientError>>,
{
    match f().await {
        Err(ClientError::PeerKeyChanged { .. }) if flags.accept_new_key => {
            let accepted = client.accept_new_key(who).await?;
            // Said on standard error, so that standard output stays the
            // command's own answer; a script reads it as JSON with --json.
            if flags.json {
                let notice = json!({
                    "notice": "peer_key_accepted",
                    "name": accepted.label(),
                    "id": accepted.id.to_string(),
                    "fingerprint": accepted.fingerprint,
                    "previous_fingerprint": accepted.previous_fingerprint,
                    "verified": false,
                });
                eprintln!("{notice}");
            } else {
                eprintln!(
                    "accepted {}'s new key as instructed (--accept-new-key): its fingerprint is now {}{}, \
                     not verified (compare safety numbers: client fingerprint {})",
                    escape_line(who),
                    accepted.fingerprint,
                    accepted.replaced(),
                    escape_line(&crate::advice::quote_word(who))
                );
            }
            f().await
        }
        other => other,
    }
}

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

/// [`cancelled`] for an upload stopped by Ctrl-C (a direct or a room
/// `send-file`).
pub(crate) fn upload_cancelled() -> anyhow::Error {
    cancelled("upload cancelled; `client resume` continues it where it stopped")
}
