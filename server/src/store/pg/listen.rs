//! The node's ear on the cluster: one dedicated connection LISTENs for what
//! other nodes commit. A registration elsewhere is read into the in-memory
//! directory; an account removed elsewhere (its row gone) leaves it, and
//! its sessions here end ([`StoreEvent::AccountRemoved`]); a message stored elsewhere becomes a [`StoreEvent::Stale`]
//! for its recipient, which sends that recipient's subscribed sessions here
//! back to the database for what they have not pushed (`v3::push`); a room
//! entry stored elsewhere, a [`StoreEvent::RoomStale`] for the room's
//! members (read here: one notification per entry, not one per member); a
//! member's acknowledgement of room entries elsewhere, a
//! [`StoreEvent::RoomAcked`] that frees its sessions' push windows here;
//! messages removed elsewhere (acknowledged), a [`StoreEvent::Removed`]
//! that does the same for direct messages; a
//! claim elsewhere that left an owner few key packages, a
//! [`StoreEvent::KeyPackagesLow`] with the stock read here; who another
//! node shows online, a [`StoreEvent::Presence`] (`presence.rs`), read
//! whole from the database when the node starts to hear.
//!
//! Notifications carry only the sending node, client or room ids and entry
//! numbers (`channels.rs`), never content. A node skips its own (it published those events at commit).
//! When the connection breaks (the database restarted, the network), the
//! listener reconnects with a growing pause and, since notifications sent
//! meanwhile are lost, reloads the directory (removals included) and marks every subscribed
//! session stale ([`StoreEvent::AllStale`]): nothing committed is missed.
//! A client arriving at the refusing node, or a pooled connection that
//! reaches the database, cuts the pause short.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool_postgres::Pool;
use futures::StreamExt;
use protocol::{ClientId, RoomId};
use tokio_postgres::{AsyncMessage, NoTls};
use tokio_util::sync::CancellationToken;

use super::accounts;
use super::channels::{
    CLIENTS_CHANNEL, INBOX_CHANNEL, KEY_PACKAGES_CHANNEL, PRESENCE_CHANNEL, REMOVED_CHANNEL,
    ROOM_ACKS_CHANNEL, ROOMS_CHANNEL, client_id,
};
use crate::error::StoreError;
use crate::store::directory::Directory;
use crate::store::values::{PresenceUpdate, StoreEvent};
use crate::store::writer::LOW_KEY_PACKAGES;

/// The longest pause between two attempts to reconnect: a database back
/// from a restart is served again within this.
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// The shortest pause between two attempts, when a client's arrival or a
/// pooled connection that reached the database wakes the listener early.
const MIN_PAUSE: Duration = Duration::from_millis(20);

/// The most notifications handled as one round.
const MAX_ROUND: usize = 1024;

/// What the listener works with: the node's own parts.
pub(super) struct Ears {
    pub(super) config: tokio_postgres::Config,
    pub(super) pool: Pool,
    pub(super) node: String,
    pub(super) directory: Directory,
    pub(super) notify: Arc<dyn Fn(Vec<StoreEvent>) + Send + Sync>,
    pub(super) reachable: Arc<AtomicBool>,
    /// Ends a pause early (`Pg::reachable`, `Pg::conn`).
    pub(super) listen_again: Arc<tokio::sync::Notify>,
}

