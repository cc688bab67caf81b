//! The client core: one user's identity, key store and connection, as a
//! cheap-to-clone handle ([`Client`]; the menu keeps one for its prompt and
//! one for its watcher), and what every operation is built on: running a
//! key-store call off the async workers, connecting (and pinning the
//! server's key), retrying an idempotent request after a lost connection,
//! and the connection's state.
//!
//! Everything secret stays here and in [`crate::keystore`]; the server sees
//! only ciphertext. The key store is SQLite and file I/O is blocking, so
//! both run in `spawn_blocking`.
//!
//! The operations a person asks for are `impl Client` blocks of their own,
//! which build on this file and which it does not know: peers' keys
//! (`crate::peers`), names ([`crate::contacts`]), sessions and texts
//! (`crate::send`), files ([`crate::transfer`]), receiving
//! ([`crate::inbox`]) and refusal notices (`crate::refusal`). What they
//! return is in leaves of their own ([`crate::error`], [`crate::event`],
//! [`crate::peer_info`]).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::{ClientId, ErrorReason, Name};
use tokio::sync::{Mutex as AsyncMutex, watch};

use crate::connection::{self, Connection, ConnectionError};
use crate::crypto::{Fingerprint, Identity};
use crate::downloads::DownloadPolicy;
use crate::keystore::{KeyStore, KeyStoreError, PinError, ServerPin};
use crate::link::Link;

// Also named here by the menu and the scripted commands.
pub use crate::error::ClientError;

/// Where the client keeps its files and which server it talks to.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The user's folder: `store.db`, `me.info`, `downloads/`.
    pub home: PathBuf,
    /// The server, `host:port` (several nodes comma-separated); empty for
    /// a command that never connects and was given none.
    pub server: String,
    /// Accept a server key that differs from the pinned one (the user
    /// checked the new fingerprint with the server's operator).
    pub accept_server_key: bool,
    /// How the home's stores are protected at rest: a passphrase (the
    /// stores are SQLCipher databases keyed by Argon2id of it) or none.
    pub protection: crate::keystore::Protection,
}

/// The registered user.
pub struct Me {
    /// Registered name.
    pub name: Name,
    /// Client id.
    pub id: ClientId,
    pub(crate) identity: Identity,
}

