//! The full-screen client's state, free of the terminal and the network:
//! the conversation list and which one is open, the open one's items and
//! how far it is scrolled back, the line being typed, the transfers, the
//! connection as last seen, and what the help or a search shows.
//!
//! Plain data with small methods, so that rendering tests can build any
//! screen. Left out: drawing (`super::view`), keys (`super::keys`) and
//! anything that asks the client (`super` and `super::actions`).

use std::collections::HashMap;

use crate::conversations::ConversationSummary;
use crate::keystore::Conversation;
use crate::rooms::RoomPassword;

pub use super::input::Input;
use super::lines::Item;
use super::progress::{Step, StepKind};

/// The connection as the status line shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Not connected yet.
    Connecting,
    /// Connected and authenticated.
    Up,
    /// Lost; why (escaped). The client is trying again.
    Down(String),
}

/// What the bottom box is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Writing to the open conversation (or a `/` command).
    Write,
    /// Typing what to search for in the open conversation (Ctrl-F).
    Search,
    /// Typing a room's password, shown as dots (`super::secret`).
    Secret,
}

/// What a password being typed is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretFor {
    /// Joining this room.
    Join(String),
    /// A new password for this room: then hidden, or listed with a lock.
    New {
        /// The room, as commands take it (its id when another room of
        /// ours has its name).
        room: String,
        /// The room as the screen names it (`#team`, escaped).
        shown: String,
        /// Not listed (joined by its exact name and the password).
        hidden: bool,
    },
}

/// The password being asked for.
#[derive(Debug, Clone)]
pub struct Prompt {
    /// What for.
    pub purpose: SecretFor,
    /// A new password's first typing, while the second is asked.
    pub first: Option<RoomPassword>,
}

/// A file transfer as its line shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// Its number on the screen (`/cancel N`).
    pub id: u64,
    /// The screen's job that runs it (`None`: the client's own, such as a
    /// room file fetched while watching).
    pub job: Option<u64>,
    /// What moves (a file name; escape before drawing: `lines` does).
    pub label: String,
    /// Its size in bytes.
    pub total: u64,
    /// Bytes through so far.
    pub done: u64,
    /// Whether it ended.
    pub ended: bool,
}

/// Most transfer lines kept (the oldest ended ones go first).
pub const MAX_TRANSFERS: usize = 4;

/// The whole state of the screen.
#[derive(Debug, Clone)]
pub struct App {
    /// Our name (escaped).
    pub me: String,
    /// The server's address (escaped).
    pub server: String,
    /// The server's pinned fingerprint, once known.
    pub fingerprint: Option<String>,
    /// The connection.
    pub link: LinkState,
    /// Every conversation: most recent first as the screen started, then
    /// in the order they appeared (see [`App::set_conversations`]).
    pub conversations: Vec<ConversationSummary>,
    /// The open one.
    pub selected: Option<Conversation>,
    /// The open conversation's history and notices, oldest first.
    pub items: Vec<Item>,
    /// Notices of this run, by conversation (they are not history).
    pub notices: HashMap<Conversation, Vec<Item>>,
    /// How many entries of history are loaded (grows when scrolling back).
    pub history_limit: usize,
    /// Whether the store may hold older entries than those loaded.
    pub more_history: bool,
    /// Rows scrolled back from the newest.
    pub scroll: usize,
    /// The box at the bottom.
    pub input: Input,
    /// What the box is for.
    pub mode: Mode,
    /// The search shown in the pane, if any (as typed: escape to show).
    pub search: Option<String>,
    /// The help is shown over everything.
    pub help: bool,
    /// Rows the help is scrolled down.
    pub help_scroll: usize,
    /// Transfers, oldest first.
    pub transfers: Vec<Transfer>,
    /// One line for the status bar: the last answer or mistake (escaped).
    pub flash: Option<String>,
    /// Ring the terminal bell for messages in other conversations.
    pub bell: bool,
    /// Whether colours are off (`NO_COLOR`).
    pub no_color: bool,
    /// The text being written, put aside while a search or a password is
    /// typed.
    pub draft: Option<Input>,
    /// The password being asked for, if one is.
    pub secret: Option<Prompt>,
    /// The number the next transfer or job gets (one counter for both, so
    /// a number names one thing).
    pub next_id: u64,
    /// The user asked to quit while transfers ran and was warned: the
    /// next quit leaves.
    pub quit_warned: bool,
}

/// Entries of history loaded when a conversation opens.
pub const FIRST_LOAD: usize = 200;

