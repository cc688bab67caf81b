//! A node's queue of like operations that one transaction (or one query)
//! serves together: a runner takes whatever is waiting, serves it, and
//! takes again until nothing waits; it never waits for a batch to fill.
//! At most `runners` run at once, so a burst queues behind their round
//! trips and the next round takes all of it (the group commit the SQLite
//! writer gives). Used for acknowledgements (`ack_batch.rs`) and reads of
//! what is waiting (`read_batch.rs`); sends have their own queue, which
//! keeps each sender's order (`send_queue.rs`).

use std::collections::VecDeque;
use std::sync::Mutex;

use protocol::ClientId;
use tokio::sync::oneshot;

use crate::error::StoreError;
use crate::store::values::{Removed, WaitingMessage};

// The queues the engine's struct holds are defined here, apart from the
// code that serves them, so that the engine imports no file that imports
// it back.

/// Acknowledgement transactions of one node in flight at once.
const ACK_RUNNERS: usize = 2;

/// The most acknowledgements removed in one transaction.
const ACK_MAX_BATCH: usize = 512;

/// What each acknowledged id became: removed, or not waiting.
pub(crate) type AckOutcome = Result<Vec<Option<Removed>>, StoreError>;

/// An acknowledgement waiting for its transaction, and where its outcome goes.
pub(crate) type AckQueued = (ClientId, Vec<u64>, oneshot::Sender<AckOutcome>);

/// The node's queued acknowledgements.
pub(crate) fn ack_queue() -> Group<AckQueued> {
    Group::new(ACK_RUNNERS, ACK_MAX_BATCH)
}

/// Read queries of one node in flight at once.
const READ_RUNNERS: usize = 2;

/// The most reads served by one query.
const READ_MAX_BATCH: usize = 256;

/// Messages waiting, and whether more wait after them.
pub(crate) type Waiting = (Vec<WaitingMessage>, bool);

/// A read of what waits for `recipient` after `after`, within bounds.
pub(crate) struct Read {
    pub(crate) recipient: ClientId,
    pub(crate) after: u64,
    pub(crate) max_count: usize,
    pub(crate) max_bytes: usize,
    pub(crate) reply: oneshot::Sender<Result<Waiting, StoreError>>,
}

/// The node's queued reads.
pub(crate) fn read_queue() -> Group<Read> {
    Group::new(READ_RUNNERS, READ_MAX_BATCH)
}

/// Operations of one kind waiting for a runner.
pub(crate) struct Group<T> {
    state: Mutex<State<T>>,
    runners: usize,
    max_batch: usize,
}

struct State<T> {
    queue: VecDeque<T>,
    running: usize,
}

impl<T> Group<T> {
    /// At most `runners` at once, each taking at most `max_batch` a round.
    pub(crate) const fn new(runners: usize, max_batch: usize) -> Self {
        Group {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                running: 0,
            }),
            runners,
            max_batch,
        }
    }

    /// Queues an operation; `true` when the caller must start a runner
    /// (which calls [`Group::take`] until it is empty).
    pub(crate) fn push(&self, item: T) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.queue.push_back(item);
        if state.running < self.runners {
            state.running += 1;
            true
        } else {
            false
        }
    }

    /// What waits, oldest first; empty once nothing does, and then the
    /// runner must end (it no longer counts as running).
    pub(crate) fn take(&self) -> Vec<T> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.queue.is_empty() {
            state.running = state.running.saturating_sub(1);
            return Vec::new();
        }
        let n = state.queue.len().min(self.max_batch);
        state.queue.drain(..n).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runner_takes_all_that_waits_and_ends_when_none_does() {
        let group = Group::new(2, 3);
        assert!(group.push(1));
        assert!(group.push(2));
        assert!(!group.push(3), "two runners at most");
        group.push(4);
        assert_eq!(group.take(), vec![1, 2, 3]);
        assert_eq!(group.take(), vec![4]);
        assert!(group.take().is_empty());
        // One runner ended: the next push starts one again.
        assert!(group.push(5));
    }
}
