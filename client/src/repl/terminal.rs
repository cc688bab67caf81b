//! The terminal side of the menu, on threads of its own: `readline` blocks,
//! so the editor lives on a dedicated thread and answers requests for lines
//! through channels; a printer thread shows messages that arrive while the
//! user types, above the line being edited (rustyline's external printer),
//! or directly when standard input is not a terminal.
//!
//! History lives in `<home>/history`, readable by its owner only; texts of
//! messages are left out of it (see [`super::parse::history_entry`]), and
//! so is every plain line typed in a conversation (a message).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use anyhow::Context as _;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config, Editor, ExternalPrinter};
use tokio::sync::oneshot;

use super::complete::{Field, MenuHelper, SharedNames};
use super::parse::history_entry;

/// The history file in the home folder.
pub const HISTORY_FILE: &str = "history";
/// Lines of history kept.
const HISTORY_LEN: usize = 1000;

/// What the user typed at a prompt.
#[derive(Debug)]
pub enum Answer {
    /// A line.
    Line(String),
    /// Ctrl-C: the line was abandoned.
    Interrupted,
    /// Ctrl-D, or the end of the input.
    Eof,
    /// The terminal failed.
    Failed(String),
}

struct Ask {
    prompt: String,
    field: Field,
    /// Already in the line when it is drawn (empty: nothing).
    initial: String,
    reply: oneshot::Sender<Answer>,
}

/// The editor thread's handle.
pub struct Terminal {
    asks: std_mpsc::Sender<Ask>,
}

/// What the printer thread is asked to do.
pub enum Print {
    /// Show this text (one or more lines).
    Text(String),
    /// A log line: above the prompt at a terminal, else on standard error.
    Log(String),
    /// Answer once everything before is shown.
    Flush(oneshot::Sender<()>),
}

/// Prints the menu's output and messages that arrive at any time, in the
/// order given; cheap to clone.
#[derive(Clone)]
pub struct Printer {
    lines: std_mpsc::Sender<Print>,
}

/// How long a flush may wait for the terminal.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

impl Printer {
    /// Shows `text` (one or more lines) as soon as the terminal allows.
    pub fn print(&self, text: String) {
        // The printer thread only ends with the program.
        let _ = self.lines.send(Print::Text(text));
    }

    /// Waits until everything printed so far is out, so that a prompt
    /// drawn next comes after it (bounded, as the terminal may be stuck).
    pub async fn flush(&self) {
        let (done, flushed) = oneshot::channel();
        if self.lines.send(Print::Flush(done)).is_ok() {
            let _ = tokio::time::timeout(FLUSH_WAIT, flushed).await;
        }
    }

    /// A printer writing into a channel: for tests, and for the
    /// full-screen client (`crate::tui`), which shows log lines itself.
    pub fn capture() -> (Printer, std_mpsc::Receiver<Print>) {
        let (lines, rx) = std_mpsc::channel();
        (Printer { lines }, rx)
    }
}

/// Creates `<home>/history` readable by its owner only, if it is missing.
fn history_file(home: &Path) -> std::io::Result<PathBuf> {
    let path = home.join(HISTORY_FILE);
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(&path)?;
        // An older file may have been created with other permissions.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    options.open(&path)?;
    Ok(path)
}

impl Terminal {
    /// Starts the editor and printer threads.
    ///
    /// # Errors
    /// The terminal or the history file cannot be set up.
    pub async fn start(home: &Path, names: SharedNames) -> anyhow::Result<(Terminal, Printer)> {
        let history = {
            let folder = home.to_path_buf();
            tokio::task::spawn_blocking(move || history_file(&folder))
                .await?
                .with_context(|| format!("creating the history file in {}", home.display()))?
        };
        let (asks, asked) = std_mpsc::channel::<Ask>();
        let (ready, started) = oneshot::channel();
        std::thread::Builder::new()
            .name("menu-editor".into())
            .spawn(move || editor_thread(history, names, asked, ready))
            .context("starting the editor thread")?;
        let external = started
            .await
            .context("the editor thread ended")?
            .context("setting up the line editor")?;
        let (lines, to_print) = std_mpsc::channel::<Print>();
        std::thread::Builder::new()
            .name("menu-printer".into())
            .spawn(move || printer_thread(external, to_print))
            .context("starting the printer thread")?;
        Ok((Terminal { asks }, Printer { lines }))
    }

