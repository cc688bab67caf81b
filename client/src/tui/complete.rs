//! Tab in the typing box: a `/command` word, or the path of `/file` (the
//! menu's path completer, rustyline's, so paths complete and quote the
//! same way in both).
//!
//! Left out: the keys (`super::keys`).

use rustyline::completion::FilenameCompleter;

use super::app::Input;
use super::command::WORDS;
use crate::display::escape_line;

/// Completes the input at its cursor (which must be at its end). Returns
/// the candidates to show when there are several (escaped), else nothing.
pub fn complete(input: &mut Input) -> Option<String> {
    if input.cursor != input.text.len() || !input.text.starts_with('/') {
        return None;
    }
    let text = input.text.clone();
    if !text.contains(char::is_whitespace) {
        let typed = text[1..].to_lowercase();
        let found: Vec<&str> = WORDS
            .iter()
            .copied()
            .filter(|w| w.starts_with(&typed))
            .collect();
        return match found.as_slice() {
            [] => None,
            [one] => {
                input.set(format!("/{one} "));
                None
            }
            many => {
                let common = common_prefix(many.iter().map(|s| s.to_string()).collect());
                if common.len() > typed.len() {
                    input.set(format!("/{common}"));
                }
                Some(many.join("  "))
            }
        };
    }
    let lower = text.to_lowercase();
    if !lower.starts_with("/file ") {
        return None;
    }
    let completer = FilenameCompleter::new();
    let (start, pairs) = completer.complete_path(&text, text.len()).ok()?;
    let start = start.max("/file ".len());
    match pairs.as_slice() {
        [] => None,
        [one] => {
            input.set(format!("{}{}", &text[..start], one.replacement));
            None
        }
        many => {
            let common = common_prefix(many.iter().map(|p| p.replacement.clone()).collect());
            if common.len() > text.len() - start {
                input.set(format!("{}{common}", &text[..start]));
            }
            Some(
                many.iter()
                    .map(|p| escape_line(&p.display).into_owned())
                    .collect::<Vec<_>>()
                    .join("  "),
            )
        }
    }
}

fn common_prefix(words: Vec<String>) -> String {
    let Some(first) = words.first() else {
        return String::new();
    };
    let mut end = first.len();
    for w in &words[1..] {
        end = end.min(
            first
                .char_indices()
                .zip(w.chars())
                .find(|((_, a), b)| a != b)
                .map_or(end.min(w.len()), |((i, _), _)| i),
        );
    }
    first[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(text: &str) -> Input {
        let mut i = Input::default();
        i.set(text.into());
        i
    }

    #[test]
    fn completes_command_words_and_file_paths() {
        let mut i = input("/mem");
        assert_eq!(complete(&mut i), None);
        assert_eq!(i.text, "/members ");
        let mut i = input("/fi");
        assert_eq!(
            complete(&mut i).as_deref(),
            Some("file  files  fingerprint")
        );
        assert_eq!(i.text, "/fi");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("report one.pdf"), b"x").unwrap();
        let mut i = input(&format!("/file {}/rep", dir.path().display()));
        assert_eq!(complete(&mut i), None);
        assert!(i.text.ends_with("/report\\ one.pdf"), "{}", i.text);
        assert_eq!(
            super::super::command::parse(&i.text).unwrap(),
            super::super::command::Command::File(dir.path().join("report one.pdf"))
        );
    }
}
