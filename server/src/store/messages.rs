//! Messages as callers see them: storing and removing them (through the
//! writer thread) and every read of waiting messages (through the read
//! pool). The statements the writer runs for them are in
//! `writer/messages.rs`, the values in `values.rs`.

use std::collections::HashSet;

use bytes::Bytes;
use protocol::ClientId;
use rusqlite::{OptionalExtension, params};
use tokio::sync::oneshot;

use super::handle::{Pending, ROW_OVERHEAD, Store};
use super::pg::Read;
use super::rows::row_to_waiting;
use super::values::{MessageBody, NewMessage, Removed, Stored, WaitingMessage};
use super::writer::WriteOp;
use crate::error::StoreError;

impl Store {
    /// Admits a new message: its inline content and its row (a file body
    /// was admitted as it was written).
    fn admit_message(&self, message: &NewMessage) -> Result<(), StoreError> {
        let inline = match &message.body {
            MessageBody::Inline(c) => c.len() as u64,
            MessageBody::File { .. } => 0,
        };
        self.admit(inline + ROW_OVERHEAD)
    }

    /// Stores a message; returns once it is committed.
    ///
    /// # Errors
    /// Unknown recipient, or a quota.
    pub async fn insert(&self, message: NewMessage) -> Result<Stored, StoreError> {
        if self.pg().is_some() {
            return self
                .insert_later(message)?
                .await
                .map_err(|_| StoreError::Closed)?;
        }
        self.admit_message(&message)?;
        self.write(|reply| WriteOp::Insert { message, reply }).await
    }

    /// Queues a message for storage and returns the receiver of its outcome,
    /// so that a connection can read on while the commit happens.
    ///
    /// # Errors
    /// The store is closed.
    pub fn insert_later(&self, message: NewMessage) -> Result<Pending<Stored>, StoreError> {
        self.admit_message(&message)?;
        let (tx, rx) = oneshot::channel();
        if let Some(pg) = self.pg() {
            // The node's committers take it, in its sender's order
            // (`pg::send_batch`).
            if pg.sends.push((message, tx)) {
                let store = self.clone();
                tokio::spawn(async move {
                    if let Some(pg) = store.pg() {
                        pg.commit_sends().await;
                    }
                });
            }
            return Ok(rx);
        }
        self.submit(WriteOp::Insert { message, reply: tx })?;
        Ok(rx)
    }

    /// Removes messages of `recipient`; `None` for each id that was not waiting.
    ///
    /// # Errors
    /// The database failed.
    pub async fn delete(
        &self,
        recipient: ClientId,
        ids: Vec<u64>,
    ) -> Result<Vec<Option<Removed>>, StoreError> {
        if self.pg().is_some() {
            return self
                .delete_later(recipient, ids)?
                .await
                .map_err(|_| StoreError::Closed)?;
        }
        self.write(|reply| WriteOp::Delete {
            recipient,
            ids,
            reply,
        })
        .await
    }

    /// Like [`Store::delete`], returning the receiver of its outcome.
    ///
    /// # Errors
    /// The store is closed.
    pub fn delete_later(
        &self,
        recipient: ClientId,
        ids: Vec<u64>,
    ) -> Result<Pending<Vec<Option<Removed>>>, StoreError> {
        let (tx, rx) = oneshot::channel();
        if let Some(pg) = self.pg() {
            // One transaction removes what the node's sessions acknowledged
            // meanwhile (`pg::ack_batch`).
            if ids.is_empty() {
                let _ = tx.send(Ok(Vec::new()));
            } else if pg.acks.push((recipient, ids, tx)) {
                let store = self.clone();
                tokio::spawn(async move {
                    if let Some(pg) = store.pg() {
                        pg.commit_acks().await;
                    }
                });
            }
            return Ok(rx);
        }
        self.submit(WriteOp::Delete {
            recipient,
            ids,
            reply: tx,
        })?;
        Ok(rx)
    }

