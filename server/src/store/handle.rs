//! The [`Store`] handle itself: opening (migrating, loading the directory
//! and the quota counts, starting the writer thread), the write queue, the
//! free-space admission and closing. What callers ask of it is in one file
//! per kind of row (`clients.rs`, `messages.rs`, `uploads.rs`), reads go
//! through `readers.rs`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use protocol::PublicKey;
use rusqlite::Connection;
use tokio::sync::oneshot;

use super::checkpoint::{BACKSTOP_PAGES, Checkpointer};
use super::directory::Directory;
use super::pg::{BodyPlace, Pg};
use super::quota::{Limits, Tally};
use super::rows::fixed;
use super::schema;
use super::values::StoreEvent;
use super::writer::{Reply, WriteOp, Writer};
use crate::config::Durability;
use crate::error::StoreError;
use crate::headroom::Headroom;

/// Bytes a message row costs besides its inline content (ids, sizes, index
/// entries, log frames), counted against the free-space reserve.
pub(super) const ROW_OVERHEAD: u64 = 256;

/// The outcome of a queued write, once it is committed (or refused).
pub type Pending<T> = oneshot::Receiver<Result<T, StoreError>>;

pub(super) struct Inner {
    pub(super) engine: Engine,
    directory: Directory,
    /// The free-space reserve, once the server set one (see `crate::headroom`).
    pub(super) headroom: std::sync::OnceLock<Headroom>,
}

/// The database behind the handle: SQLite of one server (the writer thread
/// and the read pool), or PostgreSQL shared by the nodes of a cluster.
pub(super) enum Engine {
    Sqlite(Sqlite),
    Postgres(Box<Pg>),
}

/// The SQLite engine's parts.
pub(super) struct Sqlite {
    /// Each operation with the instant it was queued (`crate::timing`).
    queue: Mutex<Option<std::sync::mpsc::Sender<(WriteOp, Instant)>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    checkpointer: Mutex<Option<Checkpointer>>,
    pub(super) readers: Mutex<Vec<Connection>>,
    pub(super) db_path: PathBuf,
}

impl Inner {
    /// The SQLite engine; on PostgreSQL, the refusal of what only SQLite
    /// has (its writer queue and read pool).
    pub(super) fn sqlite(&self) -> Result<&Sqlite, StoreError> {
        match &self.engine {
            Engine::Sqlite(s) => Ok(s),
            Engine::Postgres(_) => Err(StoreError::NotOnPostgres),
        }
    }
}

/// Prepared statements the writer keeps (rusqlite's default is 16).
const WRITER_STATEMENTS: usize = 128;

