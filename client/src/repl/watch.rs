//! Live messages in the menu: the watcher task that prints what the server
//! pushes (and connection losses and returns) above the line being edited,
//! a message of a conversation other than the current one as a one-line
//! announcement ([`super::focus`]).
//! The menu holds at most one ([`super::menu`]); the `watch` command turns
//! it on and off ([`super::messages`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::explain;
use super::focus::{Focus, arrived};
use super::terminal::Printer;
use crate::client::Client;
use crate::inbox::{Event, IMPOSTOR_RETRY};

/// How long leaving waits for the watcher and the printer.
const LEAVE_WAIT: Duration = Duration::from_secs(3);

/// The live-message watcher.
pub(super) struct Watcher {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Watcher {
    /// Starts watching `client`'s connection, printing through `printer`
    /// as the current conversation (`focus`) says; it ends when stopped.
    /// While a server with another key answers at the address it says so
    /// and tries again now and then.
    pub(super) fn start(client: Client, printer: Printer, focus: Focus) -> Self {
        let stop = CancellationToken::new();
        let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
        let until = stop.clone();
        let task = tokio::spawn(async move {
            let forward = {
                let printer = printer.clone();
                let client = client.clone();
                tokio::spawn(async move {
                    while let Some(first) = rx.recv().await {
                        let batch = crate::inbox::arrived_together(first, &mut rx);
                        arrived(&client, &printer, &focus, batch).await;
                    }
                })
            };
            // Another server's answer is said once until the pinned one is
            // back.
            let warned = Arc::new(AtomicBool::new(false));
            let link = {
                let printer = printer.clone();
                let warned = warned.clone();
                tokio::spawn(crate::link::follow(
                    client.link(),
                    until.clone(),
                    move |change| {
                        if change == crate::link::Change::Back {
                            warned.store(false, Ordering::Relaxed);
                        }
                        printer.print(change.line());
                    },
                ))
            };
            let result = client
                .watch_through_impostors(tx, until, |e| {
                    if !warned.swap(true, Ordering::Relaxed) {
                        printer.print(format!(
                            "error: {}\nlive messages wait for the server with the pinned key; \
                             trying again every {} s (`watch off` stops that)",
                            explain::one_line(&explain::client_error(e, &[])),
                            IMPOSTOR_RETRY.as_secs()
                        ));
                    }
                })
                .await;
            link.abort();
            let _ = forward.await;
            if let Err(e) = result {
                printer.print(format!(
                    "error: live messages stopped: {}",
                    explain::one_line(&explain::client_error(&e, &[]))
                ));
            }
        });
        Self { stop, task }
    }

    /// Whether it still runs.
    pub(super) fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Stops it, waiting a little for it to end.
    pub(super) async fn stop(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(LEAVE_WAIT, self.task).await;
    }
}
