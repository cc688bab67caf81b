//! The typing box's text and cursor: editing at the cursor on char
//! boundaries, taking what was typed, and putting back a text that could
//! not be sent.
//!
//! Plain data; the keys that call it are `super::keys`, the box is drawn by
//! `super::view`.

/// The line being typed: text and cursor (a byte offset on a char boundary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    /// The text, possibly several lines.
    pub text: String,
    /// Where the cursor is.
    pub cursor: usize,
}

impl Input {
    /// Inserts `s` at the cursor.
    pub fn insert(&mut self, s: &str) {
        self.text.insert_str(self.cursor, s);
        self.cursor += s.len();
    }

    /// Deletes the character before the cursor.
    pub fn backspace(&mut self) {
        if let Some(c) = self.text[..self.cursor].chars().next_back() {
            self.cursor -= c.len_utf8();
            self.text.remove(self.cursor);
        }
    }

    /// Deletes the character at the cursor.
    pub fn delete(&mut self) {
        if self.cursor < self.text.len() {
            self.text.remove(self.cursor);
        }
    }

    /// Moves the cursor one character left.
    pub fn left(&mut self) {
        if let Some(c) = self.text[..self.cursor].chars().next_back() {
            self.cursor -= c.len_utf8();
        }
    }

    /// Moves the cursor one character right.
    pub fn right(&mut self) {
        if let Some(c) = self.text[self.cursor..].chars().next() {
            self.cursor += c.len_utf8();
        }
    }

    /// To the start of the current line.
    pub fn home(&mut self) {
        self.cursor = self.text[..self.cursor].rfind('\n').map_or(0, |i| i + 1);
    }

    /// To the end of the current line.
    pub fn end(&mut self) {
        self.cursor += self.text[self.cursor..]
            .find('\n')
            .unwrap_or(self.text.len() - self.cursor);
    }

    /// Deletes from the start of the current line to the cursor (Ctrl-U).
    pub fn kill_to_start(&mut self) {
        let start = self.text[..self.cursor].rfind('\n').map_or(0, |i| i + 1);
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    /// Deletes from the cursor to the end of the current line (Ctrl-K).
    pub fn kill_to_end(&mut self) {
        let end = self.cursor
            + self.text[self.cursor..]
                .find('\n')
                .unwrap_or(self.text.len() - self.cursor);
        self.text.replace_range(self.cursor..end, "");
    }

    /// Deletes the word before the cursor and the spaces after it (Ctrl-W),
    /// never past the start of the line.
    pub fn delete_word(&mut self) {
        let before = &self.text[..self.cursor];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = &before[line_start..];
        let trimmed = line.trim_end_matches([' ', '\t']);
        let start = line_start + trimmed.rfind([' ', '\t']).map_or(0, |i| i + 1);
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    /// Takes the text, leaving the box empty.
    pub fn take(&mut self) -> String {
        self.cursor = 0;
        std::mem::take(&mut self.text)
    }

    /// Replaces the text, the cursor at its end.
    pub fn set(&mut self, text: String) {
        self.cursor = text.len();
        self.text = text;
    }

    /// Puts `text` back before what is there (on a line of its own when
    /// something was typed meanwhile), the cursor where it was in what
    /// follows.
    pub fn put_back(&mut self, text: &str) {
        if self.text.is_empty() {
            self.set(text.to_string());
            return;
        }
        let before = format!("{text}\n");
        self.text.insert_str(0, &before);
        self.cursor += before.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_edits_at_the_cursor_on_char_boundaries() {
        let mut i = Input::default();
        i.insert("héllo");
        i.left();
        i.left();
        i.backspace();
        i.backspace();
        assert_eq!(i.text, "hlo");
        assert_eq!(i.cursor, 1);
        i.insert("\nsecond");
        i.home();
        assert_eq!(i.cursor, "h\n".len());
        i.end();
        assert_eq!(i.cursor, "h\nsecondlo".len());
        assert_eq!(i.take(), "h\nsecondlo");
        assert_eq!(i.cursor, 0);
    }

    #[test]
    fn line_kills_and_word_deletion_stay_on_the_cursors_line() {
        let mut i = Input::default();
        i.set("first line\nsay héllo  wörld  ".into());
        i.delete_word();
        assert_eq!(i.text, "first line\nsay héllo  ");
        i.delete_word();
        i.delete_word();
        assert_eq!(i.text, "first line\n");
        // At the start of a line a word deletion stops there.
        i.delete_word();
        assert_eq!(i.text, "first line\n");
        i.insert("again and again");
        for _ in 0.."again".len() {
            i.left();
        }
        i.kill_to_end();
        assert_eq!(i.text, "first line\nagain and ");
        i.left();
        i.kill_to_start();
        assert_eq!(i.text, "first line\n ");
        assert_eq!(i.cursor, "first line\n".len());
        i.home();
        i.left();
        i.kill_to_start();
        assert_eq!(i.text, "\n ");
        assert_eq!(i.cursor, 0);
    }
}
