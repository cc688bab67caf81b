//! The interactive menu: `client` with no subcommand.
//!
//! The reference client's numbers (1 register ... 52, 0 exit) and words
//! (`send bob hi`) name the same commands; a command typed without its
//! arguments asks for them. Messages pushed by the server while the user
//! types are shown above the line being edited, by a watcher task on the
//! client's connection. Ctrl-C stops the command running (a transfer ends
//! cleanly and can be resumed) or clears the line at the prompt; Ctrl-D
//! leaves.
//!
//! Every mistake ends in one line starting `error:` and the menu goes on.
//! Everything a peer chose is escaped before it is shown. The menu goes
//! through [`crate::Client`] only; it holds no protocol logic.
//!
//! Its rooms:
//! - reading a line: [`words`] splits it, [`specs`] is the command table,
//!   [`parse`] makes a command of it; [`complete`] is Tab completion and
//!   [`terminal`] the line editor with messages printed above it;
//! - `menu`: the loop that greets, reads, runs a command (Ctrl-C cancels
//!   it) and reports its error; the commands themselves, by what they are
//!   about: `people` (register, users, keys, safety numbers, sessions),
//!   `messages` (inbox, answer, send), `files` (send-file, resume, held
//!   offers), `rooms` (`room ...`, parsed by [`room_parse`]) and `watch`
//!   (live messages); `show` words events and the help,
//!   `progress` shows transfers; `talk` is `/to` and the prompt, and
//!   [`focus`] the current conversation: where plain lines go, the
//!   prompt's unread counts and the one-line announcements of other
//!   conversations' messages;
//! - [`explain`]: one line for each thing that can go wrong, shared with
//!   the scripted commands; a leaf that names no other part of the menu;
//!   [`codes`] the stable code of each for `--json` errors.

pub mod codes;
pub mod complete;
pub mod explain;
mod files;
pub mod focus;
mod menu;
mod messages;
pub mod parse;
mod people;
mod progress;
pub mod room_parse;
mod rooms;
mod show;
pub mod specs;
mod talk;
pub mod terminal;
mod watch;
pub mod words;

pub use menu::run;
