//! Receiving what the server pushes while the screen is open: a task of
//! its own, stopped by its token; while another server answers at the
//! address, the danger shows on the status line and watching goes on once
//! the pinned server answers again.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::error::ClientError;
use crate::event::Event;
use crate::repl::explain;

pub(super) type Watcher = tokio::task::JoinHandle<Result<(), ClientError>>;

/// Starts receiving what the server pushes: the task, what it receives,
/// and what stops it.
pub(super) fn start(
    client: &Client,
) -> (Watcher, mpsc::UnboundedReceiver<Event>, CancellationToken) {
    let stop = CancellationToken::new();
    let (events_tx, events) = mpsc::unbounded_channel();
    let watcher = {
        let client = client.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            // Said on the status line (log lines go there) until the
            // pinned server answers again.
            let answered = |e: &ClientError| {
                tracing::warn!(
                    "live messages wait for the server with the pinned key: {}",
                    explain::one_line(&explain::client_error(e, &[]))
                );
            };
            client
                .watch_through_impostors(events_tx, stop, answered)
                .await
        })
    };
    (watcher, events, stop)
}
