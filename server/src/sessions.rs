//! Who is connected, for the operator (`server status`) and for closing the
//! sessions of an account the operator removes: a count of open connections
//! and, per client, the authenticated version-3 sessions, each with a token
//! that ends it. Entries remove themselves when dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use protocol::ClientId;
use tokio_util::sync::CancellationToken;

/// Open connections and authenticated sessions.
pub(crate) struct Sessions {
    started: Instant,
    connections: AtomicUsize,
    next_id: AtomicU64,
    online: Mutex<HashMap<ClientId, Vec<(u64, CancellationToken)>>>,
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
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Sessions {
            started: Instant::now(),
            connections: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            online: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ClientId, Vec<(u64, CancellationToken)>>> {
        // Critical sections only edit the map.
        self.online.lock().unwrap_or_else(|e| e.into_inner())
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
        self.lock()
            .entry(client)
            .or_default()
            .push((id, removed.clone()));
        Online {
            sessions: self.clone(),
            client,
            id,
            removed,
        }
    }

    /// Ends every session of `client`; returns how many there were.
    pub(crate) fn close(&self, client: &ClientId) -> usize {
        let list = self.lock().remove(client).unwrap_or_default();
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

    /// Clients with at least one authenticated session.
    pub(crate) fn clients_online(&self) -> usize {
        self.lock().len()
    }

    /// Whether `client` has an authenticated session.
    pub(crate) fn is_online(&self, client: &ClientId) -> bool {
        self.lock().contains_key(client)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Drop for Online {
    fn drop(&mut self) {
        let mut map = self.sessions.lock();
        if let Some(list) = map.get_mut(&self.client) {
            list.retain(|(id, _)| *id != self.id);
            if list.is_empty() {
                map.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_count_until_dropped_and_close_ends_a_clients_sessions() {
        let sessions = Sessions::new();
        let conn = sessions.connection();
        let (a, b) = (ClientId([1; 16]), ClientId([2; 16]));
        let a1 = sessions.online(a);
        let a2 = sessions.online(a);
        let b1 = sessions.online(b);
        assert_eq!((sessions.connections(), sessions.clients_online()), (1, 2));
        assert_eq!(sessions.close(&a), 2);
        assert!(a1.removed.is_cancelled() && a2.removed.is_cancelled());
        assert!(!b1.removed.is_cancelled());
        assert!(!sessions.is_online(&a));
        drop((a1, a2, b1, conn));
        assert_eq!((sessions.connections(), sessions.clients_online()), (0, 0));
    }
}
