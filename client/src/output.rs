//! How events and transfers look to a person: one escaped block per event,
//! progress bars on a terminal, JSON for scripts.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{Local, TimeZone};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::client::Progress;
use crate::display::{escape_line, escape_path, indented_message};
use crate::inbox::{Event, What};

/// `2026-11-23 10:15:02`, local time.
pub fn time(ms: u64) -> String {
    Local
        .timestamp_millis_opt(ms as i64)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "????-??-?? ??:??:??".into())
}

/// `1.2 MB`.
pub fn size(bytes: u64) -> String {
    indicatif::DecimalBytes(bytes).to_string()
}

/// An event as text for a person, every peer-chosen string escaped.
pub fn event(e: &Event) -> String {
    let who = e
        .from_name
        .as_deref()
        .map(|n| escape_line(n).into_owned())
        .unwrap_or_else(|| format!("client {}", e.from));
    let at = time(e.sent_at_ms);
    match &e.what {
        What::Text { text } => format!("[{at}] {who}:\n{}", indented_message(text, "    ")),
        What::File {
            name,
            path,
            size: n,
        } => format!(
            "[{at}] {who} sent a file: {} ({}), saved as {}",
            escape_line(name),
            size(*n),
            escape_path(path)
        ),
        What::SessionStarted => format!("[{at}] {who} started a secure session with you"),
        What::SessionConfirmed => format!("[{at}] {who} confirmed your secure session"),
        What::Waiting { kind } => format!(
            "[{at}] a {kind} from {who} arrived before its key; it will be opened when the key arrives"
        ),
        What::KeyChanged => format!(
            "[{at}] WARNING: {who}'s key changed. Their messages wait until you compare safety numbers \
             (client fingerprint {who}) and accept the new key (client accept {who})"
        ),
        What::Rejected { reason } => format!("[{at}] message from {who} {}", reason.explain()),
        What::Failed { error } => format!(
            "[{at}] a message from {who} could not be received now: {}; it stays on the server \
             and comes again with the next `inbox`",
            crate::repl::explain::one_line(error)
        ),
    }
}

/// A progress bar on standard error, drawn only on a terminal.
pub struct Bars {
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    /// Bars if standard error is a terminal; `None` otherwise.
    pub fn for_terminal() -> Option<Self> {
        std::io::stderr().is_terminal().then(|| Self {
            bar: Mutex::new(None),
        })
    }
}

impl Progress for Bars {
    fn start(&self, label: &str, total: u64, done: u64) {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        // The template is a constant; a broken one falls back to the default.
        let style = ProgressStyle::with_template(
            "{msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(label.to_string());
        bar.set_position(done);
        bar.enable_steady_tick(Duration::from_millis(200));
        if let Some(old) = self
            .bar
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(bar)
        {
            old.finish_and_clear();
        }
    }

    fn advance(&self, n: u64) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            bar.inc(n);
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use protocol::ClientId;

    use super::*;

    #[test]
    fn events_escape_what_peers_chose() {
        let e = Event {
            message_id: 1,
            from: ClientId([1; 16]),
            from_name: Some("mallory\x1b[31m".into()),
            sent_at_ms: 0,
            what: What::Text {
                text: "hi\x1b[2J\u{202E}olleh".into(),
            },
        };
        let shown = event(&e);
        assert!(!shown.contains('\x1b'));
        assert!(!shown.contains('\u{202E}'));
        assert!(shown.contains("mallory\\e[31m"));
        assert!(shown.contains("hi\\e[2J\\u{202e}olleh"));
    }
}
