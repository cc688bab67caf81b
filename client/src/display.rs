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

fn escape_with(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    let needs = |c: char| (c.is_control() || is_format_trap(c)) && !keep(c);
    if !text.chars().any(needs) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs(c) {
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
pub fn safe_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
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
        assert_eq!(safe_file_name("..\\..\\boot.ini"), "boot.ini");
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
