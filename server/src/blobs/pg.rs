//! File bodies in PostgreSQL (a node on `--database` without
//! `--files-dir`): one engine holds all state, and one `pg_dump` covers it.
//!
//! ```text
//! body_chunks (body BYTEA 16, pos BIGINT, data BYTEA <= ROW_LEN, written_at BIGINT)
//!   PRIMARY KEY (body, pos)        a body's rows cover [0, size) without gaps
//! ```
//!
//! - A body is named as in the folder, `<uuid>.blob`; its rows are keyed by
//!   the uuid's 16 bytes. A version-3 upload's rows are keyed by the upload
//!   id, and the blob it becomes is named after that id: finishing an upload
//!   moves no byte and changes no row.
//! - An upload's chunk rows and its `uploads.durable_offset` are committed
//!   in one transaction, which moves the offset only from where this node
//!   believes it stands (`durable_offset = $old`): any node resumes exactly
//!   where the last commit left it, and two nodes never both write one range.
//!   A chunk's commit does not wait for PostgreSQL to flush its log (1201
//!   only says a chunk was received); [`DatabaseUpload::sync`] does, as a
//!   part file's sync does, and so does the commit that completes the file.
//!   A crash of PostgreSQL takes back unflushed chunks together with the
//!   offset that counts them, so the offset never names a missing byte.
//! - Version-2 bodies are written a row at a time (at most [`ROW_LEN`]
//!   buffered); only the message row that names them makes them visible.
//! - Reads fetch the rows that overlap the asked range, so a transfer holds
//!   at most its range plus one row in memory.
//! - The startup sweep deletes only bodies that nothing names and that no
//!   node wrote for [`SWEEP_AGE`]: another node's body in progress is young
//!   or named by an upload row.
//!
//! Each operation takes a pooled connection (the store's own pool) for one
//! statement or transaction; nothing here blocks an async worker.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use deadpool_postgres::{Object, Pool};
use protocol::UploadId;

use crate::error::StoreError;
use crate::store::{ms_ago, now_ms};

/// Most bytes in one chunk row (a version-3 chunk is at most this long, so
/// each becomes one row).
pub(super) const ROW_LEN: usize = 1024 * 1024;

/// How long a body nothing names must have gone unwritten before the
/// startup sweep removes it (far longer than the gap between a body's last
/// row and the commit of the message that names it).
const SWEEP_AGE: Duration = Duration::from_secs(3600);

/// The bodies table of one PostgreSQL database.
#[derive(Clone)]
pub(super) struct Database {
    pool: Pool,
}

/// The 16-byte key of the body named `name`.
fn body_key(name: &str) -> Result<[u8; 16], StoreError> {
    name.strip_suffix(".blob")
        .and_then(|stem| uuid::Uuid::parse_str(stem).ok())
        .map(|u| *u.as_bytes())
        .ok_or_else(|| StoreError::Corrupt(format!("{name:?} names no body in the database")))
}

/// The name of the body keyed `key`.
fn body_name(key: &[u8; 16]) -> String {
    format!("{}.blob", uuid::Uuid::from_bytes(*key))
}

impl Database {
    /// Bodies kept through `pool` (schema migration 5 made their table).
    pub(super) fn new(pool: Pool) -> Self {
        Self { pool }
    }

