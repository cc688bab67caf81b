//! The queues of pipelined sends on PostgreSQL, one per sender whose commit
//! task runs (`send_batch.rs` commits them). Apart from the engine so that
//! the engine's struct can hold them without an import ring.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use protocol::ClientId;
use tokio::sync::oneshot;

use crate::error::StoreError;
use crate::store::values::{NewMessage, Stored};

/// The most sends committed in one transaction.
const MAX_BATCH: usize = 256;

/// A send waiting for its commit, and where its outcome goes.
pub(crate) type Queued = (NewMessage, oneshot::Sender<Result<Stored, StoreError>>);

/// The queued sends of each sender that has a commit task running.
#[derive(Default)]
pub(crate) struct SendQueues(Mutex<HashMap<ClientId, VecDeque<Queued>>>);

impl SendQueues {
    /// Queues a send; `true` when its sender had no task, so the caller
    /// must start one (`Pg::commit_sends`).
    pub(crate) fn push(&self, queued: Queued) -> bool {
        let sender = queued.0.sender;
        let mut queues = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match queues.get_mut(&sender) {
            Some(queue) => {
                queue.push_back(queued);
                false
            }
            None => {
                queues.insert(sender, VecDeque::from([queued]));
                true
            }
        }
    }

    /// The next sends of `sender` to commit, oldest first; none (and the
    /// sender's task ends) once its queue is empty.
    pub(super) fn take(&self, sender: &ClientId) -> Vec<Queued> {
        let mut queues = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let Some(queue) = queues.get_mut(sender) else {
            return Vec::new();
        };
        if queue.is_empty() {
            queues.remove(sender);
            return Vec::new();
        }
        let n = queue.len().min(MAX_BATCH);
        queue.drain(..n).collect()
    }
}
