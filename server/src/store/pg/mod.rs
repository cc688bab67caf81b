//! The PostgreSQL engine: every node of a cluster keeps its state in one
//! PostgreSQL database, so any node serves any client.
//!
//! - Each operation is one transaction on a pooled connection
//!   (`deadpool-postgres`), answered only after its commit. The operations
//!   of every message's life are batched per node, as the SQLite writer
//!   batches: sends from every connection share insert transactions
//!   (`send_batch.rs`), acknowledgements share delete transactions
//!   (`ack_batch.rs`) and the reads of what is waiting share queries
//!   (`read_batch.rs`); each still gets its own answer.
//! - Quotas are counted in the `usage` rows (one per client) and the
//!   `storage` stripes, changed in the same transaction as the rows they
//!   count (`quota.rs`); row locks, always taken in one order, make a check
//!   and the change it allows atomic across nodes.
//! - Message ids come from one sequence, taken after the recipient's usage
//!   row is locked: per recipient they are committed in increasing order
//!   whichever node stores them.
//! - What one node commits reaches the others through LISTEN/NOTIFY
//!   (`listen.rs`): new registrations (the in-memory directory), the
//!   recipients of new messages and the rooms of new entries (push).
//! - Rooms and key packages: `rooms.rs`, `room_*.rs`, `key_packages.rs`;
//!   every write of a room holds the room's row, and the rooms' MLS
//!   observer keeps its state in this database (`room_observer.rs`).
//! - Who the cluster is (`cluster.rs`): its server key and where its file
//!   bodies live, recorded by the first node and checked by every other.
//! - The operator's account commands (`admin.rs`): totals, the accounts,
//!   and removing one, announced to every node.

mod accounts;
mod ack_batch;
mod admin;
mod channels;
mod clients;
mod cluster;
mod group;
mod key_packages;
mod listen;
mod messages;
mod presence;
mod quota;
mod read_batch;
mod room_acks;
mod room_delete;
mod room_files;
mod room_guesses;
mod room_holds;
mod room_log;
mod room_observer;
mod room_passwords;
mod room_reads;
mod rooms;
mod schema;
mod send_batch;
mod send_queue;
mod uploads;

pub use cluster::BodyPlace;
pub(crate) use group::Read;
pub(crate) use presence::{Beat, Told};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use protocol::ClientId;
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;
use tokio_util::sync::CancellationToken;

use super::directory::Directory;
use super::quota::Limits;
use super::values::StoreEvent;
use crate::error::StoreError;

/// Connections one node keeps to the database (besides its listener).
const POOL_SIZE: usize = 16;

/// How long making (or checking) a connection may take before the request
/// is refused with [`StoreError::DatabaseUnavailable`]: a database that is
/// down is noticed this fast.
const CONNECT_WAIT: Duration = Duration::from_secs(5);

/// How long a request may queue for a free connection of the pool. Longer
/// than [`CONNECT_WAIT`]: under a burst (a thousand clients sending at
/// once) requests queue behind each other's commits, which is load, not an
/// unreachable database, and must not be refused as one.
const QUEUE_WAIT: Duration = Duration::from_secs(60);

/// The PostgreSQL engine of one node.
pub(crate) struct Pg {
    pool: Pool,
    limits: Limits,
    /// This node's random name in notifications, to skip its own.
    node: String,
    directory: Directory,
    notify: Arc<dyn Fn(Vec<StoreEvent>) + Send + Sync>,
    stop: CancellationToken,
    listener: Mutex<Option<JoinHandle<()>>>,
    /// Whether the listener's connection to the database stands: the node
    /// accepts new connections only while it does.
    reachable: Arc<AtomicBool>,
    /// Wakes the listener out of its pause between two attempts to
    /// reconnect, when something says the database may be back.
    listen_again: Arc<tokio::sync::Notify>,
    /// Sends waiting for a committer (`send_batch.rs`).
    pub(crate) sends: send_queue::SendQueue,
    /// Acknowledgements waiting for a runner (`ack_batch.rs`).
    pub(crate) acks: group::Group<group::AckQueued>,
    /// Reads of what is waiting, for a runner (`read_batch.rs`).
    pub(crate) reads: group::Group<group::Read>,
}