    async fn conn(&self) -> Result<Object, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// Deletes the bodies that no message, room file or unfinished upload
    /// names and that nobody wrote for [`SWEEP_AGE`]; returns how many. One
    /// statement, so it sees one snapshot: a body named by an upload row
    /// then by the message that replaces it is seen under one of the two.
    pub(super) async fn sweep(&self) -> Result<usize, StoreError> {
        let before = ms_ago(SWEEP_AGE) as i64;
        let row = self
            .conn()
            .await?
            .query_one(
                "WITH gone AS (
                     DELETE FROM body_chunks
                     WHERE body IN (SELECT body FROM body_chunks GROUP BY body
                                    HAVING max(written_at) < $1
                                    EXCEPT SELECT id FROM uploads)
                       AND (encode(body, 'hex')::uuid)::text || '.blob' NOT IN
                           (SELECT blob FROM messages WHERE blob IS NOT NULL
                            UNION ALL SELECT blob FROM room_files)
                     RETURNING body)
                 SELECT count(DISTINCT body) FROM gone",
                &[&before],
            )
            .await?;
        Ok(row.get::<_, i64>(0) as usize)
    }

    /// Starts a new body.
    pub(super) fn create(&self) -> DatabaseWriter {
        DatabaseWriter {
            db: self.clone(),
            key: *uuid::Uuid::new_v4().as_bytes(),
            buffer: BytesMut::new(),
            written: 0,
            finished: false,
        }
    }

    /// Opens the body `name` for reading (an empty body has no rows: a
    /// missing one shows as short reads).
    pub(super) fn open_blob(&self, name: &str) -> Result<DatabaseReader, StoreError> {
        Ok(DatabaseReader {
            db: self.clone(),
            key: body_key(name)?,
        })
    }

    /// Deletes the rows of the named bodies.
    pub(super) async fn delete(&self, names: Vec<String>) {
        let keys: Vec<Vec<u8>> = names
            .iter()
            .filter_map(|n| match body_key(n) {
                Ok(k) => Some(k.to_vec()),
                Err(e) => {
                    tracing::warn!(error = %e, "not deleting a body");
                    None
                }
            })
            .collect();
        if let Err(e) = self.delete_keys(keys).await {
            tracing::warn!(error = %e, "could not delete bodies; the startup sweep will");
        }
    }

    async fn delete_keys(&self, keys: Vec<Vec<u8>>) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.conn()
            .await?
            .execute("DELETE FROM body_chunks WHERE body = ANY($1)", &[&keys])
            .await?;
        Ok(())
    }

    /// The upload `id`, whose rows cover `[0, offset)`.
    pub(super) fn open_upload(&self, id: &UploadId, offset: u64) -> DatabaseUpload {
        DatabaseUpload {
            db: self.clone(),
            id: *id,
            len: offset,
            // Rows another node or an earlier run committed may not be
            // flushed yet: the first sync flushes whatever there is.
            flushed: 0,
        }
    }

    /// Deletes an upload's rows (cancelled or expired).
    pub(super) async fn delete_upload(&self, id: &UploadId) {
        if let Err(e) = self.delete_keys(vec![id.0.to_vec()]).await {
            tracing::warn!(upload = %id, error = %e, "could not delete an upload's rows");
        }
    }

    /// The blob a finished upload's rows are: no byte moves.
    pub(super) fn promote_upload(upload: &DatabaseUpload) -> String {
        body_name(&upload.id.0)
    }

    /// Inserts `data` as rows from `pos` in `tx`.
    async fn insert(
        tx: &tokio_postgres::Transaction<'_>,
        key: &[u8; 16],
        pos: u64,
        data: &[u8],
    ) -> Result<(), StoreError> {
        let now = now_ms() as i64;
        let mut at = pos;
        for row in data.chunks(ROW_LEN) {
            tx.execute(
                "INSERT INTO body_chunks (body, pos, data, written_at) VALUES ($1, $2, $3, $4)",
                &[&&key[..], &(at as i64), &row, &now],
            )
            .await?;
            at += row.len() as u64;
        }
        Ok(())
    }
}

/// A new body being written, a row at a time.
pub struct DatabaseWriter {
    db: Database,
    key: [u8; 16],
    /// Less than [`ROW_LEN`] bytes not yet in a row (between calls).
    buffer: BytesMut,
    written: u64,
    finished: bool,
}

