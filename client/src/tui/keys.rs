//! What a key does: editing the typing box, switching conversations,
//! scrolling, the help and the search, all on the state; what needs the
//! client comes back as an [`Action`] for the loop in `super` to carry out.
//!
//! Left out: running anything (`super::actions`), drawing (`super::view`).

use ratatui::crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{App, Input, Mode, SecretFor};
use super::complete::complete;
use super::secret;
use super::view;
use crate::rooms::RoomPassword;

/// What the loop must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing beyond drawing again.
    None,
    /// Leave.
    Quit,
    /// Send this text, or run this `/command`.
    Submit(String),
    /// Search the open conversation for this.
    Search(String),
    /// The search ended: show the conversation again.
    EndSearch,
    /// Another conversation was opened: load it.
    Opened,
    /// Scrolled to the oldest entry loaded: load older ones.
    LoadMore,
    /// A room password was typed, for this.
    Password(SecretFor, RoomPassword),
    /// The newest entries of the open conversation came into view again
    /// (back at the bottom, the help closed): what arrived meanwhile is
    /// read now.
    Seen,
}

/// `text` as typed into the box: line ends made `\n`, tabs spaces, other
/// control characters dropped (the box shows what will be sent).
pub fn clean(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\t', "    ")
        .chars()
        .filter(|c| *c == '\n' || !c.is_control())
        .collect()
}

/// Handles one terminal event on a screen of `size` (columns, rows).
pub fn handle(app: &mut App, event: Event, size: (u16, u16)) -> Action {
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => key_press(app, key, size),
        Event::Paste(text) if !app.help => {
            let text = clean(&text);
            if app.mode == Mode::Secret {
                app.input.insert(text.lines().next().unwrap_or_default());
            } else {
                app.input.insert(&text);
            }
            Action::None
        }
        _ => Action::None,
    }
}

fn key_press(app: &mut App, key: KeyEvent, size: (u16, u16)) -> Action {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    if ctrl && key.code == KeyCode::Char('c') {
        return Action::Quit;
    }
    if app.help {
        help_key(app, key.code, size);
        return if app.help { Action::None } else { Action::Seen };
    }
    if app.mode == Mode::Secret {
        return secret_key(app, key);
    }
    match key.code {
        KeyCode::F(1) => {
            app.help = true;
            app.help_scroll = 0;
            Action::None
        }
        KeyCode::Char('?') if app.input.text.is_empty() && app.mode == Mode::Write => {
            app.help = true;
            app.help_scroll = 0;
            Action::None
        }
        KeyCode::Char('d') if ctrl && app.input.text.is_empty() => Action::Quit,
        KeyCode::Char('n') if ctrl => switch(app, 1),
        KeyCode::Char('p') if ctrl => switch(app, -1),
        KeyCode::Char(d @ '1'..='9') if alt => {
            let index = usize::from(d as u8 - b'1');
            if app.open_index(index) {
                Action::Opened
            } else {
                Action::None
            }
        }
        KeyCode::Char('f') if ctrl => {
            if app.mode == Mode::Write {
                app.draft = Some(std::mem::take(&mut app.input));
                app.mode = Mode::Search;
            }
            Action::None
        }
        KeyCode::Char('j') if ctrl => {
            app.input.insert("\n");
            Action::None
        }
        KeyCode::Enter if alt => {
            app.input.insert("\n");
            Action::None
        }
        KeyCode::Enter => enter(app),
        KeyCode::Esc => escape(app),
        KeyCode::PageUp => page(app, size, true),
        KeyCode::PageDown => page(app, size, false),
        KeyCode::Tab => {
            // The candidates, or nothing once a Tab completes: an earlier
            // Tab's candidates would be stale.
            app.flash = complete(&mut app.input);
            Action::None
        }
        _ => editing(app, key),
    }
}

fn secret_enter(app: &mut App) -> Action {
    secret::enter(app).map_or(Action::None, |(purpose, typed)| {
        Action::Password(purpose, typed)
    })
}

/// While a password is typed: editing, Enter and Esc only.
fn secret_key(app: &mut App, key: KeyEvent) -> Action {
    match key.code {
        KeyCode::Enter => secret_enter(app),
        KeyCode::Esc => {
            app.end_secret();
            app.flash = Some("cancelled: no password was sent".into());
            Action::None
        }
        _ => editing(app, key),
    }
}

