//! Drawing the state on a ratatui frame: the conversation list on the
//! left, the open conversation on the right, a line per transfer, the box
//! being typed in (it grows with its lines), the status line, and the
//! help over everything.
//!
//! Everything drawn was escaped when it became an [`Item`] or a label
//! (here, with [`escape_line`]). Without colour (`NO_COLOR`) the screen
//! stays readable: the open conversation is reversed, unread ones are
//! bold, and warnings say what they are in words.
//! Left out: the state itself (`super::app`).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::app::{App, LinkState, Mode};
use super::layout::{areas, flash_rows, input_layout};
use super::lines::{Item, Tone, transfer_line};
use super::text::{fit, wrap};
use crate::conversations::ConversationSummary;
use crate::display::escape_line;
use sealpost_rooms::JoinRule;

/// Styles, or none of their colours under `NO_COLOR`.
struct Theme {
    color: bool,
}

impl Theme {
    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    fn header(&self, tone: Tone) -> Style {
        let base = Style::default().add_modifier(Modifier::BOLD);
        match tone {
            Tone::Mine => base.patch(self.fg(Color::Cyan)),
            Tone::Theirs => base.patch(self.fg(Color::Green)),
            Tone::Warning => base.patch(self.fg(Color::Red)),
            Tone::Info => base.patch(self.fg(Color::Yellow)),
            Tone::Event => Style::default().add_modifier(Modifier::DIM),
        }
    }

    fn body(&self, tone: Tone) -> Style {
        match tone {
            Tone::Warning => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Tone::Info => self.fg(Color::Yellow),
            Tone::Event => Style::default().add_modifier(Modifier::DIM | Modifier::ITALIC),
            _ => Style::default(),
        }
    }
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, app: &App) {
    let theme = Theme {
        color: !app.no_color,
    };
    let area = frame.area();
    let parts = areas(app, area);
    draw_list(frame, app, &theme, parts.list);
    draw_pane(frame, app, &theme, parts.pane);
    draw_transfers(frame, app, parts.transfers);
    draw_input(frame, app, parts.input);
    draw_status(frame, app, &theme, parts.status);
    if app.help {
        super::help::draw(frame, app, area);
    }
}

/// One row of the list: `1 -#team      (2)`, its marks before the name
/// (see `super::help::MARKS`).
pub fn list_row(index: usize, c: &ConversationSummary, width: usize) -> String {
    let number = if index < 9 {
        format!("{} ", index + 1)
    } else {
        "  ".into()
    };
    let mark = marks(c);
    // A held file offer counts until it is answered (/files).
    let unread = match (c.unread, c.files_waiting) {
        (0, 0) => String::new(),
        (n, 0) => format!(" ({n})"),
        (0, f) => format!(" ({f}f)"),
        (n, f) => format!(" ({n}+{f}f)"),
    };
    let room = width.saturating_sub(width_of(&number) + width_of(&mark) + width_of(&unread));
    let label = super::label::labelled(c, room);
    let pad = room.saturating_sub(width_of(&label));
    format!("{number}{mark}{label}{}{unread}", " ".repeat(pad))
}

/// A conversation's marks: a person's changed key and presence, a room's
/// rule.
fn marks(c: &ConversationSummary) -> String {
    if c.is_room() {
        return match c.rule {
            Some(JoinRule::InviteOnly) => "-#",
            Some(JoinRule::Hidden) => "~#",
            Some(JoinRule::HiddenPassword) => "~*#",
            Some(JoinRule::Password) => "*#",
            Some(JoinRule::Public) => "#",
            // Left, removed or deleted: only its history is here.
            None if !c.restored => "x#",
            None => "#",
        }
        .to_string();
    }
    let mut mark = String::new();
    if c.key_changed {
        mark.push('!');
    }
    if c.online {
        mark.push('*');
    }
    mark
}

/// A room's rule in words, for the pane's title.
fn rule_words(rule: JoinRule) -> &'static str {
    match rule {
        JoinRule::InviteOnly => "invite-only",
        JoinRule::Public => "public",
        JoinRule::Hidden => "hidden",
        JoinRule::Password => "public+password",
        JoinRule::HiddenPassword => "hidden+password",
    }
}

