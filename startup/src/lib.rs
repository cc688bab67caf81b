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

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use tokio::runtime::Runtime;
use tracing_subscriber::fmt::MakeWriter;

/// Sends log lines to `writer`, filtered by `level` (a level or a tracing
/// filter such as `server=debug`); a filter that does not parse means
/// `default`. Colours only when standard error is a terminal.
pub fn logging<W>(level: &str, default: &str, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // A bare level (`info`) leaves out the schema migrations' chatter of
    // openmls's storage on every start; a full filter is taken as given.
    let level = if level.contains(['=', ',']) {
        level.to_string()
    } else {
        format!("{level},refinery_core=warn")
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
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
