//! The batch in progress as the operations see it: what it has changed so
//! far (applied to the writer's counts and directory only after the commit)
//! and savepoints that make one operation all-or-nothing inside it.

use std::collections::HashSet;
use std::time::Instant;

use protocol::ClientId;

use rusqlite::Transaction;

use crate::error::StoreError;
use crate::store::directory::{ClientRecord, Directory};
use crate::store::quota::{Counts, Tally};
use crate::store::values::StoreEvent;

use super::recent::{Recent, Row};

/// Changes made by the current batch, applied to the writer's counts after commit.
#[derive(Default)]
pub(super) struct Staged {
    pub(super) tally: Tally,
    pub(super) clients: Vec<ClientRecord>,
    /// Accounts the operator removed in this batch.
    pub(super) removed_clients: Vec<ClientId>,
    pub(super) events: Vec<StoreEvent>,
    /// Ids of messages this batch removed (also in its `Removed` events),
    /// which [`Recent`] still lists until the commit.
    pub(super) removed_messages: HashSet<u64>,
}

/// What an operation sees and changes of the batch in progress.
pub(super) struct View<'a> {
    pub(super) accounts: &'a Tally,
    pub(super) staged: &'a mut Staged,
    pub(super) directory: &'a Directory,
    /// Messages stored lately, as committed.
    pub(super) recent: &'a Recent,
    /// The next message id; advances only if the batch commits.
    pub(super) next_id: &'a mut u64,
    /// When the operation being applied was queued (for `crate::timing`).
    pub(super) queued: Instant,
}

impl<'a> View<'a> {
    pub(super) fn counts(&self) -> Counts<'_> {
        Counts {
            committed: self.accounts,
            staged: &self.staged.tally,
        }
    }

    /// The rows of `ids` of `recipient`'s messages, if every one is known
    /// to be stored and not yet removed, each named once.
    pub(super) fn known_rows(&self, recipient: &ClientId, ids: &[u64]) -> Option<Vec<&'a Row>> {
        let mut rows = Vec::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            if ids[..i].contains(id) || self.staged.removed_messages.contains(id) {
                return None;
            }
            rows.push(self.recent.get(recipient, *id)?);
        }
        Some(rows)
    }

    /// Notes that `ids` of `recipient`'s messages are removed by this batch.
    pub(super) fn removed_messages(&mut self, recipient: ClientId, ids: Vec<u64>) {
        if ids.is_empty() {
            return;
        }
        self.staged.removed_messages.extend(ids.iter().copied());
        self.staged
            .events
            .push(StoreEvent::Removed { recipient, ids });
    }

    /// Whether a client is registered, committed or earlier in this batch.
    pub(super) fn client_known(&self, id: &ClientId) -> bool {
        (self.directory.contains_any(id) || self.staged.clients.iter().any(|c| c.id == *id))
            && !self.staged.removed_clients.contains(id)
    }
}

/// Runs several statements as one: all or none of them stay in the batch.
pub(super) fn atomically<T>(
    tx: &Transaction<'_>,
    f: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    // Cached: an operation of every batch passes here, and parsing the
    // statement each time was a measurable share of the writer's time.
    tx.prepare_cached("SAVEPOINT op")?.execute([])?;
    match f() {
        Ok(v) => {
            tx.prepare_cached("RELEASE op")?.execute([])?;
            Ok(v)
        }
        Err(e) => {
            if let Err(undo) = tx.execute_batch("ROLLBACK TO op; RELEASE op") {
                tracing::error!(error = %undo, "could not undo a failed operation");
            }
            Err(e)
        }
    }
}
