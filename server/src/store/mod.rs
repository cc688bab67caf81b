//! Persistence: one SQLite database in WAL mode, never touched from the async
//! workers.
//!
//! - Writes go to the single writer thread ([`writer`]) through a queue and
//!   are committed in groups; each caller awaits its own answer, which comes
//!   only after the commit.
//! - Reads of messages and uploads run on a small pool of read-only
//!   connections inside `spawn_blocking`.
//! - Registered clients are also kept in memory ([`Directory`]), so lookups
//!   and lists cost no database access.
//!
//! File bodies are not stored here: a message row refers to its blob by name
//! (see `crate::blobs`).

mod directory;
pub mod fault;
mod quota;
mod schema;
mod writer;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use protocol::v3::{Delivery, FileOffer};
use protocol::{ClientId, MessageKind, Name, PublicKey, UploadId};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tokio::sync::oneshot;

pub use directory::{ClientRecord, Directory, Protocol, name_key};
use quota::Tally;
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

/// An unfinished upload.
#[derive(Debug, Clone)]
pub struct UploadRecord {
    /// Its id.
    pub id: UploadId,
    /// Who uploads.
    pub owner: ClientId,
    /// Who the file is for.
    pub destination: ClientId,
    /// Its announced size.
    pub file_size: u64,
    /// Opaque metadata for the file message.
    pub meta: Bytes,
    /// Bytes known to be on disk for good.
    pub durable_offset: u64,
    /// When it began.
    pub created_at_ms: u64,
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

/// Most idle read connections kept open.
const MAX_IDLE_READERS: usize = 4;

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
    /// writer thread. `notify` is called on the writer thread after each
    /// commit; it must not block.
    ///
    /// # Errors
    /// The database cannot be opened, migrated or read.
    pub fn open(
        db_path: &Path,
        durability: Durability,
        limits: Limits,
        notify: Arc<dyn Fn(Vec<StoreEvent>) + Send + Sync>,
    ) -> Result<Store, StoreError> {
        let mut conn = Connection::open(db_path)?;
        schema::configure(&conn, durability)?;
        schema::migrate(&mut conn)?;
        schema::classify_accounts(&mut conn, |key| {
            fixed(key, "public key")
                .is_ok_and(|key| crate::v3::verify_bundle(&PublicKey(key)).is_ok())
        })?;
        let directory = Directory::default();
        {
            let mut stmt =
                conn.prepare("SELECT id, name, public_key, protocol FROM clients ORDER BY seq")?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, u8>(3)?,
                ))
            })?;
            for row in rows {
                let (id, name, key, protocol) = row?;
                directory.insert(ClientRecord {
                    id: ClientId(fixed(&id, "client id")?),
                    name: Name::new(name).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    public_key: PublicKey(fixed(&key, "public key")?),
                    protocol: Protocol::from_code(protocol).ok_or_else(|| {
                        StoreError::Corrupt(format!("account of protocol version {protocol}"))
                    })?,
                });
            }
        }
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

    /// Admits a new message: its inline content and its row (a file body
    /// was admitted as it was written).
    fn admit_message(&self, message: &NewMessage) -> Result<(), StoreError> {
        let inline = match &message.body {
            MessageBody::Inline(c) => c.len() as u64,
            MessageBody::File { .. } => 0,
        };
        self.admit(inline + ROW_OVERHEAD)
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

    /// Registers a client of version `protocol` with a fresh random id.
    /// `skeleton` is the name's confusability key (version 3, see
    /// `crate::names`): no two accounts may share one.
    ///
    /// # Errors
    /// [`StoreError::NameTaken`] if the name is taken ignoring ASCII case,
    /// [`StoreError::NameConfusable`] if another has the same skeleton.
    pub async fn register(
        &self,
        name: Name,
        public_key: PublicKey,
        protocol: Protocol,
        skeleton: Option<String>,
    ) -> Result<ClientRecord, StoreError> {
        self.admit(ROW_OVERHEAD + public_key.0.len() as u64)?;
        self.write(|reply| WriteOp::Register {
            name,
            public_key,
            protocol,
            skeleton,
            reply,
        })
        .await
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

    /// Records that a client was active now (committed with the next batch).
    pub fn touch(&self, id: ClientId) {
        let _ = self.submit(WriteOp::Touch { id });
    }

    /// Begins an upload, reserving its size.
    ///
    /// # Errors
    /// Unknown destination, too many uploads, or a quota.
    pub async fn upload_begin(
        &self,
        owner: ClientId,
        destination: ClientId,
        file_size: u64,
        meta: Bytes,
    ) -> Result<UploadRecord, StoreError> {
        // The whole file must fit above the reserve now; its chunks are
        // admitted as they are written.
        if let Some(h) = self.inner.headroom.get() {
            h.check(file_size.saturating_add(ROW_OVERHEAD))?;
        }
        self.write(|reply| WriteOp::UploadBegin {
            owner,
            destination,
            file_size,
            meta,
            reply,
        })
        .await
    }

    /// Records how much of an upload is durably on disk.
    pub fn upload_progress(&self, id: UploadId, durable_offset: u64) {
        let _ = self.submit(WriteOp::UploadProgress {
            id,
            durable_offset,
            reply: None,
        });
    }

    /// Records an upload's durable offset and waits until it is committed,
    /// so that an offset reported as durable survives a crash.
    ///
    /// # Errors
    /// The database refused the change or is closed.
    pub async fn upload_progress_committed(
        &self,
        id: UploadId,
        durable_offset: u64,
    ) -> Result<(), StoreError> {
        self.write(|reply| WriteOp::UploadProgress {
            id,
            durable_offset,
            reply: Some(reply),
        })
        .await
    }

    /// Turns a finished upload into a file message stored in `blob`.
    ///
    /// # Errors
    /// The upload is not the owner's.
    pub async fn upload_complete(
        &self,
        id: UploadId,
        owner: ClientId,
        blob: String,
    ) -> Result<(UploadRecord, Stored), StoreError> {
        self.write(|reply| WriteOp::UploadComplete {
            id,
            owner,
            blob,
            reply,
        })
        .await
    }

    /// Removes the owner's upload.
    ///
    /// # Errors
    /// [`StoreError::UnknownUpload`] if it is not the owner's.
    pub async fn upload_cancel(
        &self,
        id: UploadId,
        owner: ClientId,
    ) -> Result<UploadRecord, StoreError> {
        self.write(|reply| WriteOp::UploadCancel { id, owner, reply })
            .await
    }

    /// Removes uploads begun before `created_before_ms`; returns their ids.
    ///
    /// # Errors
    /// The database failed.
    pub async fn expire_uploads(
        &self,
        created_before_ms: u64,
    ) -> Result<Vec<UploadId>, StoreError> {
        self.write(|reply| WriteOp::ExpireUploads {
            created_before_ms,
            reply,
        })
        .await
    }

    /// Runs `f` on a read-only connection off the async workers.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
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

    /// An unfinished upload.
    ///
    /// # Errors
    /// The database failed.
    pub async fn upload(&self, id: UploadId) -> Result<Option<UploadRecord>, StoreError> {
        self.read(move |conn| read_upload(conn, &id)).await
    }

    /// Every unfinished upload.
    ///
    /// # Errors
    /// The database failed.
    pub async fn uploads(&self) -> Result<Vec<UploadRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT id, owner, destination, file_size, meta, durable_offset, created_at FROM uploads",
            )?;
            let rows = stmt.query_map([], row_to_upload)?;
            let mut out = Vec::new();
            for row in rows {
                out.push(row??);
            }
            Ok(out)
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

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    schema::configure_reader(&conn)?;
    Ok(conn)
}

