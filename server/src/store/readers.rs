//! The read pool: reads of messages and uploads run on read-only
//! connections inside `spawn_blocking`, never on the async workers and never
//! queued behind the writer (WAL lets them read while it commits).
//!
//! Separate from the handle in `mod.rs` because it is the one place that
//! decides how reads reach SQLite; the queries themselves are with the rows
//! they read (`messages.rs`, `uploads.rs`).

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::handle::Store;
use super::schema;
use crate::error::StoreError;

/// Most idle read connections kept open.
const MAX_IDLE_READERS: usize = 4;

impl Store {
    /// Runs `f` on a read-only connection off the async workers.
    pub(super) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let inner = inner.sqlite()?;
            let pooled = inner
                .readers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop();
            let conn = match pooled {
                Some(c) => c,
                None => open_reader(&inner.db_path)?,
            };
            let result = f(&conn);
            let mut readers = inner.readers.lock().unwrap_or_else(|e| e.into_inner());
            if readers.len() < MAX_IDLE_READERS {
                readers.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Corrupt(format!("reader task failed: {e}")))?
    }
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    schema::configure_reader(&conn)?;
    Ok(conn)
}
