//! Sentences for the person using the client from deep inside the library,
//! where no front end's printer is at hand (while connecting): on standard
//! error, as one JSON object with `--json`, or where the menu or the
//! full-screen client show log lines while they run. Not log lines: they
//! are shown at every log level and without a log line's prefix.
//!
//! A leaf, so that the client core can say something without importing a
//! front end: the menu's terminal routes notices here
//! (`repl::terminal::route_logs`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether [`say`] writes JSON (`--json`).
static AS_JSON: AtomicBool = AtomicBool::new(false);

/// Where notices go instead of standard error: a line, its newline included.
pub type Route = Box<dyn Fn(String) + Send>;

/// The route taken now (`None`: standard error).
static ROUTE: Mutex<Option<Route>> = Mutex::new(None);

/// Makes [`say`] write its JSON from now on (`--json`).
pub fn as_json(json: bool) {
    AS_JSON.store(json, Ordering::Release);
}

/// Sends notices to `route` from now on (`None`: standard error again).
pub fn route(route: Option<Route>) {
    *ROUTE.lock().unwrap_or_else(|e| e.into_inner()) = route;
}

/// Tells the person `line` (`json` with `--json`), one line.
pub fn say(line: &str, json: serde_json::Value) {
    let text = if AS_JSON.load(Ordering::Acquire) {
        format!("{json}\n")
    } else {
        format!("client: {line}\n")
    };
    match &*ROUTE.lock().unwrap_or_else(|e| e.into_inner()) {
        Some(route) => route(text),
        None => {
            use std::io::Write;
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        }
    }
}