fn fixed<const N: usize>(bytes: &[u8], what: &str) -> Result<[u8; N], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what} of {} bytes", bytes.len())))
}

type RowResult<T> = rusqlite::Result<Result<T, StoreError>>;

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

fn row_to_upload(r: &rusqlite::Row<'_>) -> RowResult<UploadRecord> {
    let id: Vec<u8> = r.get(0)?;
    let owner: Vec<u8> = r.get(1)?;
    let destination: Vec<u8> = r.get(2)?;
    let file_size: i64 = r.get(3)?;
    let meta: Vec<u8> = r.get(4)?;
    let durable_offset: i64 = r.get(5)?;
    let created_at: i64 = r.get(6)?;
    Ok((|| {
        Ok(UploadRecord {
            id: UploadId(fixed(&id, "upload id")?),
            owner: ClientId(fixed(&owner, "owner")?),
            destination: ClientId(fixed(&destination, "destination")?),
            file_size: file_size as u64,
            meta: Bytes::from(meta),
            durable_offset: durable_offset as u64,
            created_at_ms: created_at as u64,
        })
    })())
}

pub(crate) fn read_upload(
    conn: &Connection,
    id: &UploadId,
) -> Result<Option<UploadRecord>, StoreError> {
    conn.prepare_cached(
        "SELECT id, owner, destination, file_size, meta, durable_offset, created_at FROM uploads
         WHERE id = ?1",
    )?
    .query_row([&id.0[..]], row_to_upload)
    .optional()?
    .transpose()
}
