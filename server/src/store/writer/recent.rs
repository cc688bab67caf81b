//! The messages the writer stored lately that are still waiting, with what
//! removing each gives back (its size, sender and file), so that an
//! acknowledgement of them, the common one (a message pushed moments ago),
//! deletes its rows without reading them first.
//!
//! Every entry names a row of the committed database: an entry is added
//! after the commit that stored its message and taken out after the commit
//! that removed it, and messages leave the database only through this
//! writer (an acknowledgement, a version-2 pull, an account's removal; each
//! announces the ids in a [`StoreEvent::Removed`]). Oldest entries are
//! dropped beyond [`CAPACITY`]; a message not here is read as before.

use std::collections::{HashMap, VecDeque};

use protocol::ClientId;

use crate::store::values::{MessageBody, StoreEvent};

/// Entries kept at most (about 70 bytes each): far more than are pushed
/// and unacknowledged at any moment at the measured maximum rate.
const CAPACITY: usize = 32_768;

/// What removing a waiting message changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Row {
    pub(super) recipient: ClientId,
    pub(super) sender: ClientId,
    pub(super) size: i64,
    /// Its file's blob, for a file message.
    pub(super) blob: Option<Box<str>>,
}

#[derive(Default)]
pub(crate) struct Recent {
    rows: HashMap<u64, Row>,
    /// Ids in the order they were added, some perhaps removed since.
    order: VecDeque<u64>,
}

impl Recent {
    /// The committed row `id` of `recipient`, if it is known.
    pub(super) fn get(&self, recipient: &ClientId, id: u64) -> Option<&Row> {
        self.rows.get(&id).filter(|row| row.recipient == *recipient)
    }

    /// Takes in a committed batch's events, in their order.
    pub(super) fn committed(&mut self, events: &[StoreEvent]) {
        for event in events {
            match event {
                StoreEvent::NewMessage {
                    recipient, message, ..
                } => {
                    let blob = match &message.body {
                        MessageBody::Inline(_) => None,
                        MessageBody::File { blob, .. } => Some(blob.as_str().into()),
                    };
                    let row = Row {
                        recipient: *recipient,
                        sender: message.sender,
                        size: message.size as i64,
                        blob,
                    };
                    self.rows.insert(message.id, row);
                    self.order.push_back(message.id);
                    if self.order.len() > CAPACITY {
                        if let Some(oldest) = self.order.pop_front() {
                            self.rows.remove(&oldest);
                        }
                    }
                }
                StoreEvent::Removed { ids, .. } => {
                    for id in ids {
                        self.rows.remove(id);
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(recipient: ClientId, id: u64) -> StoreEvent {
        StoreEvent::stored_text(recipient, ClientId([9; 16]), id, b"abc")
    }

    #[test]
    fn a_row_is_known_from_its_commit_to_its_removal_and_only_to_its_recipient() {
        let (alice, bob) = (ClientId([1; 16]), ClientId([2; 16]));
        let mut recent = Recent::default();
        assert_eq!(recent.get(&alice, 1), None);
        recent.committed(&[stored(alice, 1), stored(bob, 2)]);
        let row = recent.get(&alice, 1).expect("known after its commit");
        assert_eq!(
            (row.sender, row.size, &row.blob),
            (ClientId([9; 16]), 3, &None)
        );
        assert_eq!(recent.get(&bob, 1), None, "another recipient's id");
        recent.committed(&[StoreEvent::Removed {
            recipient: alice,
            ids: vec![1],
        }]);
        assert_eq!(recent.get(&alice, 1), None);
        assert!(recent.get(&bob, 2).is_some());
    }

    #[test]
    fn the_oldest_rows_are_forgotten_beyond_the_capacity() {
        let alice = ClientId([1; 16]);
        let mut recent = Recent::default();
        let events: Vec<_> = (1..=CAPACITY as u64 + 2)
            .map(|id| stored(alice, id))
            .collect();
        recent.committed(&events);
        assert_eq!(recent.get(&alice, 1), None);
        assert_eq!(recent.get(&alice, 2), None);
        assert!(recent.get(&alice, 3).is_some());
        assert!(recent.get(&alice, CAPACITY as u64 + 2).is_some());
        assert_eq!(recent.rows.len(), CAPACITY);
    }
}