/// The keys that edit the box's text (a character typed with Ctrl or Alt
/// is not text; Ctrl-U, Ctrl-K, Ctrl-W, Ctrl-A and Ctrl-E edit as in a
/// shell); any other key does nothing.
fn editing(app: &mut App, key: KeyEvent) -> Action {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let modified = ctrl || key.modifiers.contains(KeyModifiers::ALT);
    let f: fn(&mut Input) = match key.code {
        KeyCode::Char('u') if ctrl => Input::kill_to_start,
        KeyCode::Char('k') if ctrl => Input::kill_to_end,
        KeyCode::Char('w') if ctrl => Input::delete_word,
        KeyCode::Char('a') if ctrl => Input::home,
        KeyCode::Char('e') if ctrl => Input::end,
        KeyCode::Backspace => Input::backspace,
        KeyCode::Delete => Input::delete,
        KeyCode::Left => Input::left,
        KeyCode::Right => Input::right,
        KeyCode::Home => Input::home,
        KeyCode::End => Input::end,
        KeyCode::Char(c) if !modified => {
            app.input.insert(c.encode_utf8(&mut [0; 4]));
            return Action::None;
        }
        _ => return Action::None,
    };
    f(&mut app.input);
    Action::None
}

fn switch(app: &mut App, step: isize) -> Action {
    if app.step(step) {
        Action::Opened
    } else {
        Action::None
    }
}

fn enter(app: &mut App) -> Action {
    match app.mode {
        Mode::Write => {
            if app.input.text.trim().is_empty() {
                return Action::None;
            }
            app.flash = None;
            Action::Submit(app.input.take())
        }
        Mode::Secret => secret_enter(app),
        Mode::Search => {
            let query = app.input.take();
            app.mode = Mode::Write;
            app.input = app.draft.take().unwrap_or_default();
            if query.trim().is_empty() {
                return Action::None;
            }
            app.search = Some(query.trim().to_string());
            app.scroll = 0;
            Action::Search(query.trim().to_string())
        }
    }
}

fn escape(app: &mut App) -> Action {
    if app.mode == Mode::Search {
        app.mode = Mode::Write;
        app.input = app.draft.take().unwrap_or_default();
        return Action::None;
    }
    if app.search.take().is_some() {
        app.scroll = 0;
        return Action::EndSearch;
    }
    app.flash = None;
    app.clear_ended_transfers();
    Action::None
}

fn page(app: &mut App, size: (u16, u16), back: bool) -> Action {
    let (width, height) = super::layout::pane_size(app, size.0, size.1);
    let step = usize::from(height.saturating_sub(3)).max(1);
    let max = view::max_scroll(app, width, height);
    if back {
        if app.scroll >= max && app.more_history {
            app.scroll = max;
            return Action::LoadMore;
        }
        app.scroll = (app.scroll + step).min(max);
    } else if app.scroll > 0 {
        app.scroll = app.scroll.saturating_sub(step);
        if app.scroll == 0 {
            return Action::Seen;
        }
    }
    Action::None
}

