//! What other processes change in this home while the screen is open: a
//! `send` or `inbox` in another terminal, or a script's `send-file`, writes
//! the key store the screen reads. SQLite's `data_version` moves only on
//! such commits (not on the screen's own), so a look every
//! [`LOOK_EVERY`] costs one query and reloads only when something changed.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::client::Client;

/// How often the store is looked at: soon enough that a text sent from
/// another terminal appears as if live, rarely enough to cost nothing.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// A signal each time another process changed the store; the task ends
/// when the receiver is dropped (the screen closed).
pub(super) fn start(client: &Client) -> mpsc::Receiver<()> {
    let (changed_tx, changed) = mpsc::channel(1);
    let client = client.clone();
    tokio::spawn(async move {
        let mut seen = client.changes_elsewhere().await.ok();
        let mut every = tokio::time::interval(LOOK_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !changed_tx.is_closed() {
            every.tick().await;
            let Ok(now) = client.changes_elsewhere().await else {
                continue;
            };
            if seen.replace(now).is_some_and(|before| before != now) {
                // A full channel: a reload already waiting covers this too.
                let _ = changed_tx.try_send(());
            }
        }
    });
    changed
}
