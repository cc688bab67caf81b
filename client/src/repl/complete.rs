//! Tab completion: command words, the names the menu knows (pinned peers
//! and the last `list`, which [`super::explain`] also suggests from), and
//! file paths for the path of `file`.
//!
//! Names come from other people: one that would need escaping to be shown
//! safely is never offered (completion lists are printed as they are).

use std::sync::{Arc, Mutex};

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::{Context, Helper, Highlighter, Hinter, Validator};

use super::specs::{self, Args};
use super::words::{self, Word};
use crate::advice::quote_word;
use crate::display::escape_line;

/// The peer names the menu knows.
#[derive(Debug, Default)]
pub struct Names {
    /// Peers pinned in the key store.
    pub pinned: Vec<String>,
    /// The last `list` result.
    pub listed: Vec<String>,
    /// The rooms we are in.
    pub rooms: Vec<String>,
}

impl Names {
    /// Every known name once, sorted.
    pub fn all(&self) -> Vec<String> {
        let mut all: Vec<String> = self.pinned.iter().chain(&self.listed).cloned().collect();
        all.sort();
        all.dedup();
        all
    }
}

/// Shared between the menu and the editor's completer.
pub type SharedNames = Arc<Mutex<Names>>;

/// What the line being edited is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// A menu command.
    Menu,
    /// A line while a conversation is chosen: a message, or a `/command`
    /// (see [`super::talk`]).
    Talk,
    /// A peer's name (sub-prompt).
    Name,
    /// A file path (sub-prompt).
    Path,
    /// Free text or an answer: nothing to complete.
    Text,
}

/// The editor's helper: completion only (no hints, colours or validation).
#[derive(Helper, Hinter, Highlighter, Validator)]
pub struct MenuHelper {
    names: SharedNames,
    files: FilenameCompleter,
    /// Set by the editor thread before each line.
    pub field: Field,
}

impl MenuHelper {
    /// A helper completing from `names`.
    pub fn new(names: SharedNames) -> Self {
        Self {
            names,
            files: FilenameCompleter::new(),
            field: Field::Menu,
        }
    }

    fn name_pairs(&self, prefix: &str) -> Vec<Pair> {
        let prefix = prefix.to_lowercase();
        self.names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .all()
            .into_iter()
            .filter(|n| escape_line(n) == n.as_str())
            .filter(|n| n.to_lowercase().starts_with(&prefix))
            .map(|n| Pair {
                replacement: quote_word(&n),
                display: n,
            })
            .collect()
    }

    fn room_pairs(&self, prefix: &str) -> Vec<Pair> {
        let prefix = prefix.to_lowercase();
        let names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        let mut rooms: Vec<String> = names
            .rooms
            .iter()
            .filter(|n| escape_line(n) == n.as_str())
            .filter(|n| n.to_lowercase().starts_with(&prefix))
            .cloned()
            .collect();
        rooms.sort();
        rooms.dedup();
        rooms
            .into_iter()
            .map(|n| Pair {
                replacement: format!("{} ", quote_word(&n)),
                display: n,
            })
            .collect()
    }

