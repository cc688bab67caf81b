//! The client application: one user's identity, key store and connection,
//! and the operations a person asks for (register, list, look up and pin
//! keys, agree session keys, send texts and files, read what arrived).
//!
//! Everything secret stays here and in [`crate::keystore`]; the server sees
//! only ciphertext. The key store is SQLite and file I/O is blocking, so
//! both run in `spawn_blocking`. [`Client`] is a cheap-to-clone handle; the
//! menu keeps one for its prompt and one for its watcher.
//!
//! Receiving is in [`crate::inbox`], file transfers in [`crate::transfer`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use protocol::{ClientId, ErrorReason, MessageKind, Name};
use serde::Serialize;
use thiserror::Error;
use tokio::sync::Mutex as AsyncMutex;
use tokio_util::sync::CancellationToken;

use crate::connection::{self, Connection, ConnectionError};
use crate::crypto::{
    CryptoError, Fingerprint, Identity, SafetyNumber, Session, SessionId, VerifiedBundle,
};
use crate::keystore::{KeyStore, KeyStoreError, PeerRecord, PinError, Pinned, ServerPin};
use crate::pin::PinState;

/// Where the client keeps its files and which server it talks to.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The user's folder: `store.db`, `me.info`, `downloads/`.
    pub home: PathBuf,
    /// The server, `host:port`.
    pub server: String,
    /// Accept a server key that differs from the pinned one (the user
    /// checked the new fingerprint with the server's operator).
    pub accept_server_key: bool,
}

/// What went wrong, in terms a person can act on.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No identity in the home folder yet.
    #[error("no user is registered in {0}; run `client register NAME` first")]
    NotRegistered(String),
    /// The home folder already has an identity.
    #[error(
        "{home} already holds the identity of {name}; use another --home to register someone else"
    )]
    AlreadyRegistered {
        /// The home folder.
        home: String,
        /// Who is registered there.
        name: String,
    },
    /// The server's key is not the pinned one.
    #[error(
        "DANGER: the server at {server} presented a different identity key than the one pinned on first contact.\n\
         pinned:    {pinned}\n\
         presented: {presented}\n\
         Someone may be impersonating the server, or its operator replaced its key. Ask the operator \
         to run `server fingerprint`; only if it prints the presented digits, run again with --accept-server-key."
    )]
    ServerKeyChanged {
        /// The server address.
        server: String,
        /// Fingerprint of the pinned key.
        pinned: String,
        /// Fingerprint of the presented key.
        presented: String,
    },
    /// A peer's key changed and the user has not accepted it.
    #[error(
        "{name}'s key changed since it was pinned: nothing is sent to {name} until you compare safety \
         numbers (`client fingerprint {name}`) and accept the new key (`--accept-new-key`, or `accept {name}` in the menu)"
    )]
    PeerKeyChanged {
        /// The peer's name.
        name: String,
    },
    /// The server's name-to-id mapping disagrees with a pinned contact:
    /// nothing is sent by that name until the user settles it.
    #[error("{0}")]
    NameConflict(Box<crate::contacts::NameConflict>),
    /// The recipient is the user itself: there is no note to self, since a
    /// session needs two parties (the two directions' keys would be one
    /// session seen from both sides in one store).
    #[error("{0} is you: sending to yourself is not supported (there is no note to self)")]
    SendToSelf(String),
    /// No client has this name.
    #[error("no user named {0:?} on this server")]
    UnknownPeer(String),
    /// The peer's key is not a version-3 key bundle.
    #[error("{0} has no valid end-to-end key (perhaps a version-2 client); cannot send to them")]
    NoValidKey(String),
    /// A text too long for one message.
    #[error("the text is {len} bytes; at most {max} fit one message (send it as a file)")]
    TextTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The local file cannot be read.
    #[error("cannot read {path}: {source}")]
    File {
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The user cancelled a transfer.
    #[error("cancelled")]
    Cancelled,
    /// No file offer with this message id waits for a decision.
    #[error("no file offer {0} waits for a decision (`client files` lists them)")]
    NoHeldFile(u64),
    /// The server refused or could not be reached.
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// The local key store failed.
    #[error(transparent)]
    Store(#[from] KeyStoreError),
    /// Cryptography refused (a bug or a corrupt store: messages from others
    /// are reported as events, not errors).
    #[error("cryptography: {0}")]
    Crypto(#[from] CryptoError),
    /// Local file system.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl ClientError {
    /// The server's reason, if the server refused.
    pub fn reason(&self) -> Option<ErrorReason> {
        match self {
            Self::Connection(e) => e.reason(),
            _ => None,
        }
    }
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

/// A peer as the user sees it.
#[derive(Debug, Clone, Serialize)]
pub struct PeerInfo {
    /// Client id (hex).
    #[serde(serialize_with = "hex_id")]
    pub id: ClientId,
    /// The name the contact is pinned under (empty: none; escape before
    /// printing).
    pub name: String,
    /// The server's name for it, when that differs from `name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// The peer's fingerprint (30 digits).
    pub fingerprint: String,
    /// What pinning found (`"new"`, `"same"`, `"changed"`, ... in JSON).
    pub pin: PinState,
    /// Whether the user marked the safety number as compared.
    pub verified: bool,
}

impl PeerInfo {
    pub(crate) fn of(record: &PeerRecord, pin: PinState) -> Self {
        let fingerprint = match &record.pending_bundle {
            // A changed key shows its own fingerprint, as before.
            Some(pending) => VerifiedBundle::verify(pending)
                .map(|b| Fingerprint::of_bundle(&b))
                .unwrap_or_else(|_| Fingerprint::of_bundle(&record.bundle)),
            None => Fingerprint::of_bundle(&record.bundle),
        };
        PeerInfo {
            id: record.client_id,
            name: record.name.clone(),
            server_name: record.server_name.clone().filter(|n| *n != record.name),
            fingerprint: fingerprint.to_string(),
            pin,
            verified: record.verified,
        }
    }

    /// The pinned name, or the id for a contact pinned without one.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            self.id.to_string()
        } else {
            self.name.clone()
        }
    }
}

pub(crate) fn hex_id<S: serde::Serializer>(id: &ClientId, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&id.to_string())
}

