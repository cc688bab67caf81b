//! Sends on PostgreSQL, a node's group commit: the sends of every
//! connection of the node queue in one queue (`send_queue.rs`) and a
//! committer stores whatever waits in one transaction, answering each send
//! only after the commit. A burst, or paced sends from many connections,
//! share a commit; a lone send is committed at once.
//!
//! A transaction of a batch is a few round trips whatever its size: lock
//! the usage rows of every client involved (in id order, one statement),
//! read the storage total, take the ids, then the rows, the counts, the
//! storage stripes and the notifications pipelined, then commit. Each send
//! gets its own outcome: a quota refuses only the send that breaks it. If
//! the transaction fails, nothing of it committed, and each send is tried
//! again in a transaction of its own, so that one bad send fails alone.

use std::collections::HashMap;

use protocol::ClientId;

use super::Pg;
use super::channels::INBOX_CHANNEL;
use super::quota::{self, STRIPES, Usage};
use crate::error::StoreError;
use crate::store::values::{MessageBody, NewMessage, StoreEvent, Stored, now_ms};

/// Why a batch's transaction failed, and whether it may have committed.
pub(super) struct Failed {
    pub(super) error: StoreError,
    /// The connection broke during the commit: the outcome is unknown, so
    /// the batch must not be tried again (it might be stored twice).
    pub(super) maybe_committed: bool,
}

impl Failed {
    /// The outcomes of a batch of `count` whose transaction failed. If it
    /// certainly rolled back, each item is tried alone (`alone(i)`), so one
    /// bad item fails only itself; if it may have committed, nothing is
    /// tried again (it might be stored twice) and every item is refused.
    pub(super) async fn settle<O, Fut>(
        self,
        count: usize,
        what: &str,
        mut alone: impl FnMut(usize) -> Fut,
    ) -> Vec<Result<O, StoreError>>
    where
        Fut: std::future::Future<Output = Result<O, StoreError>>,
    {
        if count > 1 && !self.maybe_committed {
            tracing::debug!(error = %self.error, count, "a batch of {what} failed; trying each alone");
            let mut out = Vec::with_capacity(count);
            for i in 0..count {
                out.push(alone(i).await);
            }
            return out;
        }
        let text = self.error.to_string();
        let mut out = Vec::with_capacity(count);
        out.push(Err(self.error));
        out.extend((1..count).map(|_| Err(StoreError::CommitRefused(text.clone()))));
        out
    }
}

impl From<StoreError> for Failed {
    fn from(error: StoreError) -> Self {
        Failed {
            error,
            maybe_committed: false,
        }
    }
}

impl From<tokio_postgres::Error> for Failed {
    fn from(e: tokio_postgres::Error) -> Self {
        StoreError::from(e).into()
    }
}

/// Whether a failed COMMIT certainly rolled back: the database answered
/// with an error (a lost connection leaves it unknown).
pub(super) fn commit_failed(e: tokio_postgres::Error) -> Failed {
    let maybe_committed = e.code().is_none();
    Failed {
        error: e.into(),
        maybe_committed,
    }
}

