//! Transfers' progress as messages to the screen: the client reports
//! through its [`Progress`] trait (the menu draws bars with it), and here
//! each report becomes a [`Step`] on a channel the screen's loop reads, so
//! that nothing is drawn from the transfer's task.
//!
//! The trait names no transfer, so a step applies to the newest transfer
//! still running (`super::app::App::transfer_advanced`).

use tokio::sync::mpsc;

use crate::client::Progress;

/// One report of a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A transfer of `total` bytes began with `done` already there.
    Start {
        /// What moves.
        label: String,
        /// Its size.
        total: u64,
        /// Bytes already there (a resumed transfer).
        done: u64,
    },
    /// More bytes went through.
    Advance(u64),
    /// It ended.
    Finish,
}

/// The client's progress, sent to the screen.
pub struct ToScreen(pub mpsc::UnboundedSender<Step>);

impl Progress for ToScreen {
    fn start(&self, label: &str, total: u64, done: u64) {
        // The screen gone means the program is ending: nothing to show.
        let _ = self.0.send(Step::Start {
            label: label.to_string(),
            total,
            done,
        });
    }

    fn advance(&self, n: u64) {
        let _ = self.0.send(Step::Advance(n));
    }

    fn finish(&self) {
        let _ = self.0.send(Step::Finish);
    }
}
