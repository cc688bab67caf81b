//! Acknowledgements on PostgreSQL, batched per node: the acknowledgements
//! of every connection of the node queue (a [`Group`]) and one transaction
//! removes whatever waits, answering each only after the commit.
//!
//! The transaction is one DELETE for every (recipient, id) of the batch
//! (arrays, not a statement per id), then the usage rows of every client
//! whose counts change, locked in id order, changed in one statement, and
//! the storage stripes in stripe order. An id named twice (in one
//! acknowledgement, or by two sessions of one client) is removed once: the
//! first to name it is answered removed, the other not waiting. If the
//! transaction fails, nothing of it committed, and each acknowledgement is
//! tried again alone. The same transaction tells the other nodes which
//! messages left each recipient's inbox, so that the recipient's sessions
//! there stop waiting for them (`channels::REMOVED_CHANNEL`).

use std::collections::{HashMap, HashSet};

use protocol::ClientId;

use super::Pg;
use super::channels::{REMOVED_CHANNEL, client_id, removed_payloads};
use super::group::AckOutcome;
use super::quota::{self, STRIPES, Usage};
use super::send_batch::{Failed, commit_failed};
use crate::error::StoreError;
use crate::store::values::{Removed, StoreEvent};

/// A message a batch removed: its size, file and sender.
type Gone = (i64, Option<String>, ClientId);

impl Pg {
    /// A runner: removes batches of the node's queued acknowledgements
    /// until none is left.
    pub(crate) async fn commit_acks(&self) {
        loop {
            let batch = self.acks.take();
            if batch.is_empty() {
                return;
            }
            let (ops, replies): (Vec<_>, Vec<_>) = batch
                .into_iter()
                .map(|(recipient, ids, reply)| ((recipient, ids), reply))
                .unzip();
            let outcomes = self.delete_batch(&ops).await;
            for (outcome, reply) in outcomes.into_iter().zip(replies) {
                let _ = reply.send(outcome);
            }
        }
    }

    /// Removes the messages each acknowledgement names, in one transaction.
    async fn delete_batch(&self, ops: &[(ClientId, Vec<u64>)]) -> Vec<AckOutcome> {
        let failed = match self.try_delete_batch(ops).await {
            Ok(outcomes) => return outcomes.into_iter().map(Ok).collect(),
            Err(failed) => failed,
        };
        failed
            .settle(ops.len(), "acknowledgements", |i| async move {
                match self.try_delete_batch(&ops[i..=i]).await {
                    Ok(mut one) => one.pop().ok_or(StoreError::Closed),
                    Err(f) => Err(f.error),
                }
            })
            .await
    }

    async fn try_delete_batch(
        &self,
        ops: &[(ClientId, Vec<u64>)],
    ) -> Result<Vec<Vec<Option<Removed>>>, Failed> {
        let mut wanted: HashSet<(ClientId, u64)> = HashSet::new();
        for (recipient, ids) in ops {
            wanted.extend(ids.iter().map(|&id| (*recipient, id)));
        }
        let mut gone: HashMap<(ClientId, u64), Gone> = HashMap::new();
        if !wanted.is_empty() {
            let mut conn = self.conn().await?;
            let tx = conn.transaction().await?;
            let delete = tx
                .prepare_cached(
                    "DELETE FROM messages AS m
                     USING unnest($1::BYTEA[], $2::BIGINT[]) AS d(recipient, id)
                     WHERE m.recipient = d.recipient AND m.id = d.id
                     RETURNING m.recipient, m.id, m.size, m.blob, m.sender",
                )
                .await?;
            let recipients: Vec<&[u8]> = wanted.iter().map(|(r, _)| &r.0[..]).collect();
            let ids: Vec<i64> = wanted.iter().map(|&(_, id)| id as i64).collect();
            for r in tx.query(&delete, &[&recipients, &ids]).await? {
                let key = (client_id(r.get(0))?, r.get::<_, i64>(1) as u64);
                gone.insert(key, (r.get(2), r.get(3), client_id(r.get(4))?));
            }
            if !gone.is_empty() {
                let mut changes: HashMap<ClientId, Usage> = HashMap::new();
                let mut stripes = [0i64; STRIPES as usize];
                for ((recipient, _), (size, _, sender)) in &gone {
                    let inbox = changes.entry(*recipient).or_default();
                    inbox.inbox_messages -= 1;
                    inbox.inbox_bytes -= size;
                    changes.entry(*sender).or_default().sent_bytes -= size;
                    stripes[usize::from(recipient.0[0]) % STRIPES as usize] -= size;
                }
                let clients: Vec<ClientId> = changes.keys().copied().collect();
                quota::lock_cached(&tx, &clients).await?;
                futures::try_join!(
                    quota::add_many(&tx, &changes),
                    quota::add_to_stripes(&tx, &stripes)
                )?;
                self.announce_removed(&tx, gone.keys()).await?;
            }
            tx.commit().await.map_err(commit_failed)?;
        }
        let mut out = Vec::with_capacity(ops.len());
        let mut removed: Vec<(ClientId, Vec<u64>)> = Vec::new();
        for (recipient, ids) in ops {
            let mut answers = Vec::with_capacity(ids.len());
            let mut removed_ids = Vec::new();
            for &id in ids {
                // The first to name an id removed it; later ones find it gone.
                match gone.remove(&(*recipient, id)) {
                    Some((_, blob, _)) => {
                        removed_ids.push(id);
                        answers.push(Some(Removed { blob }));
                    }
                    None => answers.push(None),
                }
            }
            if !removed_ids.is_empty() {
                removed.push((*recipient, removed_ids));
            }
            out.push(answers);
        }
        if !removed.is_empty() {
            (self.notify)(
                removed
                    .into_iter()
                    .map(|(recipient, ids)| StoreEvent::Removed { recipient, ids })
                    .collect(),
            );
        }
        Ok(out)
    }

    /// Tells the other nodes, at commit, which messages left whose inbox:
    /// as few notifications as fit, in one statement.
    async fn announce_removed(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        gone: impl Iterator<Item = &(ClientId, u64)>,
    ) -> Result<(), tokio_postgres::Error> {
        let mut by_recipient: HashMap<ClientId, Vec<u64>> = HashMap::new();
        for &(recipient, id) in gone {
            by_recipient.entry(recipient).or_default().push(id);
        }
        let mut removed: Vec<(ClientId, Vec<u64>)> = by_recipient.into_iter().collect();
        for (_, ids) in &mut removed {
            ids.sort_unstable();
        }
        let payloads = removed_payloads(&self.node, &removed);
        tx.execute(
            "SELECT pg_notify($1, p) FROM unnest($2::TEXT[]) AS p",
            &[&REMOVED_CHANNEL, &payloads],
        )
        .await?;
        Ok(())
    }
}