impl App {
    /// A fresh screen for `me` on `server`.
    pub fn new(me: String, server: String) -> Self {
        Self {
            me,
            server,
            fingerprint: None,
            link: LinkState::Connecting,
            conversations: Vec::new(),
            selected: None,
            items: Vec::new(),
            notices: HashMap::new(),
            history_limit: FIRST_LOAD,
            more_history: false,
            scroll: 0,
            input: Input::default(),
            mode: Mode::Write,
            search: None,
            help: false,
            help_scroll: 0,
            transfers: Vec::new(),
            flash: None,
            bell: false,
            no_color: false,
            draft: None,
            secret: None,
            next_id: 1,
            quit_warned: false,
        }
    }

    /// The open conversation's summary.
    pub fn current(&self) -> Option<&ConversationSummary> {
        let selected = self.selected.as_ref()?;
        self.conversations
            .iter()
            .find(|c| c.conversation == *selected)
    }

    /// The list's index of the open conversation.
    pub fn selected_index(&self) -> Option<usize> {
        let selected = self.selected.as_ref()?;
        self.conversations
            .iter()
            .position(|c| c.conversation == *selected)
    }

    /// Takes a new list (most recent first), keeping the open conversation
    /// (or opening the first one). Returns whether the open conversation
    /// changed.
    ///
    /// The list keeps the order it had: a conversation a message arrives in
    /// stays where it is (its count says so), and one new to the list joins
    /// at its end. So a number (Alt-1..9) or Ctrl-N, Ctrl-P pressed a moment
    /// after a message arrived opens what the user saw there.
    pub fn set_conversations(&mut self, mut list: Vec<ConversationSummary>) -> bool {
        let mut kept = Vec::with_capacity(list.len());
        for shown in &self.conversations {
            if let Some(i) = list
                .iter()
                .position(|c| c.conversation == shown.conversation)
            {
                kept.push(list.remove(i));
            }
        }
        kept.append(&mut list);
        self.conversations = kept;
        let keep = self
            .selected
            .as_ref()
            .is_some_and(|s| self.conversations.iter().any(|c| c.conversation == *s));
        if keep {
            return false;
        }
        // The open conversation left the list (deleted, left): what this run
        // last said in it moves to the status line, or it would vanish with
        // its pane before it was read.
        if let Some(said) = self
            .selected
            .as_ref()
            .and_then(|s| self.notices.get(s))
            .and_then(|n| n.last())
        {
            self.flash = said.body.first().cloned();
        }
        let first = self.conversations.first().map(|c| c.conversation.clone());
        let changed = first != self.selected;
        self.open(first);
        changed
    }

    /// Opens `conversation` (the pane starts at its newest entry).
    pub fn open(&mut self, conversation: Option<Conversation>) {
        if conversation != self.selected {
            self.items.clear();
            self.scroll = 0;
            self.history_limit = FIRST_LOAD;
            self.search = None;
        }
        self.selected = conversation;
    }

    /// Opens the conversation `step` places down the list (up if
    /// negative), wrapping around. Returns whether one was opened.
    pub fn step(&mut self, step: isize) -> bool {
        let n = self.conversations.len();
        if n == 0 {
            return false;
        }
        let at = self.selected_index().unwrap_or(0) as isize;
        let next = (at + step).rem_euclid(n as isize) as usize;
        self.open_index(next)
    }

    /// Opens the `index`-th conversation of the list, if there is one.
    pub fn open_index(&mut self, index: usize) -> bool {
        let Some(c) = self.conversations.get(index) else {
            return false;
        };
        let c = c.conversation.clone();
        self.open(Some(c));
        true
    }

    /// Whether the open conversation's newest entries are on screen: not
    /// scrolled back, not covered by the help, not replaced by a search.
    /// Only then is what arrived there read.
    pub fn newest_on_screen(&self) -> bool {
        self.scroll == 0 && !self.help && self.search.is_none()
    }

    /// The unread count of the open conversation is now zero (it is shown).
    pub fn clear_unread(&mut self) {
        let Some(selected) = self.selected.clone() else {
            return;
        };
        for c in &mut self.conversations {
            if c.conversation == selected {
                c.unread = 0;
            }
        }
    }

    /// Adds a notice to `conversation`'s pane (or the status line when it
    /// belongs to none).
    pub fn notice(&mut self, conversation: Option<&Conversation>, item: Item) {
        match conversation {
            Some(c) => {
                let list = self.notices.entry(c.clone()).or_default();
                list.push(item.clone());
                // A long run keeps the newest notices only.
                if list.len() > FIRST_LOAD {
                    list.remove(0);
                }
                if self.selected.as_ref() == Some(c) {
                    self.items.push(item);
                    self.scroll = 0;
                }
            }
            None => self.flash = item.body.first().cloned(),
        }
    }

