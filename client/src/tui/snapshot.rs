//! Screens as text files committed beside the code
//! (`client/src/tui/snapshots/NAME-WxH.txt`): a rendering test draws the
//! state on ratatui's `TestBackend`, reads the screen back as text and
//! compares it with its file, so a change of the screen shows up in review
//! as a change of that file. `SEALPOST_BLESS=1` rewrites the files
//! deliberately (then read the diff); without it a missing or different
//! file fails the test.
//!
//! Times on screen are local; the text is compared with them rewritten as
//! UTC (`stable`) so that the files do not depend on the machine's zone.

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

use super::app::App;
use super::lines::short_time;
use super::view;

/// Set to `1` to rewrite the snapshot files from what is drawn now.
pub const BLESS: &str = "SEALPOST_BLESS";

/// The buffer as text: one line per row, every cell's symbol.
pub fn text_of(buffer: &Buffer) -> String {
    let area = buffer.area;
    let mut text = String::new();
    for y in 0..area.height {
        for x in 0..area.width {
            text.push_str(buffer[(x, y)].symbol());
        }
        text.push('\n');
    }
    text
}

/// `app` drawn on a `width` x `height` screen: its text and its cells.
pub fn render(app: &App, width: u16, height: u16) -> (String, Buffer) {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test backend");
    terminal
        .draw(|f| view::draw(f, app))
        .expect("drawing on a test backend");
    let buffer = terminal.backend().buffer().clone();
    (text_of(&buffer), buffer)
}

/// `text` with the local times of the minutes before `now` (the tests'
/// times, `short_time` of each) written as UTC `HH:MM`.
pub fn stable(text: &str, now: u64) -> String {
    let times: Vec<(String, String)> = (0..=180u64)
        .map(|m| {
            let at = now - 60_000 * m;
            let utc = Utc
                .timestamp_millis_opt(at as i64)
                .single()
                .map_or_else(|| "??:??".into(), |t| t.format("%H:%M").to_string());
            (short_time(at, now), utc)
        })
        .collect();
    // Through placeholders, so that a replacement is never replaced again
    // (in a zone a quarter of an hour off UTC, local 14:25 is UTC 14:10).
    let mut out = text.to_string();
    let mut by_length = times.clone();
    by_length.sort_by_key(|(local, _)| std::cmp::Reverse(local.len()));
    for (i, (local, _)) in by_length.iter().enumerate() {
        out = out.replace(local.as_str(), &format!("\u{1}{i}\u{2}"));
    }
    for (i, (_, utc)) in by_length.iter().enumerate() {
        out = out.replace(&format!("\u{1}{i}\u{2}"), utc);
    }
    out
}

fn path(name: &str, width: u16, height: u16) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/tui/snapshots")
        .join(format!("{name}-{width}x{height}.txt"))
}

/// Compares `screen` (stable text) with the committed file of `name` at
/// this size, or rewrites the file under `SEALPOST_BLESS=1`.
///
/// # Panics
/// The file is missing or differs (the message shows both screens).
pub fn check(name: &str, width: u16, height: u16, screen: &str) {
    let file = path(name, width, height);
    if std::env::var_os(BLESS).is_some_and(|v| v == "1") {
        std::fs::create_dir_all(file.parent().expect("the snapshots folder"))
            .expect("creating the snapshots folder");
        std::fs::write(&file, screen).expect("writing a snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!(
            "no snapshot {} ({e}); {BLESS}=1 writes it from this screen:\n{screen}",
            file.display()
        )
    });
    if expected != screen {
        let first = expected
            .lines()
            .zip(screen.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "the number of rows".to_string(),
                |i| format!("row {}", i + 1),
            );
        panic!(
            "the screen differs from {} at {first}; if the change is meant, \
             {BLESS}=1 rewrites the file.\n--- expected ---\n{expected}--- drawn ---\n{screen}",
            file.display()
        );
    }
}