    /// Completion of a menu line: where the replaced part starts, and the
    /// candidates.
    pub fn complete_menu(&self, line: &str, pos: usize) -> (usize, Vec<Pair>) {
        if pos > 0
            && let Some(rest) = line.strip_prefix('/')
        {
            let (start, pairs) = self.complete_menu(rest, pos - 1);
            return (start + 1, pairs);
        }
        let before = &line[..pos];
        let words = words::words(before).unwrap_or_else(|_| {
            // An open quote: complete from after it, as one word.
            let start = before.rfind(['"', '\'']).unwrap_or(0);
            let mut w = words::words(&before[..start]).unwrap_or_default();
            w.push(Word {
                text: before[start + 1..].to_string(),
                start,
                end: pos,
            });
            w
        });
        let at_new_word = before.is_empty() || before.ends_with(char::is_whitespace);
        let (index, prefix, start) = if at_new_word {
            (words.len(), String::new(), pos)
        } else {
            match words.last() {
                Some(w) => (words.len() - 1, w.text.clone(), w.start),
                None => (0, String::new(), pos),
            }
        };
        if index == 0
            && let Some(room) = prefix.strip_prefix('#')
        {
            let pairs = self
                .room_pairs(room)
                .into_iter()
                .map(|p| Pair {
                    display: format!("#{}", p.display),
                    replacement: format!("#{}", p.replacement),
                })
                .collect();
            return (start, pairs);
        }
        if index == 0 {
            let prefix = prefix.to_lowercase();
            let pairs = specs::command_words()
                .filter(|w| w.starts_with(&prefix) && *w != "?")
                .map(|w| Pair {
                    display: w.to_string(),
                    replacement: format!("{w} "),
                })
                .collect();
            return (start, pairs);
        }
        let Some(spec) = words.first().and_then(|w| specs::spec_of(&w.text)) else {
            return (pos, Vec::new());
        };
        match (spec.args, index) {
            // A confirmation is typed, never completed.
            (Args::Name, 1) if spec.words[0] == "delete-account" => (pos, Vec::new()),
            (Args::Name | Args::OptionalName | Args::NameText, 1) => {
                let pairs = self
                    .name_pairs(&prefix)
                    .into_iter()
                    .map(|p| Pair {
                        replacement: format!("{} ", p.replacement),
                        ..p
                    })
                    .collect();
                (start, pairs)
            }
            (Args::Target, 1) => {
                let mut pairs: Vec<Pair> = self
                    .name_pairs(&prefix)
                    .into_iter()
                    .map(|p| Pair {
                        replacement: format!("{} ", p.replacement),
                        ..p
                    })
                    .collect();
                if let Some(room) = prefix.strip_prefix('#') {
                    pairs = self
                        .room_pairs(room)
                        .into_iter()
                        .map(|p| Pair {
                            display: format!("#{}", p.display),
                            replacement: format!("#{}", p.replacement),
                        })
                        .collect();
                } else if prefix.is_empty() {
                    pairs.extend(self.room_pairs("").into_iter().map(|p| Pair {
                        display: format!("#{}", p.display),
                        replacement: format!("#{}", p.replacement),
                    }));
                }
                (start, pairs)
            }
            (Args::Room, 1) => (
                start,
                super::room_parse::ROOM_WORDS
                    .iter()
                    .filter(|w| w.starts_with(&prefix.to_lowercase()))
                    .map(|w| Pair {
                        display: (*w).into(),
                        replacement: format!("{w} "),
                    })
                    .collect(),
            ),
            (Args::Room, 2) => (start, self.room_pairs(&prefix)),
            (Args::Room, _) if words.get(1).is_some_and(|w| w.text == "send-file") => {
                self.files.complete_path(line, pos).unwrap_or((pos, vec![]))
            }
            (Args::Room, _) => (start, self.name_pairs(&prefix)),
            (Args::NamePath, 1) => (start, self.name_pairs(&prefix)),
            (Args::NamePath, _) => self.files.complete_path(line, pos).unwrap_or((pos, vec![])),
            (Args::Switch, 1) => (
                start,
                ["on", "off"]
                    .into_iter()
                    .filter(|w| w.starts_with(&prefix.to_lowercase()))
                    .map(|w| Pair {
                        display: w.into(),
                        replacement: w.into(),
                    })
                    .collect(),
            ),
            _ => (pos, Vec::new()),
        }
    }
}

