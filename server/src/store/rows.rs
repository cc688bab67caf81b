//! Rows of the database decoded into the store's values, for the read pool
//! and the writer alike: a stored value the schema does not allow is
//! [`StoreError::Corrupt`], never a panic.

use bytes::Bytes;
use protocol::{ClientId, MessageKind, UploadId};
use rusqlite::{Connection, OptionalExtension};

use super::values::{MessageBody, UploadRecord, WaitingMessage};
use crate::error::StoreError;

/// A row read by a query: the outer error is SQLite's, the inner one a
/// stored value the schema does not allow.
pub(super) type RowResult<T> = rusqlite::Result<Result<T, StoreError>>;

/// A fixed-size value (an id, a key) from a blob column.
pub(super) fn fixed<const N: usize>(bytes: &[u8], what: &str) -> Result<[u8; N], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what} of {} bytes", bytes.len())))
}

pub(super) fn row_to_waiting(r: &rusqlite::Row<'_>) -> RowResult<WaitingMessage> {
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

pub(super) fn row_to_upload(r: &rusqlite::Row<'_>) -> RowResult<UploadRecord> {
    let id: Vec<u8> = r.get(0)?;
    let owner: Vec<u8> = r.get(1)?;
    let destination: Vec<u8> = r.get(2)?;
    let file_size: i64 = r.get(3)?;
    let meta: Vec<u8> = r.get(4)?;
    let durable_offset: i64 = r.get(5)?;
    let to_room: bool = r.get(6)?;
    Ok((|| {
        Ok(UploadRecord {
            id: UploadId(fixed(&id, "upload id")?),
            owner: ClientId(fixed(&owner, "owner")?),
            destination: ClientId(fixed(&destination, "destination")?),
            file_size: file_size as u64,
            meta: Bytes::from(meta),
            durable_offset: durable_offset as u64,
            to_room,
        })
    })())
}

/// One upload's row, read by the pool or inside the writer's transaction.
pub(super) fn read_upload(
    conn: &Connection,
    id: &UploadId,
) -> Result<Option<UploadRecord>, StoreError> {
    conn.prepare_cached(
        "SELECT id, owner, destination, file_size, meta, durable_offset, to_room FROM uploads
         WHERE id = ?1",
    )?
    .query_row([&id.0[..]], row_to_upload)
    .optional()?
    .transpose()
}
