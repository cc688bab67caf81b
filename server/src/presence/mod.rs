//! Who is online (PROTOCOL.md "141 presence"): a count of *shown*
//! connections per client, the net changes since the last push, and the
//! push itself, one coalesced batch per interval sent to every watching
//! connection through a broadcast channel. However many connections come
//! and go, a watcher gets at most one frame per interval (a few more only
//! past 60,000 changes), built once and shared by every watcher.
//!
//! In a cluster a client is online when any node shows it: the clients
//! other nodes show are kept here per node (`cluster.rs` hears and tells
//! them through the database).

mod cluster;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::v3::{PresenceChange, PresenceChanges};
use protocol::{ClientId, MAX_PRESENCE_CHANGES};
use tokio::sync::broadcast;

pub(crate) use cluster::{NODE_TIMEOUT, run};

/// The net changes among `told` (clients whose state may have changed,
/// with their state when last told), given their state `now`, sorted by
/// client: what a node tells the others.
pub(crate) fn net_changes(
    told: HashMap<ClientId, bool>,
    now: impl Fn(&ClientId) -> bool,
) -> Vec<PresenceChange> {
    let mut changes: Vec<PresenceChange> = told
        .into_iter()
        .filter_map(|(client, was)| {
            let online = now(&client);
            (online != was).then_some(PresenceChange { client, online })
        })
        .collect();
    changes.sort_by_key(|c| c.client);
    changes
}

/// How often the changes are pushed: well within the second a change may
/// take to reach watchers.
pub(crate) const INTERVAL: Duration = Duration::from_millis(250);
/// Pushes kept for a watcher that has not read them; past this it is told
/// to list again (a 1313 with resync) instead of being buffered for.
const BACKLOG: usize = 64;

/// Why a client is online.
#[derive(Default, Clone, Copy)]
struct Count {
    /// Its shown connections on this node.
    here: u32,
    /// The other nodes of a cluster that show it.
    nodes: u32,
}

#[derive(Default)]
struct State {
    /// Online clients (shown here or by another node).
    shown: BTreeMap<ClientId, Count>,
    /// Clients whose online-ness may have changed since the last push,
    /// with whether they were online at that push.
    before: HashMap<ClientId, bool>,
    /// Clients whose count here crossed zero since this node last told
    /// the others, with whether they were shown here then.
    told: HashMap<ClientId, bool>,
    /// What each other node of a cluster shows.
    elsewhere: HashMap<String, HashSet<ClientId>>,
}

impl State {
    /// Changes `client`'s count, keeping `shown` to online clients and
    /// noting a crossing of zero for the watchers.
    fn change(&mut self, client: ClientId, edit: impl FnOnce(&mut Count)) {
        let was = self.shown.get(&client).copied().unwrap_or_default();
        let mut now = was;
        edit(&mut now);
        let (on_before, on_now) = (was.here + was.nodes > 0, now.here + now.nodes > 0);
        if on_before != on_now {
            self.before.entry(client).or_insert(on_before);
        }
        if (was.here > 0) != (now.here > 0) {
            self.told.entry(client).or_insert(was.here > 0);
        }
        if on_now {
            self.shown.insert(client, now);
        } else {
            self.shown.remove(&client);
        }
    }

    /// Forgets what node `node` showed.
    fn forget_node(&mut self, node: &str) {
        for client in self.elsewhere.remove(node).unwrap_or_default() {
            self.change(client, |c| c.nodes -= 1);
        }
    }

    /// Node `node` shows `client` (`online`) or no longer does.
    fn set_elsewhere(&mut self, node: &str, client: ClientId, online: bool) {
        let set = self.elsewhere.entry(node.to_string()).or_default();
        let changed = if online {
            set.insert(client)
        } else {
            set.remove(&client)
        };
        if set.is_empty() {
            self.elsewhere.remove(node);
        }
        if changed {
            self.change(client, |c| {
                if online {
                    c.nodes += 1;
                } else {
                    c.nodes -= 1;
                }
            });
        }
    }
}

/// The server's presence.
pub(crate) struct Presence {
    state: Mutex<State>,
    pushes: broadcast::Sender<PresenceChanges>,
}

/// One shown connection: its client counts as online until this is dropped.
pub(crate) struct Shown {
    presence: Arc<Presence>,
    client: ClientId,
}

impl Presence {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Presence {
            state: Mutex::new(State::default()),
            pushes: broadcast::channel(BACKLOG).0,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Critical sections only edit the maps.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a connection of `client` as online until the guard is dropped.
    pub(crate) fn show(self: &Arc<Self>, client: ClientId) -> Shown {
        self.lock().change(client, |c| c.here += 1);
        Shown {
            presence: self.clone(),
            client,
        }
    }