    /// Waiting messages of `recipient` with ids after `after`, oldest first:
    /// at most `max_count`, and no more than `max_bytes` of version-3 payload
    /// except that the first is always included. Also says whether more wait.
    ///
    /// # Errors
    /// The database failed.
    pub async fn waiting(
        &self,
        recipient: ClientId,
        after: u64,
        max_count: usize,
        max_bytes: usize,
    ) -> Result<(Vec<WaitingMessage>, bool), StoreError> {
        if let Some(pg) = self.pg() {
            // One query serves the reads the node's sessions make meanwhile
            // (`pg::read_batch`).
            let (reply, rx) = oneshot::channel();
            let read = Read {
                recipient,
                after,
                max_count,
                max_bytes,
                reply,
            };
            if pg.reads.push(read) {
                let store = self.clone();
                tokio::spawn(async move {
                    if let Some(pg) = store.pg() {
                        pg.serve_reads().await;
                    }
                });
            }
            return rx.await.map_err(|_| StoreError::Closed)?;
        }
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, sender, kind, size, content, blob, meta, created_at FROM messages
                 WHERE recipient = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            )?;
            let rows = stmt.query_map(
                params![&recipient.0[..], after as i64, max_count as i64 + 1],
                row_to_waiting,
            )?;
            let mut out = Vec::new();
            let mut bytes = 0usize;
            for row in rows {
                let message = row??;
                let size = message.to_delivery().encoded_len();
                if out.len() == max_count || (!out.is_empty() && bytes + size > max_bytes) {
                    return Ok((out, true));
                }
                bytes += size;
                out.push(message);
            }
            Ok((out, false))
        })
        .await
    }

    /// Every waiting message of `recipient` without inline contents (their
    /// bodies are fetched in bounded batches with [`Store::inline_contents`]).
    ///
    /// # Errors
    /// The database failed.
    pub async fn waiting_index(
        &self,
        recipient: ClientId,
    ) -> Result<Vec<WaitingMessage>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.waiting_index(recipient).await;
        }
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, sender, kind, size, NULL, blob, meta, created_at FROM messages
                 WHERE recipient = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map(params![&recipient.0[..]], row_to_waiting)?;
            let mut out = Vec::new();
            for row in rows {
                out.push(row??);
            }
            Ok(out)
        })
        .await
    }

    /// The ids of every message waiting for `recipient` (from the index alone).
    ///
    /// # Errors
    /// The database failed.
    pub async fn waiting_ids(&self, recipient: ClientId) -> Result<HashSet<u64>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.waiting_ids(recipient).await;
        }
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached("SELECT id FROM messages WHERE recipient = ?1")?;
            let rows = stmt.query_map([&recipient.0[..]], |r| r.get::<_, i64>(0))?;
            let mut ids = HashSet::new();
            for id in rows {
                ids.insert(id? as u64);
            }
            Ok(ids)
        })
        .await
    }

    /// The inline contents of some of `recipient`'s messages, in the order of `ids`.
    ///
    /// # Errors
    /// A message is missing or the database failed.
    pub async fn inline_contents(
        &self,
        recipient: ClientId,
        ids: Vec<u64>,
    ) -> Result<Vec<Bytes>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.inline_contents(recipient, ids).await;
        }
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT content FROM messages WHERE id = ?1 AND recipient = ?2")?;
            ids.iter()
                .map(|id| {
                    let content: Option<Vec<u8>> = stmt
                        .query_row(params![*id as i64, &recipient.0[..]], |r| r.get(0))
                        .optional()?
                        .flatten();
                    content
                        .map(Bytes::from)
                        .ok_or_else(|| StoreError::Corrupt(format!("message {id} has no content")))
                })
                .collect()
        })
        .await
    }

    /// One waiting message of `recipient`, without inline content.
    ///
    /// # Errors
    /// The database failed.
    pub async fn waiting_message(
        &self,
        recipient: ClientId,
        id: u64,
    ) -> Result<Option<WaitingMessage>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.waiting_message(recipient, id).await;
        }
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT id, sender, kind, size, NULL, blob, meta, created_at FROM messages
                 WHERE id = ?1 AND recipient = ?2",
            )?
            .query_row(params![id as i64, &recipient.0[..]], row_to_waiting)
            .optional()?
            .transpose()
        })
        .await
    }

    /// Names of every blob a message or a room file refers to.
    ///
    /// # Errors
    /// The database failed.
    pub async fn referenced_blobs(&self) -> Result<HashSet<String>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.referenced_blobs().await;
        }
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT blob FROM messages WHERE blob IS NOT NULL
                 UNION ALL SELECT blob FROM room_files",
            )?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    /// Number of messages waiting for `recipient`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn count_waiting(&self, recipient: ClientId) -> Result<u64, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.count_waiting(recipient).await;
        }
        self.read(move |conn| {
            Ok(conn
                .prepare_cached("SELECT COUNT(*) FROM messages WHERE recipient = ?1")?
                .query_row([&recipient.0[..]], |r| r.get::<_, i64>(0))? as u64)
        })
        .await
    }
}