fn help_key(app: &mut App, code: KeyCode, size: (u16, u16)) {
    let max = super::help::max_scroll(size.0, size.1);
    match code {
        KeyCode::Esc | KeyCode::F(1) | KeyCode::Char('q' | '?') => app.help = false,
        KeyCode::PageDown | KeyCode::Down | KeyCode::Char(' ') => {
            app.help_scroll = (app.help_scroll + 5).min(max);
        }
        KeyCode::PageUp | KeyCode::Up => app.help_scroll = app.help_scroll.saturating_sub(5),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> Event {
        Event::Key(KeyEvent::new(code, modifiers))
    }

    fn typed(app: &mut App, text: &str) {
        for c in text.chars() {
            handle(app, key(KeyCode::Char(c), KeyModifiers::NONE), (120, 40));
        }
    }

    #[test]
    fn ctrl_w_u_k_a_e_edit_as_in_a_shell_and_are_never_typed() {
        let ctrl =
            |app: &mut App, c| handle(app, key(KeyCode::Char(c), KeyModifiers::CONTROL), (120, 40));
        let mut app = App::new("alice".into(), "s".into());
        typed(&mut app, "hello wrold");
        ctrl(&mut app, 'w');
        typed(&mut app, "world");
        assert_eq!(app.input.text, "hello world");
        ctrl(&mut app, 'a');
        typed(&mut app, ">");
        ctrl(&mut app, 'e');
        typed(&mut app, "!");
        assert_eq!(app.input.text, ">hello world!");
        ctrl(&mut app, 'a');
        ctrl(&mut app, 'k');
        assert!(app.input.text.is_empty());
        // A mistyped password is cleared the same way.
        app.ask_secret(SecretFor::Join("lobby".into()));
        typed(&mut app, "wrong");
        ctrl(&mut app, 'u');
        assert!(app.input.text.is_empty());
    }

    #[test]
    fn enter_sends_alt_enter_breaks_the_line_and_paste_is_cleaned() {
        let mut app = App::new("alice".into(), "s".into());
        typed(&mut app, "one");
        handle(&mut app, key(KeyCode::Enter, KeyModifiers::ALT), (120, 40));
        typed(&mut app, "two");
        handle(
            &mut app,
            Event::Paste("\tthree\x1b[2J\r\n".into()),
            (120, 40),
        );
        assert_eq!(
            handle(&mut app, key(KeyCode::Enter, KeyModifiers::NONE), (120, 40)),
            Action::Submit("one\ntwo    three[2J\n".into())
        );
        assert!(app.input.text.is_empty());
        // An empty box sends nothing; `?` there opens the help.
        assert_eq!(
            handle(&mut app, key(KeyCode::Enter, KeyModifiers::NONE), (120, 40)),
            Action::None
        );
        typed(&mut app, "?");
        assert!(app.help && app.input.text.is_empty());
        handle(&mut app, key(KeyCode::Esc, KeyModifiers::NONE), (120, 40));
        assert!(!app.help);
        assert_eq!(
            handle(
                &mut app,
                key(KeyCode::Char('c'), KeyModifiers::CONTROL),
                (120, 40)
            ),
            Action::Quit
        );
    }

    #[test]
    fn what_arrives_is_on_screen_only_at_the_bottom_without_the_help() {
        let mut app = App::new("alice".into(), "s".into());
        assert!(app.newest_on_screen());
        // Scrolled back: not on screen until PageDown reaches the bottom.
        app.scroll = 100;
        assert!(!app.newest_on_screen());
        let down =
            |app: &mut App| handle(app, key(KeyCode::PageDown, KeyModifiers::NONE), (120, 40));
        let mut presses = 0;
        while app.scroll > 0 {
            let action = down(&mut app);
            presses += 1;
            if app.scroll > 0 {
                assert_eq!(action, Action::None);
                assert!(!app.newest_on_screen());
            } else {
                assert_eq!(action, Action::Seen);
            }
        }
        assert!(presses > 1, "one page went all the way down");
        assert!(app.newest_on_screen());
        // At the bottom already, PageDown changes nothing.
        assert_eq!(down(&mut app), Action::None);
        // The help covers it until it is closed.
        handle(&mut app, key(KeyCode::F(1), KeyModifiers::NONE), (120, 40));
        assert!(!app.newest_on_screen());
        assert_eq!(down(&mut app), Action::None);
        assert_eq!(
            handle(&mut app, key(KeyCode::Esc, KeyModifiers::NONE), (120, 40)),
            Action::Seen
        );
        assert!(app.newest_on_screen());
    }

    #[test]
    fn tab_candidates_leave_the_status_line_once_a_tab_completes() {
        let mut app = App::new("alice".into(), "s".into());
        let tab = |app: &mut App| handle(app, key(KeyCode::Tab, KeyModifiers::NONE), (120, 40));
        typed(&mut app, "/fi");
        tab(&mut app);
        assert_eq!(app.flash.as_deref(), Some("file  files  fingerprint"));
        typed(&mut app, "ng");
        tab(&mut app);
        assert_eq!(app.input.text, "/fingerprint ");
        assert_eq!(app.flash, None);
    }

    #[test]
    fn a_search_keeps_the_draft_aside() {
        let mut app = App::new("alice".into(), "s".into());
        typed(&mut app, "half a sentence");
        handle(
            &mut app,
            key(KeyCode::Char('f'), KeyModifiers::CONTROL),
            (120, 40),
        );
        assert_eq!(app.mode, Mode::Search);
        typed(&mut app, "lunch");
        assert_eq!(
            handle(&mut app, key(KeyCode::Enter, KeyModifiers::NONE), (120, 40)),
            Action::Search("lunch".into())
        );
        assert_eq!(app.input.text, "half a sentence");
        assert_eq!(app.search.as_deref(), Some("lunch"));
        assert_eq!(
            handle(&mut app, key(KeyCode::Esc, KeyModifiers::NONE), (120, 40)),
            Action::EndSearch
        );
        assert_eq!(app.search, None);
    }

    #[test]
    fn while_a_password_is_typed_only_editing_enter_and_esc_work() {
        let mut app = App::new("alice".into(), "s".into());
        typed(&mut app, "draft");
        app.ask_secret(SecretFor::Join("lab".into()));
        typed(&mut app, "pw?x");
        handle(
            &mut app,
            key(KeyCode::Backspace, KeyModifiers::NONE),
            (120, 40),
        );
        // Neither the help, nor a search, nor another conversation.
        handle(&mut app, key(KeyCode::F(1), KeyModifiers::NONE), (120, 40));
        handle(
            &mut app,
            key(KeyCode::Char('f'), KeyModifiers::CONTROL),
            (120, 40),
        );
        assert!(!app.help);
        assert_eq!((app.mode, app.input.text.as_str()), (Mode::Secret, "pw?"));
        handle(&mut app, Event::Paste("more\nlines".into()), (120, 40));
        assert_eq!(app.input.text, "pw?more");
        handle(&mut app, key(KeyCode::Esc, KeyModifiers::NONE), (120, 40));
        assert_eq!((app.mode, app.input.text.as_str()), (Mode::Write, "draft"));
        assert!(app.secret.is_none());
    }
}