/// A cheap-to-clone handle on the store.
#[derive(Clone)]
pub struct Store {
    pub(super) inner: Arc<Inner>,
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
        schema::key_room_names(&mut conn)?;
        let directory = Directory::load(&conn)?;
        let accounts = Tally::load(&conn)?;
        let next_id: i64 = conn.query_row(
            "SELECT MAX((SELECT value FROM meta WHERE key = 'next_message_id'),
                        (SELECT COALESCE(MAX(id), 0) + 1 FROM messages))",
            [],
            |r| r.get(0),
        )?;
        let next_id = super::restored::settle_restore(&conn, db_path, next_id as u64)?;
        // Checkpoints run beside the writer, not inside its commits.
        conn.pragma_update(None, "wal_autocheckpoint", BACKSTOP_PAGES)?;
        // Every statement the writer runs stays prepared (the removals alone
        // are eighteen: a read and a delete per size of their `IN` list).
        conn.set_prepared_statement_cache_capacity(WRITER_STATEMENTS);
        let checkpointer = Checkpointer::start(db_path, durability)?;
        let (tx, rx) = std::sync::mpsc::channel();
        let writer = Writer {
            conn,
            next_id,
            accounts,
            directory: directory.clone(),
            limits,
            notify,
            recent: Default::default(),
            stopped: false,
        };
        let handle = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer.run(rx))?;
        Ok(Store {
            inner: Arc::new(Inner {
                engine: Engine::Sqlite(Sqlite {
                    queue: Mutex::new(Some(tx)),
                    writer: Mutex::new(Some(handle)),
                    checkpointer: Mutex::new(Some(checkpointer)),
                    readers: Mutex::new(Vec::new()),
                    db_path: db_path.to_path_buf(),
                }),
                directory,
                headroom: std::sync::OnceLock::new(),
            }),
        })
    }

    /// Opens (creating or migrating) the PostgreSQL database at `url`, loads
    /// the directory and starts listening for what other nodes commit.
    /// `notify` is called after each commit of this node, and with
    /// [`StoreEvent::Stale`] when another node stored a message.
    ///
    /// # Errors
    /// The database cannot be reached, migrated or read.
    pub async fn open_postgres(
        url: &str,
        limits: Limits,
        notify: Arc<dyn Fn(Vec<StoreEvent>) + Send + Sync>,
    ) -> Result<Store, StoreError> {
        let directory = Directory::default();
        let pg = Pg::open(url, limits, directory.clone(), notify).await?;
        Ok(Store {
            inner: Arc::new(Inner {
                engine: Engine::Postgres(Box::new(pg)),
                directory,
                headroom: std::sync::OnceLock::new(),
            }),
        })
    }

    /// The PostgreSQL engine, if the store is on PostgreSQL.
    pub(super) fn pg(&self) -> Option<&Pg> {
        match &self.inner.engine {
            Engine::Postgres(pg) => Some(pg),
            Engine::Sqlite(_) => None,
        }
    }

    /// The PostgreSQL pool, for file bodies kept in the database.
    pub fn pg_pool(&self) -> Option<deadpool_postgres::Pool> {
        self.pg().map(Pg::pool)
    }

    /// On PostgreSQL, records this node's server key and place of file
    /// bodies as the cluster's if the database holds none yet (the first
    /// node to start), else checks them against the recorded ones; nothing
    /// on SQLite, which no other server shares.
    ///
    /// # Errors
    /// [`StoreError::NotTheClustersKey`], [`StoreError::NotTheClustersBodies`]:
    /// this node is set up unlike the cluster and must not serve; the
    /// database failed.
    pub async fn claim_cluster(&self, key: &[u8; 32], bodies: BodyPlace) -> Result<(), StoreError> {
        match self.pg() {
            Some(pg) => pg.claim_cluster(key, bodies).await,
            None => Ok(()),
        }
    }

    /// Whether other servers share this store (the PostgreSQL engine): then
    /// rows may change under this node, and files in its folder may be
    /// another node's work in progress.
    pub fn is_shared(&self) -> bool {
        self.pg().is_some()
    }

    /// Whether the database can be reached: always for SQLite; for
    /// PostgreSQL, whether this node's listening connection stands.
    pub fn database_reachable(&self) -> bool {
        self.pg().is_none_or(Pg::reachable)
    }

    /// In a cluster, tells the other nodes whom this node shows online
    /// and drops nodes silent past `timeout` (`pg/presence.rs`); `None`
    /// alone on SQLite.
    ///
    /// # Errors
    /// The database failed (nothing was told).
    pub(crate) async fn presence_beat(
        &self,
        told: super::pg::Told,
        timeout: std::time::Duration,
    ) -> Result<Option<super::pg::Beat>, StoreError> {
        match self.pg() {
            Some(pg) => pg.presence_beat(told, timeout).await.map(Some),
            None => Ok(None),
        }
    }

    /// In a cluster, the clients connected to the other nodes (the node's
    /// own are in `Sessions`), of nodes heard within `timeout`; alone on
    /// SQLite, none.
    ///
    /// # Errors
    /// The database failed.
    pub(crate) async fn connected_elsewhere(
        &self,
        timeout: std::time::Duration,
    ) -> Result<Vec<protocol::ClientId>, StoreError> {
        match self.pg() {
            Some(pg) => pg.connected_elsewhere(timeout).await,
            None => Ok(Vec::new()),
        }
    }

    /// In a cluster, the other nodes that have `client` connected (as they
    /// last told, of those heard within `timeout`); alone on SQLite, none.
    ///
    /// # Errors
    /// The database failed.
    pub(crate) async fn nodes_connecting(
        &self,
        client: protocol::ClientId,
        timeout: std::time::Duration,
    ) -> Result<Vec<String>, StoreError> {
        match self.pg() {
            Some(pg) => pg.nodes_connecting(client, timeout).await,
            None => Ok(Vec::new()),
        }
    }

    /// In a cluster, the nodes heard within `timeout`, by name; alone on
    /// SQLite, none.
    ///
    /// # Errors
    /// The database failed.
    pub(crate) async fn live_nodes(
        &self,
        timeout: std::time::Duration,
    ) -> Result<Vec<String>, StoreError> {
        match self.pg() {
            Some(pg) => pg.live_nodes(timeout).await,
            None => Ok(Vec::new()),
        }
    }

    /// In a cluster, tells the other nodes this node shows nobody now.
    ///
    /// # Errors
    /// The database failed.
    pub(crate) async fn presence_leave(&self) -> Result<(), StoreError> {
        match self.pg() {
            Some(pg) => pg.presence_leave().await,
            None => Ok(()),
        }
    }

    /// This node's name in a cluster (PostgreSQL), for the log.
    pub fn node_name(&self) -> Option<&str> {
        self.pg().map(Pg::node)
    }

    /// The engine's name, for the log.
    pub fn engine_name(&self) -> &'static str {
        match self.inner.engine {
            Engine::Sqlite(_) => "sqlite",
            Engine::Postgres(_) => "postgresql",
        }
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

    pub(super) fn submit(&self, op: WriteOp) -> Result<(), StoreError> {
        let queue = self
            .inner
            .sqlite()?
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match queue.as_ref() {
            Some(q) => q.send((op, Instant::now())).map_err(|_| StoreError::Closed),
            None => Err(StoreError::Closed),
        }
    }

    pub(super) async fn write<T>(
        &self,
        make: impl FnOnce(Reply<T>) -> WriteOp,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.submit(make(tx))?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Stops the writer after it has committed everything queued, and closes
    /// the database. Later writes fail with [`StoreError::Closed`].
    pub async fn close(&self) {
        let sqlite = match &self.inner.engine {
            Engine::Sqlite(s) => s,
            Engine::Postgres(pg) => return pg.close().await,
        };
        let checkpointer = sqlite
            .checkpointer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(mut c) = checkpointer {
            let _ = tokio::task::spawn_blocking(move || c.close()).await;
        }
        sqlite
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        sqlite
            .readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        let handle = sqlite
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }
}