/// Listens until `stop` is cancelled; `ready` is told once the node first
/// listens.
pub(super) async fn run(
    ears: Ears,
    stop: CancellationToken,
    mut ready: Option<tokio::sync::oneshot::Sender<()>>,
) {
    let reachable = &ears.reachable;
    let mut pause = Duration::from_millis(100);
    let mut first = true;
    loop {
        let outcome = tokio::select! {
            () = stop.cancelled() => return,
            outcome = listen(&ears, first, &mut ready) => outcome,
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
            () = pause_unless_woken(pause, &ears.listen_again) => {}
        }
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// Waits `pause`, or [`MIN_PAUSE`] after `woken` is notified if that ends
/// sooner: however often it is woken, the listener tries at most this often.
async fn pause_unless_woken(pause: Duration, woken: &tokio::sync::Notify) {
    tokio::select! {
        () = tokio::time::sleep(pause) => {}
        () = async {
            woken.notified().await;
            tokio::time::sleep(MIN_PAUSE).await;
        } => {}
    }
}

/// One connection's life: LISTEN, catch up, then hear notifications until
/// the connection fails.
async fn listen(
    ears: &Ears,
    first: bool,
    ready: &mut Option<tokio::sync::oneshot::Sender<()>>,
) -> Result<(), StoreError> {
    let Ears {
        config,
        pool,
        node,
        directory,
        notify,
        reachable,
        listen_again: _,
    } = ears;
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
                "LISTEN {CLIENTS_CHANNEL}; LISTEN {INBOX_CHANNEL}; LISTEN {ROOMS_CHANNEL};
                 LISTEN {ROOM_ACKS_CHANNEL}; LISTEN {KEY_PACKAGES_CHANNEL}; LISTEN {REMOVED_CHANNEL};
                 LISTEN {PRESENCE_CHANNEL}"
            ))
            .await?;
        // Who the others show, from now on kept by their notifications.
        notify(vec![StoreEvent::Presence(PresenceUpdate::All(
            everyone_shown(&client, node).await?,
        ))]);
        if !first {
            // Notifications sent while this node was deaf are gone.
            let removed = accounts::reload(&client, directory).await?;
            let mut events: Vec<StoreEvent> = removed
                .into_iter()
                .map(|client| StoreEvent::AccountRemoved { client })
                .collect();
            events.push(StoreEvent::AllStale);
            notify(events);
            tracing::info!("the database is reachable again: accepting connections");
        } else {
            // Registrations committed between the store's first load and
            // this LISTEN were announced to no one here.
            accounts::reload(&client, directory).await?;
        }
        reachable.store(true, Ordering::Release);
        // The node serves only once it hears the others (`Pg::open`).
        if let Some(ready) = ready.take() {
            let _ = ready.send(());
        }
        while let Some(first) = heard.recv().await {
            // What has arrived by now is one round: its events go to the
            // hub in one call, and the sessions they wake read together
            // (`read_batch.rs`).
            let mut round = vec![first];
            while round.len() < MAX_ROUND {
                match heard.try_recv() {
                    Ok(n) => round.push(n),
                    Err(_) => break,
                }
            }
            let mut events = Vec::new();
            for n in round {
                let n = n?;
                let Some((from, rest)) = n.payload().split_once(':') else {
                    tracing::warn!(payload = n.payload(), "ignored a malformed notification");
                    continue;
                };
                if from == node {
                    continue;
                }
                match heard_one(pool, directory, n.channel(), from, rest).await? {
                    Some(more) => events.extend(more),
                    None => {
                        tracing::warn!(payload = n.payload(), "ignored a malformed notification");
                    }
                }
            }
            if !events.is_empty() {
                notify(events);
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

/// What a notification from another node means here (`rest` is its
/// payload after the node); `None` if the payload is malformed.
async fn heard_one(
    pool: &Pool,
    directory: &Directory,
    channel: &str,
    from: &str,
    rest: &str,
) -> Result<Option<Vec<StoreEvent>>, StoreError> {
    if channel == ROOM_ACKS_CHANNEL {
        return Ok(parse_ack(rest)
            .map(|(client, room, seq)| vec![StoreEvent::RoomAcked { client, room, seq }]));
    }
    if channel == PRESENCE_CHANNEL {
        return presence(pool, from, rest).await;
    }
    if channel == REMOVED_CHANNEL {
        return Ok(parse_removed(rest).map(|removed| {
            removed
                .into_iter()
                .map(|(recipient, ids)| StoreEvent::Removed { recipient, ids })
                .collect()
        }));
    }
    let Some(id) = parse_id(rest) else {
        return Ok(None);
    };
    let events = match channel {
        CLIENTS_CHANNEL => {
            let conn = pool.get().await?;
            if accounts::load_one(&conn, directory, &id).await? {
                Vec::new()
            } else {
                vec![StoreEvent::AccountRemoved { client: id }]
            }
        }
        INBOX_CHANNEL => vec![StoreEvent::Stale { recipient: id }],
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
            vec![StoreEvent::RoomStale { recipients }]
        }
        KEY_PACKAGES_CHANNEL => {
            // The stock now, read here: the payload names only the owner.
            let left: i64 = pool
                .get()
                .await?
                .query_one(
                    "SELECT COUNT(*) FROM key_packages WHERE owner = $1 AND NOT last_resort",
                    &[&&id.0[..]],
                )
                .await?
                .get(0);
            let stock = u32::try_from(left).unwrap_or(u32::MAX);
            if stock < LOW_KEY_PACKAGES {
                vec![StoreEvent::KeyPackagesLow { owner: id, stock }]
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    };
    Ok(Some(events))
}

/// Every other node's clients shown online.
async fn everyone_shown(
    client: &tokio_postgres::Client,
    node: &str,
) -> Result<Vec<(String, Vec<ClientId>)>, StoreError> {
    let rows = client
        .query(
            "SELECT node, client FROM presence WHERE node <> $1 ORDER BY node",
            &[&node],
        )
        .await?;
    let mut nodes: Vec<(String, Vec<ClientId>)> = Vec::new();
    for row in rows {
        let (node, id): (String, ClientId) = (row.get(0), client_id(row.get(1))?);
        match nodes.last_mut() {
            Some((last, ids)) if *last == node => ids.push(id),
            _ => nodes.push((node, vec![id])),
        }
    }
    Ok(nodes)
}

/// A notification of who node `from` shows (`presence.rs`'s payloads).
async fn presence(
    pool: &Pool,
    from: &str,
    rest: &str,
) -> Result<Option<Vec<StoreEvent>>, StoreError> {
    let update = if rest == "all" {
        let rows = pool
            .get()
            .await?
            .query("SELECT client FROM presence WHERE node = $1", &[&from])
            .await?;
        let clients = rows
            .iter()
            .map(|r| client_id(r.get(0)))
            .collect::<Result<Vec<_>, _>>()?;
        PresenceUpdate::Node {
            node: from.to_string(),
            clients,
        }
    } else if let Some(node) = rest.strip_prefix("gone:") {
        PresenceUpdate::Gone {
            node: node.to_string(),
        }
    } else {
        let Some(changes) = parse_presence(rest) else {
            return Ok(None);
        };
        PresenceUpdate::Changed {
            node: from.to_string(),
            changes,
        }
    };
    Ok(Some(vec![StoreEvent::Presence(update)]))
}

/// `+<client hex>,-<client hex>,...` (PostgreSQL bounds a payload to 8,000
/// bytes, and so what this allocates).
fn parse_presence(rest: &str) -> Option<Vec<(ClientId, bool)>> {
    rest.split(',')
        .map(|part| {
            let online = match part.get(..1)? {
                "+" => true,
                "-" => false,
                _ => return None,
            };
            Some((parse_id(&part[1..])?, online))
        })
        .collect()
}

/// A client or room id in hex.
fn parse_id(hex_id: &str) -> Option<ClientId> {
    let id: [u8; 16] = hex::decode(hex_id).ok()?.try_into().ok()?;
    Some(ClientId(id))
}

/// `<client id hex>:<room id hex>:<entry number>`.
fn parse_ack(rest: &str) -> Option<(ClientId, RoomId, u64)> {
    let (client, rest) = rest.split_once(':')?;
    let (room, seq) = rest.split_once(':')?;
    Some((
        parse_id(client)?,
        RoomId(parse_id(room)?.0),
        seq.parse().ok()?,
    ))
}

/// `<recipient id hex>:<id>,<id>,...;<recipient id hex>:...` (PostgreSQL
/// bounds a payload to 8,000 bytes, and so what this allocates).
fn parse_removed(rest: &str) -> Option<Vec<(ClientId, Vec<u64>)>> {
    rest.split(';')
        .map(|part| {
            let (recipient, list) = part.split_once(':')?;
            let ids = list
                .split(',')
                .map(|id| id.parse().ok())
                .collect::<Option<Vec<u64>>>()?;
            Some((parse_id(recipient)?, ids))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::pg::channels::removed_payloads;

    #[tokio::test(start_paused = true)]
    async fn a_pause_ends_early_when_woken_but_never_sooner_than_the_shortest() {
        use tokio::time::Instant;
        let woken = Arc::new(tokio::sync::Notify::new());
        // Not woken: the whole pause.
        let start = Instant::now();
        pause_unless_woken(MAX_PAUSE, &woken).await;
        assert_eq!(start.elapsed(), MAX_PAUSE);
        // Woken before the pause began (a client refused while the
        // listener was still connecting): only the shortest pause.
        woken.notify_one();
        let start = Instant::now();
        pause_unless_woken(MAX_PAUSE, &woken).await;
        assert_eq!(start.elapsed(), MIN_PAUSE);
        // Woken part-way, many times: the shortest pause after the first.
        let waker = woken.clone();
        let wake_at = Duration::from_millis(500);
        tokio::spawn(async move {
            tokio::time::sleep(wake_at).await;
            for _ in 0..100 {
                waker.notify_one();
                tokio::task::yield_now().await;
            }
        });
        let start = Instant::now();
        pause_unless_woken(MAX_PAUSE, &woken).await;
        assert_eq!(start.elapsed(), wake_at + MIN_PAUSE);
    }

    #[test]
    fn payloads_name_ids_and_an_entry_number() {
        let id = ClientId([7; 16]);
        assert_eq!(parse_id(&hex::encode(id.0)), Some(id));
        assert_eq!(parse_id("0102"), None);
        assert_eq!(parse_id("zz"), None);
        let ack = format!("{}:{}:42", hex::encode(id.0), hex::encode([9; 16]));
        assert_eq!(parse_ack(&ack), Some((id, RoomId([9; 16]), 42)));
        assert_eq!(parse_ack(&hex::encode(id.0)), None);
        assert_eq!(
            parse_ack(&format!("{}:{}:x", hex::encode(id.0), hex::encode([9; 16]))),
            None
        );
    }

    #[test]
    fn presence_payloads_read_back_whole_and_split_under_the_limit() {
        use crate::store::pg::presence::change_payloads;
        use protocol::v3::PresenceChange;
        let changes: Vec<PresenceChange> = (0..500u16)
            .map(|i| PresenceChange {
                client: ClientId((u128::from(i) << 64).to_le_bytes()),
                online: i % 3 != 0,
            })
            .collect();
        let payloads = change_payloads("node-a", &changes);
        assert!(payloads.len() > 1);
        let mut read = Vec::new();
        for p in &payloads {
            assert!(p.len() < 8000, "{} bytes", p.len());
            read.extend(parse_presence(p.strip_prefix("node-a:").unwrap()).unwrap());
        }
        let sent: Vec<(ClientId, bool)> = changes.iter().map(|c| (c.client, c.online)).collect();
        assert_eq!(read, sent);
        let hex = hex::encode([7u8; 16]);
        assert_eq!(parse_presence(&format!("*{hex}")), None);
        assert_eq!(parse_presence(&format!("+{hex},")), None);
        assert_eq!(parse_presence("+zz"), None);
        assert_eq!(parse_presence(""), None);
    }

    #[test]
    fn removed_payloads_pack_recipients_split_long_lists_and_read_back_whole() {
        let alice = ClientId([7; 16]);
        let bob = ClientId([8; 16]);
        // A few ids each: one notification for both.
        let few = vec![(alice, vec![1, 5, 9]), (bob, vec![2])];
        let payloads = removed_payloads("node-a", &few);
        assert_eq!(payloads.len(), 1);
        let rest = payloads[0].strip_prefix("node-a:").unwrap();
        assert_eq!(parse_removed(rest), Some(few));
        // Long lists: split, each payload under PostgreSQL's limit, and
        // together exactly what was removed.
        let long = vec![
            (alice, (0..600).map(|i| u64::MAX - i).collect::<Vec<_>>()),
            (bob, (0..300).collect()),
        ];
        let payloads = removed_payloads("node-a", &long);
        assert!(payloads.len() > 1);
        let mut read: Vec<(ClientId, Vec<u64>)> = Vec::new();
        for p in &payloads {
            assert!(p.len() < 8000, "{} bytes", p.len());
            let rest = p.strip_prefix("node-a:").unwrap();
            for (recipient, ids) in parse_removed(rest).unwrap() {
                assert!(!ids.is_empty());
                match read.last_mut() {
                    Some((last, so_far)) if *last == recipient => so_far.extend(ids),
                    _ => read.push((recipient, ids)),
                }
            }
        }
        assert_eq!(read, long);
        let hex = hex::encode(alice.0);
        assert_eq!(parse_removed(&format!("{hex}:1,x")), None);
        assert_eq!(parse_removed(&format!("{hex}:")), None);
        assert_eq!(parse_removed(&format!("{hex}:1;")), None);
        assert_eq!(parse_removed("zz:1"), None);
    }
}
