//! Pipelined sends on PostgreSQL, in the order their sender made them.
//!
//! A connection pipelines its sends; on SQLite the one writer commits them in
//! arrival order. Here each send once had a transaction of its own on the
//! pool, and two sends of one sender to one recipient could take the
//! recipient's usage row (and so their ids) in the other order: the
//! recipient saw the second text before the first. Now the sends of one
//! sender queue here and one task per sender commits what has queued, in
//! order and in one transaction: order as sent, and a burst shares a commit
//! (the group commit the SQLite writer gives).

use std::collections::HashMap;

use protocol::ClientId;

use super::Pg;
use super::messages::add_message;
use super::quota::{self, STRIPES, Usage};
use crate::error::StoreError;
use crate::store::values::{NewMessage, Stored, now_ms};

impl Pg {
    /// The sender's commit task: commits its queued sends, a batch at a
    /// time, until none is left.
    pub(crate) async fn commit_sends(&self, sender: ClientId) {
        loop {
            let batch = self.sends.take(&sender);
            if batch.is_empty() {
                return;
            }
            let (messages, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            let outcomes = self.insert_batch(messages).await;
            for (outcome, reply) in outcomes.into_iter().zip(replies) {
                let _ = reply.send(outcome);
            }
        }
    }

    /// Stores messages in one transaction, their ids in the given order;
    /// each gets its own outcome (a quota refuses only the message that
    /// breaks it). See `Store::insert`.
    pub(crate) async fn insert_batch(
        &self,
        messages: Vec<NewMessage>,
    ) -> Vec<Result<Stored, StoreError>> {
        let count = messages.len();
        match self.try_insert_batch(messages).await {
            Ok(outcomes) => outcomes,
            // Nothing committed: every message gets the failure.
            Err(e) => {
                let text = e.to_string();
                let mut out = Vec::with_capacity(count);
                out.push(Err(e));
                out.extend((1..count).map(|_| Err(StoreError::CommitRefused(text.clone()))));
                out
            }
        }
    }

    async fn try_insert_batch(
        &self,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<Result<Stored, StoreError>>, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let clients: Vec<ClientId> = messages
            .iter()
            .flat_map(|m| [m.recipient, m.sender])
            .collect();
        // Held to the commit: the ids of each recipient commit in order.
        let mut usage = quota::lock(&tx, &clients).await?;
        let mut stored_total: i64 = tx
            .query_one("SELECT COALESCE(SUM(bytes), 0)::BIGINT FROM storage", &[])
            .await?
            .get(0);
        let created_at = now_ms();
        let mut outcomes = Vec::with_capacity(messages.len());
        let mut added: HashMap<(ClientId, ClientId), (i64, i64)> = HashMap::new();
        let mut stripes = [0i64; STRIPES as usize];
        let mut recipients = Vec::new();
        for m in &messages {
            let size = m.body.size();
            if let Err(e) = admit(self, &usage, m, size, stored_total) {
                outcomes.push(Err(e));
                continue;
            }
            let id = self
                .insert_message_row(&tx, &m.recipient, &m.sender, m.kind, &m.body, created_at)
                .await?;
            let bytes = size as i64;
            // Counted at once: the next message's quota sees this one.
            if let Some(inbox) = usage.get_mut(&m.recipient) {
                inbox.inbox_messages += 1;
                inbox.inbox_bytes += bytes;
            }
            if let Some(sent) = usage.get_mut(&m.sender) {
                sent.sent_bytes += bytes;
            }
            stored_total += bytes;
            let entry = added.entry((m.recipient, m.sender)).or_default();
            entry.0 += 1;
            entry.1 += bytes;
            stripes[usize::from(m.recipient.0[0]) % STRIPES as usize] += bytes;
            if !recipients.contains(&m.recipient) {
                recipients.push(m.recipient);
            }
            outcomes.push(Ok(Stored {
                id,
                created_at_ms: created_at,
            }));
        }
        let mut pairs: Vec<_> = added.into_iter().collect();
        pairs.sort_unstable_by_key(|(pair, _)| *pair);
        for ((recipient, sender), (n, bytes)) in pairs {
            add_message(&tx, &recipient, &sender, n, bytes).await?;
        }
        for (stripe, bytes) in stripes.iter().enumerate() {
            if *bytes != 0 {
                quota::add_to_stripe(&tx, stripe as i16, *bytes).await?;
            }
        }
        for recipient in &recipients {
            self.notify_inbox(&tx, recipient).await?;
        }
        tx.commit().await?;
        for recipient in recipients {
            self.announce(recipient);
        }
        Ok(outcomes)
    }
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
