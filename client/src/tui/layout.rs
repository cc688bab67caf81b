//! Where each part of the screen goes: the list and the open conversation
//! side by side on top, then a line per transfer, the box being typed in
//! and the status line with a status message above it. On a short screen
//! what is typed and the status line stay and the rest gives way. The
//! typing box's rows (wrapped, the cursor's place) are laid out here too.
//! Left out: drawing them (`super::view`).

use ratatui::layout::{Constraint, Direction, Layout, Rect};

use super::app::{App, Mode};
use super::text::{fit, wrap, wrap_chars};

/// Most rows the typing box grows to.
const MAX_INPUT_ROWS: usize = 6;
/// Rows a status message may take above the status line (a failure's
/// reason is read whole; past this, the end is cut).
const MAX_FLASH_ROWS: usize = 3;

/// Where each part of the screen goes.
pub(super) struct Areas {
    pub list: Rect,
    pub pane: Rect,
    pub transfers: Rect,
    pub input: Rect,
    pub status: Rect,
}

pub(super) fn areas(app: &App, area: Rect) -> Areas {
    let input_width = usize::from(area.width.saturating_sub(2));
    let input_rows = input_lines(app, input_width).len().clamp(1, MAX_INPUT_ROWS) as u16;
    let flash = flash_rows(app, usize::from(area.width)).len() as u16;
    // On a short screen what is typed and the status line stay; the
    // list and the conversation give way first, then a message's extra
    // rows and the transfers.
    let mut left = area.height;
    let mut take = |want: u16| {
        let got = want.min(left);
        left -= got;
        got
    };
    let status = take(1);
    let input = take(input_rows + 2);
    let top = take(3);
    let flash = take(flash);
    let transfers = take(app.transfers.len() as u16);
    let top = top + left;
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(top),
            Constraint::Length(transfers),
            Constraint::Length(input),
            Constraint::Length(status + flash),
        ])
        .split(area);
    let list_width = (area.width / 4).clamp(16, 30);
    let top = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Length(list_width), Constraint::Min(10)])
        .split(rows[0]);
    Areas {
        list: top[0],
        pane: top[1],
        transfers: rows[1],
        input: rows[2],
        status: rows[3],
    }
}

/// The conversation pane's size (with its border) on a screen of
/// `width` x `height`.
pub fn pane_size(app: &App, width: u16, height: u16) -> (u16, u16) {
    let pane = areas(app, Rect::new(0, 0, width, height)).pane;
    (pane.width, pane.height)
}

/// The status message wrapped to `width`, at most [`MAX_FLASH_ROWS`] rows
/// (the last one cut short if more would follow).
pub(super) fn flash_rows(app: &App, width: usize) -> Vec<String> {
    let Some(flash) = &app.flash else {
        return Vec::new();
    };
    let mut rows = wrap(flash, width);
    if rows.len() > MAX_FLASH_ROWS {
        let rest = rows.split_off(MAX_FLASH_ROWS - 1).join(" ");
        rows.push(fit(&rest, width));
    }
    rows
}

/// The typing box's rows at `width`, and where the cursor is (row, column).
fn input_lines(app: &App, width: usize) -> Vec<String> {
    input_layout(app, width).0
}

pub(super) fn input_layout(app: &App, width: usize) -> (Vec<String>, (usize, usize)) {
    if app.mode == Mode::Secret {
        let (dots, cursor) = super::secret::masked(&app.input.text, app.input.cursor);
        return text_layout(&dots, cursor, width);
    }
    text_layout(&app.input.text, app.input.cursor, width)
}

fn text_layout(text: &str, at: usize, width: usize) -> (Vec<String>, (usize, usize)) {
    let mut rows = Vec::new();
    let mut cursor = (0, 0);
    let mut offset = 0;
    for line in text.split('\n') {
        let wrapped = wrap_chars(line, width);
        let line_end = offset + line.len();
        if (offset..=line_end).contains(&at) {
            let before = &line[..at - offset];
            let before_rows = wrap_chars(before, width);
            let mut row = before_rows.len() - 1;
            let mut col = before_rows.last().map_or(0, |r| super::text::width(r));
            if col >= width {
                row += 1;
                col = 0;
            }
            cursor = (rows.len() + row, col);
        }
        rows.extend(wrapped);
        offset = line_end + 1;
    }
    if cursor.0 >= rows.len() {
        rows.push(String::new());
    }
    (rows, cursor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::snapshot::render;
    use crate::tui::tests::base;

    #[test]
    fn a_long_status_message_wraps_over_three_rows_at_most() {
        let mut app = App::new("alice".into(), "s".into());
        assert!(flash_rows(&app, 40).is_empty());
        app.flash = Some("the server refused: \"bob\" is not this account's name".into());
        assert_eq!(
            flash_rows(&app, 40),
            ["the server refused: \"bob\" is not this", "account's name"]
        );
        app.flash = Some("word ".repeat(40));
        let rows = flash_rows(&app, 20);
        assert_eq!(rows.len(), MAX_FLASH_ROWS);
        assert!(rows[2].ends_with('~'), "{rows:?}");
        assert!(rows.iter().all(|r| r.chars().count() <= 20), "{rows:?}");
    }

    #[test]
    fn a_short_screen_keeps_the_typing_box_and_the_status_line() {
        let mut app = base();
        app.flash = Some("sent".into());
        for height in [4, 5, 6, 7] {
            let (screen, _) = render(&app, 60, height);
            let rows: Vec<&str> = screen.lines().collect();
            assert_eq!(rows.len(), usize::from(height), "{screen}");
            let box_top = rows.len() - 4;
            assert!(rows[box_top].starts_with("┌ to bob"), "{screen}");
            assert!(rows[box_top + 2].starts_with('└'), "{screen}");
            // The status message is what just happened: before the state.
            assert!(rows[box_top + 3].starts_with("sent"), "{screen}");
        }
        // One row more, and the status line shows under its message.
        let (screen, _) = render(&app, 60, 8);
        let rows: Vec<&str> = screen.lines().collect();
        assert!(rows[6].starts_with("sent"), "{screen}");
        assert!(rows[7].starts_with("connected"), "{screen}");
        assert!(screen.contains("1 *bob"), "{screen}");
    }
}
