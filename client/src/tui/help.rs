//! The help shown over everything (F1, `?` on an empty box, `/help`):
//! the keys, the `/` commands and the list's marks, wrapped to the
//! screen and scrolled when the screen is short.
//!
//! Left out: the rest of the screen (`super::view`).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::app::App;
use super::command::{ACCOUNT_USAGE, ROOM_USAGE, USAGE};
use super::text::{fit, wrap};

/// The keys, as the help lists them.
pub const KEYS: &[(&str, &str)] = &[
    ("Enter", "send (or run the /command)"),
    ("Alt-Enter, Ctrl-J", "new line in the text"),
    (
        "Ctrl-U / Ctrl-K",
        "delete to line start / end; Ctrl-W a word",
    ),
    ("Ctrl-N / Ctrl-P", "next / previous conversation"),
    ("Alt-1 .. Alt-9", "open conversation 1 .. 9"),
    ("PageUp / PageDown", "back / forward in history"),
    ("Ctrl-F", "search this conversation"),
    ("Tab", "complete a /command or path"),
    ("F1 or ? (empty box)", "this help; Esc closes it"),
    ("Ctrl-C", "leave"),
];

/// The marks of the list, as the help explains them.
pub const MARKS: &[(&str, &str)] = &[
    ("*", "online now"),
    ("!", "key changed: /fingerprint, then /accept NAME"),
    ("#", "a room"),
    ("-#", "an invite-only (locked) room"),
    ("~#", "a hidden room (joined by its exact name)"),
    ("*#", "a room that asks whoever joins for its password"),
    ("~*#", "a hidden room with a password"),
    (
        "x#",
        "a room you are no longer in (left, removed or deleted): its history",
    ),
];

/// `name  what` rows of a table, the names padded to one width, each
/// wrapped to `width` (continuations indented).
fn table(rows: &mut Vec<String>, entries: &[(&str, &str)], width: usize) {
    let name_width = entries.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (name, what) in entries {
        let wrapped = wrap(
            &format!("{name:<name_width$}  {what}"),
            width.saturating_sub(2),
        );
        for (i, row) in wrapped.into_iter().enumerate() {
            rows.push(if i == 0 {
                format!("  {row}")
            } else {
                format!("    {row}")
            });
        }
    }
}

/// The help's rows at `width` columns.
pub fn rows(width: usize) -> Vec<String> {
    let mut rows = vec!["Keys".to_string()];
    table(&mut rows, KEYS, width);
    rows.push(String::new());
    rows.push("Commands (a line starting with /)".into());
    table(&mut rows, USAGE, width);
    rows.push(String::new());
    rows.push("In the open room (admins change it, the owner deletes it)".into());
    table(&mut rows, ROOM_USAGE, width);
    rows.push(String::new());
    rows.push("Your account".into());
    table(&mut rows, ACCOUNT_USAGE, width);
    rows.push(String::new());
    rows.push("Marks in the list".into());
    table(&mut rows, MARKS, width);
    rows.extend(wrap(
        "After a name: (3) unread, (3+1f) and a file offer waiting for /accept N or /decline N \
         (/files).",
        width.saturating_sub(2),
    ));
    rows.push(String::new());
    rows.push("Any other line is sent to the open conversation.".into());
    rows
}

/// Draws the help over `area` (centred, at most 72 columns wide).
pub fn draw(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let width = area.width.saturating_sub(4).min(72);
    let height = area.height.saturating_sub(2);
    let x = area.x + (area.width - width) / 2;
    let y = area.y + (area.height - height) / 2;
    let popup = Rect::new(x, y, width, height);
    let rows = rows(usize::from(width.saturating_sub(2)));
    let inner = usize::from(height.saturating_sub(2));
    let scroll = app.help_scroll.min(rows.len().saturating_sub(inner));
    let title = if rows.len() > inner + scroll {
        " Help - PageDown for more, Esc closes "
    } else {
        " Help - Esc closes "
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .title(fit(title, usize::from(width.saturating_sub(2))));
    let lines: Vec<Line<'_>> = rows.into_iter().skip(scroll).map(Line::from).collect();
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

/// How far the help can scroll at `height` rows of screen.
pub fn max_scroll(area_width: u16, area_height: u16) -> usize {
    let width = area_width.saturating_sub(4).min(72);
    let inner = usize::from(area_height.saturating_sub(4));
    rows(usize::from(width.saturating_sub(2)))
        .len()
        .saturating_sub(inner)
}
