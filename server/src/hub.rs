//! Fan-out of committed changes to subscribed connections (push).
//!
//! The store calls [`Hub::publish`] on its writer thread after every commit,
//! in commit order. Each subscribed connection has a bounded channel; when a
//! connection falls behind and its channel is full, the event is dropped and
//! the connection is marked *lagged*, which tells it to reload what it missed
//! from the database. The same happens when the messages and room entries in
//! its channel would hold more than [`MAX_QUEUED_BYTES`] (a connection that
//! does not read stops taking events while its writes wait, and 4096 events
//! of 256 KiB are a GiB), and a lagged connection is sent no more of them
//! until it has taken the mark (so that it never pushes a later message
//! before one it missed). Publishing therefore never blocks and never buffers
//! without bound, in events or bytes, whatever a slow peer does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use protocol::ClientId;
use tokio::sync::mpsc;

use protocol::RoomId;
use protocol::v3::RoomEntry;

use crate::store::{StoreEvent, WaitingMessage};

/// Events queued per connection before it counts as lagged.
const CHANNEL_CAPACITY: usize = 4096;
/// Bytes of messages and room entries queued per connection before it
/// counts as lagged: what one catch-up from the database reads
/// (`MAX_PULL_BYTES`), so that a connection holds at most about this much
/// of other clients' content in memory, and the server at most this much
/// per connection.
pub(crate) const MAX_QUEUED_BYTES: usize = protocol::MAX_PULL_BYTES as usize;

/// What a subscribed connection hears about its client.
#[derive(Debug, Clone)]
pub(crate) enum HubEvent {
    /// A new message is durable (`crate::timing`: committed at that
    /// instant; its send queued for the writer at the other, if it was one).
    Message(Arc<WaitingMessage>, Instant, Option<Instant>),
    /// Messages were removed (acknowledged on some connection, or pulled by
    /// version 2).
    Removed(Arc<[u64]>),
    /// An entry of one of the client's rooms is durable.
    Room(Arc<RoomEntry>),
    /// The client acknowledged a room's entries up to `seq` (on some
    /// connection).
    RoomAcked(RoomId, u64),
    /// The client's one-time key packages are running out.
    KeyPackagesLow(u32),
    /// Messages for the client were stored through another node: the
    /// database holds some that no event announced.
    Stale,
    /// The same for entries of the client's rooms.
    RoomStale,
}

struct Subscriber {
    id: u64,
    tx: mpsc::Sender<HubEvent>,
    lagged: Arc<AtomicBool>,
    /// Bytes of the events in `tx`'s channel ([`HubEvent::bytes`]).
    queued: Arc<AtomicUsize>,
}

impl HubEvent {
    /// The content an event holds in memory while queued.
    fn bytes(&self) -> usize {
        match self {
            HubEvent::Message(m, ..) => match &m.body {
                crate::store::MessageBody::Inline(b) => b.len(),
                crate::store::MessageBody::File { meta, .. } => meta.len(),
            },
            HubEvent::Room(entry) => entry.message.len(),
            _ => 0,
        }
    }
}

#[derive(Default)]
struct Inner {
    subscribers: Mutex<HashMap<ClientId, Vec<Subscriber>>>,
    next_id: AtomicU64,
}

/// A cheap-to-clone handle on the hub.
#[derive(Clone, Default)]
pub(crate) struct Hub {
    inner: Arc<Inner>,
}

/// One connection's subscription; unsubscribes when dropped.
pub(crate) struct Subscription {
    events: mpsc::Receiver<HubEvent>,
    lagged: Arc<AtomicBool>,
    queued: Arc<AtomicUsize>,
    client: ClientId,
    id: u64,
    hub: Hub,
}

impl Subscription {
    /// Whether events were dropped since the last call (and clears the mark).
    pub(crate) fn take_lagged(&self) -> bool {
        self.lagged.swap(false, Ordering::AcqRel)
    }

    /// Waits for the next event; `None` once the hub is gone.
    pub(crate) async fn recv(&mut self) -> Option<HubEvent> {
        let event = self.events.recv().await;
        self.taken(event)
    }

    /// The next event, if one is ready now.
    pub(crate) fn try_recv(&mut self) -> Option<HubEvent> {
        let event = self.events.try_recv().ok();
        self.taken(event)
    }

