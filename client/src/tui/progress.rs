//! Transfers' progress as messages to the screen: the client reports
//! through its [`Progress`] trait (the menu draws bars with it), and here
//! each report becomes a [`Step`] on a channel the screen's loop reads, so
//! that nothing is drawn from the transfer's task.
//!
//! The trait names no transfer: a job of the screen's runs under its own
//! [`ToScreen`] (`Client::with_progress`), whose steps carry the job's
//! number; a transfer the client starts by itself (a room file fetched
//! while watching) reports through the client's, without a number. A step
//! applies to the newest running transfer of its job
//! (`super::app::App::transfer_advanced`).

use tokio::sync::mpsc;

use crate::client::Progress;

/// One report of a transfer, and the screen's job it belongs to (`None`:
/// the client's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The job.
    pub job: Option<u64>,
    /// What happened.
    pub what: StepKind,
}

/// What happened to a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
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

/// Progress sent to the screen, as `job`'s.
pub struct ToScreen {
    /// The screen's loop.
    pub screen: mpsc::UnboundedSender<Step>,
    /// Whose.
    pub job: Option<u64>,
}

impl ToScreen {
    fn send(&self, what: StepKind) {
        // The screen gone means the program is ending: nothing to show.
        let _ = self.screen.send(Step {
            job: self.job,
            what,
        });
    }
}

impl Progress for ToScreen {
    fn start(&self, label: &str, total: u64, done: u64) {
        self.send(StepKind::Start {
            label: label.to_string(),
            total,
            done,
        });
    }

    fn advance(&self, n: u64) {
        self.send(StepKind::Advance(n));
    }

    fn finish(&self) {
        self.send(StepKind::Finish);
    }
}
