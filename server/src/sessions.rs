//! Who is connected, for the operator (`server status`) and for closing the
//! sessions of an account the operator removes: a count of open connections
//! and, per client, the authenticated version-3 sessions, each with a token
//! that ends it. Entries remove themselves when dropped.
//!
//! In a cluster the operator asks one node about all of them: which clients
//! are connected here is told to the other nodes through the database with
//! each presence heartbeat (`presence/cluster.rs`), so this keeps the changes
//! since the last telling.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use protocol::ClientId;
use protocol::v3::PresenceChange;
use tokio_util::sync::CancellationToken;

use crate::presence::net_changes;

/// Open connections and authenticated sessions.
pub(crate) struct Sessions {
    started: Instant,
    connections: AtomicUsize,
    next_id: AtomicU64,
    /// Whether the changes are kept for telling (in a cluster).
    tells: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    online: HashMap<ClientId, Vec<(u64, CancellationToken)>>,
    /// Clients that connected or went away since the last telling, with
    /// whether they were connected then.
    told: HashMap<ClientId, bool>,
}

impl State {
    /// Notes that `client`'s being connected changed from `was`.
    fn crossed(&mut self, tells: bool, client: ClientId, was: bool) {
        if tells {
            self.told.entry(client).or_insert(was);
        }
    }
}

/// One open connection, counted until dropped.
pub(crate) struct Connection(Arc<Sessions>);

/// One authenticated session; `removed` fires when the operator removes its
/// account.
pub(crate) struct Online {
    sessions: Arc<Sessions>,
    client: ClientId,
    id: u64,
    pub(crate) removed: CancellationToken,
}

impl Sessions {
    /// `tells`: whether the changes are kept to tell the other nodes of a
    /// cluster ([`Sessions::take_told`]).
    pub(crate) fn new(tells: bool) -> Arc<Self> {
        Arc::new(Sessions {
            started: Instant::now(),
            connections: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            tells,
            state: Mutex::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Critical sections only edit the maps.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a connection until the guard is dropped.
    pub(crate) fn connection(self: &Arc<Self>) -> Connection {
        self.connections.fetch_add(1, Ordering::Relaxed);
        Connection(self.clone())
    }

    /// Records an authenticated session of `client`.
    pub(crate) fn online(self: &Arc<Self>, client: ClientId) -> Online {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let removed = CancellationToken::new();
        let mut state = self.lock();
        let list = state.online.entry(client).or_default();
        let first = list.is_empty();
        list.push((id, removed.clone()));
        if first {
            state.crossed(self.tells, client, false);
        }
        drop(state);
        Online {
            sessions: self.clone(),
            client,
            id,
            removed,
        }
    }

    /// Ends every session of `client`; returns how many there were.
    pub(crate) fn close(&self, client: &ClientId) -> usize {
        let list = {
            let mut state = self.lock();
            let list = state.online.remove(client).unwrap_or_default();
            if !list.is_empty() {
                state.crossed(self.tells, *client, true);
            }
            list
        };
        for (_, token) in &list {
            token.cancel();
        }
        list.len()
    }

    /// Seconds since the server opened.
    pub(crate) fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Connections open now, authenticated or not.
    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// The clients with an authenticated session.
    pub(crate) fn clients(&self) -> Vec<ClientId> {
        self.lock().online.keys().copied().collect()
    }

    /// The clients with an authenticated session; the changes so far
    /// count as told.
    pub(crate) fn told_all(&self) -> Vec<ClientId> {
        let mut state = self.lock();
        state.told.clear();
        state.online.keys().copied().collect()
    }

    /// The net changes of who is connected since the last call (or
    /// [`Sessions::told_all`]), sorted by client.
    pub(crate) fn take_told(&self) -> Vec<PresenceChange> {
        let mut state = self.lock();
        let told = std::mem::take(&mut state.told);
        net_changes(told, |client| state.online.contains_key(client))
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Drop for Online {
    fn drop(&mut self) {
        let mut state = self.sessions.lock();
        if let Some(list) = state.online.get_mut(&self.client) {
            list.retain(|(id, _)| *id != self.id);
            if list.is_empty() {
                state.online.remove(&self.client);
                state.crossed(self.sessions.tells, self.client, true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_count_until_dropped_and_close_ends_a_clients_sessions() {
        let sessions = Sessions::new(false);
        let conn = sessions.connection();
        let (a, b) = (ClientId([1; 16]), ClientId([2; 16]));
        let a1 = sessions.online(a);
        let a2 = sessions.online(a);
        let b1 = sessions.online(b);
        assert_eq!((sessions.connections(), sessions.clients().len()), (1, 2));
        assert_eq!(sessions.close(&a), 2);
        assert!(a1.removed.is_cancelled() && a2.removed.is_cancelled());
        assert!(!b1.removed.is_cancelled());
        assert_eq!(sessions.clients(), [b]);
        drop((a1, a2, b1, conn));
        assert_eq!((sessions.connections(), sessions.clients().len()), (0, 0));
        assert!(sessions.take_told().is_empty(), "kept only to tell");
    }

    #[test]
    fn the_changes_told_are_net_since_the_last_telling_and_closing_counts() {
        let sessions = Sessions::new(true);
        let (a, b, c) = (ClientId([1; 16]), ClientId([2; 16]), ClientId([3; 16]));
        let a1 = sessions.online(a);
        let b1 = sessions.online(b);
        let mut all = sessions.told_all();
        all.sort();
        assert_eq!(all, [a, b]);
        assert!(sessions.take_told().is_empty());
        // A second session of a, c in and out again, b's only one gone,
        // a's sessions closed by the operator: a and b went, c never was.
        let a2 = sessions.online(a);
        drop(sessions.online(c));
        drop(b1);
        assert_eq!(sessions.close(&a), 2);
        let change = |client, online| PresenceChange { client, online };
        assert_eq!(sessions.take_told(), [change(a, false), change(b, false)]);
        drop((a1, a2));
        assert!(sessions.take_told().is_empty(), "a was told gone already");
        let c1 = sessions.online(c);
        assert_eq!(sessions.take_told(), [change(c, true)]);
        drop(c1);
    }
}
