//! Messages as callers see them: the values stored and read back, storing and
//! removing them (through the writer thread) and every read of waiting
//! messages (through the read pool). The statements the writer runs for
//! them are in `writer/messages.rs`.

use std::collections::HashSet;

use bytes::Bytes;
use protocol::v3::{Delivery, FileOffer};
use protocol::{ClientId, MessageKind};
use rusqlite::{OptionalExtension, params};
use tokio::sync::oneshot;

use super::writer::WriteOp;
use super::{Pending, ROW_OVERHEAD, RowResult, Store, fixed};
use crate::error::StoreError;

/// Where a message's content lives.
#[derive(Debug, Clone)]
pub enum MessageBody {
    /// In the database row.
    Inline(Bytes),
    /// In a blob file under `files/`.
    File {
        /// The blob's file name.
        blob: String,
        /// The uploader's opaque metadata (empty for version-2 files).
        meta: Bytes,
        /// The file's size.
        size: u64,
    },
}

impl MessageBody {
    /// Size of the content (the file's size for a blob).
    pub fn size(&self) -> u64 {
        match self {
            Self::Inline(c) => c.len() as u64,
            Self::File { size, .. } => *size,
        }
    }
}

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Who it is for.
    pub recipient: ClientId,
    /// Who sent it.
    pub sender: ClientId,
    /// Its type.
    pub kind: MessageKind,
    /// Its content.
    pub body: MessageBody,
}

/// A message that is durably stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// Its id.
    pub id: u64,
    /// When it was stored.
    pub created_at_ms: u64,
}

/// A message removed by an acknowledgement or a version-2 pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// Its blob, to delete from disk.
    pub blob: Option<String>,
}

/// A message waiting for its recipient.
#[derive(Debug, Clone)]
pub struct WaitingMessage {
    /// Its id.
    pub id: u64,
    /// Who sent it.
    pub sender: ClientId,
    /// Its type as sent.
    pub kind: MessageKind,
    /// Size of its content.
    pub size: u64,
    /// When it was stored.
    pub created_at_ms: u64,
    /// Its content, or where the content is.
    pub body: MessageBody,
}

impl WaitingMessage {
    /// The message as version 3 delivers it: inline content, or a file offer
    /// for anything whose content lives in a blob (see PROTOCOL.md, Files).
    pub fn to_delivery(&self) -> Delivery {
        let (kind, content) = match &self.body {
            MessageBody::Inline(c) => (self.kind, c.clone()),
            MessageBody::File { meta, size, .. } => {
                let offer = FileOffer {
                    size: *size,
                    meta: meta.clone(),
                };
                // Stored meta came through the codec, which bounds it by
                // MAX_FILE_META_LEN, so encoding cannot fail; an empty offer
                // would be a wrong but harmless fallback.
                (MessageKind::File, offer.encode().unwrap_or_default())
            }
        };
        Delivery {
            sender: self.sender,
            message_id: self.id,
            kind,
            sent_at_ms: self.created_at_ms,
            content,
        }
    }
}

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

    /// Names of every blob a message refers to.
    ///
    /// # Errors
    /// The database failed.
    pub async fn referenced_blobs(&self) -> Result<HashSet<String>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare("SELECT blob FROM messages WHERE blob IS NOT NULL")?;
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
        self.read(move |conn| {
            Ok(conn
                .prepare_cached("SELECT COUNT(*) FROM messages WHERE recipient = ?1")?
                .query_row([&recipient.0[..]], |r| r.get::<_, i64>(0))? as u64)
        })
        .await
    }
}

fn row_to_waiting(r: &rusqlite::Row<'_>) -> RowResult<WaitingMessage> {
    let id: i64 = r.get(0)?;
    let sender: Vec<u8> = r.get(1)?;
    let kind: u8 = r.get(2)?;
    let size: i64 = r.get(3)?;
    let content: Option<Vec<u8>> = r.get(4)?;
    let blob: Option<String> = r.get(5)?;
    let meta: Option<Vec<u8>> = r.get(6)?;
    let created_at: i64 = r.get(7)?;
    Ok((|| {
        let body = match blob {
            Some(blob) => MessageBody::File {
                blob,
                meta: Bytes::from(meta.unwrap_or_default()),
                size: size as u64,
            },
            None => MessageBody::Inline(Bytes::from(content.unwrap_or_default())),
        };
        Ok(WaitingMessage {
            id: id as u64,
            sender: ClientId(fixed(&sender, "sender")?),
            kind: MessageKind::from_code(kind).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            size: size as u64,
            created_at_ms: created_at as u64,
            body,
        })
    })())
}
