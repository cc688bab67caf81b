//! The Sealpost server: stores ciphertext for clients until they fetch it,
//! and never sees a plaintext or a private key.
//!
//! - [`Server::open`] opens the data folder (database, blobs, identity key)
//!   and sweeps what a crash left behind; [`Server::serve`] runs the accept
//!   loop until a shutdown future completes, then drains and closes cleanly.
//! - Versions 2 and 3 of PROTOCOL.md are served by `v2` and `v3`; the
//!   connection's first frame picks one.
//! - Persistence is in `store` (SQLite, off the async workers), `blobs`
//!   (file bodies on disk) and [`direct`] (their I/O past the page cache);
//!   `uploads` runs unfinished version-3 uploads over both.
//!
//! `main.rs` only turns the command line into a [`Config`] and calls [`run`].
//! Only what the binary, the tests and the benchmark use is public:
//! [`Server`], [`Config`], [`direct`], [`error`], [`identity`], [`now_ms`]
//! (and, for now, [`store`]).

#![forbid(unsafe_code)]

pub mod admin;
mod blobs;
mod bundle;
mod claims;
pub mod config;
mod conn;
mod datadir;
pub mod direct;
pub mod error;
mod fault;
mod files_place;
mod frame_clock;
mod handler;
mod headroom;
mod hub;
pub mod identity;
mod keepalive;
mod listener;
mod names;
mod presence;
mod removal;
mod room_retention;
mod sessions;
mod shared;
mod store;
pub mod timing;
mod uploads;
mod v2;
mod v3;

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{Config, ConfigError, DEFAULT_PORT, Durability, Options};
pub use conn::Transport;
/// The database schema, for the load generator's raw-SQLite figures.
pub use datadir::DataDirError;
pub use files_place::FilesPlaceError;
pub use store::now_ms;
pub use store::schema;

use blobs::Blobs;
use hub::Hub;
use identity::ServerIdentity;
use shared::Shared;
use store::{Limits, Store};

/// An opened server, ready to serve.
pub struct Server {
    shared: Arc<Shared>,
    /// The operator's socket, served by [`Server::serve`].
    admin: Option<admin::AdminSocket>,
}

impl Server {
    /// Opens the data folder: creates it if needed (owner-only), takes its
    /// lock, opens (or creates and migrates) the database, loads or creates
    /// the identity key, and removes what a crash left half-written.
    ///
    /// # Errors
    /// Another server uses the folder (`DataDirError::InUse`), or
    /// the folder, database or key cannot be used.
    pub async fn open(config: Config) -> anyhow::Result<Server> {
        let dir = config.data_dir.clone();
        let data_lock = tokio::task::spawn_blocking(move || datadir::DataDirLock::acquire(&dir))
            .await
            .context("opening the data folder")??;
        if config.database.is_none() {
            // Before anything is made (the key, the database): whether the
            // database is new, and a refused start leaves nothing of its own.
            let (data, files, db) = (
                config.data_dir.clone(),
                config.files_dir(),
                config.db_path(),
            );
            tokio::task::spawn_blocking(move || {
                files_place::check_and_record(&data, &files, !db.exists())
            })
            .await
            .context("checking the files folder")??;
        }
        let (identity, created) = ServerIdentity::load_or_create(&config.key_path())
            .with_context(|| format!("loading server key {}", config.key_path().display()))?;
        if created {
            tracing::info!(path = %config.key_path().display(), "created a new server identity key");
        }
        let hub = Hub::default();
        let sessions = sessions::Sessions::new(config.database.is_some());
        let presence = presence::Presence::new();
        let notify = {
            let hub = hub.clone();
            let sessions = sessions.clone();
            let presence = presence.clone();
            Arc::new(move |mut events: Vec<store::StoreEvent>| {
                events.retain(|event| match event {
                    // An account removed through another node of a cluster.
                    store::StoreEvent::AccountRemoved { client } => {
                        sessions.close(client);
                        true
                    }
                    store::StoreEvent::Presence(update) => {
                        presence.apply(update.clone());
                        false
                    }
                    _ => true,
                });
                hub.publish(events);
            })
        };
        let store = match &config.database {
            Some(url) => Store::open_postgres(url, Limits::from_config(&config), notify)
                .await
                .context("opening the PostgreSQL database given with --database")?,
            None => {
                datadir::create_private_file(&config.db_path())
                    .with_context(|| format!("creating database {}", config.db_path().display()))?;
                Store::open(
                    &config.db_path(),
                    config.durability,
                    Limits::from_config(&config),
                    |key| bundle::verify_bundle(key).is_ok(),
                    notify,
                )
                .with_context(|| format!("opening database {}", config.db_path().display()))?
            }
        };
        tracing::info!(engine = store.engine_name(), "store opened");
        if config.legacy_v2 {
            // Said once at start, where an operator looks: the flag's help
            // says it, but a config file's `legacy-v2 = true` is easy to miss.
            tracing::warn!(
                "serving protocol version 2 (--legacy-v2): it has no authentication, so anyone \
                 on the network can read and delete anyone's waiting version-2 messages"
            );
        }
        // Before anything is served or swept: a node set up unlike its
        // cluster must not start at all (one line naming what differs).
        let bodies = if config.bodies_in_database() {
            store::BodyPlace::Database
        } else {
            store::BodyPlace::Folder
        };
        if let Err(e) = store.claim_cluster(&identity.public_key(), bodies).await {
            // Its listener would otherwise outlive the refusal in a
            // process that carries on (the tests).
            store.close().await;
            return Err(e.into());
        }
        let blobs = match store.pg_pool() {
            Some(pool) if config.bodies_in_database() => {
                tracing::info!("file bodies in the PostgreSQL database");
                Blobs::in_database(pool)
            }
            _ => {
                tracing::info!(folder = %config.files_dir().display(), "file bodies in a folder");
                Blobs::open(config.files_dir()).with_context(|| {
                    format!("opening file folder {}", config.files_dir().display())
                })?
            }
        };
        // The reserve is kept on every file system the server writes to: the
        // data folder's and, for bodies in a folder of their own, that one's.
        let mut written = vec![config.data_dir.clone()];
        if !blobs.is_in_database() {
            written.push(config.files_dir());
        }
        let headroom = headroom::Headroom::start(&written, config.min_free_space)?;
        tracing::info!(
            reserve = headroom.reserve(),
            "keeping free disk space in reserve for acknowledgements"
        );
        store.use_headroom(headroom);
        if blobs.is_in_database() {
            let swept = blobs.sweep(HashSet::new(), Vec::new()).await?;
            if swept > 0 {
                tracing::info!(
                    bodies = swept,
                    "removed bodies nothing names, unwritten for an hour"
                );
            }
        } else if store.is_shared() {
            // Other nodes write in the same folder: what looks orphaned
            // here may be their work in progress.
            tracing::info!("files folder shared by a cluster: no sweep of leftover files");
        } else {
            let referenced = store.referenced_blobs().await?;
            let unfinished = store.uploads().await?;
            let swept = blobs.sweep(referenced, unfinished).await?;
            if swept > 0 {
                tracing::info!(
                    files = swept,
                    "removed files left behind by an interrupted run"
                );
            }
        }
        let uploads = uploads::Uploads::new(store.clone(), blobs.clone());
        let passwords = store
            .password_server()
            .await
            .context("reading the server's OPAQUE setup for room passwords")?;
        // Without it the server still serves clients; only `server status`
        // and the other operator commands cannot reach it.
        let admin = match admin::AdminSocket::bind(&config.data_dir) {
            Ok(socket) => Some(socket),
            Err(e) => {
                tracing::warn!(folder = %config.data_dir.display(), error = %e, "cannot open the operator socket");
                None
            }
        };
        Ok(Server {
            admin,
            shared: Arc::new(Shared {
                config,
                store,
                blobs,
                hub,
                identity,
                uploads,
                v2_claims: claims::Claims::default(),
                sessions,
                presence,
                passwords,
                guesses: v3::guesses::Guesses::default(),
                shutdown: CancellationToken::new(),
                data_lock: std::sync::Mutex::new(Some(data_lock)),
            }),
        })
    }