fn width_of(s: &str) -> usize {
    super::text::width(s)
}

fn draw_list(frame: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let block = Block::default().borders(Borders::ALL).title(" Chats ");
    let inner = usize::from(area.width.saturating_sub(2));
    let selected = app.selected_index();
    let height = usize::from(area.height.saturating_sub(2));
    // Keep the open conversation in view.
    let first = selected.map_or(0, |s| (s + 1).saturating_sub(height));
    let lines: Vec<Line<'_>> = app
        .conversations
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, c)| {
            let mut style = Style::default();
            if c.unread > 0 || c.files_waiting > 0 {
                style = style.add_modifier(Modifier::BOLD);
            }
            if c.key_changed {
                style = style.patch(theme.fg(Color::Red));
            }
            if Some(i) == selected {
                style = style.add_modifier(Modifier::REVERSED);
            }
            Line::from(Span::styled(list_row(i, c, inner), style))
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The pane's title: who, and what to do about a changed key.
fn pane_title(app: &App) -> String {
    let Some(c) = app.current() else {
        return " Sealpost ".into();
    };
    let mut title = if c.is_room() {
        format!(" {} ", super::label::shown_room(c))
    } else {
        format!(" {} ", escape_line(&c.label))
    };
    if let Some(rule) = c.rule {
        title.push_str(&format!("- {} ", rule_words(rule)));
    } else if c.is_room() && !c.restored {
        title.push_str("- no longer a member ");
    }
    if c.online {
        title.push_str("- online ");
    }
    if c.key_changed {
        title.push_str("- KEY CHANGED ");
    } else if !c.is_room() && c.verified {
        title.push_str("- verified ");
    }
    if let Some(search) = &app.search {
        let found = app.items.len();
        title.push_str(&format!(
            "- search \"{}\": {found} found, Esc returns ",
            escape_line(search)
        ));
    } else if app.scroll > 0 {
        title.push_str("- scrolled back, PageDown returns ");
    }
    title
}

/// The rows of the open conversation, and for each the first row of the
/// header it goes under (`None` for the hint of an empty pane).
struct PaneRows<'a> {
    rows: Vec<Line<'a>>,
    heads: Vec<Option<usize>>,
}

/// Every row of the open conversation, wrapped to `width`.
fn pane_rows<'a>(app: &'a App, theme: &Theme, width: usize) -> PaneRows<'a> {
    let mut pane = PaneRows {
        rows: Vec::new(),
        heads: Vec::new(),
    };
    if app.items.is_empty() {
        let hint = if app.conversations.is_empty() {
            "No conversations yet: /open NAME starts one, /create NAME makes a room. F1 lists keys and commands."
        } else if app.search.is_some() {
            "Nothing matches."
        } else {
            "Nothing here yet: type below and press Enter."
        };
        for row in wrap(hint, width) {
            pane.rows.push(Line::from(row));
            pane.heads.push(None);
        }
        return pane;
    }
    let mut previous: Option<&Item> = None;
    let mut head = 0;
    for item in &app.items {
        let continued = continues(previous, item);
        if !continued {
            head = pane.rows.len();
        }
        push_item(&mut pane.rows, item, continued, theme, width);
        pane.heads.resize(pane.rows.len(), Some(head));
        previous = Some(item);
    }
    pane
}

/// Whether `item` goes on under `previous`'s header: a message of the same
/// sender in the same minute with the same status (the header says all of
/// that), as chat screens group a burst of messages; its first row is
/// marked ([`NEXT_MESSAGE`]). Notices keep their headers.
fn continues(previous: Option<&Item>, item: &Item) -> bool {
    previous.is_some_and(|p| {
        matches!(item.tone, Tone::Mine | Tone::Theirs)
            && p.tone == item.tone
            && p.header == item.header
    })
}

/// Marks where a message under the previous one's header starts, so that
/// two messages never read as one with several lines.
const NEXT_MESSAGE: &str = "\u{b7} ";