impl DatabaseWriter {
    /// Appends a piece; full rows go to the database at once.
    pub(super) async fn write(&mut self, data: Bytes) -> Result<(), StoreError> {
        self.buffer.extend_from_slice(&data);
        while self.buffer.len() >= ROW_LEN {
            let row = self.buffer.split_to(ROW_LEN);
            self.flush(&row).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, row: &[u8]) -> Result<(), StoreError> {
        let mut conn = self.db.conn().await?;
        let tx = conn.transaction().await?;
        Database::insert(&tx, &self.key, self.written, row).await?;
        tx.commit().await?;
        self.written += row.len() as u64;
        Ok(())
    }

    /// Writes what is left; returns the body's name. Each row was committed
    /// on its own: the body is durable when this returns.
    pub(super) async fn finish(mut self) -> Result<String, StoreError> {
        let rest = std::mem::take(&mut self.buffer);
        if !rest.is_empty() {
            self.flush(&rest).await?;
        }
        self.finished = true;
        Ok(body_name(&self.key))
    }
}

impl Drop for DatabaseWriter {
    fn drop(&mut self) {
        // An unfinished body (the sender went away) is removed now if a
        // runtime is at hand; the startup sweep catches the rest.
        if self.finished || self.written == 0 {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let db = self.db.clone();
            let key = self.key.to_vec();
            runtime.spawn(async move {
                if let Err(e) = db.delete_keys(vec![key]).await {
                    tracing::warn!(error = %e, "could not delete an unfinished body");
                }
            });
        }
    }
}

/// A body being read.
pub struct DatabaseReader {
    db: Database,
    key: [u8; 16],
}

impl DatabaseReader {
    /// Reads up to `len` bytes at `offset` (fewer at the end of the body):
    /// fetches only the rows that overlap the range.
    pub(super) async fn read_at(&mut self, offset: u64, len: usize) -> Result<Bytes, StoreError> {
        if len == 0 {
            return Ok(Bytes::new());
        }
        let end = offset.saturating_add(len as u64);
        let rows = self
            .db
            .conn()
            .await?
            .query(
                "SELECT pos, data FROM body_chunks
                 WHERE body = $1 AND pos > $2 AND pos < $3 ORDER BY pos",
                &[
                    &&self.key[..],
                    &(offset as i64 - ROW_LEN as i64),
                    &(end.min(i64::MAX as u64) as i64),
                ],
            )
            .await?;
        let mut out = BytesMut::with_capacity(len);
        for row in &rows {
            let pos = row.get::<_, i64>(0) as u64;
            let data: &[u8] = row.get(1);
            let at = offset + out.len() as u64;
            if pos + data.len() as u64 <= at {
                continue;
            }
            if pos > at {
                return Err(StoreError::Corrupt(format!(
                    "body {} has a gap at byte {at}",
                    body_name(&self.key)
                )));
            }
            let from = (at - pos) as usize;
            let take = (data.len() - from).min(len - out.len());
            out.extend_from_slice(&data[from..from + take]);
            if out.len() == len {
                break;
            }
        }
        Ok(out.freeze())
    }
}

/// An upload whose rows cover `[0, len)`.
pub struct DatabaseUpload {
    db: Database,
    id: UploadId,
    len: u64,
    /// Bytes whose commit PostgreSQL has flushed to its log.
    flushed: u64,
}

impl DatabaseUpload {
    /// Bytes committed so far (visible to every node).
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// Bytes known to survive a crash of PostgreSQL.
    pub(super) fn flushed(&self) -> u64 {
        self.flushed
    }

    /// Waits until every chunk committed so far is in PostgreSQL's flushed
    /// log; returns the durable length. A synchronous commit flushes the
    /// log up to its own record, which comes after every earlier commit's,
    /// so one row touched with the offset this handle stands at is enough.
    ///
    /// # Errors
    /// [`StoreError::UnknownUpload`] when the offset is no longer where this
    /// handle stands (another node moved it, the upload went, or a crash of
    /// PostgreSQL took unflushed chunks back); the database failed.
    pub(super) async fn sync(&mut self) -> Result<u64, StoreError> {
        if self.flushed == self.len {
            return Ok(self.len);
        }
        let touched = self
            .db
            .conn()
            .await?
            .execute(
                // The flush is progress: the upload's age counts from it.
                "UPDATE uploads SET active_at = GREATEST(active_at, $3)
                 WHERE id = $1 AND durable_offset = $2",
                &[&&self.id.0[..], &(self.len as i64), &(now_ms() as i64)],
            )
            .await?;
        if touched != 1 {
            return Err(StoreError::UnknownUpload);
        }
        self.flushed = self.len;
        Ok(self.len)
    }

    /// Appends a chunk: its rows and the new offset in one transaction,
    /// which first moves the offset from where this handle stands. If it
    /// stands elsewhere (another node took the upload further, or it was
    /// cancelled), nothing is written and the caller reopens the upload
    /// from the database.
    ///
    /// # Errors
    /// [`StoreError::UnknownUpload`] when the offset moved or the upload is
    /// gone; the database failed.
    pub(super) async fn append(&mut self, data: Bytes) -> Result<(), StoreError> {
        let new_len = self.len + data.len() as u64;
        let mut conn = self.db.conn().await?;
        let tx = conn.transaction().await?;
        // See the module's notes: `sync` and the completing commit flush.
        tx.batch_execute("SET LOCAL synchronous_commit TO off")
            .await?;
        // The row lock this takes orders appends to one upload across nodes.
        let moved = tx
            .execute(
                "UPDATE uploads SET durable_offset = $1 WHERE id = $2 AND durable_offset = $3",
                &[&(new_len as i64), &&self.id.0[..], &(self.len as i64)],
            )
            .await?;
        if moved != 1 {
            return Err(StoreError::UnknownUpload);
        }
        Database::insert(&tx, &self.id.0, self.len, &data).await?;
        tx.commit().await?;
        self.len = new_len;
        Ok(())
    }
}
