//! The node's queue of sends on PostgreSQL (`send_batch.rs` commits them):
//! one queue for every connection of the node, so that paced sends from
//! many senders share one insert transaction (a per-node group commit:
//! a committer takes whatever waits, never waiting for a batch to fill).
//!
//! Each sender's sends commit in the order it made them: a committer takes
//! a sender's sends oldest first, and while a transaction holding some of
//! them is in flight, that sender's later sends wait for it (another
//! committer passes them over). So two sends of one sender to one recipient
//! get their ids in the order sent. Apart from the engine so that the
//! engine's struct can hold it without an import ring.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use protocol::ClientId;
use tokio::sync::oneshot;

use crate::error::StoreError;
use crate::store::values::{NewMessage, Stored};

/// The most sends committed in one transaction.
const MAX_BATCH: usize = 512;

/// Insert transactions of one node in flight at once: while one commits,
/// the next gathers and takes its locks.
const COMMITTERS: usize = 2;

/// A send waiting for its commit, and where its outcome goes.
pub(crate) type Queued = (NewMessage, oneshot::Sender<Result<Stored, StoreError>>);

/// The node's queued sends.
#[derive(Default)]
pub(crate) struct SendQueue(Mutex<State>);

#[derive(Default)]
struct State {
    queue: VecDeque<Queued>,
    /// Senders with sends in a transaction in flight.
    busy: HashSet<ClientId>,
    committers: usize,
}

impl SendQueue {
    /// Queues a send; `true` when the caller must start a committer
    /// (`Pg::commit_sends`).
    pub(crate) fn push(&self, queued: Queued) -> bool {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        state.queue.push_back(queued);
        if state.committers < COMMITTERS {
            state.committers += 1;
            true
        } else {
            false
        }
    }

    /// Marks the senders of the committer's last batch (`done`) free and
    /// takes its next batch: the waiting sends, oldest first, of senders
    /// with nothing in flight. Empty when there is none, and then the
    /// committer must end: what still waits belongs to another committer's
    /// senders, and that committer takes it after its commit.
    pub(super) fn next(&self, done: &[ClientId]) -> Vec<Queued> {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for sender in done {
            state.busy.remove(sender);
        }
        let mut batch = Vec::new();
        let mut passed: HashSet<ClientId> = HashSet::new();
        let mut left = VecDeque::new();
        while let Some(queued) = state.queue.pop_front() {
            let sender = queued.0.sender;
            if batch.len() < MAX_BATCH && !state.busy.contains(&sender) && !passed.contains(&sender)
            {
                batch.push(queued);
            } else {
                // Its later sends must not overtake it.
                passed.insert(sender);
                left.push_back(queued);
            }
        }
        state.queue = left;
        if batch.is_empty() {
            state.committers = state.committers.saturating_sub(1);
            return batch;
        }
        for (m, _) in &batch {
            state.busy.insert(m.sender);
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use protocol::MessageKind;

    use super::*;
    use crate::store::values::MessageBody;

    fn send(sender: u8, n: u8) -> Queued {
        let message = NewMessage {
            recipient: ClientId([9; 16]),
            sender: ClientId([sender; 16]),
            kind: MessageKind::Text,
            body: MessageBody::Inline(Bytes::from(vec![n])),
        };
        (message, oneshot::channel().0)
    }

    fn contents(batch: &[Queued]) -> Vec<(u8, u8)> {
        batch
            .iter()
            .map(|(m, _)| match &m.body {
                MessageBody::Inline(c) => (m.sender.0[0], c[0]),
                MessageBody::File { .. } => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn a_sender_in_flight_waits_and_is_never_overtaken() {
        let queue = SendQueue::default();
        assert!(queue.push(send(1, 0)));
        assert!(queue.push(send(2, 0)));
        assert!(!queue.push(send(1, 1)), "two committers at most");
        // The first committer takes every sender's sends.
        let first = queue.next(&[]);
        assert_eq!(contents(&first), vec![(1, 0), (2, 0), (1, 1)]);
        queue.push(send(1, 2));
        queue.push(send(3, 0));
        queue.push(send(1, 3));
        // The second passes over sender 1, whose sends are in flight.
        let second = queue.next(&[]);
        assert_eq!(contents(&second), vec![(3, 0)]);
        assert!(queue.next(&[ClientId([3; 16])]).is_empty(), "it ends");
        // The first, after its commit, takes sender 1's in order.
        let third = queue.next(&[ClientId([1; 16]), ClientId([2; 16])]);
        assert_eq!(contents(&third), vec![(1, 2), (1, 3)]);
        assert!(queue.next(&[ClientId([1; 16])]).is_empty());
        assert!(queue.push(send(4, 0)), "no committer runs now");
    }
}