    /// The open conversation's history is `history` (oldest first, at most
    /// `history_limit`); merges this run's notices in by time.
    pub fn set_history(&mut self, history: Vec<Item>) {
        self.more_history = history.len() >= self.history_limit;
        let mut items = history;
        if self.search.is_none()
            && let Some(notices) = self.selected.as_ref().and_then(|c| self.notices.get(c))
        {
            items.extend(notices.iter().cloned());
        }
        // Stable: entries keep their recorded order among themselves.
        items.sort_by_key(|i| i.at_ms);
        self.items = items;
    }

    /// A text that could not be sent goes back into the writing box (put
    /// aside while a search or a password is typed), so that nothing typed
    /// is lost.
    pub fn unsent(&mut self, text: &str) {
        if self.mode == Mode::Write {
            self.input.put_back(text);
        } else {
            self.draft.get_or_insert_default().put_back(text);
        }
    }

    /// A fresh number for a transfer or a job.
    pub fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// A transfer of `job` began; returns its number.
    pub fn transfer_started(
        &mut self,
        job: Option<u64>,
        label: String,
        total: u64,
        done: u64,
    ) -> u64 {
        if self.transfers.len() >= MAX_TRANSFERS
            && let Some(i) = self.transfers.iter().position(|t| t.ended)
        {
            self.transfers.remove(i);
        }
        let id = self.take_id();
        // A quit warned of before this one began does not stop it unasked.
        self.quit_warned = false;
        self.transfers.push(Transfer {
            id,
            job,
            label,
            total,
            done,
            ended: false,
        });
        id
    }

    fn running(&mut self, job: Option<u64>) -> Option<&mut Transfer> {
        self.transfers
            .iter_mut()
            .rev()
            .find(|t| !t.ended && t.job == job)
    }

    /// `n` more bytes of `job`'s newest running transfer went through.
    pub fn transfer_advanced(&mut self, job: Option<u64>, n: u64) {
        if let Some(t) = self.running(job) {
            t.done = t.done.saturating_add(n).min(t.total);
        }
    }

    /// `job`'s newest running transfer ended.
    pub fn transfer_finished(&mut self, job: Option<u64>) {
        if let Some(t) = self.running(job) {
            t.ended = true;
        }
    }

    /// Applies a transfer's progress report.
    pub fn transfer_step(&mut self, step: Step) {
        let job = step.job;
        match step.what {
            StepKind::Start { label, total, done } => {
                self.transfer_started(job, label, total, done);
            }
            StepKind::Advance(n) => self.transfer_advanced(job, n),
            StepKind::Finish => self.transfer_finished(job),
        }
    }

    /// `job` ended: a transfer of it still running stopped there (its
    /// line says so unless every byte went through).
    pub fn job_ended(&mut self, job: u64) {
        for t in self.transfers.iter_mut().filter(|t| t.job == Some(job)) {
            t.ended = true;
        }
    }

    /// The job that runs transfer `id` if it is still running (`None`: a
    /// download the client started by itself, which
    /// `Client::cancel_downloads` stops).
    pub fn job_of(&self, id: u64) -> Result<Option<u64>, String> {
        match self.transfers.iter().find(|t| t.id == id) {
            None => Err(format!("no transfer {id} on screen")),
            Some(t) if t.ended => Err(format!("transfer {id} has ended")),
            Some(t) => Ok(t.job),
        }
    }