    /// Reads one line at `prompt`, completing it as `field`.
    pub async fn ask(&self, prompt: &str, field: Field) -> Answer {
        self.ask_with(prompt, field, "").await
    }

    /// [`Terminal::ask`] with `initial` already typed, to edit or send as
    /// it is (at a terminal; read from a pipe, a line is only what comes).
    pub async fn ask_with(&self, prompt: &str, field: Field, initial: &str) -> Answer {
        let (reply, answer) = oneshot::channel();
        let ask = Ask {
            prompt: prompt.to_string(),
            field,
            initial: initial.to_string(),
            reply,
        };
        if self.asks.send(ask).is_err() {
            return Answer::Failed("the line editor stopped".into());
        }
        answer
            .await
            .unwrap_or_else(|_| Answer::Failed("the line editor stopped".into()))
    }
}

type Printing = Option<Box<dyn ExternalPrinter + Send>>;

fn editor_thread(
    history: PathBuf,
    names: SharedNames,
    asked: std_mpsc::Receiver<Ask>,
    ready: oneshot::Sender<anyhow::Result<Printing>>,
) {
    let config = Config::builder()
        .auto_add_history(false)
        .history_ignore_dups(true)
        .and_then(|b| b.max_history_size(HISTORY_LEN))
        .map(|b| {
            b.history_ignore_space(true)
                .completion_type(CompletionType::List)
                .build()
        });
    let editor = config
        .map_err(anyhow::Error::from)
        .and_then(|c| Ok(Editor::<MenuHelper, DefaultHistory>::with_config(c)?));
    let mut editor = match editor {
        Ok(e) => e,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    editor.set_helper(Some(MenuHelper::new(names)));
    match editor.load_history(&history) {
        Ok(()) => {}
        Err(ReadlineError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
        // A damaged history is not worth refusing to start over.
        Err(e) => tracing::warn!(error = %e, "cannot read the menu history"),
    }
    // Not available when standard input or output is not a terminal.
    let external: Printing = editor
        .create_external_printer()
        .ok()
        .map(|p| Box::new(p) as Box<dyn ExternalPrinter + Send>);
    if ready.send(Ok(external)).is_err() {
        return;
    }
    while let Ok(ask) = asked.recv() {
        if let Some(h) = editor.helper_mut() {
            h.field = ask.field;
        }
        let read = if ask.initial.is_empty() {
            editor.readline(&ask.prompt)
        } else {
            editor.readline_with_initial(&ask.prompt, (&ask.initial, ""))
        };
        let answer = match read {
            Ok(line) => {
                // A plain line in a conversation is a message: never kept.
                let command = ask.field == Field::Menu
                    || (ask.field == Field::Talk && line.trim_start().starts_with('/'));
                if command && let Some(entry) = history_entry(&line) {
                    let _ = editor.add_history_entry(entry);
                    if let Err(e) = editor.append_history(&history) {
                        tracing::warn!(error = %e, "cannot save the menu history");
                    }
                }
                Answer::Line(line)
            }
            Err(ReadlineError::Interrupted) => Answer::Interrupted,
            Err(ReadlineError::Eof) => Answer::Eof,
            Err(e) => Answer::Failed(e.to_string()),
        };
        if ask.reply.send(answer).is_err() {
            // The menu stopped waiting (it is leaving).
            break;
        }
    }
}

fn printer_thread(mut external: Printing, lines: std_mpsc::Receiver<Print>) {
    while let Ok(print) = lines.recv() {
        let (mut text, log) = match print {
            Print::Text(t) => (t, false),
            Print::Log(t) => (t, true),
            Print::Flush(done) => {
                let _ = done.send(());
                continue;
            }
        };
        if !text.ends_with('\n') {
            text.push('\n');
        }
        if let Some(p) = external.as_mut() {
            if p.print(text.clone()).is_ok() {
                continue;
            }
            external = None;
        }
        if log {
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        } else {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
    }
}

/// Where log lines go while the menu runs (`None`: straight to stderr).
static LOG_PRINTER: Mutex<Option<Printer>> = Mutex::new(None);

/// Sends log lines through `printer` from now on, so that they do not break
/// the line being typed.
pub fn route_logs(printer: Option<Printer>) {
    // The library's notices (`crate::notice`) go where log lines go.
    crate::notice::route(printer.clone().map(|p| {
        Box::new(move |text: String| {
            let _ = p.lines.send(Print::Log(text));
        }) as Box<dyn Fn(String) + Send>
    }));
    *LOG_PRINTER.lock().unwrap_or_else(|e| e.into_inner()) = printer;
}

/// A log line as a person reads it on a screen that is not a terminal's
/// scrolling text (the full-screen client's status line): without its
/// colours, time and level, a warning or error said so in words.
pub fn plain_log(line: &str) -> String {
    let mut text = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // A colour (CSI ... final byte) goes whole.
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        text.push(c);
    }
    let mut words = text.trim().splitn(2, ' ');
    let first = words.next().unwrap_or_default();
    let rest = words.next().unwrap_or_default().trim_start();
    // `2026-12-07T20:14:37.251575Z  WARN message`
    let rest = if first.contains('T') && first.ends_with('Z') {
        rest
    } else {
        return text.trim().to_string();
    };
    let (level, message) = rest.split_once(' ').unwrap_or((rest, ""));
    let message = message.trim_start();
    match level {
        "ERROR" => format!("error: {message}"),
        "WARN" => format!("warning: {message}"),
        "INFO" | "DEBUG" | "TRACE" => message.to_string(),
        _ => rest.to_string(),
    }
}

/// A writer for one log event (see [`log_writer`]).
pub struct LogWriter(Vec<u8>);

/// The log writer of the `client` binary: each event goes to standard
/// error, or through the menu's printer while the menu runs.
pub fn log_writer() -> LogWriter {
    LogWriter(Vec::new())
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let printer = LOG_PRINTER
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match printer {
            Some(p) => {
                let _ = p
                    .lines
                    .send(Print::Log(String::from_utf8_lossy(&self.0).into_owned()));
            }
            None => {
                let _ = std::io::stderr().lock().write_all(&self.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_line_for_the_screen_loses_its_colours_time_and_level() {
        let coloured = "\x1b[2m2026-12-07T20:14:37.251575Z\x1b[0m \x1b[33m WARN\x1b[0m DANGER: the \
                        server at 127.0.0.1:1 presented a different key\n";
        assert_eq!(
            plain_log(coloured),
            "warning: DANGER: the server at 127.0.0.1:1 presented a different key"
        );
        assert_eq!(
            plain_log("2026-12-07T20:14:37Z ERROR disk full"),
            "error: disk full"
        );
        assert_eq!(plain_log("2026-12-07T20:14:37Z  INFO moved on"), "moved on");
        // Not a log line's shape: kept as it is.
        assert_eq!(plain_log("something else\n"), "something else");
    }

    #[test]
    fn log_lines_go_through_the_printer_while_the_menu_runs() {
        let (printer, lines) = Printer::capture();
        route_logs(Some(printer));
        {
            let mut w = log_writer();
            write!(w, "WARN something").unwrap();
            writeln!(w, " happened").unwrap();
        }
        route_logs(None);
        match lines.try_recv().unwrap() {
            Print::Log(t) => assert_eq!(t, "WARN something happened\n"),
            _ => panic!("not a log line"),
        }
    }
}
