//! Push of version 3: a subscribed session queues new messages from the hub
//! and the session writes them as 1104 frames between responses, with at
//! most `push_window` of them unacknowledged; when it falls behind (window
//! full, or the hub marked it lagged) it catches up from the database instead
//! of buffering. Also the subscribe request that starts it.
//!
//! This module decides what to push next; writing it is the session's.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use protocol::v3;
use protocol::{ClientId, MAX_PULL_BYTES, MessageKind};

use crate::hub::{HubEvent, Subscription};
use crate::shared::Shared;
use crate::store::{Store, WaitingMessage};
use crate::timing::{self, Stage};
use crate::v3::reply::store_error;
use crate::v3::room_push::RoomPush;

/// When a message's send was queued for the writer (if it was one), when it
/// was committed and when this session heard of it.
type Heard = (Option<Instant>, Instant, Instant);

/// Push state of a subscribed session.
pub(crate) struct Push {
    subscription: Subscription,
    /// Messages to write, oldest first; those the hub announced with the
    /// instants it committed them and this session heard of them.
    queue: VecDeque<(Arc<WaitingMessage>, Option<Heard>)>,
    /// Those written since the last flush (for `crate::timing`).
    unflushed: Vec<Heard>,
    /// Written and not yet acknowledged (by anyone).
    in_flight: HashSet<u64>,
    /// Highest id queued or written.
    pushed_up_to: u64,
    /// Whether the database may hold messages after `pushed_up_to` that are
    /// not queued.
    backlog: bool,
    /// The same for room entries.
    pub(crate) rooms: RoomPush,
    /// A key packages low notice to write (the latest stock).
    pub(crate) key_packages_low: Option<u32>,
}

/// Answers a subscribe: starts pushing (once per connection) and reports how
/// many messages are waiting.
pub(crate) async fn subscribe(
    shared: &Shared,
    push: &mut Option<Push>,
    me: ClientId,
) -> v3::Response {
    // Subscribe to the hub before counting, so that nothing committed in
    // between is missed (duplicates are filtered by id).
    if push.is_none() {
        *push = Some(Push {
            subscription: shared.hub.subscribe(me),
            queue: VecDeque::new(),
            unflushed: Vec::new(),
            in_flight: HashSet::new(),
            pushed_up_to: 0,
            backlog: true,
            rooms: RoomPush::default(),
            key_packages_low: None,
        });
    }
    match shared.store.count_waiting(me).await {
        Ok(n) => v3::Response::Subscribed {
            waiting: n.try_into().unwrap_or(u32::MAX),
        },
        Err(e) => store_error(&e),
    }
}

impl Push {
    /// Waits for the hub's next event; `None` once the hub is gone.
    pub(crate) async fn next_event(&mut self) -> Option<HubEvent> {
        self.subscription.recv().await
    }

    /// The hub's next event, if one is ready now.
    pub(crate) fn ready_event(&mut self) -> Option<HubEvent> {
        self.subscription.try_recv()
    }

    /// Takes in what the hub reports: a new message is queued if the window
    /// has room (else the session is behind), removed ones leave the window.
    pub(crate) fn on_hub(&mut self, event: HubEvent, window: usize) {
        match event {
            HubEvent::Message(m, committed, queued) => {
                if m.id <= self.pushed_up_to {
                    return;
                }
                if self.backlog || self.queue.len() + self.in_flight.len() >= window {
                    self.backlog = true;
                    return;
                }
                self.pushed_up_to = m.id;
                self.queue
                    .push_back((m, Some((queued, committed, Instant::now()))));
            }
            HubEvent::Removed(ids) => {
                for id in ids.iter() {
                    self.in_flight.remove(id);
                }
                if !self.queue.is_empty() {
                    self.queue.retain(|(m, _)| !ids.contains(&m.id));
                }
            }
            HubEvent::Room(entry) => self.rooms.on_entry(entry, window),
            HubEvent::RoomAcked(room, seq) => self.rooms.on_acked(room, seq),
            HubEvent::KeyPackagesLow(stock) => self.key_packages_low = Some(stock),
            // Read from the database after what was pushed (duplicates are
            // filtered by id there).
            HubEvent::Stale => self.backlog = true,
            HubEvent::RoomStale => self.rooms.lagged(),
        }
    }

    /// The client acknowledged `ids` on this connection: whatever becomes of
    /// the acknowledgement, they no longer hold the window. Someone else may
    /// have removed them first, and a removal heard of from another node can
    /// be lost while the node is cut off from the database.
    pub(crate) fn acknowledged(&mut self, ids: &[u64]) {
        for id in ids {
            self.in_flight.remove(id);
        }
    }

    /// The next message to write while the window allows, refilling the
    /// queue from the database when the session has fallen behind. The
    /// message counts as in flight from here on. Type 7 is skipped unless
    /// the connection `reads_not_delivered` (PROTOCOL.md "112 subscribe"):
    /// it stays waiting for a pull that asks for it.
    pub(crate) async fn next_to_write(
        &mut self,
        store: &Store,
        me: ClientId,
        window: usize,
        reads_not_delivered: bool,
    ) -> Option<Arc<WaitingMessage>> {
        loop {
            let message = self.next_in_window(store, me, window).await?;
            if reads_not_delivered || message.kind != MessageKind::NotDelivered {
                return Some(message);
            }
            self.in_flight.remove(&message.id);
        }
    }

    async fn next_in_window(
        &mut self,
        store: &Store,
        me: ClientId,
        window: usize,
    ) -> Option<Arc<WaitingMessage>> {
        if self.subscription.take_lagged() {
            self.backlog = true;
            self.rooms.lagged();
        }
        let room = window.saturating_sub(self.in_flight.len() + self.queue.len());
        // Boxed: the read's future is most of this one's size, and it is
        // rare (a session that fell behind).
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
        let (message, heard) = self.queue.pop_front()?;
        self.in_flight.insert(message.id);
        self.unflushed.extend(heard);
        Some(message)
    }

    /// Queues up to `room` messages from the database after those pushed;
    /// false if they could not be read.
    async fn refill(&mut self, store: &Store, me: ClientId, room: usize) -> bool {
        let after = self.pushed_up_to;
        match store
            .waiting(me, after, room, MAX_PULL_BYTES as usize)
            .await
        {
            Ok((messages, more)) => {
                for m in messages {
                    self.pushed_up_to = self.pushed_up_to.max(m.id);
                    self.queue.push_back((Arc::new(m), None));
                }
                self.backlog = more;
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "could not load messages to push");
                false
            }
        }
    }

    /// The session flushed what it wrote: records how long the messages it
    /// heard of from the hub took from their commit.
    pub(crate) fn flushed(&mut self) {
        if self.unflushed.is_empty() {
            return;
        }
        let now = Instant::now();
        for (queued, committed, heard) in self.unflushed.drain(..) {
            timing::record(Stage::Notify, heard.saturating_duration_since(committed), 1);
            timing::record(Stage::Write, now - heard, 1);
            if let Some(queued) = queued {
                timing::record(Stage::Server, now - queued, 1);
            }
        }
    }
}
