//! Safe output of text that other people chose: names, messages, file names.
//!
//! A peer could otherwise send terminal escape sequences (move the cursor,
//! rewrite lines, change the window title), bidirectional overrides that
//! make text read differently than it is stored, or invisible characters
//! that make two names look alike. Everything shown here is escaped so that
//! it is displayed as the literal characters it is.

use std::borrow::Cow;
use std::path::Path;

/// Characters that reorder or hide text without being control characters.
fn is_format_trap(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' // zero-width space, joiners, LRM, RLM
            | '\u{202A}'..='\u{202E}' // embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // isolates
            | '\u{061C}' // Arabic letter mark
            | '\u{FEFF}' // byte order mark
            | '\u{FFF9}'..='\u{FFFB}' // interlinear annotations
    )
}

const ZWJ: char = '\u{200D}';

/// A pictograph that emoji sequences are made of, as far as showing a ZWJ
/// between two of them goes: the emoji blocks and the older symbols with an
/// emoji form (the ones a ZWJ sequence starts or ends with, such as ❤ and ⚕).
fn is_emoji(c: char) -> bool {
    matches!(
        c,
        '\u{1F000}'..='\u{1FAFF}' // pictographs, emoticons, transport, supplements
            | '\u{2600}'..='\u{27BF}' // miscellaneous symbols, dingbats
            | '\u{2300}'..='\u{23FF}' // technical (⌚, ⏰)
            | '\u{2B00}'..='\u{2BFF}' // arrows and shapes (⬛, ⭐)
            | '\u{00A9}'
            | '\u{00AE}'
    )
}

/// What may stand between an emoji and the ZWJ after it: the emoji
/// presentation selector and the skin tones.
fn is_emoji_modifier(c: char) -> bool {
    c == '\u{FE0F}' || ('\u{1F3FB}'..='\u{1F3FF}').contains(&c)
}

/// Whether the ZWJ at byte `at` of `text` joins two emoji (a family, a
/// profession, a flag): the emoji then show as one, as their sender meant.
/// A ZWJ anywhere else stays escaped, since it only hides itself there.
fn joins_emoji(text: &str, at: usize) -> bool {
    let before = text[..at].chars().rev().find(|c| !is_emoji_modifier(*c));
    let after = text[at + ZWJ.len_utf8()..].chars().next();
    before.is_some_and(is_emoji) && after.is_some_and(is_emoji)
}

