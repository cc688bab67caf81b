//! Reading a room's log entry by entry, exactly once: the member's read
//! position in each room's log (the `seq` of the last entry read) is kept
//! in the state file, in the same transaction as the processing of that
//! entry.
//!
//! The server moves a member's cursor only when the member acknowledges,
//! and an acknowledgement can be lost with the connection (or a crash) after
//! the entry was processed. The entry then comes again, and its keys are
//! spent: processing it twice would fail to decrypt. Keeping the read
//! position with the state it produced means an entry is either processed
//! and marked read, or neither; one that comes again is recognised and
//! skipped.
//!
//! What an entry came to is kept with it (`crate::kept`) until the client
//! has recorded it in its own database, so that a crash between the two
//! commits loses nothing: the entry that comes again is handed out again.
//! So is an entry the client refused, with the reason it gave.
//!
//! Left out: pulling and acknowledging (the client's business).

use crate::engine::{RoomEngine, RoomId, load_group};
use crate::error::RoomsError;
use crate::identity::Pins;
use crate::incoming::parse_protocol_message;
use crate::kept::{self, EntryOutcome, EntryRead};
use crate::name::RoomName;
use crate::store::{Provider, read_up_to, set_read_up_to};
use openmls_traits::OpenMlsProvider as _;

impl RoomEngine {
    /// Processes entry `seq` of `room`'s log (see [`RoomEngine::process`]),
    /// records it as read and keeps what it came to (`crate::kept`), in
    /// one transaction. An entry at or before the last one read comes back
    /// as kept (a refused one too: [`RoomEngine::refuse_entry`]), marked as
    /// a replay, until [`RoomEngine::release_entries`] drops it; `Ok(None)`
    /// after that.
    ///
    /// # Errors
    /// [`RoomsError::Malformed`] when the message is not of `room`, or its
    /// kept result does not parse; those of [`RoomEngine::process`]
    /// (nothing is recorded then: see [`RoomEngine::refuse_entry`]).
    pub fn process_entry(
        &self,
        room: RoomId,
        seq: u64,
        bytes: &[u8],
        pins: &dyn Pins,
    ) -> Result<Option<EntryOutcome>, RoomsError> {
        self.store.transact(|provider, conn| {
            // Before parsing: an entry refused as malformed is handed out
            // again as kept, as any other.
            if seq <= read_up_to(conn, room)? {
                return kept::kept(conn, room, seq);
            }
            let message = parse_protocol_message(bytes)?;
            if RoomId::from_group_id(message.group_id()) != Some(room) {
                // An entry filed under another room than its own.
                return Err(RoomsError::Malformed);
            }
            let name_before = name_in(provider, room)?;
            let incoming = self.process_in(provider, conn, room, message, pins)?;
            // A commit that removed us leaves no group to name the room.
            let name_after = name_in(provider, room).unwrap_or(None);
            let read = EntryRead {
                incoming,
                name_before,
                name_after,
                replay: false,
            };
            let outcome = EntryOutcome::Read(read);
            kept::keep(conn, room, seq, &outcome)?;
            set_read_up_to(conn, room, seq)?;
            Ok(Some(outcome))
        })
    }

    /// Records entry `seq` of `room` as read without processing it, and
    /// keeps `reason`, the caller's words for why it refused the entry
    /// (the error [`RoomEngine::process_entry`] returned), in the same
    /// transaction: until [`RoomEngine::release_entries`] drops it, the
    /// entry comes back as [`EntryOutcome::Refused`] with these words, so
    /// that a crash before the caller recorded its notice loses nothing.
    /// True if it was not read before (nothing is kept otherwise).
    ///
    /// # Errors
    /// Database errors.
    pub fn refuse_entry(&self, room: RoomId, seq: u64, reason: &str) -> Result<bool, RoomsError> {
        self.store.transact(|provider, conn| {
            if seq <= read_up_to(conn, room)? {
                return Ok(false);
            }
            let refused = EntryOutcome::Refused {
                reason: reason.to_string(),
                // The room may be gone from the state file, or never joined.
                name: name_in(provider, room).unwrap_or(None),
            };
            kept::keep(conn, room, seq, &refused)?;
            set_read_up_to(conn, room, seq)?;
            Ok(true)
        })
    }

    /// Drops the kept results of `room`'s entries up to `seq`: the caller
    /// has recorded what they came to. Not synced to the disk by itself: a
    /// release a crash loses only hands out again what the caller recorded
    /// and passes over (or leaves rows the room's next release drops), and
    /// a sync here doubled what reading an entry costs (BENCHMARKS.md,
    /// "What keeping a room entry's result costs").
    ///
    /// # Errors
    /// Database errors.
    pub fn release_entries(&self, room: RoomId, seq: u64) -> Result<(), RoomsError> {
        self.store
            .transact_unsynced(|_, conn| kept::release(conn, room, seq))
    }

    /// Records entry `seq` of `room` as read without processing it and
    /// keeps nothing (our own application messages: the caller knows what
    /// they said). True if it was not read before.
    ///
    /// # Errors
    /// Database errors.
    pub fn skip_entry(&self, room: RoomId, seq: u64) -> Result<bool, RoomsError> {
        self.store.transact(|_, conn| {
            if seq <= read_up_to(conn, room)? {
                return Ok(false);
            }
            set_read_up_to(conn, room, seq)?;
            Ok(true)
        })
    }

    /// The last entry of `room`'s log read here (0: none yet).
    ///
    /// # Errors
    /// Database errors.
    pub fn read_up_to(&self, room: RoomId) -> Result<u64, RoomsError> {
        self.store.transact(|_, conn| read_up_to(conn, room))
    }

    /// Deletes everything held here about `room`: its group state, keys and
    /// read position. For a room the server never took (its creation was
    /// refused or never answered), so that it does not linger here.
    ///
    /// # Errors
    /// Database errors.
    pub fn forget_room(&self, room: RoomId) -> Result<(), RoomsError> {
        self.store.transact(|provider, conn| {
            if let Ok(mut group) = load_group(provider, room) {
                group.delete(provider.storage())?;
                provider.cache.evict(room);
            }
            crate::store::forget_room(conn, room)
        })
    }

    /// True while a commit of ours in `room` awaits its fate (the server's
    /// answer, or reading it back from the log).
    ///
    /// # Errors
    /// [`RoomsError::UnknownRoom`].
    pub fn has_pending_commit(&self, room: RoomId) -> Result<bool, RoomsError> {
        self.store
            .transact(|provider, _| Ok(load_group(provider, room)?.pending_commit().is_some()))
    }
}

/// The room's name as `provider` sees it now.
fn name_in(provider: &Provider<'_>, room: RoomId) -> Result<Option<RoomName>, RoomsError> {
    let group = load_group(provider, room)?;
    Ok(RoomName::from_extensions(group.extensions())?)
}
