//! Persistence: one SQLite database in WAL mode, never touched from the async
//! workers.
//!
//! - Writes go to the single writer thread ([`writer`]) through a queue and
//!   are committed in groups; each caller awaits its own answer, which comes
//!   only after the commit.
//! - Reads of messages and uploads run on a small pool of read-only
//!   connections inside `spawn_blocking` ([`readers`]).
//! - Registered clients are also kept in memory ([`Directory`]), so lookups
//!   and lists cost no database access.
//!
//! This file holds the [`Store`] handle itself: opening, the write queue,
//! the free-space admission and closing. What callers ask of it is in one
//! file per kind of row: [`clients`], [`messages`], [`uploads`].
//!
//! File bodies are not stored here: a message row refers to its blob by name
//! (see `crate::blobs`).

mod clients;
mod directory;
mod messages;
mod quota;
mod readers;
pub mod schema;
mod uploads;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use protocol::{ClientId, PublicKey};
use rusqlite::Connection;
use tokio::sync::oneshot;

pub use directory::{ClientRecord, Directory, Protocol, name_key};
pub use messages::{MessageBody, NewMessage, Removed, Stored, WaitingMessage};
use quota::Tally;
pub use uploads::UploadRecord;
use writer::{WriteOp, Writer};

use crate::config::{Config, Durability};
use crate::error::StoreError;
use crate::headroom::Headroom;

/// Bytes a message row costs besides its inline content (ids, sizes, index
/// entries, log frames), counted against the free-space reserve.
const ROW_OVERHEAD: u64 = 256;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The quotas the writer enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most messages waiting for one recipient.
    pub inbox_max_messages: u64,
    /// Most bytes waiting for one recipient.
    pub inbox_max_bytes: u64,
    /// Most bytes one sender may have waiting.
    pub sender_max_bytes: u64,
    /// Most bytes stored in all.
    pub max_storage_bytes: u64,
    /// Most unfinished uploads per client.
    pub max_uploads_per_client: u32,
}

impl Limits {
    /// The quotas of a configuration.
    pub fn from_config(config: &Config) -> Self {
        Self {
            inbox_max_messages: config.inbox_max_messages,
            inbox_max_bytes: config.inbox_max_bytes,
            sender_max_bytes: config.sender_max_bytes,
            max_storage_bytes: config.max_storage_bytes,
            max_uploads_per_client: config.max_uploads_per_client,
        }
    }
}

/// What the store reports after each commit, in commit order.
#[derive(Debug, Clone)]
pub enum StoreEvent {
    /// A message became durable.
    NewMessage {
        /// Its recipient.
        recipient: ClientId,
        /// The message.
        message: Arc<WaitingMessage>,
    },
    /// Messages were removed.
    Removed {
        /// Their recipient.
        recipient: ClientId,
        /// Their ids.
        ids: Vec<u64>,
    },
}

/// The outcome of a queued write, once it is committed (or refused).
pub type Pending<T> = oneshot::Receiver<Result<T, StoreError>>;

struct Inner {
    queue: Mutex<Option<std::sync::mpsc::Sender<WriteOp>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
    db_path: PathBuf,
    directory: Directory,
    /// The free-space reserve, once the server set one (see `crate::headroom`).
    headroom: std::sync::OnceLock<Headroom>,
}

/// A cheap-to-clone handle on the store.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl Store {
    /// Opens (creating or migrating) the database at `db_path` and starts the
    /// writer thread. `is_v3_key` says whether a stored key is a valid
    /// version-3 key bundle (the store does not judge keys itself; it asks
    /// once, to classify accounts registered before schema 3). `notify` is
    /// called on the writer thread after each commit; it must not block.
    ///
    /// # Errors
    /// The database cannot be opened, migrated or read.
    pub fn open(
        db_path: &Path,
        durability: Durability,
        limits: Limits,
        is_v3_key: impl Fn(&PublicKey) -> bool,
        notify: Arc<dyn Fn(Vec<StoreEvent>) + Send + Sync>,
    ) -> Result<Store, StoreError> {
        let mut conn = Connection::open(db_path)?;
        schema::configure(&conn, durability)?;
        schema::migrate(&mut conn)?;
        schema::classify_accounts(&mut conn, |key| {
            fixed(key, "public key").is_ok_and(|key| is_v3_key(&PublicKey(key)))
        })?;
        let directory = clients::load_directory(&conn)?;
        let accounts = Tally::load(&conn)?;
        let next_id: i64 = conn.query_row(
            "SELECT MAX((SELECT value FROM meta WHERE key = 'next_message_id'),
                        (SELECT COALESCE(MAX(id), 0) + 1 FROM messages))",
            [],
            |r| r.get(0),
        )?;
        let (tx, rx) = std::sync::mpsc::channel();
        let writer = Writer {
            conn,
            next_id: next_id as u64,
            accounts,
            directory: directory.clone(),
            limits,
            notify,
            stopped: false,
        };
        let handle = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer.run(rx))?;
        Ok(Store {
            inner: Arc::new(Inner {
                queue: Mutex::new(Some(tx)),
                writer: Mutex::new(Some(handle)),
                readers: Mutex::new(Vec::new()),
                db_path: db_path.to_path_buf(),
                directory,
                headroom: std::sync::OnceLock::new(),
            }),
        })
    }

    /// Refuses new messages, registrations and uploads that would eat into
    /// `headroom`'s reserve (set once, by the server at startup).
    pub fn use_headroom(&self, headroom: Headroom) {
        let _ = self.inner.headroom.set(headroom);
    }

    /// Counts a write of `bytes` against the free-space reserve.
    ///
    /// # Errors
    /// [`StoreError::DiskFull`] if it would eat into the reserve.
    pub fn admit(&self, bytes: u64) -> Result<(), StoreError> {
        match self.inner.headroom.get() {
            Some(h) => h.admit(bytes),
            None => Ok(()),
        }
    }

    /// The registered clients.
    pub fn directory(&self) -> &Directory {
        &self.inner.directory
    }

    fn submit(&self, op: WriteOp) -> Result<(), StoreError> {
        let queue = self.inner.queue.lock().unwrap_or_else(|e| e.into_inner());
        match queue.as_ref() {
            Some(q) => q.send(op).map_err(|_| StoreError::Closed),
            None => Err(StoreError::Closed),
        }
    }

    async fn write<T>(
        &self,
        make: impl FnOnce(writer::Reply<T>) -> WriteOp,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.submit(make(tx))?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Stops the writer after it has committed everything queued, and closes
    /// the database. Later writes fail with [`StoreError::Closed`].
    pub async fn close(&self) {
        self.inner
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        self.inner
            .readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        let handle = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }
}

fn fixed<const N: usize>(bytes: &[u8], what: &str) -> Result<[u8; N], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what} of {} bytes", bytes.len())))
}

/// A row read by a query: the outer error is SQLite's, the inner one a
/// stored value the schema does not allow.
type RowResult<T> = rusqlite::Result<Result<T, StoreError>>;