fn escape_with(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    let needs = |at: usize, c: char| {
        (c.is_control() || is_format_trap(c)) && !keep(c) && !(c == ZWJ && joins_emoji(text, at))
    };
    if !text.char_indices().any(|(at, c)| needs(at, c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for (at, c) in text.char_indices() {
        if needs(at, c) {
            match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\x1b' => out.push_str("\\e"),
                c => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A name or any one-line value: every control and format character escaped.
pub fn escape_line(text: &str) -> Cow<'_, str> {
    escape_with(text, |_| false)
}

/// A message body: line breaks and tabs kept, everything else escaped.
pub fn escape_message(text: &str) -> Cow<'_, str> {
    escape_with(text, |c| c == '\n' || c == '\t')
}

/// A message body laid out under a header: each line indented, so that a
/// line of the message can never look like a header of its own.
pub fn indented_message(text: &str, indent: &str) -> String {
    escape_message(text)
        .lines()
        .map(|l| format!("{indent}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A local path, escaped like a name.
pub fn escape_path(path: &Path) -> String {
    escape_line(&path.to_string_lossy()).into_owned()
}

/// A file name chosen by a peer, made safe to create in the downloads
/// folder: only its last component, no control or format characters, no
/// leading dots, no path separators, at most 200 bytes; never empty.
/// Separators are this platform's (`/`): a `\` is an ordinary character
/// here, and a name such as `a\b.txt` is kept as it was sent.
pub fn safe_file_name(name: &str) -> String {
    let last = name
        .rsplit(std::path::is_separator)
        .next()
        .unwrap_or_default();
    let mut cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_format_trap(*c) && *c != ':')
        .collect();
    cleaned = cleaned.trim().trim_start_matches('.').trim().to_string();
    if cleaned.len() > 200 {
        let mut end = 200;
        while !cleaned.is_char_boundary(end) {
            end -= 1;
        }
        // Keep the extension if there is a short one.
        let ext = Path::new(&cleaned)
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .filter(|e| e.len() <= 16);
        cleaned.truncate(end);
        if let Some(ext) = ext {
            let mut cut = end.saturating_sub(ext.len() + 1);
            while !cleaned.is_char_boundary(cut) {
                cut -= 1;
            }
            cleaned.truncate(cut);
            cleaned.push('.');
            cleaned.push_str(&ext);
        }
    }
    if cleaned.is_empty() {
        "file".into()
    } else {
        cleaned
    }
}

/// `name`, or `stem (2).ext`, `stem (3).ext`... : the `n`-th alternative.
pub fn numbered_name(name: &str, n: u32) -> String {
    if n <= 1 {
        return name.to_string();
    }
    let path = Path::new(name);
    match (path.file_stem(), path.extension()) {
        (Some(stem), Some(ext)) if !stem.is_empty() => {
            format!("{} ({n}).{}", stem.to_string_lossy(), ext.to_string_lossy())
        }
        _ => format!("{name} ({n})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_sequences_and_bidi_overrides() {
        let evil = "hi\x1b[2J\x1b]0;pwned\x07 \u{202E}txt.exe\u{2066}";
        let shown = escape_line(evil);
        assert!(!shown.contains('\x1b'));
        assert!(!shown.contains('\u{202E}'));
        assert!(!shown.contains('\x07'));
        assert_eq!(shown, "hi\\e[2J\\e]0;pwned\\u{7} \\u{202e}txt.exe\\u{2066}");
    }

    #[test]
    fn emoji_sequences_show_as_they_are() {
        for emoji in [
            "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}", // family
            "\u{1F469}\u{1F3FD}\u{200D}\u{1F4BB}",         // technologist, skin tone
            "\u{1F3F3}\u{FE0F}\u{200D}\u{1F308}",          // rainbow flag
            "\u{2764}\u{FE0F}\u{200D}\u{1F525}",           // heart on fire
            "\u{2764}\u{FE0F}",                            // red heart
            "\u{263A}\u{FE0F}",                            // smiling face
        ] {
            let text = format!("hi {emoji}!");
            assert!(matches!(escape_line(&text), Cow::Borrowed(_)), "{text:?}");
            assert!(
                matches!(escape_message(&text), Cow::Borrowed(_)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_zwj_that_joins_no_two_emoji_is_escaped() {
        assert_eq!(escape_line("bo\u{200D}b"), "bo\\u{200d}b");
        assert_eq!(escape_line("\u{1F600}\u{200D}b"), "\u{1F600}\\u{200d}b");
        assert_eq!(escape_line("a\u{200D}\u{1F600}"), "a\\u{200d}\u{1F600}");
        assert_eq!(escape_line("\u{1F600}\u{200D}"), "\u{1F600}\\u{200d}");
        assert_eq!(escape_line("\u{200D}\u{1F600}"), "\\u{200d}\u{1F600}");
        // A selector is no emoji: it does not make a letter one.
        assert_eq!(
            escape_line("a\u{FE0F}\u{200D}\u{1F600}"),
            "a\u{FE0F}\\u{200d}\u{1F600}"
        );
        // Other zero-width characters between emoji stay escaped.
        assert_eq!(
            escape_line("\u{1F600}\u{200B}\u{1F600}"),
            "\u{1F600}\\u{200b}\u{1F600}"
        );
        assert_eq!(
            escape_line("\u{1F600}\u{202E}\u{1F600}"),
            "\u{1F600}\\u{202e}\u{1F600}"
        );
    }

    #[test]
    fn plain_text_is_not_copied() {
        assert!(matches!(escape_line("hello, wörld"), Cow::Borrowed(_)));
    }

    #[test]
    fn messages_keep_lines_but_indent_them() {
        let m = indented_message("line one\n[bob] fake header\x1b[1A", "    ");
        assert_eq!(m, "    line one\n    [bob] fake header\\e[1A");
        assert_eq!(escape_line("a\nb"), "a\\nb");
    }

    #[test]
    fn file_names_cannot_escape_the_downloads_folder() {
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        // One name here, not a path: kept whole, the leading dots dropped.
        assert_eq!(safe_file_name("..\\..\\boot.ini"), "\\..\\boot.ini");
        assert_eq!(safe_file_name("a\\b.txt"), "a\\b.txt");
        assert_eq!(safe_file_name("/absolute/path.txt"), "path.txt");
        assert_eq!(safe_file_name(".bashrc"), "bashrc");
        assert_eq!(safe_file_name(".."), "file");
        assert_eq!(safe_file_name(""), "file");
        assert_eq!(safe_file_name("report\u{202E}fdp.exe"), "reportfdp.exe");
        assert_eq!(safe_file_name("a\nb\x1b.txt"), "ab.txt");
        let long = format!("{}.pdf", "x".repeat(300));
        let safe = safe_file_name(&long);
        assert!(safe.len() <= 200);
        assert!(safe.ends_with(".pdf"));
    }

    #[test]
    fn numbered_names_keep_the_extension() {
        assert_eq!(numbered_name("a.pdf", 1), "a.pdf");
        assert_eq!(numbered_name("a.pdf", 2), "a (2).pdf");
        assert_eq!(numbered_name("notes", 3), "notes (3)");
    }
}
