//! The quotas on PostgreSQL: the same limits and the same refusals, in the
//! same order, as the SQLite writer's (`store/quota.rs`), counted in rows
//! that change in the transaction that changes what they count.
//!
//! Lock order, the same in every transaction so that nodes never deadlock:
//! upload rows first (the statement that finds them), then the `usage` rows
//! of every client involved, in id order ([`lock`]), then one `storage`
//! stripe. A check reads counts its own locks hold still, so a check and the
//! change it allows cannot race. The storage total is the sum of the
//! stripes: it is the one count read without locking every stripe, so
//! transactions in flight together on different stripes may overshoot it by
//! their own sizes (per-client quotas are exact).

use std::collections::HashMap;

use protocol::ClientId;
use tokio_postgres::Transaction;

use super::channels::client_id;
use crate::error::StoreError;
use crate::store::quota::Limits;

/// Stripes of the storage total (rows of `storage`).
pub(super) const STRIPES: i16 = 16;

/// One client's counts, as locked.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Usage {
    pub(super) inbox_messages: i64,
    pub(super) inbox_bytes: i64,
    pub(super) sent_bytes: i64,
    pub(super) uploads: i64,
}

/// Locks the `usage` rows of `clients` in id order and returns them; a
/// client without a row (unknown, or removed) is absent.
pub(super) async fn lock(
    tx: &Transaction<'_>,
    clients: &[ClientId],
) -> Result<HashMap<ClientId, Usage>, StoreError> {
    let ids = sorted_ids(clients);
    let rows = tx.query(LOCK_USAGE, &[&ids]).await?;
    usage_rows(&rows)
}

/// The `usage` rows of the clients `$1`, locked in id order.
const LOCK_USAGE: &str = "SELECT client, inbox_messages, inbox_bytes, sent_bytes, uploads
     FROM usage WHERE client = ANY($1) ORDER BY client FOR UPDATE";

/// The distinct ids of `clients`, in the cluster's lock order.
fn sorted_ids(clients: &[ClientId]) -> Vec<&[u8]> {
    let mut ids: Vec<&[u8]> = clients.iter().map(|c| &c.0[..]).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Rows of [`LOCK_USAGE`] by client.
fn usage_rows(rows: &[tokio_postgres::Row]) -> Result<HashMap<ClientId, Usage>, StoreError> {
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        out.insert(
            client_id(r.get(0))?,
            Usage {
                inbox_messages: r.get(1),
                inbox_bytes: r.get(2),
                sent_bytes: r.get(3),
                uploads: r.get(4),
            },
        );
    }
    Ok(out)
}

/// Whether one more message (or upload) of `bytes` from `sender` to
/// `recipient` fits the per-client quotas; the storage total is checked by
/// [`add_storage`].
///
/// # Errors
/// The quota it would break, the recipient's first.
pub(super) fn check(
    limits: &Limits,
    recipient: &Usage,
    sender: &Usage,
    bytes: u64,
) -> Result<(), StoreError> {
    if recipient.inbox_messages as u64 >= limits.inbox_max_messages {
        return Err(StoreError::InboxFull(limits.inbox_max_messages));
    }
    if recipient.inbox_bytes as u64 + bytes > limits.inbox_max_bytes {
        return Err(StoreError::InboxBytesFull(limits.inbox_max_bytes));
    }
    if sender.sent_bytes as u64 + bytes > limits.sender_max_bytes {
        return Err(StoreError::SenderBytesFull(limits.sender_max_bytes));
    }
    Ok(())
}

/// Changes a client's counts (negative to give back).
pub(super) async fn add(
    tx: &Transaction<'_>,
    client: &ClientId,
    change: Usage,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE usage SET inbox_messages = inbox_messages + $2, inbox_bytes = inbox_bytes + $3,
                          sent_bytes = sent_bytes + $4, uploads = uploads + $5
         WHERE client = $1",
        &[
            &&client.0[..],
            &change.inbox_messages,
            &change.inbox_bytes,
            &change.sent_bytes,
            &change.uploads,
        ],
    )
    .await?;
    Ok(())
}

