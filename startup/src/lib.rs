//! What every Sealpost binary (`server`, `client`, `loadgen`) sets up before
//! its own work: log lines filtered by `--log-level`, and a multi-threaded
//! tokio runtime whose worker threads carry the program's name (so that a
//! profile tells the processes' workers apart), and (`assets`) the man pages
//! and shell completions a package installs, made from a binary's clap
//! definition.
//!
//! A crate of its own because no other crate is shared by the three binaries
//! and may hold it: `protocol` has no runtime and no I/O by design, and the
//! server and the client do not depend on each other. Each `main.rs` then
//! only parses its arguments, calls these two functions and its library's
//! `run`, and turns the outcome into an exit code.

#![forbid(unsafe_code)]

pub mod assets;
pub mod size;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use tokio::runtime::Runtime;
use tracing_subscriber::fmt::MakeWriter;

/// The levels `--log-level` takes, alone or after `target=` in a filter.
pub const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// A `--log-level` that names no level or does not parse: taken as it is,
/// tracing would read `inf` as a target's name and log nothing at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelError(String);

impl std::fmt::Display for LevelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--log-level {:?} is not a level: give one of {}, or a filter of them such as server=debug,info",
            self.0,
            LEVELS.join(", ")
        )
    }
}

impl std::error::Error for LevelError {}

/// Whether each of `filter`'s comma-separated directives is a level or
/// ends in `=LEVEL` (a target's or a span's).
fn names_levels(filter: &str) -> bool {
    let is_level = |word: &str| LEVELS.iter().any(|l| l.eq_ignore_ascii_case(word.trim()));
    filter
        .split(',')
        .all(|directive| match directive.rsplit_once('=') {
            // `target[span{field=value}]` has no level of its own: the `=` is
            // inside the span's fields.
            Some((_, level)) if level.contains([']', '}']) => true,
            Some((target, level)) => !target.trim().is_empty() && is_level(level),
            None => is_level(directive),
        })
}

/// Sends log lines to `writer`, filtered by `level` (a level or a tracing
/// filter such as `server=debug,info`; empty means `default`). Colours only
/// when standard error is a terminal.
///
/// # Errors
/// `level` names no level, or is not a filter tracing takes: nothing is set
/// up, and the caller says so and exits.
pub fn logging<W>(level: &str, default: &str, writer: W) -> Result<(), LevelError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let given = if level.trim().is_empty() {
        default
    } else {
        level
    };
    if !names_levels(given) {
        return Err(LevelError(level.to_string()));
    }
    // A bare level (`info`) leaves out the schema migrations' chatter of
    // openmls's storage on every start; a full filter is taken as given.
    let full = if given.contains(['=', ',']) {
        given.to_string()
    } else {
        format!("{given},refinery_core=warn")
    };
    let filter =
        tracing_subscriber::EnvFilter::try_new(&full).map_err(|_| LevelError(level.to_string()))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal())
        // By default a failed write of a log line is reported with
        // `eprintln!`, which panics when standard error itself is what
        // failed (`2>/dev/full`, a closed pipe): a log line that cannot be
        // written is lost, and serving goes on.
        .log_internal_errors(false)
        .init();
    Ok(())
}

/// Prints `text` and a newline on standard output: exit code 0, or 1 if it
/// could not be written (never `println!`'s panic and 101). A reader that
/// went away (a closed pipe: `| head`) ends it quietly; any other failure
/// (`> /dev/full`) is one line on standard error.
pub fn print(program: &str, text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::FAILURE,
        Err(e) => {
            say(format_args!(
                "{program}: cannot write to standard output: {e}"
            ));
            ExitCode::FAILURE
        }
    }
}

/// Writes `line` and a newline to standard error, ignoring a failure:
/// unlike `eprintln!`, which panics when standard error cannot be written
/// (`2>/dev/full`, a pipe whose reader has gone), and there is nowhere
/// else to say it.
pub fn say(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// A multi-threaded runtime with worker threads named `<program>-worker`.
///
/// # Errors
/// The runtime cannot start: this is said on standard error as
/// `<program>: cannot start the async runtime: ...`, and the exit code to
/// return is given back.
pub fn runtime(program: &str) -> Result<Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(format!("{program}-worker"))
        .build()
        .map_err(|e| {
            say(format_args!(
                "{program}: cannot start the async runtime: {e}"
            ));
            ExitCode::FAILURE
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_level_that_names_no_level_is_refused() {
        // Regression (D6): these turned all logging off, silently.
        for bad in [
            "inf",
            "warning",
            "bogus",
            "server=inf",
            "server=debug,inf",
            "=info",
        ] {
            assert!(!names_levels(bad), "{bad}");
        }
        for good in [
            "info",
            "WARN",
            "off",
            "server=debug,info",
            "server=trace",
            "a[s{x=1}]",
        ] {
            assert!(names_levels(good), "{good}");
        }
        let shown = LevelError("inf".into()).to_string();
        assert!(
            shown.contains("\"inf\"") && shown.contains("error, warn, info"),
            "{shown}"
        );
    }
}
