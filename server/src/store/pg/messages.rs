//! Messages on PostgreSQL: storing one row (quotas first, then its id from
//! the cluster's sequence; sends in batches are `send_batch.rs`'s,
//! acknowledgements `ack_batch.rs`'s) and every read of waiting messages. The same answers as the SQLite side (`store/messages.rs`).

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use protocol::{ClientId, MessageKind};
use tokio_postgres::{Row, Transaction};

use super::Pg;
use super::channels::{INBOX_CHANNEL, client_id};
use super::group::Waiting;
use super::quota::{self, Usage};
use crate::error::StoreError;
use crate::store::values::{MessageBody, StoreEvent, WaitingMessage};

const SELECT_WAITING: &str = "SELECT id, sender, kind, size, content, blob, meta, created_at \
                              FROM messages";
const SELECT_WAITING_INDEX: &str = "SELECT id, sender, kind, size, NULL::BYTEA, blob, meta, \
                                    created_at FROM messages";

impl Pg {
    /// Tells this node's subscribers of `recipient` that a message of theirs
    /// committed, as a [`StoreEvent::Stale`] that sends them to the database
    /// rather than with the message itself. Two sends to one recipient
    /// commit in id order (they hold the recipient's usage row), but the
    /// tasks that committed them may announce in the other order; a session
    /// that pushed the later id first would skip the earlier one for good,
    /// since it reads after the highest id it pushed. Reading from the
    /// database sees committed rows in id order, so nothing is skipped.
    pub(super) fn announce(&self, recipient: ClientId) {
        (self.notify)(vec![StoreEvent::Stale { recipient }]);
    }

    /// Writes a message row with the next id and announces its recipient to
    /// the other nodes (delivered at commit). The caller holds the
    /// recipient's usage row, so its ids commit in order.
    pub(super) async fn insert_row(
        &self,
        tx: &Transaction<'_>,
        recipient: &ClientId,
        sender: &ClientId,
        kind: MessageKind,
        body: &MessageBody,
        created_at: u64,
    ) -> Result<u64, StoreError> {
        let id = self
            .insert_message_row(tx, recipient, sender, kind, body, created_at)
            .await?;
        self.notify_inbox(tx, recipient).await?;
        Ok(id)
    }

    /// Tells the other nodes, at commit, that `recipient` has new messages.
    pub(super) async fn notify_inbox(
        &self,
        tx: &Transaction<'_>,
        recipient: &ClientId,
    ) -> Result<(), StoreError> {
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[&INBOX_CHANNEL, &self.payload(recipient)],
        )
        .await?;
        Ok(())
    }

    /// Writes a message row with the next id (see [`Pg::insert_row`]).
    pub(super) async fn insert_message_row(
        &self,
        tx: &Transaction<'_>,
        recipient: &ClientId,
        sender: &ClientId,
        kind: MessageKind,
        body: &MessageBody,
        created_at: u64,
    ) -> Result<u64, StoreError> {
        let (content, blob, meta): (Option<&[u8]>, Option<&str>, Option<&[u8]>) = match body {
            MessageBody::Inline(c) => (Some(c), None, None),
            MessageBody::File { blob, meta, .. } => (None, Some(blob), Some(meta)),
        };
        let id: i64 = tx
            .query_one(
                "INSERT INTO messages (recipient, id, sender, kind, size, content, blob, meta,
                                       created_at)
                 VALUES ($1, nextval('message_ids'), $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                &[
                    &&recipient.0[..],
                    &&sender.0[..],
                    &i16::from(kind.code()),
                    &(body.size() as i64),
                    &content,
                    &blob,
                    &meta,
                    &(created_at as i64),
                ],
            )
            .await?
            .get(0);
        Ok(id as u64)
    }

    /// See `Store::waiting`.
    pub(crate) async fn waiting(
        &self,
        recipient: ClientId,
        after: u64,
        max_count: usize,
        max_bytes: usize,
    ) -> Result<(Vec<WaitingMessage>, bool), StoreError> {
        let rows = self
            .conn()
            .await?
            .query(
                &format!("{SELECT_WAITING} WHERE recipient = $1 AND id > $2 ORDER BY id LIMIT $3"),
                &[&&recipient.0[..], &(after as i64), &(max_count as i64 + 1)],
            )
            .await?;
        let messages = rows.iter().map(row_to_waiting).collect::<Result<_, _>>()?;
        Ok(bound(messages, max_count, max_bytes))
    }

    /// See `Store::waiting_index`.
    pub(crate) async fn waiting_index(
        &self,
        recipient: ClientId,
    ) -> Result<Vec<WaitingMessage>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query(
                &format!("{SELECT_WAITING_INDEX} WHERE recipient = $1 ORDER BY id"),
                &[&&recipient.0[..]],
            )
            .await?;
        rows.iter().map(row_to_waiting).collect()
    }

    /// See `Store::waiting_ids`.
    pub(crate) async fn waiting_ids(
        &self,
        recipient: ClientId,
    ) -> Result<HashSet<u64>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query(
                "SELECT id FROM messages WHERE recipient = $1",
                &[&&recipient.0[..]],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect())
    }

    /// See `Store::inline_contents`.
    pub(crate) async fn inline_contents(
        &self,
        recipient: ClientId,
        ids: Vec<u64>,
    ) -> Result<Vec<Bytes>, StoreError> {
        let wanted: Vec<i64> = ids.iter().map(|&id| id as i64).collect();
        let rows = self
            .conn()
            .await?
            .query(
                "SELECT id, content FROM messages WHERE recipient = $1 AND id = ANY($2)",
                &[&&recipient.0[..], &wanted],
            )
            .await?;
        let mut found: HashMap<u64, Option<Vec<u8>>> = rows
            .iter()
            .map(|r| (r.get::<_, i64>(0) as u64, r.get(1)))
            .collect();
        ids.iter()
            .map(|id| {
                found
                    .remove(id)
                    .flatten()
                    .map(Bytes::from)
                    .ok_or_else(|| StoreError::Corrupt(format!("message {id} has no content")))
            })
            .collect()
    }

    /// See `Store::waiting_message`.
    pub(crate) async fn waiting_message(
        &self,
        recipient: ClientId,
        id: u64,
    ) -> Result<Option<WaitingMessage>, StoreError> {
        self.conn()
            .await?
            .query_opt(
                &format!("{SELECT_WAITING_INDEX} WHERE recipient = $1 AND id = $2"),
                &[&&recipient.0[..], &(id as i64)],
            )
            .await?
            .as_ref()
            .map(row_to_waiting)
            .transpose()
    }

    /// See `Store::referenced_blobs`.
    pub(crate) async fn referenced_blobs(&self) -> Result<HashSet<String>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query(
                "SELECT blob FROM messages WHERE blob IS NOT NULL
                 UNION ALL SELECT blob FROM room_files",
                &[],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// See `Store::count_waiting`.
    pub(crate) async fn count_waiting(&self, recipient: ClientId) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn()
            .await?
            .query_one(
                "SELECT COUNT(*) FROM messages WHERE recipient = $1",
                &[&&recipient.0[..]],
            )
            .await?
            .get(0);
        Ok(n as u64)
    }
}