/// A text sealed for one peer, ready to send.
#[derive(Debug, Clone)]
pub struct SealedText {
    /// The recipient.
    pub to: ClientId,
    /// The sealed content (type 3).
    pub content: Bytes,
}

/// A file transfer's progress, shown by the caller as it likes.
pub trait Progress: Send + Sync {
    /// A transfer of `total` bytes begins; `done` are already there (resume).
    fn start(&self, label: &str, total: u64, done: u64);
    /// `n` more bytes went through.
    fn advance(&self, n: u64);
    /// The transfer ended (successfully or not).
    fn finish(&self);
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
    pub(crate) download_policy: Mutex<crate::downloads::DownloadPolicy>,
    /// When each sender's server name was last asked for.
    name_checked: Mutex<std::collections::HashMap<ClientId, std::time::Instant>>,
    /// Whether the connection is up, for those who show it.
    pub(crate) link: tokio::sync::watch::Sender<crate::link::Link>,
}

/// One user's client. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

/// Retries of an idempotent request after a lost connection.
const RECONNECT_ATTEMPTS: u32 = 3;
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
        let (store, me) = tokio::task::spawn_blocking(move || {
            let store = KeyStore::open(&home)?;
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
                progress: Mutex::new(Arc::new(NoProgress)),
                receiving: AsyncMutex::new(()),
                starting: AsyncMutex::new(()),
                key_checked: Mutex::new(Default::default()),
                download_policy: Mutex::new(Default::default()),
                name_checked: Mutex::new(Default::default()),
                link: tokio::sync::watch::channel(crate::link::Link::Unknown).0,
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

    pub(crate) fn progress(&self) -> Arc<dyn Progress> {
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
        Ok(id)
    }

    /// The open connection, connecting (and authenticating) if needed.
    ///
    /// # Errors
    /// Not registered, unreachable, or the server's key is not the pinned one.
    pub async fn connection(&self) -> Result<Arc<Connection>, ClientError> {
        let mut current = self.inner.conn.lock().await;
        if let Some(conn) = current.as_ref()
            && conn.is_alive()
        {
            return Ok(conn.clone());
        }
        let me = self.require_me()?;
        let server = self.inner.config.server.clone();
        let pinned = {
            let server = server.clone();
            self.store(move |s| s.server_key(&server)).await?
        };
        let accept = self.inner.config.accept_server_key;
        let mut presented = None;
        let conn = Connection::connect(
            &server,
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
            Err(ConnectionError::ServerKeyRejected(_)) => {
                return Err(ClientError::ServerKeyChanged {
                    server,
                    pinned: pinned
                        .map(|k| Fingerprint::of_server(&k).to_string())
                        .unwrap_or_default(),
                    presented: presented
                        .map(|k| Fingerprint::of_server(&k).to_string())
                        .unwrap_or_default(),
                });
            }
            Err(e) => {
                if e.is_disconnect() {
                    self.set_link(crate::link::Link::Down(e.to_string()));
                }
                return Err(e.into());
            }
        };
        let key = conn.server_key();
        let address = server.clone();
        let pin = self
            .store(move |s| match s.pin_server(&address, &key) {
                Ok(p) => Ok(Ok(p)),
                Err(PinError::ServerKeyChanged { .. }) => Ok(Err(())),
                Err(PinError::Store(e)) => Err(e),
            })
            .await?;
        match pin {
            Ok(ServerPin::FirstUse) => {
                tracing::info!(fingerprint = %Fingerprint::of_server(&key), "pinned the server's key on first contact");
            }
            Ok(ServerPin::Known) => {}
            Err(()) => {
                // Only reached with accept_server_key: the user confirmed it.
                let address = server.clone();
                self.store(move |s| s.accept_server_key(&address, &key))
                    .await?;
                tracing::warn!("accepted the server's new key as instructed");
            }
        }
        let conn = Arc::new(conn);
        *current = Some(conn.clone());
        self.set_link(crate::link::Link::Up);
        Ok(conn)
    }

    /// The pinned server key's fingerprint, if this home has talked to the server.
    ///
    /// # Errors
    /// The store failed.
    pub async fn server_fingerprint(&self) -> Result<Option<String>, ClientError> {
        let server = self.inner.config.server.clone();
        Ok(self
            .store(move |s| s.server_key(&server))
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

    /// Every other user on the server.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn list(&self) -> Result<Vec<(ClientId, Name)>, ClientError> {
        let clients = self
            .retrying(|c| async move { c.list_clients().await })
            .await?;
        Ok(clients.into_iter().map(|c| (c.id, c.name)).collect())
    }

    /// Fetches a peer's key bundle by name (or 32 hex digits of id), checks
    /// its signature and pins it on first use; reports a change. A name is
    /// looked up among the local pins first (see [`crate::contacts`]).
    ///
    /// # Errors
    /// Unknown name, invalid key, [`ClientError::NameConflict`], or see
    /// [`ClientError`].
    pub async fn fetch_key(&self, who: &str) -> Result<PeerInfo, ClientError> {
        let info = self.check_contact(who).await?;
        // Looked up on purpose (or to send): a contact from now on.
        self.mark_contact(info.id).await?;
        Ok(info)
    }

    /// Pins `key` for `id` (see [`KeyStore::pin_peer`]: `name` is the
    /// server's name and never replaces a pinned one).
    pub(crate) async fn pin_key(
        &self,
        id: ClientId,
        name: String,
        key: &protocol::PublicKey,
    ) -> Result<PeerInfo, ClientError> {
        let bundle =
            VerifiedBundle::verify(key).map_err(|_| ClientError::NoValidKey(name.clone()))?;
        // What the server presented now, not the pinned key.
        let presented = Fingerprint::of_bundle(&bundle).to_string();
        let (pinned, record) = self
            .store(move |s| {
                let pinned = s.pin_peer(id, &name, &bundle)?;
                Ok((pinned, s.peer(id)?))
            })
            .await?;
        let record = record.ok_or(KeyStoreError::UnknownPeer(id))?;
        let mut info = PeerInfo::of(
            &record,
            match pinned {
                Pinned::New => PinState::New,
                Pinned::Same => PinState::Same,
                Pinned::Changed => PinState::Changed,
            },
        );
        info.fingerprint = presented;
        Ok(info)
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

    /// The peer pinned under `who` (a pinned name first, else a name the
    /// server knows, or an id), only if it may be sent to: it is compared
    /// with the server when first used and then at most every
    /// [`KEY_RECHECK`]; a changed key or a name the server moved blocks
    /// sending.
    pub(crate) async fn peer_for_sending(&self, who: &str) -> Result<PeerRecord, ClientError> {
        self.refuse_self(who, None)?;
        let local = {
            let who = who.to_string();
            self.store(move |s| crate::contacts::find_pinned(s, &who))
                .await?
        };
        let id = match local {
            Some(r) if !self.due_for_check(r.client_id, false) => r.client_id,
            _ => {
                let id = self.check_contact(who).await?.id;
                self.due_for_check(id, false);
                id
            }
        };
        let record = self
            .store(move |s| s.peer(id))
            .await?
            .ok_or_else(|| ClientError::UnknownPeer(who.into()))?;
        if record.pending_bundle.is_some() {
            let name = if record.name.is_empty() {
                id.to_string()
            } else {
                record.name
            };
            return Err(ClientError::PeerKeyChanged { name });
        }
        self.refuse_self(who, Some(record.client_id))?;
        // Whoever the user sends to is a contact.
        self.mark_contact(id).await?;
        Ok(record)
    }

    /// Refuses `who` (and the id it resolved to, if known) when it is this
    /// user, before anything is sealed or sent.
    fn refuse_self(&self, who: &str, resolved: Option<ClientId>) -> Result<(), ClientError> {
        let Some(me) = self.me() else {
            return Ok(());
        };
        let is_me = me.name.as_str().eq_ignore_ascii_case(who)
            || who.parse::<ClientId>().is_ok_and(|id| id == me.id)
            || resolved == Some(me.id);
        if is_me {
            return Err(ClientError::SendToSelf(
                crate::display::escape_line(who).into_owned(),
            ));
        }
        Ok(())
    }

    /// The safety number shared with `who` (the same digits on both sides),
    /// and whether it was marked as compared.
    ///
    /// # Errors
    /// Unknown peer, or see [`ClientError`].
    pub async fn safety_number(&self, who: &str) -> Result<(PeerInfo, SafetyNumber), ClientError> {
        let me = self.require_me()?;
        let info = self.fetch_key(who).await?;
        let id = info.id;
        let record = self
            .store(move |s| s.peer(id))
            .await?
            .ok_or_else(|| ClientError::UnknownPeer(who.into()))?;
        // Compare what is pinned; a changed key shows its own number.
        let theirs = match record.pending_bundle {
            Some(pending) => VerifiedBundle::verify(&pending)
                .map(|b| Fingerprint::of_bundle(&b))
                .unwrap_or_else(|_| Fingerprint::of_bundle(&record.bundle)),
            None => Fingerprint::of_bundle(&record.bundle),
        };
        let mine =
            Fingerprint::of_user(&me.identity.identity_key(), &me.identity.dh_identity_key());
        Ok((info, SafetyNumber::new((me.id, mine), (id, theirs))))
    }

    /// The user's own fingerprint.
    ///
    /// # Errors
    /// Not registered.
    pub fn my_fingerprint(&self) -> Result<Fingerprint, ClientError> {
        let me = self.require_me()?;
        Ok(Fingerprint::of_user(
            &me.identity.identity_key(),
            &me.identity.dh_identity_key(),
        ))
    }

    /// Marks the safety number with `who` as compared.
    ///
    /// # Errors
    /// Unknown peer.
    pub async fn mark_verified(&self, who: &str) -> Result<(), ClientError> {
        let info = self.fetch_key(who).await?;
        let id = info.id;
        self.store(move |s| s.set_verified(id, true)).await
    }

    /// Accepts `who`'s changed key: it replaces the pinned one and old
    /// sessions are dropped. ([`Client::accept`] also settles names.)
    ///
    /// # Errors
    /// No changed key waiting, unknown peer.
    pub async fn accept_new_key(&self, who: &str) -> Result<PeerInfo, ClientError> {
        self.accept_key_of(who).await
    }

    pub(crate) async fn accept_key_of(&self, who: &str) -> Result<PeerInfo, ClientError> {
        let info = self.fetch_key(who).await?;
        let id = info.id;
        self.store(move |s| s.accept_new_key(id)).await?;
        Ok(PeerInfo {
            pin: PinState::Accepted,
            verified: false,
            ..info
        })
    }

    /// Starts a new session with `who`: sends a key-agreement offer (type 1).
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn start_session(&self, who: &str) -> Result<SessionId, ClientError> {
        let peer = self.peer_for_sending(who).await?;
        self.new_session(&peer).await
    }

    async fn new_session(&self, peer: &PeerRecord) -> Result<SessionId, ClientError> {
        let me = self.require_me()?;
        let (session, offer) =
            Session::initiate(&me.identity, me.id, peer.client_id, &peer.bundle)?;
        let sid = session.sid();
        // Send first, then keep: a session the peer never heard of would
        // swallow every message sealed in it.
        let to = peer.client_id;
        let offer = Bytes::from(offer);
        let _starting = self.inner.starting.lock().await;
        self.retrying(|c| {
            let offer = offer.clone();
            async move {
                c.send_message(to, MessageKind::SymmetricKeyRequest, offer)
                    .await
            }
        })
        .await?;
        self.store(move |s| s.save_session(&session)).await?;
        Ok(sid)
    }

    /// The session to seal for `peer` in, starting one if there is none.
    pub(crate) async fn sending_session(
        &self,
        peer: &PeerRecord,
    ) -> Result<SessionId, ClientError> {
        let id = peer.client_id;
        match self.store(move |s| s.current_session_for(id)).await? {
            Some(s) => Ok(s.session.sid()),
            None => self.new_session(peer).await,
        }
    }

    /// Seals `plaintext` in the current session with `who`, taking a fresh
    /// counter that is on disk before it is used.
    pub(crate) async fn seal_for(
        &self,
        peer: &PeerRecord,
        seal: impl FnOnce(&Session, u64) -> Result<Vec<u8>, CryptoError> + Send + 'static,
    ) -> Result<Vec<u8>, ClientError> {
        let sid = self.sending_session(peer).await?;
        let sealed = self
            .store(move |s| {
                let counter = s.next_send_counter(sid)?;
                let stored = s.session(sid)?.ok_or(KeyStoreError::UnknownSession(sid))?;
                Ok(seal(&stored.session, counter))
            })
            .await??;
        Ok(sealed)
    }

    /// Sends `text` to `who`, sealed end to end; returns the message id.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn send_text(&self, who: &str, text: &str) -> Result<u64, ClientError> {
        let sealed = self.seal_text(who, text).await?;
        self.send_sealed(&sealed).await
    }

    /// Seals `text` for `who` (starting a session if needed) without sending
    /// it. The self-test uses this to show that altered and replayed copies
    /// are refused.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn seal_text(&self, who: &str, text: &str) -> Result<SealedText, ClientError> {
        let max = crate::crypto::envelope::MAX_TEXT_LEN;
        if text.len() > max {
            return Err(ClientError::TextTooLong {
                len: text.len(),
                max,
            });
        }
        let peer = self.peer_for_sending(who).await?;
        let text = zeroize::Zeroizing::new(text.to_string());
        let sealed = self
            .seal_for(&peer, move |session, counter| {
                session.seal_text(counter, &text)
            })
            .await?;
        Ok(SealedText {
            to: peer.client_id,
            content: Bytes::from(sealed),
        })
    }

    /// Sends a sealed text as it is; returns the message id.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn send_sealed(&self, sealed: &SealedText) -> Result<u64, ClientError> {
        let to = sealed.to;
        // A retry after a lost answer may store the message twice; the
        // recipient drops the second copy by its counter.
        self.retrying(|c| {
            let content = sealed.content.clone();
            async move { c.send_message(to, MessageKind::Text, content).await }
        })
        .await
    }

    /// Sends the file at `path` to `who`: encrypted as it is read, uploaded
    /// in chunks, resumed after a broken connection. `cancel` stops it
    /// cleanly (it can be resumed later with [`Client::resume_uploads`]).
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn send_file(
        &self,
        who: &str,
        path: &Path,
        cancel: CancellationToken,
    ) -> Result<u64, ClientError> {
        crate::transfer::send_file(self, who, path, cancel).await
    }

    /// Finishes uploads interrupted earlier (also across restarts); returns
    /// the ids of the file messages that completed.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn resume_uploads(&self, cancel: CancellationToken) -> Result<Vec<u64>, ClientError> {
        crate::transfer::resume_all(self, cancel).await
    }

    /// The names of pinned peers (for completion and suggestions).
    ///
    /// # Errors
    /// The store failed.
    pub async fn pinned_names(&self) -> Result<Vec<String>, ClientError> {
        Ok(self
            .store(|s| s.peers())
            .await?
            .into_iter()
            .map(|p| p.name)
            .filter(|n| !n.is_empty())
            .collect())
    }

    /// Closes the connection.
    pub async fn disconnect(&self) {
        self.inner.conn.lock().await.take();
    }
}
