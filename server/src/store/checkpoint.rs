//! Folding the write-ahead log into the database file on a thread of its
//! own, so that the writer never does it inside a commit.
//!
//! With SQLite's default, the connection whose commit takes the log past
//! 1,000 pages copies the whole log into the database and syncs the file
//! before its commit returns: every few hundred milliseconds under load one
//! batch of senders waited for that too. Here a second connection does a
//! passive checkpoint every [`INTERVAL`] (it never blocks the writer or the
//! readers; pages still in a reader's snapshot wait for the next round),
//! and the writer's own automatic checkpoint stays only as a backstop at
//! [`BACKSTOP_PAGES`], should this thread fall far behind. Durability is
//! unchanged: a commit is durable once its log frames are synced, whoever
//! checkpoints them later.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::schema;
use crate::config::Durability;
use crate::error::StoreError;

/// How often the log is folded in.
const INTERVAL: Duration = Duration::from_millis(100);
/// The writer checkpoints itself only past this many log pages (16 MiB of
/// 4 KiB pages, ten times SQLite's default).
pub(super) const BACKSTOP_PAGES: i64 = 4096;

/// The checkpointing thread; stops when dropped or closed.
pub(super) struct Checkpointer {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens its connection to `db_path` and starts the thread.
    pub(super) fn start(db_path: &Path, durability: Durability) -> Result<Self, StoreError> {
        let conn = Connection::open(db_path)?;
        schema::configure(&conn, durability)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || {
                while !flag.load(Ordering::Acquire) {
                    std::thread::park_timeout(INTERVAL);
                    if flag.load(Ordering::Acquire) {
                        break;
                    }
                    // Busy (another checkpoint) or an I/O error: the next
                    // round, or the writer's backstop, tries again.
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::debug!(error = %e, "passive checkpoint failed");
                    }
                }
            })?;
        Ok(Checkpointer {
            stop,
            handle: Some(handle),
        })
    }

    /// Stops the thread and waits for it (at most one checkpoint's time).
    pub(super) fn close(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(handle) = self.handle.take() {
            handle.thread().unpark();
            let _ = handle.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Not joined here: a drop may run on an async worker.
        self.stop.store(true, Ordering::Release);
        if let Some(handle) = &self.handle {
            handle.thread().unpark();
        }
    }
}