impl Pg {
    /// A committer: commits batches of the node's queued sends until none
    /// of them is left to take.
    pub(crate) async fn commit_sends(&self) {
        let mut done: Vec<ClientId> = Vec::new();
        loop {
            let batch = self.sends.next(&done);
            if batch.is_empty() {
                return;
            }
            done = batch.iter().map(|(m, _)| m.sender).collect();
            let (messages, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            let outcomes = self.insert_batch(&messages).await;
            for (outcome, reply) in outcomes.into_iter().zip(replies) {
                let _ = reply.send(outcome);
            }
        }
    }

    /// Stores messages in one transaction, their ids in the given order;
    /// each gets its own outcome. See `Store::insert`.
    pub(crate) async fn insert_batch(
        &self,
        messages: &[NewMessage],
    ) -> Vec<Result<Stored, StoreError>> {
        let failed = match self.try_insert_batch(messages).await {
            Ok(outcomes) => return outcomes,
            Err(failed) => failed,
        };
        failed
            .settle(messages.len(), "sends", |i| async move {
                match self.try_insert_batch(&messages[i..=i]).await {
                    Ok(mut one) => one.pop().unwrap_or(Err(StoreError::Closed)),
                    Err(f) => Err(f.error),
                }
            })
            .await
    }

    async fn try_insert_batch(
        &self,
        messages: &[NewMessage],
    ) -> Result<Vec<Result<Stored, StoreError>>, Failed> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let clients: Vec<ClientId> = messages
            .iter()
            .flat_map(|m| [m.recipient, m.sender])
            .collect();
        let total = tx
            .prepare_cached("SELECT COALESCE(SUM(bytes), 0)::BIGINT FROM storage")
            .await?;
        // Held to the commit: the ids of each recipient commit in order.
        let (mut usage, total) = futures::try_join!(quota::lock_cached(&tx, &clients), async {
            Ok::<_, StoreError>(tx.query_one(&total, &[]).await?)
        })?;
        let mut stored_total: i64 = total.get(0);
        let mut admitted = Vec::with_capacity(messages.len());
        let mut outcomes: Vec<Result<Stored, StoreError>> = Vec::with_capacity(messages.len());
        let mut changes: HashMap<ClientId, Usage> = HashMap::new();
        let mut stripes = [0i64; STRIPES as usize];
        let mut recipients: Vec<ClientId> = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            let size = m.body.size();
            if let Err(e) = admit(self, &usage, m, size, stored_total) {
                outcomes.push(Err(e));
                continue;
            }
            let bytes = size as i64;
            // Counted at once: the next message's quota sees this one.
            for (client, change) in [
                (
                    m.recipient,
                    Usage {
                        inbox_messages: 1,
                        inbox_bytes: bytes,
                        ..Usage::default()
                    },
                ),
                (
                    m.sender,
                    Usage {
                        sent_bytes: bytes,
                        ..Usage::default()
                    },
                ),
            ] {
                if let Some(locked) = usage.get_mut(&client) {
                    add_usage(locked, change);
                }
                add_usage(changes.entry(client).or_default(), change);
            }
            stored_total += bytes;
            stripes[usize::from(m.recipient.0[0]) % STRIPES as usize] += bytes;
            if !recipients.contains(&m.recipient) {
                recipients.push(m.recipient);
            }
            admitted.push(i);
            // The id is filled in below.
            outcomes.push(Ok(Stored {
                id: 0,
                created_at_ms: 0,
            }));
        }
        if admitted.is_empty() {
            return Ok(outcomes);
        }
        let ids = self.take_ids(&tx, admitted.len()).await?;
        let created_at = now_ms();
        for (&i, &id) in admitted.iter().zip(&ids) {
            outcomes[i] = Ok(Stored {
                id,
                created_at_ms: created_at,
            });
        }
        let rows = admitted.iter().map(|&i| &messages[i]);
        let payloads: Vec<String> = recipients.iter().map(|r| self.payload(r)).collect();
        let notify = tx
            .prepare_cached("SELECT pg_notify($1, p) FROM unnest($2::TEXT[]) AS p")
            .await?;
        futures::try_join!(
            insert_rows(&tx, rows, &ids, created_at),
            quota::add_many(&tx, &changes),
            quota::add_to_stripes(&tx, &stripes),
            async {
                tx.execute(&notify, &[&INBOX_CHANNEL, &payloads]).await?;
                Ok::<(), StoreError>(())
            },
        )?;
        tx.commit().await.map_err(commit_failed)?;
        (self.notify)(
            recipients
                .into_iter()
                .map(|recipient| StoreEvent::Stale { recipient })
                .collect(),
        );
        Ok(outcomes)
    }

    /// `n` ids from the cluster's sequence, in increasing order.
    async fn take_ids(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        n: usize,
    ) -> Result<Vec<u64>, StoreError> {
        let statement = tx
            .prepare_cached("SELECT nextval('message_ids') FROM generate_series(1, $1::BIGINT)")
            .await?;
        let mut ids: Vec<u64> = tx
            .query(&statement, &[&(n as i64)])
            .await?
            .iter()
            .map(|r| r.get::<_, i64>(0) as u64)
            .collect();
        ids.sort_unstable();
        if ids.len() != n {
            return Err(StoreError::Corrupt(format!(
                "asked for {n} message ids, got {}",
                ids.len()
            )));
        }
        Ok(ids)
    }
}