/// Counts a message (or its reservation) for its recipient and sender.
pub(super) async fn add_message(
    tx: &Transaction<'_>,
    recipient: &ClientId,
    sender: &ClientId,
    count: i64,
    bytes: i64,
) -> Result<(), StoreError> {
    let inbox = Usage {
        inbox_messages: count,
        inbox_bytes: bytes,
        ..Usage::default()
    };
    quota::add(tx, recipient, inbox).await?;
    let sent = Usage {
        sent_bytes: bytes,
        ..Usage::default()
    };
    quota::add(tx, sender, sent).await
}

pub(super) fn row_to_waiting(r: &Row) -> Result<WaitingMessage, StoreError> {
    let size: i64 = r.get(3);
    let kind: i16 = r.get(2);
    let blob: Option<String> = r.get(5);
    let body = match blob {
        Some(blob) => MessageBody::File {
            blob,
            meta: Bytes::from(r.get::<_, Option<Vec<u8>>>(6).unwrap_or_default()),
            size: size as u64,
        },
        None => MessageBody::Inline(Bytes::from(
            r.get::<_, Option<Vec<u8>>>(4).unwrap_or_default(),
        )),
    };
    Ok(WaitingMessage {
        id: r.get::<_, i64>(0) as u64,
        sender: client_id(r.get(1))?,
        kind: u8::try_from(kind)
            .map_err(|_| StoreError::Corrupt(format!("message kind {kind}")))
            .and_then(|k| {
                MessageKind::from_code(k).map_err(|e| StoreError::Corrupt(e.to_string()))
            })?,
        size: size as u64,
        created_at_ms: r.get::<_, i64>(7) as u64,
        body,
    })
}

/// The first of `messages` (oldest first) within `max_count` and
/// `max_bytes` of version-3 payload (the first always), and whether any
/// was left out.
pub(super) fn bound(messages: Vec<WaitingMessage>, max_count: usize, max_bytes: usize) -> Waiting {
    let mut out = Vec::new();
    let mut bytes = 0usize;
    for message in messages {
        let size = message.to_delivery().encoded_len();
        if out.len() == max_count || (!out.is_empty() && bytes + size > max_bytes) {
            return (out, true);
        }
        bytes += size;
        out.push(message);
    }
    (out, false)
}
