//! A room password typed into the bottom box: shown as dots, never kept
//! in the box's text once Enter takes it, a new one typed twice. It is
//! asked when `/join` finds the room needs one, and for `/set password`.
//!
//! Left out: what the password is then used for (`super::actions`).

use zeroize::Zeroizing;

use super::app::{App, Mode, Prompt, SecretFor};
use crate::rooms::RoomPassword;

impl App {
    /// Starts asking for a password for `purpose`, the text being written
    /// put aside.
    pub fn ask_secret(&mut self, purpose: SecretFor) {
        if self.mode == Mode::Write {
            self.draft = Some(std::mem::take(&mut self.input));
        } else {
            self.input.take();
        }
        self.mode = Mode::Secret;
        self.secret = Some(Prompt {
            purpose,
            first: None,
        });
    }

    /// Stops asking: the box gets back what was being written.
    pub fn end_secret(&mut self) {
        // The typed text is dropped in a wrapper that wipes it.
        drop(Zeroizing::new(self.input.take()));
        self.secret = None;
        self.mode = Mode::Write;
        self.input = self.draft.take().unwrap_or_default();
    }
}

/// Enter while a password is asked: the password and what it is for when
/// it is complete (a new one typed the same twice), else nothing.
pub fn enter(app: &mut App) -> Option<(SecretFor, RoomPassword)> {
    // Only an empty password is refused.
    let Ok(typed) = RoomPassword::new(Zeroizing::new(app.input.take())) else {
        app.flash = Some("type the password (Esc cancels)".into());
        return None;
    };
    let Some(prompt) = app.secret.as_mut() else {
        app.end_secret();
        return None;
    };
    if matches!(prompt.purpose, SecretFor::New { .. }) {
        match prompt.first.take() {
            None => {
                prompt.first = Some(typed);
                app.flash = None;
                return None;
            }
            Some(first) if first != typed => {
                app.flash = Some("the two passwords differ; type the new one again".into());
                return None;
            }
            Some(_) => {}
        }
    }
    let purpose = prompt.purpose.clone();
    app.flash = None;
    app.end_secret();
    Some((purpose, typed))
}

/// The box's title while a password is asked.
pub fn title(app: &App, wide: bool) -> String {
    let Some(prompt) = &app.secret else {
        return String::new();
    };
    let (what, keys) = match (&prompt.purpose, &prompt.first) {
        (SecretFor::Join(room), _) => (
            format!("password of #{}", crate::display::escape_line(room)),
            "Enter joins",
        ),
        (SecretFor::New { shown, .. }, None) => (format!("new password of {shown}"), "Enter"),
        (SecretFor::New { .. }, Some(_)) => ("the same password again".into(), "Enter sets it"),
    };
    if wide {
        format!(" {what} (not shown) - {keys}, Esc cancels ")
    } else {
        format!(" {what} ")
    }
}

/// What the box shows of `text`: a dot a character.
pub fn masked(text: &str, cursor: usize) -> (String, usize) {
    let dots = "\u{2022}".repeat(text.chars().count());
    let at = text[..cursor].chars().count() * '\u{2022}'.len_utf8();
    (dots, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_password_is_typed_twice_and_a_mismatch_starts_again() {
        let mut app = App::new("alice".into(), "s".into());
        app.input.insert("half a text");
        app.ask_secret(SecretFor::New {
            room: "lab".into(),
            shown: "#lab".into(),
            hidden: false,
        });
        assert!(app.input.text.is_empty());
        app.input.insert("one");
        assert_eq!(enter(&mut app), None);
        app.input.insert("two");
        assert_eq!(enter(&mut app), None);
        assert!(app.flash.as_deref().unwrap().contains("differ"));
        assert_eq!(app.mode, Mode::Secret);
        app.input.insert("same");
        assert_eq!(enter(&mut app), None);
        app.input.insert("same");
        let purpose = SecretFor::New {
            room: "lab".into(),
            shown: "#lab".into(),
            hidden: false,
        };
        assert_eq!(
            enter(&mut app),
            Some((
                purpose,
                RoomPassword::new(Zeroizing::new("same".into())).unwrap()
            ))
        );
        assert_eq!(app.mode, Mode::Write);
        assert_eq!(app.input.text, "half a text");
    }

    #[test]
    fn the_box_shows_dots_and_debug_shows_no_password() {
        assert_eq!(masked("pässword", 3), ("\u{2022}".repeat(8), 6));
        let hidden = RoomPassword::new(Zeroizing::new("secret".into())).unwrap();
        assert!(!format!("{hidden:?}").contains("secret"));
        let prompt = Prompt {
            purpose: SecretFor::Join("lab".into()),
            first: Some(hidden),
        };
        assert!(!format!("{prompt:?}").contains("secret"));
    }
}