/// Writes message rows with the given ids, in one statement.
async fn insert_rows<'m>(
    tx: &deadpool_postgres::Transaction<'_>,
    messages: impl Iterator<Item = &'m NewMessage>,
    ids: &[u64],
    created_at: u64,
) -> Result<(), StoreError> {
    let statement = tx
        .prepare_cached(
            "INSERT INTO messages (recipient, id, sender, kind, size, content, blob, meta,
                                   created_at)
             SELECT r, i, s, k, z, c, b, m, $9
             FROM unnest($1::BYTEA[], $2::BIGINT[], $3::BYTEA[], $4::SMALLINT[],
                         $5::BIGINT[], $6::BYTEA[], $7::TEXT[], $8::BYTEA[])
                  AS d(r, i, s, k, z, c, b, m)",
        )
        .await?;
    let mut recipient: Vec<&[u8]> = Vec::new();
    let mut sender: Vec<&[u8]> = Vec::new();
    let mut kind: Vec<i16> = Vec::new();
    let mut size: Vec<i64> = Vec::new();
    let mut content: Vec<Option<&[u8]>> = Vec::new();
    let mut blob: Vec<Option<&str>> = Vec::new();
    let mut meta: Vec<Option<&[u8]>> = Vec::new();
    for m in messages {
        recipient.push(&m.recipient.0[..]);
        sender.push(&m.sender.0[..]);
        kind.push(i16::from(m.kind.code()));
        size.push(m.body.size() as i64);
        let (c, b, x): (Option<&[u8]>, Option<&str>, Option<&[u8]>) = match &m.body {
            MessageBody::Inline(c) => (Some(c), None, None),
            MessageBody::File { blob, meta, .. } => (None, Some(blob), Some(meta)),
        };
        content.push(c);
        blob.push(b);
        meta.push(x);
    }
    let ids: Vec<i64> = ids.iter().map(|&id| id as i64).collect();
    tx.execute(
        &statement,
        &[
            &recipient,
            &ids,
            &sender,
            &kind,
            &size,
            &content,
            &blob,
            &meta,
            &(created_at as i64),
        ],
    )
    .await?;
    Ok(())
}

fn add_usage(to: &mut Usage, change: Usage) {
    to.inbox_messages += change.inbox_messages;
    to.inbox_bytes += change.inbox_bytes;
    to.sent_bytes += change.sent_bytes;
    to.uploads += change.uploads;
}

/// Whether one more message fits its recipient's and sender's quotas and
/// the storage limit, counting what this batch stored before it.
fn admit(
    pg: &Pg,
    usage: &HashMap<ClientId, Usage>,
    m: &NewMessage,
    size: u64,
    stored_total: i64,
) -> Result<(), StoreError> {
    let inbox = usage.get(&m.recipient).ok_or(StoreError::UnknownClient)?;
    let sent = usage.get(&m.sender).copied().unwrap_or_default();
    quota::check(&pg.limits, inbox, &sent, size)?;
    if (stored_total.max(0) as u64).saturating_add(size) > pg.limits.max_storage_bytes {
        return Err(StoreError::StorageFull(pg.limits.max_storage_bytes));
    }
    Ok(())
}