    /// The fingerprint of the server's identity key.
    pub fn fingerprint(&self) -> String {
        self.shared.identity.fingerprint()
    }

    /// Which engine holds the state, and this node's name in a cluster
    /// (`sqlite` alone, or `postgresql` with the node), for the log.
    pub fn engine(&self) -> (&'static str, Option<&str>) {
        let store = &self.shared.store;
        (store.engine_name(), store.node_name())
    }

    /// The server's identity public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.shared.identity.public_key()
    }

    /// Serves one already-accepted connection over any byte stream (an
    /// in-memory pipe in fuzzing and tests), as the accept loop would, but
    /// outside its connection limits. Returns when the connection ends.
    pub async fn serve_stream(&self, stream: impl Transport, peer: std::net::SocketAddr) {
        handler::serve(Box::new(stream), peer, self.shared.clone()).await;
    }

    /// Stops serving: connections served through [`Server::serve_stream`]
    /// are told to finish, and the database is closed.
    pub async fn close(self) {
        self.shared.shutdown.cancel();
        self.shared.store.close().await;
        self.shared.release_data_folder();
    }

    /// Serves `listener` until `shutdown` completes; then stops accepting,
    /// tells connections to finish, waits up to the grace period and closes
    /// the database.
    ///
    /// # Errors
    /// None today; the signature leaves room for fatal runtime failures.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let shared = self.shared;
        let admin = self.admin.map(|a| tokio::spawn(a.run(shared.clone())));
        let expiry = tokio::spawn(
            shared
                .uploads
                .clone()
                .expire_periodically(shared.config.upload_max_age),
        );
        let retention = tokio::spawn(room_retention::expire_periodically(
            shared.store.clone(),
            shared.blobs.clone(),
            shared.config.room_retention,
        ));
        let presence = tokio::spawn(presence::run(
            shared.presence.clone(),
            shared.sessions.clone(),
            shared.store.clone(),
            shared.shutdown.clone(),
        ));
        let accept = listener::run(listener, shared.clone());
        tokio::pin!(accept);
        tokio::select! {
            () = &mut accept => {}
            () = shutdown => {
                tracing::info!("shutting down");
                shared.shutdown.cancel();
                accept.await;
            }
        }
        expiry.abort();
        let _ = expiry.await;
        retention.abort();
        let _ = retention.await;
        // It tells the other nodes of a cluster that this one stops.
        let _ = presence.await;
        if let Some(admin) = admin {
            let _ = admin.await;
        }
        shared.store.close().await;
        shared.release_data_folder();
        tracing::info!("stopped");
        Ok(())
    }
}

/// Opens the server with `config` and serves `listener` until `shutdown`.
///
/// # Errors
/// The data folder cannot be opened.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    Server::open(config).await?.serve(listener, shutdown).await
}
