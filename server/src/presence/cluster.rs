//! Presence across the nodes of a cluster: what the other nodes show is
//! kept per node (heard through the database: `store::pg::presence`), and
//! what this node shows is told to them, each change within a push
//! interval and a heartbeat at least every [`BEAT`]. A node silent for
//! [`NODE_TIMEOUT`] (killed, cut off) is dropped by the others, so the
//! users it showed do not stay online forever. Alone on SQLite, only the
//! pushes to this node's watchers run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::ClientId;
use protocol::v3::PresenceChange;
use tokio_util::sync::CancellationToken;

use super::{INTERVAL, Presence, net_changes};
use crate::sessions::Sessions;
use crate::store::{PresenceUpdate, Store, Told};

/// How long a node may be silent before the others stop showing its
/// users online: several heartbeats, so that one slow transaction does
/// not drop a live node.
pub(crate) const NODE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest time between two heartbeats of a node.
const BEAT: Duration = Duration::from_secs(2);
/// The longest a stopping node waits to tell the others it is gone.
const LEAVE_WAIT: Duration = Duration::from_secs(2);

impl Presence {
    /// The net changes of who is shown on this node since the last call
    /// (or [`Presence::told_all`]).
    fn take_told(&self) -> Vec<PresenceChange> {
        let mut state = self.lock();
        let told = std::mem::take(&mut state.told);
        net_changes(told, |client| {
            state.shown.get(client).is_some_and(|c| c.here > 0)
        })
    }

    /// Everyone shown on this node now; the changes so far count as told.
    fn told_all(&self) -> Vec<ClientId> {
        let mut state = self.lock();
        state.told.clear();
        state
            .shown
            .iter()
            .filter(|(_, c)| c.here > 0)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Takes in what another node shows.
    pub(crate) fn apply(&self, update: PresenceUpdate) {
        let mut state = self.lock();
        match update {
            PresenceUpdate::Changed { node, changes } => {
                for (client, online) in changes {
                    state.set_elsewhere(&node, client, online);
                }
            }
            PresenceUpdate::Node { node, clients } => {
                state.forget_node(&node);
                for client in clients {
                    state.set_elsewhere(&node, client, true);
                }
            }
            PresenceUpdate::Gone { node } => state.forget_node(&node),
            PresenceUpdate::All(nodes) => {
                let known: Vec<String> = state.elsewhere.keys().cloned().collect();
                for node in known {
                    state.forget_node(&node);
                }
                for (node, clients) in nodes {
                    for client in clients {
                        state.set_elsewhere(&node, client, true);
                    }
                }
            }
        }
    }
}

/// Pushes the changes to this node's watchers every interval and, in a
/// cluster, tells the other nodes (who is shown, and for the operator who
/// is connected: `sessions`), until `stop` fires; then tells them this
/// node is gone.
pub(crate) async fn run(
    presence: Arc<Presence>,
    sessions: Arc<Sessions>,
    store: Store,
    stop: CancellationToken,
) {
    let clustered = store.node_name().is_some();
    let pushing = async {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            presence.flush();
        }
    };
    // Beside the pushes, which a slow database must not hold up.
    let telling = async {
        if !clustered {
            return std::future::pending().await;
        }
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // First everything, then changes; everything again after a failure
        // (what was taken to tell may not have been told).
        let mut whole = true;
        let mut last_beat: Option<Instant> = None;
        loop {
            tick.tick().await;
            let told = if whole {
                Told::All {
                    shown: presence.told_all(),
                    connected: sessions.told_all(),
                }
            } else {
                let (shown, connected) = (presence.take_told(), sessions.take_told());
                let quiet = shown.is_empty() && connected.is_empty();
                if quiet && last_beat.is_some_and(|t| t.elapsed() < BEAT) {
                    continue;
                }
                Told::Changes { shown, connected }
            };
            match tokio::time::timeout(NODE_TIMEOUT, store.presence_beat(told, NODE_TIMEOUT)).await
            {
                Ok(Ok(Some(beat))) => {
                    whole = beat.lost;
                    last_beat = Some(Instant::now());
                    for node in beat.gone {
                        presence.apply(PresenceUpdate::Gone { node });
                    }
                }
                Ok(Ok(None)) => {}
                Ok(Err(e)) => {
                    whole = true;
                    tracing::debug!(error = %e, "could not tell the other nodes who is online");
                }
                Err(_) => whole = true,
            }
        }
    };
    tokio::select! {
        () = pushing => {}
        () = telling => {}
        () = stop.cancelled() => {}
    }
    if clustered {
        match tokio::time::timeout(LEAVE_WAIT, store.presence_leave()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "could not tell the other nodes it stops"),
            Err(_) => tracing::debug!("telling the other nodes it stops took too long"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ClientId = ClientId([1; 16]);
    const B: ClientId = ClientId([2; 16]);

    fn pushed(presence: &Presence) -> Vec<(ClientId, bool)> {
        let mut rx = presence.watch();
        presence.flush();
        rx.try_recv()
            .map(|p| p.changes.iter().map(|c| (c.client, c.online)).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_client_shown_by_another_node_is_online_until_every_node_stops_showing_it() {
        let presence = Presence::new();
        let changed = |node: &str, client, online| PresenceUpdate::Changed {
            node: node.into(),
            changes: vec![(client, online)],
        };
        presence.apply(changed("n1", A, true));
        presence.apply(changed("n2", A, true));
        assert_eq!(pushed(&presence), vec![(A, true)]);
        assert_eq!(presence.count_online(&[A, B]), 1);
        // Shown here too; what this node tells is its own part only.
        let here = presence.show(A);
        assert_eq!(
            presence.take_told(),
            vec![PresenceChange {
                client: A,
                online: true
            }]
        );
        presence.apply(changed("n1", A, false));
        presence.apply(PresenceUpdate::Gone { node: "n2".into() });
        drop(here);
        assert_eq!(pushed(&presence), vec![(A, false)]);
        assert_eq!(
            presence.take_told(),
            vec![PresenceChange {
                client: A,
                online: false
            }]
        );
        assert_eq!(presence.count_online(&[A]), 0);
    }

    #[test]
    fn a_whole_state_replaces_what_a_node_showed() {
        let presence = Presence::new();
        presence.apply(PresenceUpdate::Node {
            node: "n1".into(),
            clients: vec![A, B],
        });
        assert_eq!(pushed(&presence), vec![(A, true), (B, true)]);
        presence.apply(PresenceUpdate::Node {
            node: "n1".into(),
            clients: vec![B],
        });
        presence.apply(PresenceUpdate::All(vec![("n2".into(), vec![B])]));
        assert_eq!(pushed(&presence), vec![(A, false)]);
        assert_eq!(presence.page(&ClientId([0; 16]), 10), (vec![B], false));
        // A change heard twice counts once.
        presence.apply(PresenceUpdate::Changed {
            node: "n2".into(),
            changes: vec![(B, true), (B, true)],
        });
        presence.apply(PresenceUpdate::Changed {
            node: "n2".into(),
            changes: vec![(B, false)],
        });
        assert_eq!(pushed(&presence), vec![(B, false)]);
        let _a = presence.show(A);
        assert_eq!(presence.told_all(), vec![A]);
        assert!(presence.take_told().is_empty(), "told whole: nothing more");
    }
}