fn push_item(rows: &mut Vec<Line<'_>>, item: &Item, continued: bool, theme: &Theme, width: usize) {
    if !continued {
        for row in wrap(&item.header, width) {
            rows.push(Line::from(Span::styled(row, theme.header(item.tone))));
        }
    }
    let mut indent = if continued { NEXT_MESSAGE } else { "  " };
    for line in &item.body {
        for row in wrap(line, width.saturating_sub(2)) {
            rows.push(Line::from(vec![
                Span::styled(indent, theme.header(item.tone)),
                Span::styled(row, theme.body(item.tone)),
            ]));
            indent = "  ";
        }
    }
}

/// How many rows the pane can scroll back at `width` x `height`.
pub fn max_scroll(app: &App, width: u16, height: u16) -> usize {
    let theme = Theme { color: false };
    let rows = pane_rows(app, &theme, usize::from(width.saturating_sub(2)))
        .rows
        .len();
    rows.saturating_sub(usize::from(height.saturating_sub(2)))
}

fn draw_pane(frame: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let block = Block::default().borders(Borders::ALL).title(fit(
        &pane_title(app),
        usize::from(area.width.saturating_sub(2)),
    ));
    let width = usize::from(area.width.saturating_sub(2));
    let height = usize::from(area.height.saturating_sub(2));
    let shown = shown_rows(pane_rows(app, theme, width), app.scroll, height);
    frame.render_widget(Paragraph::new(shown).block(block), area);
}

