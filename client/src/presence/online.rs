//! What the client keeps of presence, and listing, starting a live
//! connection's presence and turning its pushes into events.
//!
//! Names here are the server's (the directory's), beside the name a user
//! is pinned under when it is a contact; escape both before printing.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use protocol::ClientId;
use protocol::v3::{self, PresenceChanges};
use serde::Serialize;

use crate::client::Client;
use crate::connection::Connection;
use crate::error::ClientError;
use crate::event::{Event, What};
use crate::peer_info::hex_id;

/// What the client keeps of presence.
#[derive(Default)]
pub(crate) struct PresenceState {
    /// Not shown as online, even while watching.
    invisible: AtomicBool,
    /// Who is online, with the server's names, as the last list and the
    /// pushes since have said (a live client only).
    online: Mutex<BTreeMap<ClientId, String>>,
    /// Told each time a live connection lists who is online anew (the
    /// pushes after that come as events).
    listed: tokio::sync::Notify,
}

/// One user online now.
#[derive(Debug, Clone, Serialize)]
pub struct OnlineUser {
    /// Client id.
    #[serde(serialize_with = "hex_id")]
    pub id: ClientId,
    /// The server's name for them.
    pub name: String,
    /// The name they are pinned under here, if they are a contact.
    pub pinned_name: Option<String>,
    /// It is us.
    pub me: bool,
}

impl Client {
    /// Whether this client hides from presence from now on (`--invisible`).
    pub fn set_invisible(&self, invisible: bool) {
        self.inner
            .presence
            .invisible
            .store(invisible, Ordering::Release);
    }

    fn invisible(&self) -> bool {
        self.inner.presence.invisible.load(Ordering::Acquire)
    }

    /// Everyone online now, by the server's name.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn online(&self) -> Result<Vec<OnlineUser>, ClientError> {
        let me = self.require_me()?.id;
        let listed = self.retrying(|c| async move { c.online().await }).await?;
        let pins = self.store(|s| s.peers()).await?;
        let mut users: Vec<OnlineUser> = listed
            .into_iter()
            .map(|e| OnlineUser {
                id: e.id,
                name: e.name.to_string(),
                pinned_name: pins
                    .iter()
                    .find(|p| p.client_id == e.id && !p.name.is_empty())
                    .map(|p| p.name.clone()),
                me: e.id == me,
            })
            .collect();
        users.sort_by_key(|u| u.name.to_lowercase());
        Ok(users)
    }

    /// The ids of everyone online now.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn online_ids(&self) -> Result<HashSet<ClientId>, ClientError> {
        let listed = self.retrying(|c| async move { c.online().await }).await?;
        Ok(listed.into_iter().map(|e| e.id).collect())
    }

    /// Who is online as this client last heard (the list its live
    /// connection started from and the pushes since), without asking the
    /// server: empty unless the client watches (`watch`, the menu, the
    /// full-screen client); empty while the connection is down, when
    /// nobody's coming or going is heard.
    pub fn online_now(&self) -> HashSet<ClientId> {
        if matches!(*self.inner.link.borrow(), crate::link::Link::Down(_)) {
            return HashSet::new();
        }
        self.known_online().keys().copied().collect()
    }

    /// A live client's start on a new connection: shown unless invisible,
    /// watching changes; remembers who is online.
    pub(crate) async fn start_presence(&self, conn: &Connection) -> Result<(), ClientError> {
        let listed = conn.set_presence(!self.invisible(), true).await?;
        *self.known_online() = listed
            .into_iter()
            .map(|e| (e.id, e.name.to_string()))
            .collect();
        // A permit is kept when nobody waits: the next wait returns at once.
        self.inner.presence.listed.notify_one();
        Ok(())
    }

    /// Returns once this client's live connection has listed who is online
    /// anew since the last call (on connecting and on each reconnection),
    /// so that a front end shows [`Client::online_now`] again.
    pub async fn presence_listed(&self) {
        self.inner.presence.listed.notified().await;
    }

    fn known_online(&self) -> std::sync::MutexGuard<'_, BTreeMap<ClientId, String>> {
        self.inner
            .presence
            .online
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The events of a presence push: who came online or went offline
    /// (after a resync: the difference with a fresh list). Never about us.
    pub(crate) async fn presence_events(
        &self,
        conn: &Connection,
        push: PresenceChanges,
    ) -> Result<Vec<Event>, ClientError> {
        // (who, online now, the server's name when a fresh list gave it)
        let changes: Vec<(ClientId, bool, Option<String>)> = if push.resync {
            let fresh: BTreeMap<ClientId, String> = conn
                .online()
                .await?
                .into_iter()
                .map(|e| (e.id, e.name.to_string()))
                .collect();
            let known = self.known_online();
            let mut changes: Vec<_> = known
                .keys()
                .filter(|id| !fresh.contains_key(id))
                .map(|id| (*id, false, None))
                .collect();
            changes.extend(
                fresh
                    .into_iter()
                    .filter(|(id, _)| !known.contains_key(id))
                    .map(|(id, name)| (id, true, Some(name))),
            );
            changes
        } else {
            push.changes
                .iter()
                .map(|c| (c.client, c.online, None))
                .collect()
        };
        let me = self.require_me()?.id;
        let mut events = Vec::new();
        for (id, online, listed_name) in changes {
            let known = self.known_online().get(&id).cloned();
            // Nothing new to us (a push the list we started from already
            // held, or a change undone by a resync): no event.
            if id == me || known.is_some() == online {
                continue;
            }
            let name = match listed_name.or(known) {
                Some(name) => name,
                None => server_name(conn, id).await,
            };
            if online {
                self.known_online().insert(id, name.clone());
            } else {
                self.known_online().remove(&id);
            }
            let peer = self.store(move |s| s.peer(id)).await?;
            let (from_name, _) = crate::event::names_of(peer.as_ref());
            events.push(Event {
                message_id: 0,
                from: id,
                from_name,
                from_you: false,
                server_name: None,
                sent_at_ms: now_ms(),
                sender_time_ms: None,
                what: What::Presence { online, name },
            });
        }
        Ok(events)
    }
}

/// The server's name for `id`, or its id when the server no longer knows it.
async fn server_name(conn: &Connection, id: ClientId) -> String {
    match conn.public_key(id).await {
        Ok(v3::PeerKey { name, .. }) => name.to_string(),
        Err(_) => format!("client {id}"),
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
