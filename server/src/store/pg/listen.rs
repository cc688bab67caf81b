//! The node's ear on the cluster: one dedicated connection LISTENs for what
//! other nodes commit. A registration elsewhere is read into the in-memory
//! directory; a message stored elsewhere becomes a [`StoreEvent::Stale`]
//! for its recipient, which sends that recipient's subscribed sessions here
//! back to the database for what they have not pushed (`v3::push`); a room
//! entry stored elsewhere, a [`StoreEvent::RoomStale`] for the room's
//! members (read here: one notification per entry, not one per member).
//!
//! Notifications carry only the sending node and a client or room id,
//! never content. A node skips its own (it published those events at commit).
//! When the connection breaks (the database restarted, the network), the
//! listener reconnects with a growing pause and, since notifications sent
//! meanwhile are lost, reloads the directory and marks every subscribed
//! session stale ([`StoreEvent::AllStale`]): nothing committed is missed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool_postgres::Pool;
use futures::StreamExt;
use protocol::ClientId;
use tokio_postgres::{AsyncMessage, NoTls};
use tokio_util::sync::CancellationToken;

use super::accounts;
use super::channels::{CLIENTS_CHANNEL, INBOX_CHANNEL, ROOMS_CHANNEL, client_id};
use crate::error::StoreError;
use crate::store::directory::Directory;
use crate::store::values::StoreEvent;

/// The longest pause between two attempts to reconnect: a database back
/// from a restart is served again within this.
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// The most notifications handled as one round.
const MAX_ROUND: usize = 1024;

/// Listens until `stop` is cancelled.
pub(super) async fn run(
    config: tokio_postgres::Config,
    pool: Pool,
    node: String,
    directory: Directory,
    notify: Arc<dyn Fn(Vec<StoreEvent>) + Send + Sync>,
    reachable: Arc<AtomicBool>,
    stop: CancellationToken,
) {
    let mut pause = Duration::from_millis(100);
    let mut first = true;
    loop {
        let outcome = tokio::select! {
            () = stop.cancelled() => return,
            outcome = listen(&config, &pool, &node, &directory, &notify, &reachable, first) => outcome,
        };
        let was_reachable = reachable.swap(false, Ordering::AcqRel);
        if let Err(e) = outcome {
            if was_reachable {
                tracing::error!(
                    error = %e,
                    "the database is unreachable: refusing new connections until it returns"
                );
            } else {
                tracing::debug!(error = %e, "the database is still unreachable");
            }
        }
        first = false;
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// One connection's life: LISTEN, catch up, then hear notifications until
/// the connection fails.
async fn listen(
    config: &tokio_postgres::Config,
    pool: &Pool,
    node: &str,
    directory: &Directory,
    notify: &Arc<dyn Fn(Vec<StoreEvent>) + Send + Sync>,
    reachable: &AtomicBool,
    first: bool,
) -> Result<(), StoreError> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (tx, mut heard) = tokio::sync::mpsc::unbounded_channel();
    // The connection delivers notifications only while it is polled; this
    // task polls it and ends with it. Unbounded is safe: the loop below
    // takes each at once, and each costs a few bytes.
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if tx.send(Ok(n)).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
    });
    let result = async {
        client
            .batch_execute(&format!(
                "LISTEN {CLIENTS_CHANNEL}; LISTEN {INBOX_CHANNEL}; LISTEN {ROOMS_CHANNEL}"
            ))
            .await?;
        if !first {
            // Notifications sent while this node was deaf are gone.
            accounts::load(&client, directory).await?;
            notify(vec![StoreEvent::AllStale]);
            tracing::info!("the database is reachable again: accepting connections");
        }
        reachable.store(true, Ordering::Release);
        while let Some(first) = heard.recv().await {
            // What has arrived by now is one round: its inboxes go to the
            // hub in one call, and the sessions they wake read together
            // (`read_batch.rs`).
            let mut round = vec![first];
            while round.len() < MAX_ROUND {
                match heard.try_recv() {
                    Ok(n) => round.push(n),
                    Err(_) => break,
                }
            }
            let mut stale = Vec::new();
            for n in round {
                let n = n?;
                let Some((from, id)) = parse(n.payload()) else {
                    tracing::warn!(payload = n.payload(), "ignored a malformed notification");
                    continue;
                };
                if from == node {
                    continue;
                }
                match n.channel() {
                    CLIENTS_CHANNEL => {
                        let conn = pool.get().await?;
                        accounts::load_one(&conn, directory, &id).await?;
                    }
                    INBOX_CHANNEL => stale.push(StoreEvent::Stale { recipient: id }),
                    ROOMS_CHANNEL => {
                        // The id is the room's (16 bytes, as a client's).
                        let rows = pool
                            .get()
                            .await?
                            .query(
                                "SELECT client FROM room_members WHERE room = $1",
                                &[&&id.0[..]],
                            )
                            .await?;
                        let recipients = rows
                            .iter()
                            .map(|r| client_id(r.get(0)))
                            .collect::<Result<Vec<_>, _>>()?;
                        notify(vec![StoreEvent::RoomStale { recipients }]);
                    }
                    _ => {}
                }
            }
            if !stale.is_empty() {
                notify(stale);
            }
        }
        Err(StoreError::DatabaseUnavailable(
            "the notification connection closed".into(),
        ))
    }
    .await;
    driver.abort();
    result
}

/// `<node>:<client or room id hex>`.
fn parse(payload: &str) -> Option<(&str, ClientId)> {
    let (node, id) = payload.split_once(':')?;
    let id: [u8; 16] = hex::decode(id).ok()?.try_into().ok()?;
    Some((node, ClientId(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_a_node_and_a_client() {
        let id = ClientId([7; 16]);
        let payload = format!("abc:{}", hex::encode(id.0));
        assert_eq!(parse(&payload), Some(("abc", id)));
        assert_eq!(parse("abc"), None);
        assert_eq!(parse("abc:0102"), None);
        assert_eq!(parse("abc:zz"), None);
    }
}