impl Completer for MenuHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        Ok(match self.field {
            Field::Menu => self.complete_menu(line, pos),
            // A message is not completed; a `/command` is.
            Field::Talk if line.starts_with('/') => self.complete_menu(line, pos),
            Field::Talk => (pos, Vec::new()),
            Field::Name => {
                let start = line[..pos]
                    .find(|c: char| !c.is_whitespace())
                    .unwrap_or(pos);
                (start, self.name_pairs(line[start..pos].trim_matches('"')))
            }
            Field::Path => self.files.complete_path(line, pos)?,
            Field::Text => (pos, Vec::new()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repl::parse::{Command, parse};

    fn helper(names: &[&str]) -> MenuHelper {
        let shared = Arc::new(Mutex::new(Names {
            pinned: names.iter().map(|s| s.to_string()).collect(),
            listed: vec!["carol".into(), "evil\u{1b}[2J".into()],
            rooms: vec!["team".into(), "garden".into()],
        }));
        MenuHelper::new(shared)
    }

    fn replacements(c: (usize, Vec<Pair>)) -> (usize, Vec<String>) {
        (c.0, c.1.into_iter().map(|p| p.replacement).collect())
    }

    #[test]
    fn completes_room_words_and_names() {
        let h = helper(&["bob"]);
        assert_eq!(
            replacements(h.complete_menu("#te", 3)),
            (0, vec!["#team ".to_string()])
        );
        assert_eq!(
            replacements(h.complete_menu("room ad", 7)),
            (5, vec!["add ".to_string()])
        );
        assert_eq!(
            replacements(h.complete_menu("room add ga", 11)),
            (9, vec!["garden ".to_string()])
        );
        assert_eq!(
            replacements(h.complete_menu("room add team b", 15)),
            (14, vec!["bob".to_string()])
        );
    }

    #[test]
    fn completes_command_words_then_names() {
        let h = helper(&["bob", "bobby", "dave smith"]);
        assert_eq!(
            replacements(h.complete_menu("li", 2)),
            (0, vec!["list ".into()])
        );
        assert_eq!(
            replacements(h.complete_menu("send b", 6)),
            (5, vec!["bob ".into(), "bobby ".into()])
        );
        assert_eq!(
            replacements(h.complete_menu("5 d", 3)),
            (2, vec!["\"dave smith\" ".into()])
        );
        assert_eq!(
            replacements(h.complete_menu("key ", 4)).1,
            ["bob ", "bobby ", "carol ", "\"dave smith\" "]
        );
        assert_eq!(replacements(h.complete_menu("watch o", 7)).1, ["on", "off"]);
        assert_eq!(
            replacements(h.complete_menu("list ", 5)).1,
            Vec::<String>::new()
        );
    }

    #[test]
    fn completes_slash_commands_and_conversations() {
        let h = helper(&["bob"]);
        assert_eq!(
            replacements(h.complete_menu("/li", 3)),
            (1, vec!["list ".into()])
        );
        assert_eq!(
            replacements(h.complete_menu("/to b", 5)),
            (4, vec!["bob ".into()])
        );
        assert_eq!(
            replacements(h.complete_menu("/to #te", 7)),
            (4, vec!["#team ".into()])
        );
        assert_eq!(
            replacements(h.complete_menu("to ", 3)).1,
            ["bob ", "carol ", "#garden ", "#team "]
        );
    }

    #[test]
    fn names_that_need_escaping_are_never_offered() {
        let h = helper(&[]);
        assert_eq!(
            replacements(h.complete_menu("key e", 5)).1,
            Vec::<String>::new()
        );
    }

    #[test]
    fn completes_paths_for_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("report one.pdf"), b"x").unwrap();
        let h = helper(&["bob"]);
        let line = format!("file bob {}/rep", dir.path().display());
        let (_, found) = replacements(h.complete_menu(&line, line.len()));
        assert_eq!(found.len(), 1);
        assert!(found[0].ends_with("report\\ one.pdf"), "{found:?}");
        let parsed = parse(&format!(
            "file bob {}/{}",
            dir.path().display(),
            "report\\ one.pdf"
        ))
        .unwrap()
        .unwrap();
        assert_eq!(
            parsed,
            Command::SendFile {
                to: Some("bob".into()),
                path: Some(dir.path().join("report one.pdf"))
            }
        );
    }
}
