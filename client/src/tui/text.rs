//! Text cut and wrapped to a terminal's columns (by display width, so
//! that wide characters count twice): the pane's rows, the typing box's,
//! the help's and the labels cut to fit.
//!
//! Left out: what the text is and where it goes (`super::view`).

use unicode_width::UnicodeWidthChar;

/// The width of `s` on a terminal.
pub fn width(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// `s` cut to `max` columns, with `~` where it was cut.
pub fn fit(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > max {
            break;
        }
        out.push(c);
        used += w;
    }
    if max > 0 {
        out.push('~');
    }
    out
}

/// `s` broken into rows of at most `max` columns (at least one row), at
/// spaces where it can, inside a word only when the word is too long.
pub fn wrap(s: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut rows = vec![String::new()];
    let mut used = 0;
    // Just broken at a space: that space is not carried to the new row
    // (spaces that indent a line are kept).
    let mut broke = false;
    for (i, word) in s.split(' ').enumerate() {
        let w = width(word);
        if i > 0 {
            if used > 0 && used + 1 + w > max {
                rows.push(String::new());
                used = 0;
                broke = true;
            } else if !broke {
                if used + 1 > max {
                    rows.push(String::new());
                    used = 0;
                }
                if let Some(row) = rows.last_mut() {
                    row.push(' ');
                }
                used += 1;
            }
        }
        for c in word.chars() {
            let cw = c.width().unwrap_or(0);
            if used + cw > max {
                rows.push(String::new());
                used = 0;
            }
            if let Some(row) = rows.last_mut() {
                row.push(c);
            }
            used += cw;
            broke = false;
        }
    }
    rows
}

#[cfg(test)]
#[test]
fn wrap_breaks_at_spaces_and_keeps_indentation() {
    assert_eq!(wrap("one two three", 7), ["one two", "three"]);
    assert_eq!(wrap("  code", 10), ["  code"]);
    assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
    assert_eq!(wrap("", 4), [""]);
    assert_eq!(fit("conversation", 6), "conve~");
}

/// `s` broken into rows of exactly `max` columns (the typing box: the
/// cursor's place must follow from the text before it alone).
pub fn wrap_chars(s: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut rows = vec![String::new()];
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max {
            rows.push(String::new());
            used = 0;
        }
        if let Some(row) = rows.last_mut() {
            row.push(c);
        }
        used += w;
    }
    rows
}
