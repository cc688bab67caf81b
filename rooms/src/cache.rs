//! Rooms kept in memory between the engine's operations.
//!
//! Loading a room from the state file parses its whole ratchet tree, so in
//! a room of 1,000 members every operation, even encrypting or decrypting
//! one text, cost tens of milliseconds before any MLS work. The engine
//! keeps each room it loaded, as it was when its last operation committed:
//! an operation takes the room out of the cache ([`Loaded`]), and the
//! room goes back only when that operation's transaction commits. A failed
//! operation drops it, and the next one loads what the file holds.
//!
//! Another process writing the same state file (a second `client` run on
//! the same home) makes every kept room stale: SQLite's `data_version`
//! changes when another connection commits, and then the cache is emptied
//! before the operation starts.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;

use openmls::group::MlsGroup;
use rusqlite::Connection;

use crate::error::RoomsError;
use crate::ids::RoomId;

/// The rooms one engine keeps, and the file version they match.
#[derive(Default)]
pub(crate) struct GroupCache {
    inner: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    groups: HashMap<RoomId, MlsGroup>,
    /// `PRAGMA data_version` when the groups were last known current.
    version: Option<i64>,
}

impl GroupCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        // A panic elsewhere cannot leave the map half-changed: every
        // change is one insert or remove.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Before an operation: empties the cache if another connection
    /// changed the file since the last operation.
    pub(crate) fn check(&self, conn: &Connection) -> Result<(), RoomsError> {
        let now: i64 = conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        let mut kept = self.lock();
        if kept.version != Some(now) {
            kept.groups.clear();
            kept.version = Some(now);
        }
        Ok(())
    }

    fn take(&self, room: RoomId) -> Option<MlsGroup> {
        self.lock().groups.remove(&room)
    }

    /// After an operation committed: what it used goes back, what it
    /// replaced or deleted goes away.
    pub(crate) fn settle(&self, ops: Touched) {
        let mut kept = self.lock();
        for room in ops.evicted {
            kept.groups.remove(&room);
        }
        for (room, group) in ops.returned {
            kept.groups.insert(room, group);
        }
    }
}

/// What one operation did to the rooms it used.
#[derive(Default)]
pub(crate) struct Touched {
    returned: Vec<(RoomId, MlsGroup)>,
    evicted: Vec<RoomId>,
}

/// The cache as one operation sees it.
pub(crate) struct OpCache<'a> {
    cache: Option<&'a GroupCache>,
    touched: RefCell<Touched>,
}

impl<'a> OpCache<'a> {
    pub(crate) fn new(cache: Option<&'a GroupCache>) -> Self {
        Self {
            cache,
            touched: RefCell::new(Touched::default()),
        }
    }

    pub(crate) fn take(&self, room: RoomId) -> Option<MlsGroup> {
        self.cache.and_then(|c| c.take(room))
    }

    /// The room `room` is replaced (a new group for its id) or deleted in
    /// this operation: no copy of it may be kept.
    pub(crate) fn evict(&self, room: RoomId) {
        let mut t = self.touched.borrow_mut();
        t.returned.retain(|(r, _)| *r != room);
        t.evicted.push(room);
    }

    fn give_back(&self, room: RoomId, group: MlsGroup) {
        let mut t = self.touched.borrow_mut();
        if !t.evicted.contains(&room) {
            t.returned.push((room, group));
        }
    }

    pub(crate) fn into_touched(self) -> Touched {
        self.touched.into_inner()
    }
}

/// A room loaded for one operation; it returns to the operation's
/// [`OpCache`] when dropped (kept only if the operation commits).
pub(crate) struct Loaded<'p> {
    group: Option<MlsGroup>,
    room: RoomId,
    cache: &'p OpCache<'p>,
}

impl<'p> Loaded<'p> {
    pub(crate) fn new(group: MlsGroup, room: RoomId, cache: &'p OpCache<'p>) -> Self {
        Self {
            group: Some(group),
            room,
            cache,
        }
    }
}

impl Deref for Loaded<'_> {
    type Target = MlsGroup;

    fn deref(&self) -> &MlsGroup {
        self.group.as_ref().expect("present until dropped")
    }
}

impl DerefMut for Loaded<'_> {
    fn deref_mut(&mut self) -> &mut MlsGroup {
        self.group.as_mut().expect("present until dropped")
    }
}

impl Drop for Loaded<'_> {
    fn drop(&mut self) {
        if let Some(group) = self.group.take() {
            self.cache.give_back(self.room, group);
        }
    }
}
