//! One connection's part in presence (PROTOCOL.md "141 presence"): whether
//! it is shown, its subscription to the pushes, and the 141 request that
//! sets both and answers with a page of who is online (1312).

use protocol::v3::{self, PresenceChanges};
use protocol::{ClientId, MAX_LIST_PAGE};
use tokio::sync::broadcast;

use crate::presence::Shown;
use crate::shared::Shared;
use crate::store::Protocol;

/// A connection's presence: shown or not, watching or not.
#[derive(Default)]
pub(crate) struct ConnPresence {
    shown: Option<Shown>,
    watch: Option<broadcast::Receiver<PresenceChanges>>,
}

impl ConnPresence {
    /// Answers 141: sets both flags of this connection, then lists a page.
    pub(crate) fn request(
        &mut self,
        shared: &Shared,
        me: ClientId,
        p: v3::Presence,
    ) -> v3::Response {
        match (p.show, self.shown.is_some()) {
            (true, false) => self.shown = Some(shared.presence.show(me)),
            (false, true) => self.shown = None,
            _ => {}
        }
        match (p.watch, self.watch.is_some()) {
            (true, false) => self.watch = Some(shared.presence.watch()),
            (false, true) => self.watch = None,
            _ => {}
        }
        let (ids, mut more) = shared.presence.page(&p.after, MAX_LIST_PAGE);
        let directory = shared.store.directory();
        let clients = ids
            .iter()
            .filter_map(|id| directory.get(Protocol::V3, id))
            .map(|r| v3::ClientEntry {
                id: r.id,
                name: r.name.clone(),
            })
            .collect::<Vec<_>>();
        // A page of removed accounts only (their connections are closing)
        // ends the list rather than be asked for again and again.
        if clients.is_empty() && more {
            more = false;
        }
        v3::Response::Online(v3::ClientPage { more, clients })
    }

    /// The next push for this connection (a resync when it fell behind);
    /// never, if it does not watch.
    pub(crate) async fn next(&mut self) -> PresenceChanges {
        let Some(rx) = self.watch.as_mut() else {
            return std::future::pending().await;
        };
        match rx.recv().await {
            Ok(changes) => changes,
            Err(broadcast::error::RecvError::Lagged(_)) => PresenceChanges {
                resync: true,
                changes: Vec::new().into(),
            },
            Err(broadcast::error::RecvError::Closed) => {
                self.watch = None;
                std::future::pending().await
            }
        }
    }
}
