//! Reads of what is waiting on PostgreSQL, batched per node. A commit (of
//! this node, or of another heard by NOTIFY) sends the sessions of its
//! recipients to the database for what they have not pushed; their reads
//! queue here (a [`Group`]) and one query serves every read that waits:
//! a lateral join over arrays of (recipient, after, limit), each read
//! getting exactly the rows its own query would. One snapshot serves them
//! all, and per recipient ids commit in order (`pg/mod.rs`), so a read
//! sees every id up to the highest it returns: nothing is skipped.

use super::Pg;
use super::group::{Read, Waiting};
use super::messages::{bound, row_to_waiting};
use crate::error::StoreError;
use crate::store::values::WaitingMessage;

impl Pg {
    /// A runner: serves batches of the node's queued reads until none is
    /// left.
    pub(crate) async fn serve_reads(&self) {
        loop {
            let batch = self.reads.take();
            match batch.len() {
                0 => return,
                1 => {
                    for r in batch {
                        let outcome = self
                            .waiting(r.recipient, r.after, r.max_count, r.max_bytes)
                            .await;
                        let _ = r.reply.send(outcome);
                    }
                }
                _ => match self.read_batch(&batch).await {
                    Ok(outcomes) => {
                        for (r, outcome) in batch.into_iter().zip(outcomes) {
                            let _ = r.reply.send(Ok(outcome));
                        }
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "a batch of reads failed; reading each alone");
                        for r in batch {
                            let outcome = self
                                .waiting(r.recipient, r.after, r.max_count, r.max_bytes)
                                .await;
                            let _ = r.reply.send(outcome);
                        }
                    }
                },
            }
        }
    }

    async fn read_batch(&self, reads: &[Read]) -> Result<Vec<Waiting>, StoreError> {
        let conn = self.conn().await?;
        let statement = conn
            .prepare_cached(
                "SELECT m.id, m.sender, m.kind, m.size, m.content, m.blob, m.meta,
                        m.created_at, r.n
                 FROM unnest($1::BYTEA[], $2::BIGINT[], $3::BIGINT[])
                      WITH ORDINALITY AS r(recipient, after, lim, n)
                 CROSS JOIN LATERAL (
                     SELECT id, sender, kind, size, content, blob, meta, created_at
                     FROM messages
                     WHERE recipient = r.recipient AND id > r.after
                     ORDER BY id LIMIT r.lim) AS m
                 ORDER BY r.n, m.id",
            )
            .await?;
        let recipients: Vec<&[u8]> = reads.iter().map(|r| &r.recipient.0[..]).collect();
        let afters: Vec<i64> = reads.iter().map(|r| r.after as i64).collect();
        // One more than asked: whether more wait.
        let limits: Vec<i64> = reads.iter().map(|r| r.max_count as i64 + 1).collect();
        let rows = conn
            .query(&statement, &[&recipients, &afters, &limits])
            .await?;
        let mut found: Vec<Vec<WaitingMessage>> = reads.iter().map(|_| Vec::new()).collect();
        for row in &rows {
            let n: i64 = row.get(8);
            let slot = usize::try_from(n - 1)
                .ok()
                .and_then(|i| found.get_mut(i))
                .ok_or_else(|| StoreError::Corrupt(format!("read {n} of a batch")))?;
            slot.push(row_to_waiting(row)?);
        }
        Ok(found
            .into_iter()
            .zip(reads)
            .map(|(messages, r)| bound(messages, r.max_count, r.max_bytes))
            .collect())
    }
}