impl std::fmt::Debug for Me {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Me")
            .field("name", &self.name)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A file transfer's progress, shown by the caller as it likes.
pub trait Progress: Send + Sync {
    /// A transfer of `total` bytes begins; `done` are already there (resume).
    fn start(&self, label: &str, total: u64, done: u64);
    /// As [`Progress::start`], for a file this client sends: uploads call
    /// this, so that a line that names the direction (the menu's for a
    /// transfer in the background) does not call a send a receipt. By
    /// default the same as `start`, for those whose label says it all.
    fn start_sending(&self, label: &str, total: u64, done: u64) {
        self.start(label, total, done);
    }
    /// `n` more bytes went through.
    fn advance(&self, n: u64);
    /// The transfer ended (successfully or not).
    fn finish(&self);
}

tokio::task_local! {
    /// The progress of the transfers of one task ([`Client::with_progress`]).
    static TASK_PROGRESS: Arc<dyn Progress>;
}

/// Progress that shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: u64, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

pub(crate) struct Inner {
    pub(crate) config: ClientConfig,
    pub(crate) store: Arc<Mutex<KeyStore>>,
    pub(crate) me: Mutex<Option<Arc<Me>>>,
    conn: AsyncMutex<Option<Arc<Connection>>>,
    /// The node of the last connection that was lost: tried last when
    /// connecting again (`connection::nodes`).
    lost_node: Mutex<Option<String>>,
    pub(crate) progress: Mutex<Arc<dyn Progress>>,
    /// Serialises the handling of deliveries (inbox and watch may run at once).
    pub(crate) receiving: AsyncMutex<()>,
    /// Held while a session's offer is sent and the session saved, so that
    /// an answer arriving in between waits for the session instead of
    /// being refused as one for an unknown session.
    pub(crate) starting: AsyncMutex<()>,
    /// When each peer's key was last compared with the server's copy.
    key_checked: Mutex<std::collections::HashMap<ClientId, std::time::Instant>>,
    /// Which received files download without asking.
    pub(crate) download_policy: Mutex<DownloadPolicy>,
    /// Stops the downloads the client runs by itself now
    /// ([`Client::cancel_downloads`]); replaced after each use.
    pub(crate) downloads_cancel: Mutex<tokio_util::sync::CancellationToken>,
    /// When each sender's server name was last asked for.
    name_checked: Mutex<std::collections::HashMap<ClientId, std::time::Instant>>,
    /// Whether the connection is up, for those who show it.
    pub(crate) link: watch::Sender<Link>,
    /// The rooms engine and the lock on reading the rooms' logs.
    pub(crate) rooms: crate::rooms::RoomsState,
    /// Shown or not, and who is online (a live client).
    pub(crate) presence: crate::presence::PresenceState,
    /// A receipt moved the status of messages we sent (see
    /// [`Client::statuses_moved`]).
    pub(crate) statuses: tokio::sync::Notify,
}

/// One user's client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

/// Retries of an idempotent request after a lost connection.
pub(crate) const RECONNECT_ATTEMPTS: u32 = 3;
/// How often a peer's pinned key is compared again with the server's copy
/// before sending (a change blocks sending until the user accepts it).
pub(crate) const KEY_RECHECK: Duration = Duration::from_secs(60);

impl Client {
    /// Opens the home folder's key store (creating it if needed).
    ///
    /// # Errors
    /// The store cannot be opened.
    pub async fn open(config: ClientConfig) -> Result<Client, ClientError> {
        let home = config.home.clone();
        let protection = config.protection.clone();
        let (store, me) = tokio::task::spawn_blocking(move || {
            let store = KeyStore::open_protected(&home, &protection)?;
            let me = store.identity()?.map(|s| {
                Arc::new(Me {
                    name: s.name,
                    id: s.client_id,
                    identity: s.identity,
                })
            });
            Ok::<_, KeyStoreError>((store, me))
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??;
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                store: Arc::new(Mutex::new(store)),
                me: Mutex::new(me),
                conn: AsyncMutex::new(None),
                lost_node: Mutex::new(None),
                progress: Mutex::new(Arc::new(NoProgress)),
                receiving: AsyncMutex::new(()),
                starting: AsyncMutex::new(()),
                key_checked: Mutex::new(Default::default()),
                download_policy: Mutex::new(Default::default()),
                downloads_cancel: Mutex::new(Default::default()),
                name_checked: Mutex::new(Default::default()),
                link: watch::channel(Link::Unknown).0,
                rooms: Default::default(),
                presence: Default::default(),
                statuses: Default::default(),
            }),
        })
    }

    /// Shows transfers through `progress` from now on.
    pub fn set_progress(&self, progress: Arc<dyn Progress>) {
        *self
            .inner
            .progress
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = progress;
    }

    /// Runs `work` with its transfers shown through `progress` instead of
    /// the client's (a front end that runs several at once tells them
    /// apart so). Covers what `work` does on its own task only.
    pub async fn with_progress<T>(
        progress: Arc<dyn Progress>,
        work: impl std::future::Future<Output = T>,
    ) -> T {
        TASK_PROGRESS.scope(progress, work).await
    }

    pub(crate) fn progress(&self) -> Arc<dyn Progress> {
        if let Ok(p) = TASK_PROGRESS.try_with(Arc::clone) {
            return p;
        }
        self.inner
            .progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The folder received files are saved in.
    pub fn downloads(&self) -> PathBuf {
        self.inner.config.home.join("downloads")
    }

    /// The registered user, if any.
    pub fn me(&self) -> Option<Arc<Me>> {
        self.inner
            .me
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn require_me(&self) -> Result<Arc<Me>, ClientError> {
        self.me()
            .ok_or_else(|| ClientError::NotRegistered(self.inner.config.home.display().to_string()))
    }

    /// Runs `f` on the key store, off the async workers.
    pub(crate) async fn store<T, F>(&self, f: F) -> Result<T, ClientError>
    where
        T: Send + 'static,
        F: FnOnce(&mut KeyStore) -> Result<T, KeyStoreError> + Send + 'static,
    {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || f(&mut store.lock().unwrap_or_else(|e| e.into_inner())))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .map_err(ClientError::from)
    }

    /// Registers `name` on the server with a fresh identity and stores it.
    ///
    /// # Errors
    /// Already registered here, name taken or invalid, server unreachable.
    pub async fn register(&self, name: &str) -> Result<ClientId, ClientError> {
        if let Some(me) = self.me() {
            return Err(ClientError::AlreadyRegistered {
                home: self.inner.config.home.display().to_string(),
                name: me.name.to_string(),
            });
        }
        let name = Name::new(name).map_err(|e| {
            ConnectionError::Refused(protocol::v3::ServerError::new(
                ErrorReason::BadName,
                e.to_string(),
            ))
        })?;
        let identity = Identity::generate()?;
        let id = connection::register(&self.inner.config.server, &name, &identity.bundle()).await?;
        let stored_name = name.clone();
        let secret = identity.to_secret_bytes();
        self.store(move |s| {
            s.save_identity(&stored_name, id, &Identity::from_secret_bytes(&secret))
        })
        .await?;
        *self.inner.me.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Arc::new(Me { name, id, identity }));
        // Authenticating publishes our room key packages at once, so others
        // can add us to rooms before we connect again.
        if let Err(e) = self.connection().await {
            tracing::warn!(error = %e, "could not connect after registering");
        }
        Ok(id)
    }

    /// The open connection, connecting (and authenticating) if needed.
    ///
    /// # Errors
    /// Not registered, unreachable, or the server's key is not the pinned one.
    pub async fn connection(&self) -> Result<Arc<Connection>, ClientError> {
        let mut current = self.inner.conn.lock().await;
        if let Some(conn) = current.take() {
            if conn.is_alive() {
                *current = Some(conn.clone());
                return Ok(conn);
            }
            self.note_lost(&conn);
        }
        let me = self.require_me()?;
        let server = self.inner.config.server.clone();
        if server.is_empty() {
            return Err(ConnectionError::NoServer.into());
        }
        let pinned = self.store(|s| s.server_key()).await?;
        let accept = self.inner.config.accept_server_key;
        let mut presented = None;
        let lost = self
            .inner
            .lost_node
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let conn = Connection::connect_after(
            &server,
            lost.as_deref(),
            me.id,
            |key| {
                presented = Some(*key);
                match pinned {
                    Some(p) if p != *key && !accept => Err("server key changed".into()),
                    _ => Ok(()),
                }
            },
            |message| me.identity.sign(message),
        )
        .await;
        let conn = match conn {
            Ok(c) => c,
            Err(ConnectionError::ServerKeyRejected { node, .. }) => {
                // The node is named: with several, the others may be fine,
                // and this one is an attack or was given the wrong key.
                return Err(ClientError::ServerKeyChanged {
                    server: node,
                    pinned: pinned
                        .map(|k| Fingerprint::of_server(&k).to_string())
                        .unwrap_or_default(),
                    presented: presented
                        .map(|k| Fingerprint::of_server(&k).to_string())
                        .unwrap_or_default(),
                });
            }
            // The server proved its key, then said it has no such account.
            Err(ConnectionError::Refused(e)) if e.reason == ErrorReason::UnknownClient => {
                if matches!((pinned, presented), (Some(p), Some(k)) if p != k) {
                    return Err(ClientError::OtherServer {
                        server,
                        name: me.name.to_string(),
                    });
                }
                let deleted_at_ms = self.store(|s| s.account_deleted_at()).await?;
                return Err(ClientError::AccountGone {
                    name: me.name.to_string(),
                    deleted_at_ms,
                });
            }
            Err(e) => {
                if e.is_disconnect() {
                    self.set_link(Link::Down(e.to_string()));
                }
                return Err(e.into());
            }
        };
        let key = conn.server_key();
        let address = server.clone();
        let pin = self
            .store(move |s| match s.pin_server(&address, &key) {
                Ok(p) => Ok(Ok(p)),
                Err(PinError::ServerKeyChanged {
                    pinned_fingerprint,
                    presented_fingerprint,
                }) => Ok(Err((pinned_fingerprint, presented_fingerprint))),
                Err(PinError::Store(e)) => Err(e),
            })
            .await?;
        match pin {
            Ok(ServerPin::FirstUse) => {
                tracing::info!(fingerprint = %Fingerprint::of_server(&key), "pinned the server's key on first contact");
            }
            Ok(ServerPin::Known) => {}
            Err((pinned, presented)) => {
                // Only reached with accept_server_key: the user confirmed it.
                let address = server.clone();
                self.store(move |s| s.accept_server_key(&address, &key))
                    .await?;
                tracing::debug!(%pinned, %presented, "accepted the server's new key (--accept-server-key)");
                // A sentence for the person who gave the flag, as
                // --accept-new-key gets: what was pinned and what is now.
                crate::notice::say(
                    &format!(
                        "accepted the server's new key as instructed (--accept-server-key): its \
                         fingerprint was {pinned} and is now {presented}; this home trusts only \
                         the new key from now on"
                    ),
                    serde_json::json!({
                        "notice": "server_key_accepted",
                        "server": server,
                        "pinned": pinned.to_string(),
                        "presented": presented.to_string(),
                    }),
                );
            }
        }
        let conn = Arc::new(conn);
        *current = Some(conn.clone());
        self.set_link(Link::Up);
        // After every authentication, so others can add us to rooms; a
        // failure here is no reason to fail what the user asked for.
        if let Err(e) = self.ensure_key_packages(&conn).await {
            tracing::warn!(error = %e, "could not refill the room key packages");
        }
        Ok(conn)
    }

    /// Whether a server was given (a command that only reads the home runs
    /// without one).
    pub fn has_server(&self) -> bool {
        !self.inner.config.server.is_empty()
    }

    /// The pinned server key's fingerprint, if this home has talked to the server.
    ///
    /// # Errors
    /// The store failed.
    pub async fn server_fingerprint(&self) -> Result<Option<String>, ClientError> {
        Ok(self
            .store(|s| s.server_key())
            .await?
            .map(|k| Fingerprint::of_server(&k).to_string()))
    }

    /// Runs an idempotent request, reconnecting after a lost connection.
    pub(crate) async fn retrying<T, F, Fut>(&self, f: F) -> Result<T, ClientError>
    where
        F: Fn(Arc<Connection>) -> Fut,
        Fut: std::future::Future<Output = Result<T, ConnectionError>>,
    {
        let mut attempt = 0;
        loop {
            let conn = self.connection().await?;
            match f(conn).await {
                Err(e) if e.is_disconnect() && attempt + 1 < RECONNECT_ATTEMPTS => {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "connection lost; reconnecting");
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                }
                other => return other.map_err(ClientError::from),
            }
        }
    }

    /// Whether `id` is due for a comparison with the server (its key before
    /// sending, or its name when it sends); marks it as compared now.
    pub(crate) fn due_for_check(&self, id: ClientId, name_only: bool) -> bool {
        let map = if name_only {
            &self.inner.name_checked
        } else {
            &self.inner.key_checked
        };
        let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
        if map.get(&id).is_some_and(|t| t.elapsed() < KEY_RECHECK) {
            return false;
        }
        map.insert(id, std::time::Instant::now());
        true
    }

    /// The connection's state, as it changes.
    pub fn link(&self) -> watch::Receiver<Link> {
        self.inner.link.subscribe()
    }

    /// Records the connection's state (a repeat is no change).
    pub(crate) fn set_link(&self, now: Link) {
        self.inner.link.send_if_modified(|link| {
            // A second reason for being down is no news.
            let news = !matches!((&*link, &now), (Link::Down(_), Link::Down(_))) && *link != now;
            if news {
                *link = now;
            }
            news
        });
    }

    /// Closes the connection.
    pub async fn disconnect(&self) {
        if let Some(conn) = self.inner.conn.lock().await.take()
            && !conn.is_alive()
        {
            self.note_lost(&conn);
        }
    }

    /// Remembers `conn`'s node as lost, so that the next connection starts
    /// at another node.
    fn note_lost(&self, conn: &Connection) {
        *self
            .inner
            .lost_node
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(conn.node().to_string());
    }
}