/// The `height` rows on screen `scroll` rows back from the end. When the
/// top two rows go under a header that scrolled out of sight, that header
/// takes the top row's place (as the rows scroll under it), so that who
/// sent the rows in sight stays in sight; a lone last row of a message is
/// left as it is.
fn shown_rows(pane: PaneRows<'_>, scroll: usize, height: usize) -> Vec<Line<'_>> {
    let PaneRows { rows, heads } = pane;
    let scroll = scroll.min(rows.len().saturating_sub(height));
    let end = rows.len() - scroll;
    let start = end.saturating_sub(height);
    let sticky = match heads.get(start) {
        Some(&Some(head)) if head < start && heads.get(start + 1) == Some(&Some(head)) => {
            Some(rows[head].clone())
        }
        _ => None,
    };
    let mut shown: Vec<Line<'_>> = rows.into_iter().skip(start).take(end - start).collect();
    if let (Some(header), Some(top)) = (sticky, shown.first_mut()) {
        *top = header;
    }
    shown
}

fn draw_transfers(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let width = usize::from(area.width);
    let lines: Vec<Line<'_>> = app
        .transfers
        .iter()
        .map(|t| {
            Line::from(transfer_line(
                t.id, &t.label, t.total, t.done, t.ended, width,
            ))
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), area);
}

fn draw_input(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let width = usize::from(area.width.saturating_sub(2));
    let to = app
        .current()
        .map(|c| {
            if c.is_room() {
                format!("#{}", escape_line(&c.label))
            } else {
                escape_line(&c.label).into_owned()
            }
        })
        .unwrap_or_else(|| "nobody (/open NAME)".into());
    let title = match app.mode {
        Mode::Write if area.width >= 70 => {
            format!(" to {to} - Enter sends, Alt-Enter new line, F1 help ")
        }
        Mode::Write => format!(" to {to} "),
        Mode::Search => format!(" search in {to} - Enter finds, Esc cancels "),
        Mode::Secret => super::secret::title(app, area.width >= 70),
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .title(fit(&title, width));
    let (rows, (cursor_row, cursor_col)) = input_layout(app, width);
    let height = usize::from(area.height.saturating_sub(2)).max(1);
    let first = (cursor_row + 1).saturating_sub(height);
    let shown: Vec<Line<'_>> = rows
        .into_iter()
        .skip(first)
        .take(height)
        .map(Line::from)
        .collect();
    frame.render_widget(Paragraph::new(shown).block(block), area);
    if !app.help {
        let x = area.x + 1 + cursor_col as u16;
        let y = area.y + 1 + (cursor_row - first) as u16;
        frame.set_cursor_position((x, y));
    }
}

fn draw_status(frame: &mut Frame<'_>, app: &App, theme: &Theme, area: Rect) {
    let width = usize::from(area.width);
    let (state, style) = match &app.link {
        LinkState::Connecting => ("connecting".to_string(), theme.fg(Color::Yellow)),
        LinkState::Up => ("connected".to_string(), theme.fg(Color::Green)),
        LinkState::Down(why) => (
            format!("OFFLINE ({why}), trying again"),
            theme.fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
    };
    let fingerprint = app
        .fingerprint
        .as_deref()
        .map_or_else(|| "not pinned yet".to_string(), |f| format!("pinned {f}"));
    // The server and its fingerprint first: on a narrow screen the end
    // is cut (`/fingerprint` shows it whole).
    let rest = format!(
        " | {} | server {fingerprint} | {} | F1 help",
        app.server, app.me
    );
    let mut lines = vec![Line::from(vec![
        Span::styled(fit(&state, width), style),
        Span::raw(fit(&rest, width.saturating_sub(width_of(&state)))),
    ])];
    let flash = flash_rows(app, width)
        .into_iter()
        .map(|row| Line::from(Span::styled(row, theme.fg(Color::Yellow))));
    lines.splice(0..0, flash);
    frame.render_widget(Paragraph::new(lines), area);
}

#[cfg(test)]
#[test]
fn a_burst_of_one_senders_messages_in_a_minute_goes_under_one_header() {
    let item = |header: &str, text: &str, tone: Tone| Item {
        at_ms: 0,
        header: header.into(),
        body: text.split('\n').map(str::to_string).collect(),
        tone,
    };
    let mut app = App::new("alice".into(), "s".into());
    app.set_history(vec![
        item("11:10 bob", "one", Tone::Theirs),
        item("11:10 bob", "two\nand more", Tone::Theirs),
        item("11:10 you  (read)", "a", Tone::Mine),
        item("11:10 you  (read)", "b", Tone::Mine),
        item("11:10 you  (delivered)", "c", Tone::Mine),
        item("11:10 bob", "three", Tone::Theirs),
        item("11:10 --", "bob's key was confirmed", Tone::Info),
        item("11:10 --", "a second notice", Tone::Info),
        item("11:10 bob", "four", Tone::Theirs),
    ]);
    let theme = Theme { color: false };
    let text = |rows: &[Line<'_>]| -> Vec<String> {
        rows.iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    };
    let rows = text(&pane_rows(&app, &theme, 40).rows);
    assert_eq!(
        rows,
        [
            "11:10 bob",
            "  one",
            "\u{b7} two",
            "  and more",
            "11:10 you  (read)",
            "  a",
            "\u{b7} b",
            "11:10 you  (delivered)",
            "  c",
            "11:10 bob",
            "  three",
            "11:10 --",
            "  bob's key was confirmed",
            "11:10 --",
            "  a second notice",
            "11:10 bob",
            "  four",
        ]
    );
    assert_eq!(max_scroll(&app, 42, 10), rows.len() - 8);
    // Scrolled so that the top rows are "  one", "· two": bob's header
    // takes the place of the first; with "  and more" alone on top,
    // nothing changes (the header would hide all of bob's there).
    let scrolled = |scroll, height| text(&shown_rows(pane_rows(&app, &theme, 40), scroll, height));
    assert_eq!(
        scrolled(17 - 1 - 4, 4),
        ["11:10 bob", "\u{b7} two", "  and more", "11:10 you  (read)"]
    );
    assert_eq!(
        scrolled(17 - 3 - 4, 4),
        ["  and more", "11:10 you  (read)", "  a", "\u{b7} b"]
    );
    // A header in sight, or the top row a header itself: nothing changes.
    assert_eq!(
        scrolled(17 - 4 - 3, 3),
        ["11:10 you  (read)", "  a", "\u{b7} b"]
    );
    assert_eq!(scrolled(0, 2), ["11:10 bob", "  four"]);
}
