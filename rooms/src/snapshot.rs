//! The server's observer over one room's openmls state held in memory, for a
//! server whose database is not SQLite (PostgreSQL, shared by the nodes of a
//! cluster).
//!
//! Why in memory: openmls's storage is synchronous and key/value shaped,
//! while the PostgreSQL engine is async and must keep the observer's state
//! in the same transaction as the room's log. So the server loads the
//! room's entries (its rows of openmls key/value pairs) inside that
//! transaction, with the room's row locked so that no other node changes
//! them meanwhile, hands them to [`RoomSnapshot`], runs the very checks
//! [`crate::ObserverTx`] runs (the same functions, over
//! `openmls_memory_storage::MemoryStorage` instead of the SQLite tables),
//! and writes back [`RoomSnapshot::changes`] in the same transaction. A
//! refused message changes nothing: the caller rolls back.
//!
//! Every entry of a `PublicGroup` is keyed by its group id (tree, context,
//! transcript hash, confirmation tag, queued proposals), so one room's
//! entries are the whole state the observer needs for that room.
//!
//! What is left out: the database itself (the caller's), and locking.

use std::collections::HashMap;

use openmls_memory_storage::MemoryStorage;
use openmls_rust_crypto::RustCrypto;

use crate::engine::RoomId;
use crate::error::RoomsError;
use crate::identity::Pins;
use crate::observer::{Observed, RoomState, forget_in, process_in, room_in, track_in};

/// One room's openmls entries (key, value), as the server stores them.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// What an operation changed in a room's entries: to write back.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Entries added or changed (key, new value).
    pub written: Entries,
    /// Keys of entries removed.
    pub deleted: Vec<Vec<u8>>,
}

impl Changes {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.written.is_empty() && self.deleted.is_empty()
    }
}

/// The observer over one room's entries in memory.
pub struct RoomSnapshot {
    storage: MemoryStorage,
    before: HashMap<Vec<u8>, Vec<u8>>,
    crypto: RustCrypto,
}

impl RoomSnapshot {
    /// The observer over `entries` (none for a room not tracked yet).
    pub fn new(entries: Entries) -> Self {
        let before: HashMap<Vec<u8>, Vec<u8>> = entries.into_iter().collect();
        let storage = MemoryStorage::default();
        *storage.values.write().unwrap_or_else(|e| e.into_inner()) = before.clone();
        Self {
            storage,
            before,
            crypto: RustCrypto::default(),
        }
    }

    /// [`crate::RoomObserver::track`] over these entries.
    ///
    /// # Errors
    /// As [`crate::RoomObserver::track`].
    pub fn track(
        &self,
        group_info: &[u8],
        ratchet_tree: &[u8],
        registrations: &dyn Pins,
    ) -> Result<RoomState, RoomsError> {
        track_in(
            &self.crypto,
            &self.storage,
            group_info,
            ratchet_tree,
            registrations,
        )
    }

    /// [`crate::RoomObserver::process`] over these entries.
    ///
    /// # Errors
    /// As [`crate::RoomObserver::process`].
    pub fn process(&self, bytes: &[u8], registrations: &dyn Pins) -> Result<Observed, RoomsError> {
        process_in(&self.crypto, &self.storage, bytes, registrations)
    }

    /// [`crate::RoomObserver::room`] over these entries.
    ///
    /// # Errors
    /// As [`crate::RoomObserver::room`].
    pub fn room(&self, room: RoomId) -> Result<RoomState, RoomsError> {
        room_in(&self.storage, room)
    }

    /// [`crate::ObserverTx::forget`] over these entries.
    ///
    /// # Errors
    /// As [`crate::ObserverTx::forget`].
    pub fn forget(&self, room: RoomId) -> Result<(), RoomsError> {
        forget_in(&self.storage, room)
    }

    /// What the operations so far changed, against the entries given to
    /// [`Self::new`].
    pub fn changes(&self) -> Changes {
        let now = self
            .storage
            .values
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let mut changes = Changes::default();
        for (key, value) in now.iter() {
            if self.before.get(key) != Some(value) {
                changes.written.push((key.clone(), value.clone()));
            }
        }
        for key in self.before.keys() {
            if !now.contains_key(key) {
                changes.deleted.push(key.clone());
            }
        }
        changes
    }
}