/// Adds `bytes` (negative to give back) to the storage total through the
/// stripe of `client`; growth is refused past `limits.max_storage_bytes`.
///
/// # Errors
/// [`StoreError::StorageFull`], or the database failed.
pub(super) async fn add_storage(
    tx: &Transaction<'_>,
    limits: &Limits,
    client: &ClientId,
    bytes: i64,
) -> Result<(), StoreError> {
    add_to_stripe(tx, i16::from(client.0[0]) % STRIPES, bytes).await?;
    if bytes > 0 {
        let total: i64 = tx
            .query_one("SELECT COALESCE(SUM(bytes), 0)::BIGINT FROM storage", &[])
            .await?
            .get(0);
        if total as u64 > limits.max_storage_bytes {
            return Err(StoreError::StorageFull(limits.max_storage_bytes));
        }
    }
    Ok(())
}

/// Adds `bytes` to one stripe of the storage total, unchecked.
pub(super) async fn add_to_stripe(
    tx: &Transaction<'_>,
    stripe: i16,
    bytes: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE storage SET bytes = bytes + $2 WHERE stripe = $1",
        &[&stripe, &bytes],
    )
    .await?;
    Ok(())
}

/// Locks the `usage` rows of `clients` in id order, as [`lock`] does, with
/// a statement prepared once per connection (the batches' path).
pub(super) async fn lock_cached(
    tx: &deadpool_postgres::Transaction<'_>,
    clients: &[ClientId],
) -> Result<HashMap<ClientId, Usage>, StoreError> {
    let ids = sorted_ids(clients);
    let statement = tx.prepare_cached(LOCK_USAGE).await?;
    let rows = tx.query(&statement, &[&ids]).await?;
    usage_rows(&rows)
}

/// Changes the counts of many clients in one statement (negative to give
/// back). Their rows must be locked already ([`lock_cached`]): the
/// statement's own order of taking them is not the cluster's lock order.
pub(super) async fn add_many(
    tx: &deadpool_postgres::Transaction<'_>,
    changes: &HashMap<ClientId, Usage>,
) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    let statement = tx
        .prepare_cached(
            "UPDATE usage AS u SET inbox_messages = u.inbox_messages + d.m,
                                   inbox_bytes = u.inbox_bytes + d.ib,
                                   sent_bytes = u.sent_bytes + d.sb
             FROM unnest($1::BYTEA[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[])
                  AS d(client, m, ib, sb)
             WHERE u.client = d.client",
        )
        .await?;
    let clients: Vec<&[u8]> = changes.keys().map(|c| &c.0[..]).collect();
    let messages: Vec<i64> = changes.values().map(|u| u.inbox_messages).collect();
    let inbox: Vec<i64> = changes.values().map(|u| u.inbox_bytes).collect();
    let sent: Vec<i64> = changes.values().map(|u| u.sent_bytes).collect();
    tx.execute(&statement, &[&clients, &messages, &inbox, &sent])
        .await?;
    Ok(())
}

/// Adds to the stripes of the storage total (unchecked), in stripe order,
/// the statements pipelined: one round trip.
pub(super) async fn add_to_stripes(
    tx: &deadpool_postgres::Transaction<'_>,
    stripes: &[i64; STRIPES as usize],
) -> Result<(), StoreError> {
    let statement = tx
        .prepare_cached("UPDATE storage SET bytes = bytes + $2 WHERE stripe = $1")
        .await?;
    let updates = stripes
        .iter()
        .enumerate()
        .filter(|(_, bytes)| **bytes != 0)
        .map(|(stripe, bytes)| {
            let stripe = stripe as i16;
            let statement = &statement;
            async move { tx.execute(statement, &[&stripe, bytes]).await }
        });
    futures::future::try_join_all(updates).await?;
    Ok(())
}