    fn hide(&self, client: ClientId) {
        let mut state = self.lock();
        if state.shown.get(&client).is_some_and(|c| c.here > 0) {
            state.change(client, |c| c.here -= 1);
        }
    }

    /// How many of `clients` are shown online now.
    pub(crate) fn count_online<'a>(
        &self,
        clients: impl IntoIterator<Item = &'a ClientId>,
    ) -> usize {
        let state = self.lock();
        clients
            .into_iter()
            .filter(|c| state.shown.contains_key(c))
            .count()
    }

    /// The pushes from now on.
    pub(crate) fn watch(&self) -> broadcast::Receiver<PresenceChanges> {
        self.pushes.subscribe()
    }

    /// Up to `max` online clients after `after`, by id, and whether more
    /// follow.
    pub(crate) fn page(&self, after: &ClientId, max: usize) -> (Vec<ClientId>, bool) {
        let state = self.lock();
        let mut ids = state
            .shown
            .range((Bound::Excluded(*after), Bound::Unbounded))
            .map(|(id, _)| *id)
            .take(max + 1)
            .collect::<Vec<_>>();
        let more = ids.len() > max;
        ids.truncate(max);
        (ids, more)
    }

    /// Pushes the net changes since the last push (none: nothing is sent);
    /// returns how many there were.
    pub(crate) fn flush(&self) -> usize {
        let changes: Vec<PresenceChange> = {
            let mut state = self.lock();
            let before = std::mem::take(&mut state.before);
            let mut changes: Vec<PresenceChange> = before
                .into_iter()
                .filter_map(|(client, was)| {
                    let online = state.shown.contains_key(&client);
                    (online != was).then_some(PresenceChange { client, online })
                })
                .collect();
            changes.sort_by_key(|c| c.client);
            changes
        };
        for part in changes.chunks(MAX_PRESENCE_CHANGES) {
            // No watcher is no error: the change is simply seen by nobody.
            let _ = self.pushes.send(PresenceChanges {
                resync: false,
                changes: part.into(),
            });
        }
        changes.len()
    }
}

impl Drop for Shown {
    fn drop(&mut self) {
        self.presence.hide(self.client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ClientId = ClientId([1; 16]);
    const B: ClientId = ClientId([2; 16]);

    fn next(rx: &mut broadcast::Receiver<PresenceChanges>) -> Vec<(ClientId, bool)> {
        rx.try_recv()
            .expect("a push")
            .changes
            .iter()
            .map(|c| (c.client, c.online))
            .collect()
    }

    #[test]
    fn a_push_carries_the_net_change_of_each_client_once() {
        let presence = Presence::new();
        let mut rx = presence.watch();
        let a1 = presence.show(A);
        let a2 = presence.show(A);
        let b = presence.show(B);
        drop(b);
        assert_eq!(presence.flush(), 1, "b came and went: no change");
        assert_eq!(next(&mut rx), vec![(A, true)]);
        assert_eq!(presence.page(&ClientId([0; 16]), 10), (vec![A], false));
        drop(a1);
        assert_eq!(presence.flush(), 0, "a still has a shown connection");
        assert!(rx.try_recv().is_err(), "nothing changed: nothing is pushed");
        drop(a2);
        presence.flush();
        assert_eq!(next(&mut rx), vec![(A, false)]);
        assert_eq!(presence.page(&ClientId([0; 16]), 10), (vec![], false));
    }

    #[test]
    fn pages_follow_the_ids_and_say_when_more_follow() {
        let presence = Presence::new();
        let shown: Vec<Shown> = (1..=5u8)
            .map(|i| presence.show(ClientId([i; 16])))
            .collect();
        let (first, more) = presence.page(&ClientId([0; 16]), 2);
        assert_eq!((first.len(), more), (2, true));
        let (last, more) = presence.page(&ClientId([4; 16]), 2);
        assert_eq!((last, more), (vec![ClientId([5; 16])], false));
        drop(shown);
    }

    #[test]
    fn a_watcher_that_does_not_read_lags_instead_of_being_buffered_for() {
        let presence = Presence::new();
        let mut rx = presence.watch();
        for i in 0..(BACKLOG + 5) {
            let _shown = presence.show(ClientId((i as u128 + 1).to_le_bytes()));
            presence.flush();
        }
        assert!(matches!(
            rx.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(_))
        ));
    }
}