    /// The user read the transfer lines: ended ones go.
    pub fn clear_ended_transfers(&mut self) {
        self.transfers.retain(|t| !t.ended);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::lines::Tone;

    fn summary(label: &str, room: bool) -> ConversationSummary {
        ConversationSummary {
            conversation: if room {
                Conversation::Room {
                    id: None,
                    name: label.into(),
                }
            } else {
                Conversation::Person {
                    id: protocol::ClientId([label.len() as u8; 16]),
                }
            },
            label: label.into(),
            address: label.into(),
            last_ms: None,
            unread: 3,
            files_waiting: 0,
            key_changed: false,
            verified: false,
            online: false,
            rule: None,
            apart: None,
            restored: false,
        }
    }

    #[test]
    fn switching_wraps_around_and_keeps_the_open_one_across_refreshes() {
        let mut app = App::new("alice".into(), "127.0.0.1:1".into());
        app.set_conversations(vec![summary("bob", false), summary("team", true)]);
        assert_eq!(app.current().unwrap().label, "bob");
        assert!(app.step(1));
        assert_eq!(app.current().unwrap().label, "team");
        assert!(app.step(1));
        assert_eq!(app.current().unwrap().label, "bob");
        assert!(app.step(-1));
        assert_eq!(app.current().unwrap().label, "team");
        // A refresh in another order keeps team open, and the list's order.
        assert!(!app.set_conversations(vec![summary("team", true), summary("bob", false)]));
        assert_eq!(app.current().unwrap().label, "team");
        assert_eq!(labels(&app), ["bob", "team"]);
        app.clear_unread();
        assert_eq!(app.current().unwrap().unread, 0);
        assert!(!app.open_index(5));
    }

    fn labels(app: &App) -> Vec<&str> {
        app.conversations.iter().map(|c| c.label.as_str()).collect()
    }

    #[test]
    fn a_message_arriving_does_not_move_its_conversation_so_alt_n_opens_what_was_seen() {
        let mut app = App::new("alice".into(), "127.0.0.1:1".into());
        app.set_conversations(vec![summary("bob", false), summary("carol", false)]);
        // carol writes: the library lists her first now; a newcomer too.
        let mut carol = summary("carol", false);
        carol.unread = 4;
        app.set_conversations(vec![summary("dave", false), carol, summary("bob", false)]);
        assert_eq!(labels(&app), ["bob", "carol", "dave"]);
        assert_eq!(app.conversations[1].unread, 4);
        // Alt-1 (index 0) still opens bob, whom the list showed first.
        assert!(app.open_index(0));
        assert_eq!(app.current().unwrap().label, "bob");
        // One that leaves the list goes; the rest keep their order.
        app.set_conversations(vec![summary("dave", false), summary("bob", false)]);
        assert_eq!(labels(&app), ["bob", "dave"]);
    }

    #[test]
    fn the_last_notice_of_a_conversation_that_leaves_the_list_moves_to_the_status_line() {
        let mut app = App::new("alice".into(), "127.0.0.1:1".into());
        app.set_conversations(vec![summary("bob", false), summary("ops", true)]);
        assert!(app.step(1));
        let ops = app.current().unwrap().conversation.clone();
        let said = Item {
            at_ms: 1,
            header: String::new(),
            body: vec!["deleted #ops for every member".into()],
            tone: Tone::Info,
        };
        app.notice(Some(&ops), said);
        assert_eq!(app.flash, None);
        assert!(app.set_conversations(vec![summary("bob", false)]));
        assert_eq!(app.current().unwrap().label, "bob");
        assert_eq!(app.flash.as_deref(), Some("deleted #ops for every member"));
    }

    #[test]
    fn an_unsent_text_goes_back_into_the_box_before_what_was_typed_since() {
        let mut app = App::new("a".into(), "s".into());
        app.unsent("first try");
        assert_eq!(app.input.text, "first try");
        assert_eq!(app.input.cursor, "first try".len());
        app.input.set("next".into());
        app.input.left();
        app.unsent("lost?");
        assert_eq!(app.input.text, "lost?\nnext");
        assert_eq!(app.input.cursor, "lost?\nnex".len());
        // While a search is typed, it goes to the text put aside.
        app.mode = Mode::Search;
        app.draft = Some(std::mem::take(&mut app.input));
        app.unsent("third");
        assert!(app.input.text.is_empty());
        assert_eq!(app.draft.unwrap().text, "third\nlost?\nnext");
    }

    #[test]
    fn progress_goes_to_its_jobs_newest_running_transfer() {
        let mut app = App::new("a".into(), "s".into());
        let job = app.take_id();
        let one = app.transfer_started(Some(job), "one".into(), 100, 0);
        app.transfer_advanced(Some(job), 40);
        let two = app.transfer_started(None, "two".into(), 10, 0);
        app.transfer_advanced(None, 5);
        app.transfer_advanced(Some(job), 30);
        app.transfer_finished(None);
        app.transfer_advanced(None, 30);
        assert_eq!((one, two), (2, 3));
        assert_eq!(app.transfers[0].done, 70);
        assert_eq!(app.transfers[1].done, 5);
        assert!(app.transfers[1].ended && !app.transfers[0].ended);
        assert_eq!(app.job_of(one), Ok(Some(job)));
        assert!(app.job_of(two).unwrap_err().contains("has ended"));
        // A download the client runs by itself can be stopped too.
        let three = app.transfer_started(None, "three".into(), 10, 0);
        assert_eq!(app.job_of(three), Ok(None));
        assert!(app.job_of(9).unwrap_err().contains("no transfer 9"));
    }
}