impl Pg {
    /// Connects, migrates, loads the directory and starts the listener.
    pub(super) async fn open(
        url: &str,
        limits: Limits,
        directory: Directory,
        notify: Arc<dyn Fn(Vec<StoreEvent>) + Send + Sync>,
    ) -> Result<Pg, StoreError> {
        let config: tokio_postgres::Config = url.parse()?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(QUEUE_WAIT))
            .create_timeout(Some(CONNECT_WAIT))
            .recycle_timeout(Some(CONNECT_WAIT))
            .build()
            .map_err(|e| StoreError::DatabaseUnavailable(e.to_string()))?;
        let mut conn = pool.get().await?;
        schema::migrate(&mut conn).await?;
        schema::key_room_names(&mut conn).await?;
        accounts::load(&conn, &directory).await?;
        drop(conn);
        let pg = Pg {
            pool,
            limits,
            node: hex::encode(uuid::Uuid::new_v4().as_bytes()),
            directory,
            notify,
            stop: CancellationToken::new(),
            listener: Mutex::new(None),
            reachable: Arc::new(AtomicBool::new(true)),
            listen_again: Arc::new(tokio::sync::Notify::new()),
            sends: send_queue::SendQueue::default(),
            acks: group::ack_queue(),
            reads: group::read_queue(),
        };
        let (ready, listening) = tokio::sync::oneshot::channel();
        let ears = listen::Ears {
            config,
            pool: pg.pool.clone(),
            node: pg.node.clone(),
            directory: pg.directory.clone(),
            notify: pg.notify.clone(),
            reachable: pg.reachable.clone(),
            listen_again: pg.listen_again.clone(),
        };
        let listener = tokio::spawn(listen::run(ears, pg.stop.clone(), Some(ready)));
        *pg.listener.lock().unwrap_or_else(|e| e.into_inner()) = Some(listener);
        // Not before the node hears the others: a message stored through
        // another node in between would never be pushed here.
        match tokio::time::timeout(CONNECT_WAIT, listening).await {
            Ok(Ok(())) => Ok(pg),
            _ => {
                pg.stop.cancel();
                Err(StoreError::DatabaseUnavailable(
                    "could not listen for the other nodes' notifications".into(),
                ))
            }
        }
    }

    /// Whether the database answered the last time this node's listener
    /// tried it. If not, the listener tries again now rather than at the
    /// end of its pause: a client is waiting to be served.
    pub(super) fn reachable(&self) -> bool {
        let reachable = self.reachable.load(Ordering::Acquire);
        if !reachable {
            self.listen_again.notify_one();
        }
        reachable
    }

    /// This node's name in the cluster's notifications.
    pub(super) fn node(&self) -> &str {
        &self.node
    }

    /// The pool, for the file bodies kept in this database
    /// (`crate::blobs`).
    pub(super) fn pool(&self) -> Pool {
        self.pool.clone()
    }

    /// A pooled connection.
    async fn conn(&self) -> Result<Object, StoreError> {
        let conn = self.pool.get().await?;
        if !self.reachable.load(Ordering::Acquire) {
            // The pool reached the database the listener is still waiting
            // to retry: new clients need not wait out its pause.
            self.listen_again.notify_one();
        }
        Ok(conn)
    }

    /// Stops the listener and closes the pool.
    pub(super) async fn close(&self) {
        self.stop.cancel();
        let listener = self
            .listener
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(listener) = listener {
            let _ = listener.await;
        }
        self.pool.close();
    }

    /// The payload announcing `id` on a channel.
    fn payload(&self, id: &ClientId) -> String {
        format!("{}:{}", self.node, hex::encode(id.0))
    }

    /// Tells the other nodes, at commit, that account `id` was registered
    /// or removed (they read which from the database).
    async fn announce_client(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        id: &ClientId,
    ) -> Result<(), StoreError> {
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[&channels::CLIENTS_CHANNEL, &self.payload(id)],
        )
        .await?;
        Ok(())
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => StoreError::Postgres(e),
            other => StoreError::DatabaseUnavailable(other.to_string()),
        }
    }
}