    fn taken(&self, event: Option<HubEvent>) -> Option<HubEvent> {
        if let Some(e) = &event {
            self.queued.fetch_sub(e.bytes(), Ordering::AcqRel);
        }
        event
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut subs = self.hub.lock();
        if let Some(list) = subs.get_mut(&self.client) {
            list.retain(|s| s.id != self.id);
            if list.is_empty() {
                subs.remove(&self.client);
            }
        }
    }
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ClientId, Vec<Subscriber>>> {
        // Critical sections only edit the map; a panic elsewhere leaves it usable.
        self.inner
            .subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Subscribes a connection to its client's events.
    pub(crate) fn subscribe(&self, client: ClientId) -> Subscription {
        let (tx, events) = mpsc::channel(CHANNEL_CAPACITY);
        let lagged = Arc::new(AtomicBool::new(false));
        let queued = Arc::new(AtomicUsize::new(0));
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().entry(client).or_default().push(Subscriber {
            id,
            tx,
            lagged: lagged.clone(),
            queued: queued.clone(),
        });
        Subscription {
            events,
            lagged,
            queued,
            client,
            id,
            hub: self.clone(),
        }
    }

    /// Delivers committed events to the subscribers of their clients.
    pub(crate) fn publish(&self, events: Vec<StoreEvent>) {
        let committed = Instant::now();
        let subs = self.lock();
        if subs.is_empty() {
            return;
        }
        let send = |client: &ClientId, event: HubEvent| {
            if let Some(list) = subs.get(client) {
                let bytes = event.bytes();
                for s in list {
                    // Content waits in the database for a lagged connection:
                    // it reloads from there, in order, once it sees the mark.
                    if bytes > 0
                        && (s.lagged.load(Ordering::Acquire)
                            || s.queued.load(Ordering::Acquire) + bytes > MAX_QUEUED_BYTES)
                    {
                        s.lagged.store(true, Ordering::Release);
                        continue;
                    }
                    s.queued.fetch_add(bytes, Ordering::AcqRel);
                    if s.tx.try_send(event.clone()).is_err() {
                        s.queued.fetch_sub(bytes, Ordering::AcqRel);
                        s.lagged.store(true, Ordering::Release);
                    }
                }
            }
        };
        for event in events {
            match event {
                StoreEvent::NewMessage {
                    recipient,
                    message,
                    queued,
                } => {
                    send(&recipient, HubEvent::Message(message, committed, queued));
                }
                StoreEvent::Removed { recipient, ids } => {
                    send(&recipient, HubEvent::Removed(ids.into()));
                }
                StoreEvent::RoomEntry { recipients, entry } => {
                    for r in recipients.iter() {
                        send(r, HubEvent::Room(entry.clone()));
                    }
                }
                StoreEvent::RoomAcked { client, room, seq } => {
                    send(&client, HubEvent::RoomAcked(room, seq));
                }
                StoreEvent::Stale { recipient } => send(&recipient, HubEvent::Stale),
                StoreEvent::RoomStale { recipients } => {
                    for r in &recipients {
                        send(r, HubEvent::RoomStale);
                    }
                }
                StoreEvent::AllStale => {
                    for client in subs.keys() {
                        send(client, HubEvent::Stale);
                        send(client, HubEvent::RoomStale);
                    }
                }
                StoreEvent::KeyPackagesLow { owner, stock } => {
                    send(&owner, HubEvent::KeyPackagesLow(stock));
                }
                // The server's sessions end (`crate::sessions`), not its push.
                StoreEvent::AccountRemoved { .. } | StoreEvent::Presence(_) => {}
            }
        }
    }

    /// Number of subscribed connections (for tests and logs).
    #[cfg(test)]
    pub(crate) fn subscriber_count(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: u64) -> StoreEvent {
        StoreEvent::stored_text(ClientId([1; 16]), ClientId([2; 16]), id, b"x")
    }

    #[tokio::test]
    async fn every_subscription_of_a_client_gets_each_event() {
        let hub = Hub::default();
        let mut a = hub.subscribe(ClientId([1; 16]));
        let mut b = hub.subscribe(ClientId([1; 16]));
        let mut other = hub.subscribe(ClientId([9; 16]));
        hub.publish(vec![message(5)]);
        for s in [&mut a, &mut b] {
            assert!(matches!(s.events.recv().await, Some(HubEvent::Message(m, ..)) if m.id == 5));
        }
        assert!(other.events.try_recv().is_err());
        drop(a);
        drop(other);
        assert_eq!(hub.subscriber_count(), 1);
    }

    #[test]
    fn a_full_channel_marks_the_subscriber_lagged_instead_of_blocking() {
        let hub = Hub::default();
        let s = hub.subscribe(ClientId([1; 16]));
        hub.publish((0..CHANNEL_CAPACITY as u64 + 10).map(message).collect());
        assert!(s.take_lagged());
        assert!(!s.take_lagged());
    }

    #[test]
    fn content_over_the_byte_bound_waits_in_the_database_until_the_lag_is_taken() {
        let hub = Hub::default();
        let mut s = hub.subscribe(ClientId([1; 16]));
        let big: &'static [u8] = vec![7u8; MAX_QUEUED_BYTES / 3].leak();
        let text = |id| StoreEvent::stored_text(ClientId([1; 16]), ClientId([2; 16]), id, big);
        hub.publish((1..=5).map(text).collect());
        // A small one after the lag is not sent either: it would overtake.
        hub.publish(vec![message(6)]);
        let ids: Vec<u64> = std::iter::from_fn(|| s.try_recv())
            .filter_map(|e| match e {
                HubEvent::Message(m, ..) => Some(m.id),
                _ => None,
            })
            .collect();
        assert_eq!(ids, vec![1, 2, 3]);
        assert_eq!(s.queued.load(Ordering::Acquire), 0);
        assert!(s.take_lagged());
        hub.publish(vec![message(7)]);
        assert!(matches!(s.try_recv(), Some(HubEvent::Message(m, ..)) if m.id == 7));
    }
}
