//! Push of room entries (1310) on a subscribed session, the room side of
//! `v3::push`: entries from the hub are queued while at most `push_window`
//! of them are unacknowledged; when the session falls behind (window full,
//! or the hub marked it lagged) it reloads from the database (the entries
//! after its cursors) instead of buffering. An acknowledgement (136, on any
//! connection of the client) frees the window.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use protocol::v3::RoomEntry;
use protocol::{ClientId, MAX_PULL_BYTES, RoomId};

use crate::store::Store;

/// Room push state of a subscribed session.
pub(crate) struct RoomPush {
    /// Entries to write, in log order.
    queue: VecDeque<Arc<RoomEntry>>,
    /// Written and not yet acknowledged: seq to room.
    in_flight: BTreeMap<u64, RoomId>,
    /// Highest seq queued or written.
    pushed_up_to: u64,
    /// Whether the database may hold entries after `pushed_up_to` that are
    /// not queued.
    backlog: bool,
}

impl Default for RoomPush {
    fn default() -> Self {
        Self {
            queue: VecDeque::new(),
            in_flight: BTreeMap::new(),
            pushed_up_to: 0,
            // What waited before the subscription is pushed too.
            backlog: true,
        }
    }
}

impl RoomPush {
    /// A new entry: queued if the window has room, else the session is behind.
    pub(crate) fn on_entry(&mut self, entry: Arc<RoomEntry>, window: usize) {
        if entry.seq <= self.pushed_up_to {
            return;
        }
        if self.backlog || self.queue.len() + self.in_flight.len() >= window {
            self.backlog = true;
            return;
        }
        self.pushed_up_to = entry.seq;
        self.queue.push_back(entry);
    }

    /// The client acknowledged `room` up to `seq`.
    pub(crate) fn on_acked(&mut self, room: RoomId, seq: u64) {
        self.in_flight.retain(|s, r| !(*r == room && *s <= seq));
        self.queue.retain(|e| !(e.room == room && e.seq <= seq));
    }

    /// Events were dropped for this session: reload from the database.
    pub(crate) fn lagged(&mut self) {
        self.backlog = true;
    }

    /// The next entry to write while the window allows, reloading when
    /// behind. The entry counts as in flight from here on.
    pub(crate) async fn next_to_write(
        &mut self,
        store: &Store,
        me: ClientId,
        window: usize,
    ) -> Option<Arc<RoomEntry>> {
        let room = window.saturating_sub(self.in_flight.len() + self.queue.len());
        // Boxed, as the messages' refill: rare, and most of the size.
        if self.queue.is_empty()
            && self.backlog
            && room > 0
            && !Box::pin(self.refill(store, me, room)).await
        {
            return None;
        }
        if self.in_flight.len() >= window {
            return None;
        }
        let entry = self.queue.pop_front()?;
        self.in_flight.insert(entry.seq, entry.room);
        Some(entry)
    }

    /// Queues up to `room` entries from the database after those pushed;
    /// false if they could not be read.
    async fn refill(&mut self, store: &Store, me: ClientId, room: usize) -> bool {
        match store
            .room_entries(me, self.pushed_up_to, room, MAX_PULL_BYTES as usize)
            .await
        {
            Ok((entries, more)) => {
                for e in entries {
                    self.pushed_up_to = self.pushed_up_to.max(e.seq);
                    self.queue.push_back(Arc::new(e));
                }
                self.backlog = more;
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "could not load room entries to push");
                false
            }
        }
    }
}
