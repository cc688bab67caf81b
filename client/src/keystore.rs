//! The client's persistent local store: one SQLite file, `<home>/store.db`,
//! plus the `me.info` file of the reference client.
//!
//! What it keeps, so that a restart loses nothing (a message received before
//! a restart still decrypts after it):
//!
//! - **identity**: the user's name, client id and the 96 secret bytes;
//! - **server pins**: server address → the server's Ed25519 key (trust on
//!   first use; a different key is [`PinError::ServerKeyChanged`]);
//! - **peers**: each peer's pinned key bundle, whether the user compared
//!   safety numbers, and a changed bundle waiting for the user's decision
//!   (sending to that peer is blocked until [`KeyStore::accept_new_key`]);
//! - **sessions**: keys, role, confirmation, both counters and the replay
//!   window of received counters;
//! - **pending messages**: texts and file offers that arrived before their
//!   session's offer;
//! - **handled message ids**, so that redelivered messages are dropped;
//! - **unfinished uploads**, so that an upload can resume after a restart,
//!   with the hash of the plaintext each has read;
//! - **contacts**, **held file offers** and **partial downloads**
//!   (`keystore::files`), and the bounds on pending and handled messages
//!   (`keystore::bounds`).
//!
//! **Identity and `me.info`.** The database is the source of truth.
//! `me.info` (mode 0600) is written from it, in the reference layout: line 1
//! the name, line 2 the client id as 32 hex digits, line 3 the 96 secret
//! bytes in standard base64 (Ed25519 seed, X25519 identity secret, X25519
//! prekey secret). On open, a store without an identity imports a valid
//! `me.info`; a store with one rewrites a missing `me.info`; if both exist
//! and differ, opening fails with [`KeyStoreError::IdentityMismatch`] rather
//! than guess which one is right.
//!
//! **Durability.** WAL mode with `synchronous = FULL`: every method that
//! returns has its change on disk. [`KeyStore::next_send_counter`] commits
//! the new counter before it hands it out, so a crash can skip a counter but
//! never reuse one. `secure_delete` overwrites deleted rows (old session and
//! file keys) in the file.
//!
//! **Permissions.** The home folder is created 0700 if missing (an existing
//! one is left as it is), `store.db` and `me.info` are 0600, and SQLite
//! gives its `-wal` and `-shm` files the database file's mode.
//!
//! Every method is synchronous; async code calls them through
//! `spawn_blocking`. [`KeyStore`] is `Send` (not `Sync`): one owner at a time.
//!
//! Left out: networking, and any decision on what to do with a message;
//! this module only remembers.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use protocol::{ClientId, MessageKind, Name, PUBLIC_KEY_LEN, PublicKey, UploadId};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

mod bounds;
mod files;

pub use bounds::{
    HANDLED_MAX, HANDLED_TTL, PENDING_PER_SENDER, PENDING_TOTAL, PENDING_TOTAL_BYTES, PENDING_TTL,
    PendingRoom,
};
pub use files::{HeldFile, HoldReason, PartialDownload};

use crate::crypto::file::NONCE_PREFIX_LEN;
use crate::crypto::identity::SECRET_LEN;
use crate::crypto::session::SessionParts;
use crate::crypto::{
    FileSecret, Fingerprint, Identity, KEY_LEN, ReplayWindow, Role, Session, SessionId,
    VerifiedBundle,
};

/// Name of the database file in the home folder.
pub const STORE_FILE: &str = "store.db";
/// Name of the identity file in the home folder.
pub const ME_INFO_FILE: &str = "me.info";
/// Schema version this client writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;
/// How long SQLite waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Schema migrations; migration `i` takes `user_version` from `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema. Counters and ids are SQLite integers (i64); see
    // `to_sql_u64` for how u64 values are kept.
    r#"
    CREATE TABLE identity (
        only_row   INTEGER PRIMARY KEY CHECK (only_row = 1),
        name       TEXT NOT NULL,
        client_id  BLOB NOT NULL CHECK (length(client_id) = 16),
        secret     BLOB NOT NULL CHECK (length(secret) = 96)
    ) STRICT;

    CREATE TABLE server_pins (
        address    TEXT PRIMARY KEY,
        server_key BLOB NOT NULL CHECK (length(server_key) = 32),
        pinned_at  INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE peers (
        client_id      BLOB PRIMARY KEY CHECK (length(client_id) = 16),
        name           TEXT NOT NULL,
        bundle         BLOB NOT NULL CHECK (length(bundle) = 160),
        pinned_at      INTEGER NOT NULL,
        verified       INTEGER NOT NULL DEFAULT 0,
        pending_bundle BLOB CHECK (pending_bundle IS NULL OR length(pending_bundle) = 160),
        pending_at     INTEGER
    ) STRICT;

    CREATE TABLE sessions (
        sid             BLOB PRIMARY KEY CHECK (length(sid) = 16),
        peer            BLOB NOT NULL REFERENCES peers (client_id) ON DELETE CASCADE,
        local_id        BLOB NOT NULL CHECK (length(local_id) = 16),
        role            INTEGER NOT NULL CHECK (role IN (1, 2)),
        send_key        BLOB NOT NULL CHECK (length(send_key) = 32),
        receive_key     BLOB NOT NULL CHECK (length(receive_key) = 32),
        confirm_key     BLOB CHECK (confirm_key IS NULL OR length(confirm_key) = 32),
        confirmed       INTEGER NOT NULL,
        send_counter    INTEGER NOT NULL DEFAULT 0 CHECK (send_counter >= 0),
        receive_counter INTEGER NOT NULL DEFAULT 0 CHECK (receive_counter >= 0),
        created_at      INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX sessions_by_peer ON sessions (peer, created_at);

    CREATE TABLE pending_messages (
        message_id  INTEGER PRIMARY KEY,
        sid         BLOB NOT NULL CHECK (length(sid) = 16),
        sender      BLOB NOT NULL CHECK (length(sender) = 16),
        kind        INTEGER NOT NULL,
        content     BLOB NOT NULL,
        sent_at     INTEGER NOT NULL,
        received_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX pending_by_sid ON pending_messages (sid);

    CREATE TABLE handled_messages (
        message_id INTEGER PRIMARY KEY,
        handled_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX handled_by_time ON handled_messages (handled_at);

    CREATE TABLE uploads (
        upload_id      BLOB PRIMARY KEY CHECK (length(upload_id) = 16),
        destination    BLOB NOT NULL CHECK (length(destination) = 16),
        path           BLOB NOT NULL,
        plaintext_size INTEGER NOT NULL,
        mtime_ns       INTEGER NOT NULL,
        file_key       BLOB NOT NULL CHECK (length(file_key) = 32),
        nonce_prefix   BLOB NOT NULL CHECK (length(nonce_prefix) = 19),
        meta           BLOB NOT NULL,
        created_at     INTEGER NOT NULL
    ) STRICT;
    "#,
    // 2: what bounds what a peer can make this client keep (see
    // `keystore::files` and `keystore::bounds`): contacts (whose files are
    // downloaded without asking), file offers held for the user's decision,
    // interrupted downloads, and the plaintext an upload has read.
    r#"
    CREATE TABLE contacts (
        client_id BLOB PRIMARY KEY CHECK (length(client_id) = 16),
        since     INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE held_files (
        message_id   INTEGER PRIMARY KEY,
        sender       BLOB NOT NULL CHECK (length(sender) = 16),
        name         TEXT NOT NULL,
        size         INTEGER NOT NULL,
        offer_size   INTEGER NOT NULL,
        file_key     BLOB NOT NULL CHECK (length(file_key) = 32),
        nonce_prefix BLOB NOT NULL CHECK (length(nonce_prefix) = 19),
        reason       INTEGER NOT NULL CHECK (reason IN (1, 2)),
        sent_at      INTEGER NOT NULL,
        held_at      INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE partial_downloads (
        message_id   INTEGER PRIMARY KEY,
        key_digest   BLOB NOT NULL CHECK (length(key_digest) = 32),
        verified_len INTEGER NOT NULL CHECK (verified_len >= 0),
        updated_at   INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE upload_prefixes (
        upload_id  BLOB PRIMARY KEY REFERENCES uploads (upload_id) ON DELETE CASCADE,
        hashed_len INTEGER NOT NULL CHECK (hashed_len >= 0),
        sha256     BLOB NOT NULL CHECK (length(sha256) = 32)
    ) STRICT;

    CREATE INDEX pending_by_sender ON pending_messages (sender);
    CREATE INDEX pending_by_time ON pending_messages (received_at);
    "#,
    // 3: the name the server last gave each peer, beside the name the user
    // pinned it under (`name`, the authority for lookups; empty when the
    // server's name was already pinned for someone else).
    "ALTER TABLE peers ADD COLUMN server_name TEXT;",
    // 4: each session's replay window (see `crypto::window`): which counters
    // below receive_counter were received, so that messages may arrive out
    // of order. NULL for sessions stored before: everything up to
    // receive_counter counts as received, as it did then.
    r#"
    ALTER TABLE sessions ADD COLUMN receive_window BLOB
        CHECK (receive_window IS NULL OR length(receive_window) = 256);
    "#,
];

/// Why a key store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyStoreError {
    /// Creating or writing the home folder, `store.db` or `me.info` failed.
    #[error("key store file error: {0}")]
    Io(#[from] io::Error),
    /// The database failed.
    #[error("key store database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database was written by a newer client.
    #[error("the key store has schema {found}; this client knows only up to {known}")]
    SchemaTooNew {
        /// The database's schema version.
        found: u32,
        /// The newest this client knows.
        known: u32,
    },
    /// A stored value is not what this client writes.
    #[error("the key store is corrupt: {0}")]
    Corrupt(&'static str),
    /// `me.info` does not follow its three-line layout.
    #[error("me.info is malformed: {0}")]
    BadMeInfo(&'static str),
    /// `me.info` and the database hold different identities.
    #[error("me.info and store.db hold different identities; move one of them away")]
    IdentityMismatch,
    /// An identity is already stored (a home folder holds one user).
    #[error("this home folder already holds an identity")]
    IdentityExists,
    /// The peer is not pinned.
    #[error("unknown peer {0}")]
    UnknownPeer(ClientId),
    /// The peer presented a changed key bundle that the user has not accepted.
    #[error(
        "the key of peer {peer} changed; compare safety numbers, then accept the new key before sending"
    )]
    KeyChanged {
        /// The peer.
        peer: ClientId,
    },
    /// [`KeyStore::accept_new_key`] without a changed bundle waiting.
    #[error("peer {0} has no changed key to accept")]
    NoPendingKey(ClientId),
    /// No such session.
    #[error("unknown session {0}")]
    UnknownSession(SessionId),
    /// A session with this id already exists.
    #[error("session {0} already exists")]
    SessionExists(SessionId),
    /// The session's send counter reached its limit; start a new session.
    #[error("session {0} has used all its counters")]
    CounterExhausted(SessionId),
}

/// Why pinning a server key failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PinError {
    /// The server presented another key than the pinned one. Refuse to talk
    /// to it unless the user accepts the new key (after checking it with the
    /// server's operator).
    #[error(
        "the server's key changed: pinned fingerprint {pinned_fingerprint}, presented {presented_fingerprint}"
    )]
    ServerKeyChanged {
        /// Fingerprint of the pinned key.
        pinned_fingerprint: Fingerprint,
        /// Fingerprint of the presented key.
        presented_fingerprint: Fingerprint,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] KeyStoreError),
}

/// The user's identity as stored.
#[derive(Debug)]
pub struct StoredIdentity {
    /// The registered name.
    pub name: Name,
    /// The client id the server assigned.
    pub client_id: ClientId,
    /// The secrets.
    pub identity: Identity,
}

/// Result of pinning a server key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerPin {
    /// First contact with this address: the key is now pinned.
    FirstUse,
    /// The key is the pinned one.
    Known,
}

/// Result of [`KeyStore::pin_peer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pinned {
    /// First time this peer is seen: the bundle is now pinned.
    New,
    /// The bundle is the pinned one.
    Same,
    /// The bundle differs from the pinned one: it is kept as pending and
    /// sending to this peer is blocked until the user accepts it.
    Changed,
}

/// A pinned peer.
#[derive(Debug, Clone)]
pub struct PeerRecord {
    /// The peer's client id.
    pub client_id: ClientId,
    /// The name the user knows the peer by: the server's name when the peer
    /// was first pinned, or one the user accepted later. Empty when the
    /// peer has no local name (its server name was pinned for someone else
    /// already). Not yet safe to print.
    pub name: String,
    /// The name the server gave the peer last time it was asked, if known
    /// (not yet safe to print).
    pub server_name: Option<String>,
    /// The pinned bundle.
    pub bundle: VerifiedBundle,
    /// When the bundle was pinned.
    pub pinned_at: SystemTime,
    /// Whether the user compared safety numbers for this bundle.
    pub verified: bool,
    /// A changed bundle the peer presented, waiting for the user.
    pub pending_bundle: Option<PublicKey>,
}

/// A session with its counters, as stored.
#[derive(Debug)]
pub struct StoredSession {
    /// The session and its keys.
    pub session: Session,
    /// The last send counter handed out (0: none yet).
    pub send_counter: u64,
    /// The highest counter accepted from the peer (0: none yet).
    pub receive_counter: u64,
    /// The counters received from the peer; pass it to `Session::open`.
    pub receive_window: ReplayWindow,
    /// When the session was made.
    pub created_at: SystemTime,
}

/// A message that arrived before its session's offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMessage {
    /// The server's message id.
    pub message_id: u64,
    /// Who sent it.
    pub sender: ClientId,
    /// Its type (3 text or 4 file offer).
    pub kind: MessageKind,
    /// The session it needs.
    pub sid: SessionId,
    /// The content as delivered (for a file, the whole file offer).
    pub content: Vec<u8>,
    /// When the server stored it, in ms since the Unix epoch.
    pub sent_at_ms: u64,
}

/// A file's size and modification time: what must be unchanged for an
/// upload to resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    /// Size in bytes.
    pub size: u64,
    /// Modification time in ns since the Unix epoch (negative before it).
    pub mtime_ns: i64,
}

impl FileStamp {
    /// The stamp of a file's metadata.
    ///
    /// # Errors
    /// The platform has no modification times.
    pub fn of(metadata: &fs::Metadata) -> io::Result<Self> {
        let modified = metadata.modified()?;
        let mtime_ns = match modified.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
            Err(e) => i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
        };
        Ok(Self {
            size: metadata.len(),
            mtime_ns,
        })
    }

    /// The stamp of the file at `path`.
    ///
    /// # Errors
    /// The file cannot be read.
    pub fn of_path(path: &Path) -> io::Result<Self> {
        Self::of(&fs::metadata(path)?)
    }
}

/// An upload the server has not completed, as needed to resume it.
///
/// Resuming re-encrypts the file under the same key and nonce prefix, which
/// is safe only for the same plaintext: re-encrypting *changed* content at a
/// position already sent would reuse a nonce with a different message. So an
/// upload resumes only if the file's size and modification time are the
/// stamp recorded here ([`UploadRecord::file_unchanged`]) and the plaintext
/// it read so far hashes as recorded ([`KeyStore::upload_prefix`]: a tool
/// that rewrites a file and restores its size and modification time passes
/// the first check but not the second); otherwise it must be cancelled and
/// sent again with a new key.
pub struct UploadRecord {
    /// The server's upload id.
    pub upload_id: UploadId,
    /// The recipient.
    pub destination: ClientId,
    /// The local file.
    pub path: PathBuf,
    /// The file's stamp when the upload began; its size is the plaintext size.
    pub stamp: FileStamp,
    /// The file's key and nonce prefix.
    pub secret: FileSecret,
    /// The sealed metadata sent with upload begin.
    pub meta: Vec<u8>,
    /// When the upload began.
    pub created_at: SystemTime,
}

impl UploadRecord {
    /// Whether the local file still has the recorded size and modification
    /// time, so the upload may resume.
    ///
    /// # Errors
    /// The file cannot be read (deleted, moved, no permission).
    pub fn file_unchanged(&self) -> io::Result<bool> {
        Ok(FileStamp::of_path(&self.path)? == self.stamp)
    }
}

impl fmt::Debug for UploadRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadRecord")
            .field("upload_id", &self.upload_id)
            .field("destination", &self.destination)
            .field("path", &self.path)
            .field("stamp", &self.stamp)
            .finish_non_exhaustive()
    }
}

/// The client's persistent store. See the module docs.
pub struct KeyStore {
    // `crate::contacts` keeps its few queries on peer names beside its logic.
    pub(crate) conn: Connection,
    home: PathBuf,
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyStore")
            .field("home", &self.home)
            .finish_non_exhaustive()
    }
}

impl KeyStore {
    /// Opens (creating if needed) the store in `home`: creates the folder
    /// (0700) and `store.db` (0600) if missing, brings the schema up to date,
    /// and reconciles `me.info` with the stored identity (see the module
    /// docs).
    ///
    /// # Errors
    /// [`KeyStoreError::Io`], [`KeyStoreError::Sqlite`],
    /// [`KeyStoreError::SchemaTooNew`], [`KeyStoreError::BadMeInfo`],
    /// [`KeyStoreError::IdentityMismatch`].
    pub fn open(home: impl AsRef<Path>) -> Result<Self, KeyStoreError> {
        let home = home.as_ref().to_path_buf();
        create_private_dir(&home)?;
        let path = home.join(STORE_FILE);
        // Created by us first, so that SQLite never makes it with the umask's mode.
        drop(open_private(&path, false)?);
        let conn = Connection::open(&path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(KeyStoreError::Corrupt(
                "cannot switch the database to WAL mode",
            ));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "secure_delete", "ON")?;
        let mut store = Self { conn, home };
        store.migrate()?;
        store.reconcile_me_info()?;
        Ok(store)
    }

    /// The home folder.
    pub fn home(&self) -> &Path {
        &self.home
    }

    fn migrate(&mut self) -> Result<(), KeyStoreError> {
        let found: u32 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(KeyStoreError::SchemaTooNew {
                found,
                known: SCHEMA_VERSION,
            });
        }
        for (version, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Exclusive)?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", version + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    // ---- identity ---------------------------------------------------------

    /// Stores the user's identity after registration and writes `me.info`.
    ///
    /// # Errors
    /// [`KeyStoreError::IdentityExists`] if one is stored already; storage
    /// errors.
    pub fn save_identity(
        &mut self,
        name: &Name,
        client_id: ClientId,
        identity: &Identity,
    ) -> Result<(), KeyStoreError> {
        let secret = identity.to_secret_bytes();
        let inserted = self.conn.execute(
            "INSERT OR IGNORE INTO identity (only_row, name, client_id, secret) VALUES (1, ?1, ?2, ?3)",
            params![name.as_str(), &client_id.0[..], &secret[..]],
        )?;
        if inserted == 0 {
            return Err(KeyStoreError::IdentityExists);
        }
        write_me_info(&self.home, name, &client_id, &secret)?;
        Ok(())
    }

    /// The stored identity, if the user has registered.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn identity(&self) -> Result<Option<StoredIdentity>, KeyStoreError> {
        self.conn
            .query_row(
                "SELECT name, client_id, secret FROM identity WHERE only_row = 1",
                [],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        blob_array::<16>(row, 1)?,
                        secret_array::<SECRET_LEN>(row, 2)?,
                    ))
                },
            )
            .optional()?
            .map(|(name, id, secret)| {
                Ok(StoredIdentity {
                    name: Name::new(name).map_err(|_| KeyStoreError::Corrupt("stored name"))?,
                    client_id: ClientId(id),
                    identity: Identity::from_secret_bytes(&secret),
                })
            })
            .transpose()
    }

    fn reconcile_me_info(&mut self) -> Result<(), KeyStoreError> {
        let file = read_me_info(&self.home)?;
        let stored = self.identity()?;
        match (stored, file) {
            (None, None) => Ok(()),
            (None, Some(info)) => {
                let identity = Identity::from_secret_bytes(&info.secret);
                self.save_identity(&info.name, info.client_id, &identity)
            }
            (Some(s), None) => write_me_info(
                &self.home,
                &s.name,
                &s.client_id,
                &s.identity.to_secret_bytes(),
            ),
            (Some(s), Some(info)) => {
                let same_secret: bool = s.identity.to_secret_bytes()[..]
                    .ct_eq(&info.secret[..])
                    .into();
                if same_secret && s.name == info.name && s.client_id == info.client_id {
                    Ok(())
                } else {
                    Err(KeyStoreError::IdentityMismatch)
                }
            }
        }
    }

    // ---- server pins --------------------------------------------------------

    /// Checks the key a server presented against the pin for its address,
    /// pinning it on first use.
    ///
    /// # Errors
    /// [`PinError::ServerKeyChanged`] if another key is pinned; storage
    /// errors.
    pub fn pin_server(&mut self, address: &str, key: &[u8; 32]) -> Result<ServerPin, PinError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(KeyStoreError::from)?;
        let pinned = tx
            .query_row(
                "SELECT server_key FROM server_pins WHERE address = ?1",
                [address],
                |row| blob_array::<32>(row, 0),
            )
            .optional()
            .map_err(KeyStoreError::from)?;
        match pinned {
            None => {
                tx.execute(
                    "INSERT INTO server_pins (address, server_key, pinned_at) VALUES (?1, ?2, ?3)",
                    params![address, &key[..], now_ms()],
                )
                .map_err(KeyStoreError::from)?;
                tx.commit().map_err(KeyStoreError::from)?;
                Ok(ServerPin::FirstUse)
            }
            Some(pinned) if bool::from(pinned.ct_eq(key)) => Ok(ServerPin::Known),
            Some(pinned) => Err(PinError::ServerKeyChanged {
                pinned_fingerprint: Fingerprint::of_server(&pinned),
                presented_fingerprint: Fingerprint::of_server(key),
            }),
        }
    }

    /// Replaces the pinned key of `address` with `key` (the user accepted a
    /// changed server key).
    ///
    /// # Errors
    /// Storage errors.
    pub fn accept_server_key(
        &mut self,
        address: &str,
        key: &[u8; 32],
    ) -> Result<(), KeyStoreError> {
        self.conn.execute(
            "INSERT INTO server_pins (address, server_key, pinned_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (address) DO UPDATE SET server_key = excluded.server_key,
                                                 pinned_at = excluded.pinned_at",
            params![address, &key[..], now_ms()],
        )?;
        Ok(())
    }

    /// The key pinned for `address`, if any.
    ///
    /// # Errors
    /// Storage errors.
    pub fn server_key(&self, address: &str) -> Result<Option<[u8; 32]>, KeyStoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT server_key FROM server_pins WHERE address = ?1",
                [address],
                |row| blob_array::<32>(row, 0),
            )
            .optional()?)
    }

    // ---- peers ----------------------------------------------------------------

    /// Pins a peer's (verified) bundle on first use, or compares it with the
    /// pinned one. A changed bundle is kept as pending and blocks sending
    /// (see [`KeyStore::peer_for_sending`]) until
    /// [`KeyStore::accept_new_key`].
    ///
    /// `name` is the server's name for the peer. It becomes the pinned name
    /// only on first use, and only if no other pinned peer goes by it
    /// (ignoring ASCII case); otherwise the peer is pinned without a name.
    /// Afterwards it is only noted as the server's name: a server cannot
    /// move a pinned name (see [`crate::contacts`]).
    ///
    /// # Errors
    /// Storage errors.
    pub fn pin_peer(
        &mut self,
        peer: ClientId,
        name: &str,
        bundle: &VerifiedBundle,
    ) -> Result<Pinned, KeyStoreError> {
        let presented = bundle.public_key().as_bytes();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let pinned = tx
            .query_row(
                "SELECT bundle FROM peers WHERE client_id = ?1",
                [&peer.0[..]],
                |row| blob_array::<PUBLIC_KEY_LEN>(row, 0),
            )
            .optional()?;
        let outcome = match pinned {
            None => {
                let taken = tx
                    .query_row(
                        "SELECT 1 FROM peers WHERE name = ?1 COLLATE NOCASE AND client_id != ?2",
                        params![name, &peer.0[..]],
                        |_| Ok(()),
                    )
                    .optional()?
                    .is_some();
                let local = if taken { "" } else { name };
                tx.execute(
                    "INSERT INTO peers (client_id, name, bundle, pinned_at, server_name)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![&peer.0[..], local, &presented[..], now_ms(), name],
                )?;
                Pinned::New
            }
            Some(pinned) if pinned[..] == presented[..] => {
                tx.execute(
                    "UPDATE peers SET server_name = ?2 WHERE client_id = ?1",
                    params![&peer.0[..], name],
                )?;
                Pinned::Same
            }
            Some(_) => {
                tx.execute(
                    "UPDATE peers SET server_name = ?2, pending_bundle = ?3, pending_at = ?4
                     WHERE client_id = ?1",
                    params![&peer.0[..], name, &presented[..], now_ms()],
                )?;
                Pinned::Changed
            }
        };
        tx.commit()?;
        Ok(outcome)
    }

    /// A pinned peer, if known.
    ///
    /// # Errors
    /// Storage errors; [`KeyStoreError::Corrupt`] if the stored bundle no
    /// longer verifies.
    pub fn peer(&self, peer: ClientId) -> Result<Option<PeerRecord>, KeyStoreError> {
        self.conn
            .query_row(
                &format!("{PEER_COLUMNS} WHERE client_id = ?1"),
                [&peer.0[..]],
                peer_row,
            )
            .optional()?
            .map(PeerRow::into_record)
            .transpose()
    }

    /// Every pinned peer, by name.
    ///
    /// # Errors
    /// As [`KeyStore::peer`].
    pub fn peers(&self) -> Result<Vec<PeerRecord>, KeyStoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!("{PEER_COLUMNS} ORDER BY name, client_id"))?;
        let rows = stmt.query_map([], peer_row)?;
        rows.map(|row| row?.into_record()).collect()
    }

    /// The peer to send to, only if its key has not changed since it was
    /// pinned.
    ///
    /// # Errors
    /// [`KeyStoreError::UnknownPeer`], [`KeyStoreError::KeyChanged`] while a
    /// changed bundle waits for the user; storage errors.
    pub fn peer_for_sending(&self, peer: ClientId) -> Result<PeerRecord, KeyStoreError> {
        let record = self.peer(peer)?.ok_or(KeyStoreError::UnknownPeer(peer))?;
        if record.pending_bundle.is_some() {
            return Err(KeyStoreError::KeyChanged { peer });
        }
        Ok(record)
    }

    /// The user accepts a peer's changed bundle: it replaces the pinned one,
    /// the verified mark is cleared (the new key has not been compared), and
    /// every session with the peer is dropped.
    ///
    /// # Errors
    /// [`KeyStoreError::UnknownPeer`], [`KeyStoreError::NoPendingKey`];
    /// storage errors.
    pub fn accept_new_key(&mut self, peer: ClientId) -> Result<(), KeyStoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let pending = tx
            .query_row(
                "SELECT pending_bundle IS NOT NULL FROM peers WHERE client_id = ?1",
                [&peer.0[..]],
                |row| row.get::<_, bool>(0),
            )
            .optional()?
            .ok_or(KeyStoreError::UnknownPeer(peer))?;
        if !pending {
            return Err(KeyStoreError::NoPendingKey(peer));
        }
        tx.execute(
            "UPDATE peers SET bundle = pending_bundle, pinned_at = ?2, verified = 0,
                              pending_bundle = NULL, pending_at = NULL
             WHERE client_id = ?1",
            params![&peer.0[..], now_ms()],
        )?;
        tx.execute("DELETE FROM sessions WHERE peer = ?1", [&peer.0[..]])?;
        tx.commit()?;
        Ok(())
    }

    /// Records whether the user compared safety numbers with the peer for
    /// its pinned bundle.
    ///
    /// # Errors
    /// [`KeyStoreError::UnknownPeer`]; storage errors.
    pub fn set_verified(&mut self, peer: ClientId, verified: bool) -> Result<(), KeyStoreError> {
        let changed = self.conn.execute(
            "UPDATE peers SET verified = ?2 WHERE client_id = ?1",
            params![&peer.0[..], verified],
        )?;
        if changed == 0 {
            return Err(KeyStoreError::UnknownPeer(peer));
        }
        Ok(())
    }

    // ---- sessions -------------------------------------------------------------

    /// Stores a new session (both counters at 0). The peer must be pinned.
    ///
    /// # Errors
    /// [`KeyStoreError::SessionExists`] if the id is taken (a redelivered
    /// offer: look it up first), [`KeyStoreError::UnknownPeer`]; storage
    /// errors.
    pub fn save_session(&mut self, session: &Session) -> Result<(), KeyStoreError> {
        let p = session.to_parts();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let peer_known = tx
            .query_row(
                "SELECT 1 FROM peers WHERE client_id = ?1",
                [&p.peer.0[..]],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if !peer_known {
            return Err(KeyStoreError::UnknownPeer(p.peer));
        }
        let role = match p.role {
            Role::Initiator => 1,
            Role::Responder => 2,
        };
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO sessions (sid, peer, local_id, role, send_key, receive_key,
                                             confirm_key, confirmed, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                &p.sid.0[..],
                &p.peer.0[..],
                &p.local.0[..],
                role,
                &p.send_key[..],
                &p.receive_key[..],
                p.confirm_key.as_ref().map(|k| &k[..]),
                p.confirmed,
                now_ms(),
            ],
        )?;
        if inserted == 0 {
            return Err(KeyStoreError::SessionExists(p.sid));
        }
        tx.commit()?;
        Ok(())
    }

    /// A session by id.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn session(&self, sid: SessionId) -> Result<Option<StoredSession>, KeyStoreError> {
        self.conn
            .query_row(
                &format!("{SESSION_COLUMNS} WHERE sid = ?1"),
                [&sid.0[..]],
                session_row,
            )
            .optional()?
            .transpose()
    }

    /// The session to send to `peer` with: the newest one. A session may be
    /// used before the peer's answer confirms it.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn current_session_for(
        &self,
        peer: ClientId,
    ) -> Result<Option<StoredSession>, KeyStoreError> {
        self.conn
            .query_row(
                &format!(
                    "{SESSION_COLUMNS} WHERE peer = ?1 ORDER BY created_at DESC, rowid DESC LIMIT 1"
                ),
                [&peer.0[..]],
                session_row,
            )
            .optional()?
            .transpose()
    }

    /// Marks a session confirmed, once `Session::confirm` accepted the
    /// peer's answer.
    ///
    /// # Errors
    /// [`KeyStoreError::UnknownSession`]; storage errors.
    pub fn mark_confirmed(&mut self, sid: SessionId) -> Result<(), KeyStoreError> {
        let changed = self.conn.execute(
            "UPDATE sessions SET confirmed = 1 WHERE sid = ?1",
            [&sid.0[..]],
        )?;
        if changed == 0 {
            return Err(KeyStoreError::UnknownSession(sid));
        }
        Ok(())
    }

    /// Takes the next send counter of a session (1 for the first message).
    /// The new value is committed to disk before it is returned, so no
    /// counter is ever handed out twice, even across a crash.
    ///
    /// # Errors
    /// [`KeyStoreError::UnknownSession`], [`KeyStoreError::CounterExhausted`];
    /// storage errors.
    pub fn next_send_counter(&mut self, sid: SessionId) -> Result<u64, KeyStoreError> {
        let next: Option<i64> = self
            .conn
            .query_row(
                "UPDATE sessions SET send_counter = send_counter + 1
                 WHERE sid = ?1 AND send_counter < ?2 RETURNING send_counter",
                params![&sid.0[..], i64::MAX],
                |row| row.get(0),
            )
            .optional()?;
        match next {
            Some(n) => u64::try_from(n).map_err(|_| KeyStoreError::Corrupt("send counter")),
            None if self.session_exists(sid)? => Err(KeyStoreError::CounterExhausted(sid)),
            None => Err(KeyStoreError::UnknownSession(sid)),
        }
    }

    fn session_exists(&self, sid: SessionId) -> Result<bool, KeyStoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM sessions WHERE sid = ?1",
                [&sid.0[..]],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Records that a message with `counter` from the peer was handled: adds
    /// it to the session's replay window (the highest received counter never
    /// goes down).
    /// [`KeyStore::mark_handled`] does the same together with the message id.
    ///
    /// # Errors
    /// [`KeyStoreError::UnknownSession`]; storage errors.
    pub fn commit_received_counter(
        &mut self,
        sid: SessionId,
        counter: u64,
    ) -> Result<(), KeyStoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        record_received(&tx, sid, counter)?;
        tx.commit()?;
        Ok(())
    }

    // ---- pending and handled messages -----------------------------------------------

    /// Keeps a message whose session is not known yet. A message id already
    /// kept is ignored (redelivery).
    ///
    /// # Errors
    /// Storage errors.
    pub fn add_pending(&mut self, message: &PendingMessage) -> Result<(), KeyStoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO pending_messages
                 (message_id, sid, sender, kind, content, sent_at, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                to_sql_u64(message.message_id),
                &message.sid.0[..],
                &message.sender.0[..],
                message.kind.code(),
                &message.content,
                to_sql_u64(message.sent_at_ms),
                now_ms(),
            ],
        )?;
        Ok(())
    }

    /// The messages waiting for session `sid`, in message-id order.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn pending_for(&self, sid: SessionId) -> Result<Vec<PendingMessage>, KeyStoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT message_id, sender, kind, sid, content, sent_at FROM pending_messages
             WHERE sid = ?1 ORDER BY message_id",
        )?;
        let rows = stmt.query_map([&sid.0[..]], pending_row)?;
        rows.map(|row| pending_message(row?)).collect()
    }

    /// Forgets a pending message (handled, or given up).
    ///
    /// # Errors
    /// Storage errors.
    pub fn delete_pending(&mut self, message_id: u64) -> Result<(), KeyStoreError> {
        self.conn.execute(
            "DELETE FROM pending_messages WHERE message_id = ?1",
            [to_sql_u64(message_id)],
        )?;
        Ok(())
    }

    /// Whether a server message id was handled already (drop a redelivery).
    ///
    /// # Errors
    /// Storage errors.
    pub fn is_handled(&self, message_id: u64) -> Result<bool, KeyStoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM handled_messages WHERE message_id = ?1",
                [to_sql_u64(message_id)],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Records, in one transaction, that a message was handled: its id
    /// (for dedupe), the session counter it carried if it was sealed
    /// (`Some((sid, counter))`, recorded in the session's replay window), and
    /// its removal from the pending messages. Call it after the message's
    /// effect (shown, file saved) is done and before acknowledging it to the
    /// server.
    ///
    /// # Errors
    /// [`KeyStoreError::UnknownSession`]; storage errors.
    pub fn mark_handled(
        &mut self,
        message_id: u64,
        counter: Option<(SessionId, u64)>,
    ) -> Result<(), KeyStoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some((sid, counter)) = counter {
            record_received(&tx, sid, counter)?;
        }
        tx.execute(
            "INSERT OR IGNORE INTO handled_messages (message_id, handled_at) VALUES (?1, ?2)",
            params![to_sql_u64(message_id), now_ms()],
        )?;
        tx.execute(
            "DELETE FROM pending_messages WHERE message_id = ?1",
            [to_sql_u64(message_id)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets handled message ids recorded more than `age` ago; returns how
    /// many. Keep `age` well above the time a message can wait on the server
    /// unacknowledged (a redelivery after pruning would be handled again,
    /// though a sealed one is still refused by its counter).
    ///
    /// # Errors
    /// Storage errors.
    pub fn prune_handled(&mut self, age: Duration) -> Result<usize, KeyStoreError> {
        let age_ms = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
        let cutoff = now_ms().saturating_sub(age_ms);
        Ok(self.conn.execute(
            "DELETE FROM handled_messages WHERE handled_at < ?1",
            [cutoff],
        )?)
    }

    // ---- uploads ----------------------------------------------------------------

    /// Remembers an unfinished upload (replacing one with the same id).
    ///
    /// # Errors
    /// Storage errors.
    pub fn save_upload(&mut self, upload: &UploadRecord) -> Result<(), KeyStoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO uploads (upload_id, destination, path, plaintext_size,
                 mtime_ns, file_key, nonce_prefix, meta, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                &upload.upload_id.0[..],
                &upload.destination.0[..],
                path_to_bytes(&upload.path),
                to_sql_u64(upload.stamp.size),
                upload.stamp.mtime_ns,
                &upload.secret.key()[..],
                &upload.secret.nonce_prefix()[..],
                &upload.meta,
                system_time_to_ms(upload.created_at),
            ],
        )?;
        Ok(())
    }

    /// Every unfinished upload, oldest first.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn uploads(&self) -> Result<Vec<UploadRecord>, KeyStoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!("{UPLOAD_COLUMNS} ORDER BY created_at, rowid"))?;
        let rows = stmt.query_map([], upload_row)?;
        rows.map(|row| Ok(row?)).collect()
    }

    /// One unfinished upload.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn upload(&self, upload_id: UploadId) -> Result<Option<UploadRecord>, KeyStoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("{UPLOAD_COLUMNS} WHERE upload_id = ?1"),
                [&upload_id.0[..]],
                upload_row,
            )
            .optional()?)
    }

    /// Forgets an upload (finished, cancelled, or expired on the server).
    ///
    /// # Errors
    /// Storage errors.
    pub fn delete_upload(&mut self, upload_id: UploadId) -> Result<(), KeyStoreError> {
        self.conn.execute(
            "DELETE FROM uploads WHERE upload_id = ?1",
            [&upload_id.0[..]],
        )?;
        Ok(())
    }
}

// ---- row mapping ------------------------------------------------------------------

const PEER_COLUMNS: &str =
    "SELECT client_id, name, bundle, pinned_at, verified, pending_bundle, server_name FROM peers";

struct PeerRow {
    client_id: [u8; 16],
    name: String,
    bundle: [u8; PUBLIC_KEY_LEN],
    pinned_at: i64,
    verified: bool,
    pending: Option<[u8; PUBLIC_KEY_LEN]>,
    server_name: Option<String>,
}

fn peer_row(row: &Row<'_>) -> rusqlite::Result<PeerRow> {
    let pending = match row.get_ref(5)?.as_blob_or_null()? {
        None => None,
        Some(_) => Some(blob_array::<PUBLIC_KEY_LEN>(row, 5)?),
    };
    Ok(PeerRow {
        client_id: blob_array(row, 0)?,
        name: row.get(1)?,
        bundle: blob_array(row, 2)?,
        pinned_at: row.get(3)?,
        verified: row.get(4)?,
        pending,
        server_name: row.get(6)?,
    })
}

impl PeerRow {
    fn into_record(self) -> Result<PeerRecord, KeyStoreError> {
        // Stored bundles were verified before pinning; checking again keeps
        // VerifiedBundle's promise even for a database edited by hand.
        let bundle = VerifiedBundle::verify(&PublicKey(self.bundle))
            .map_err(|_| KeyStoreError::Corrupt("pinned bundle does not verify"))?;
        Ok(PeerRecord {
            client_id: ClientId(self.client_id),
            name: self.name,
            bundle,
            pinned_at: ms_to_system_time(self.pinned_at),
            verified: self.verified,
            pending_bundle: self.pending.map(PublicKey),
            server_name: self.server_name,
        })
    }
}

const SESSION_COLUMNS: &str = "SELECT sid, peer, local_id, role, send_key, receive_key,
        confirm_key, confirmed, send_counter, receive_counter, created_at, receive_window
        FROM sessions";

/// A session row; the outer result is SQLite's, the inner one ours.
fn session_row(row: &Row<'_>) -> rusqlite::Result<Result<StoredSession, KeyStoreError>> {
    let role = match row.get::<_, i64>(3)? {
        1 => Role::Initiator,
        2 => Role::Responder,
        _ => return Ok(Err(KeyStoreError::Corrupt("session role"))),
    };
    let confirm_key = match row.get_ref(6)?.as_blob_or_null()? {
        None => None,
        Some(_) => Some(secret_array::<KEY_LEN>(row, 6)?),
    };
    let parts = SessionParts {
        sid: SessionId(blob_array(row, 0)?),
        peer: ClientId(blob_array(row, 1)?),
        local: ClientId(blob_array(row, 2)?),
        role,
        send_key: secret_array(row, 4)?,
        receive_key: secret_array(row, 5)?,
        confirm_key,
        confirmed: row.get(7)?,
    };
    let (Ok(send_counter), Ok(receive_counter)) = (
        u64::try_from(row.get::<_, i64>(8)?),
        u64::try_from(row.get::<_, i64>(9)?),
    ) else {
        return Ok(Err(KeyStoreError::Corrupt("session counter")));
    };
    let window = row.get_ref(11)?.as_blob_or_null()?;
    let Ok(receive_window) = ReplayWindow::from_stored(receive_counter, window) else {
        return Ok(Err(KeyStoreError::Corrupt("session replay window")));
    };
    Ok(Ok(StoredSession {
        session: Session::from_parts(parts),
        send_counter,
        receive_counter,
        receive_window,
        created_at: ms_to_system_time(row.get(10)?),
    }))
}

const UPLOAD_COLUMNS: &str = "SELECT upload_id, destination, path, plaintext_size, mtime_ns,
        file_key, nonce_prefix, meta, created_at FROM uploads";

fn upload_row(row: &Row<'_>) -> rusqlite::Result<UploadRecord> {
    let key = secret_array::<KEY_LEN>(row, 5)?;
    let prefix = secret_array::<NONCE_PREFIX_LEN>(row, 6)?;
    Ok(UploadRecord {
        upload_id: UploadId(blob_array(row, 0)?),
        destination: ClientId(blob_array(row, 1)?),
        path: path_from_bytes(row.get_ref(2)?.as_blob()?),
        stamp: FileStamp {
            size: from_sql_u64(row.get(3)?),
            mtime_ns: row.get(4)?,
        },
        secret: FileSecret::from_parts(&key, &prefix),
        meta: row.get(7)?,
        created_at: ms_to_system_time(row.get(8)?),
    })
}

/// Adds `counter` to session `sid`'s replay window; call it inside a
/// transaction, since it reads and writes.
fn record_received(conn: &Connection, sid: SessionId, counter: u64) -> Result<(), KeyStoreError> {
    let stored: Option<(i64, Option<Vec<u8>>)> = conn
        .query_row(
            "SELECT receive_counter, receive_window FROM sessions WHERE sid = ?1",
            [&sid.0[..]],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let Some((highest, seen)) = stored else {
        return Err(KeyStoreError::UnknownSession(sid));
    };
    let highest = u64::try_from(highest).map_err(|_| KeyStoreError::Corrupt("session counter"))?;
    let mut window = ReplayWindow::from_stored(highest, seen.as_deref())
        .map_err(|_| KeyStoreError::Corrupt("session replay window"))?;
    window.record(counter);
    let highest =
        i64::try_from(window.highest()).map_err(|_| KeyStoreError::Corrupt("counter over i64"))?;
    conn.execute(
        "UPDATE sessions SET receive_counter = ?2, receive_window = ?3 WHERE sid = ?1",
        params![&sid.0[..], highest, &window.seen_bytes()[..]],
    )?;
    Ok(())
}

/// A `pending_messages` row as selected by `pending_row`'s callers:
/// message id, sender, kind, sid, content, sent at.
type PendingRow = (i64, [u8; 16], u8, [u8; 16], Vec<u8>, i64);

/// Reads the columns `message_id, sender, kind, sid, content, sent_at`.
fn pending_row(row: &Row<'_>) -> rusqlite::Result<PendingRow> {
    Ok((
        row.get(0)?,
        blob_array::<16>(row, 1)?,
        row.get(2)?,
        blob_array::<16>(row, 3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

fn pending_message(
    (id, sender, kind, sid, content, sent_at): PendingRow,
) -> Result<PendingMessage, KeyStoreError> {
    Ok(PendingMessage {
        message_id: from_sql_u64(id),
        sender: ClientId(sender),
        kind: MessageKind::from_code(kind)
            .map_err(|_| KeyStoreError::Corrupt("pending message type"))?,
        sid: SessionId(sid),
        content,
        sent_at_ms: from_sql_u64(sent_at),
    })
}

/// A fixed-size blob column; a wrong size is a conversion error.
fn blob_array<const N: usize>(row: &Row<'_>, idx: usize) -> rusqlite::Result<[u8; N]> {
    let blob = row.get_ref(idx)?.as_blob()?;
    blob.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Blob,
            format!("expected {N} bytes, found {}", blob.len()).into(),
        )
    })
}

/// A fixed-size secret blob column, copied straight into wiped memory.
fn secret_array<const N: usize>(row: &Row<'_>, idx: usize) -> rusqlite::Result<Zeroizing<[u8; N]>> {
    let blob = row.get_ref(idx)?.as_blob()?;
    if blob.len() != N {
        return Err(rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Blob,
            format!("expected {N} bytes, found {}", blob.len()).into(),
        ));
    }
    let mut out = Zeroizing::new([0u8; N]);
    out.copy_from_slice(blob);
    Ok(out)
}

/// Server message ids and times are u64 on the wire and i64 in SQLite: the
/// bits are kept as they are (a value over i64::MAX reads back unchanged).
/// SQL never orders or compares these columns, so the sign does not matter.
fn to_sql_u64(value: u64) -> i64 {
    i64::from_le_bytes(value.to_le_bytes())
}

fn from_sql_u64(value: i64) -> u64 {
    u64::from_le_bytes(value.to_le_bytes())
}

fn system_time_to_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

fn ms_to_system_time(ms: i64) -> SystemTime {
    let offset = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        UNIX_EPOCH + offset
    } else {
        UNIX_EPOCH - offset
    }
}

fn now_ms() -> i64 {
    system_time_to_ms(SystemTime::now())
}

#[cfg(unix)]
fn path_to_bytes(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

#[cfg(unix)]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

#[cfg(not(unix))]
fn path_to_bytes(path: &Path) -> Vec<u8> {
    path.to_string_lossy().into_owned().into_bytes()
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

// ---- files and permissions -------------------------------------------------------

/// Creates `dir` (and missing parents) with mode 0700; an existing folder
/// is left as it is.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Opens `path` for writing, creating it with mode 0600 if missing and
/// narrowing an existing file to 0600; `truncate` empties it.
fn open_private(path: &Path, truncate: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options
        .read(true)
        .write(true)
        .create(true)
        .truncate(truncate);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
        }
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        options.open(path)
    }
}

/// `me.info` as read from disk.
struct MeInfo {
    name: Name,
    client_id: ClientId,
    secret: Zeroizing<[u8; SECRET_LEN]>,
}

fn read_me_info(home: &Path) -> Result<Option<MeInfo>, KeyStoreError> {
    let path = home.join(ME_INFO_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => Zeroizing::new(bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| KeyStoreError::BadMeInfo("not UTF-8"))?;
    let mut lines = text.lines();
    let (Some(name), Some(id), Some(secret)) = (lines.next(), lines.next(), lines.next()) else {
        return Err(KeyStoreError::BadMeInfo("expected three lines"));
    };
    if lines.any(|l| !l.trim().is_empty()) {
        return Err(KeyStoreError::BadMeInfo("more than three lines"));
    }
    let name =
        Name::new(name).map_err(|_| KeyStoreError::BadMeInfo("line 1 is not a valid name"))?;
    let id = id.trim();
    if id.len() != 32 {
        return Err(KeyStoreError::BadMeInfo("line 2 is not 32 hex digits"));
    }
    let client_id: ClientId = id
        .parse()
        .map_err(|_| KeyStoreError::BadMeInfo("line 2 is not 32 hex digits"))?;
    let decoded = Zeroizing::new(
        BASE64
            .decode(secret.trim())
            .map_err(|_| KeyStoreError::BadMeInfo("line 3 is not base64"))?,
    );
    let secret: Zeroizing<[u8; SECRET_LEN]> = Zeroizing::new(
        decoded[..]
            .try_into()
            .map_err(|_| KeyStoreError::BadMeInfo("line 3 is not 96 bytes"))?,
    );
    Ok(Some(MeInfo {
        name,
        client_id,
        secret,
    }))
}

/// Writes `me.info` atomically: a 0600 temporary file, synced, renamed over
/// the old one, then the folder synced.
fn write_me_info(
    home: &Path,
    name: &Name,
    client_id: &ClientId,
    secret: &[u8; SECRET_LEN],
) -> Result<(), KeyStoreError> {
    // Sized up front so that the string never reallocates and leaves a copy
    // of the secret behind: name, newline, 32 hex digits, newline, 128
    // base64 characters, newline.
    let mut text = Zeroizing::new(String::with_capacity(name.as_str().len() + 163));
    text.push_str(name.as_str());
    text.push('\n');
    text.push_str(&client_id.to_string());
    text.push('\n');
    BASE64.encode_string(secret, &mut text);
    text.push('\n');
    let tmp = home.join(format!("{ME_INFO_FILE}.tmp"));
    let mut file = open_private(&tmp, true)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, home.join(ME_INFO_FILE))?;
    #[cfg(unix)]
    File::open(home)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::FileMeta;

    const ALICE: ClientId = ClientId([0x11; 16]);
    const BOB: ClientId = ClientId([0x22; 16]);

    fn home() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("alice-home");
        (dir, home)
    }

    fn with_identity(home: &Path) -> (KeyStore, Identity) {
        let mut store = KeyStore::open(home).unwrap();
        let identity = Identity::generate().unwrap();
        store
            .save_identity(&Name::new("alice").unwrap(), ALICE, &identity)
            .unwrap();
        (store, identity)
    }

    fn bundle_of(identity: &Identity) -> VerifiedBundle {
        VerifiedBundle::verify(&identity.bundle()).unwrap()
    }

    /// Alice's store with Bob pinned and a session Alice initiated.
    fn with_session(home: &Path) -> (KeyStore, Identity, Identity, Session) {
        let (mut store, alice) = with_identity(home);
        let bob = Identity::generate().unwrap();
        store.pin_peer(BOB, "bob", &bundle_of(&bob)).unwrap();
        let (session, _) = Session::initiate(&alice, ALICE, BOB, &bundle_of(&bob)).unwrap();
        store.save_session(&session).unwrap();
        (store, alice, bob, session)
    }

    #[test]
    fn keystore_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<KeyStore>();
    }

    #[cfg(unix)]
    #[test]
    fn files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let (_dir, home) = home();
        let (store, _) = with_identity(&home);
        assert_eq!(mode(&home), 0o700);
        assert_eq!(mode(&home.join(STORE_FILE)), 0o600);
        assert_eq!(mode(&home.join(ME_INFO_FILE)), 0o600);
        for suffix in ["-wal", "-shm"] {
            let p = home.join(format!("{STORE_FILE}{suffix}"));
            assert!(p.exists(), "{suffix} exists in WAL mode");
            assert_eq!(mode(&p), 0o600, "{suffix}");
        }
        drop(store);
        // A store.db left world-readable (copied by hand) is narrowed.
        fs::set_permissions(home.join(STORE_FILE), fs::Permissions::from_mode(0o644)).unwrap();
        KeyStore::open(&home).unwrap();
        assert_eq!(mode(&home.join(STORE_FILE)), 0o600);
    }

    #[test]
    fn identity_survives_reopen_and_matches_me_info() {
        let (_dir, home) = home();
        let (store, identity) = with_identity(&home);
        drop(store);
        let store = KeyStore::open(&home).unwrap();
        let stored = store.identity().unwrap().unwrap();
        assert_eq!(stored.name.as_str(), "alice");
        assert_eq!(stored.client_id, ALICE);
        assert_eq!(stored.identity.bundle(), identity.bundle());

        let text = fs::read_to_string(home.join(ME_INFO_FILE)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], "alice");
        assert_eq!(lines[1], "11111111111111111111111111111111");
        assert_eq!(
            BASE64.decode(lines[2]).unwrap(),
            identity.to_secret_bytes().to_vec()
        );
    }

    #[test]
    fn a_second_identity_is_refused() {
        let (_dir, home) = home();
        let (mut store, _) = with_identity(&home);
        let other = Identity::generate().unwrap();
        assert!(matches!(
            store.save_identity(&Name::new("eve").unwrap(), BOB, &other),
            Err(KeyStoreError::IdentityExists)
        ));
    }

    #[test]
    fn me_info_is_imported_or_rewritten_and_a_mismatch_refused() {
        let (_dir, home) = home();
        let (store, identity) = with_identity(&home);
        drop(store);
        let me_info = fs::read(home.join(ME_INFO_FILE)).unwrap();

        // A missing me.info is written again from the store.
        fs::remove_file(home.join(ME_INFO_FILE)).unwrap();
        drop(KeyStore::open(&home).unwrap());
        assert_eq!(fs::read(home.join(ME_INFO_FILE)).unwrap(), me_info);

        // A home with only me.info (as the reference client leaves it) is imported.
        let (_dir2, home2) = self::home();
        fs::create_dir_all(&home2).unwrap();
        fs::write(home2.join(ME_INFO_FILE), &me_info).unwrap();
        let store2 = KeyStore::open(&home2).unwrap();
        let stored = store2.identity().unwrap().unwrap();
        assert_eq!(stored.identity.bundle(), identity.bundle());
        assert_eq!(stored.client_id, ALICE);

        // Another identity in me.info than in the store: refuse to guess.
        let other = Identity::generate().unwrap();
        write_me_info(
            &home,
            &Name::new("alice").unwrap(),
            &ALICE,
            &other.to_secret_bytes(),
        )
        .unwrap();
        assert!(matches!(
            KeyStore::open(&home),
            Err(KeyStoreError::IdentityMismatch)
        ));
    }

    #[test]
    fn malformed_me_info_is_reported() {
        let cases = [
            "alice\n",
            "alice\nnot-hex\nAAAA\n",
            "alice\n11111111111111111111111111111111\n!!!\n",
            "alice\n11111111111111111111111111111111\nAAAA\n",
            "\n11111111111111111111111111111111\nAAAA\n",
        ];
        for text in cases {
            let (_dir, home) = home();
            fs::create_dir_all(&home).unwrap();
            fs::write(home.join(ME_INFO_FILE), text).unwrap();
            assert!(
                matches!(KeyStore::open(&home), Err(KeyStoreError::BadMeInfo(_))),
                "{text:?}"
            );
        }
    }

    #[test]
    fn server_key_is_pinned_on_first_use_and_a_change_detected() {
        let (_dir, home) = home();
        let mut store = KeyStore::open(&home).unwrap();
        let addr = "192.168.1.5:1357";
        assert_eq!(
            store.pin_server(addr, &[1; 32]).unwrap(),
            ServerPin::FirstUse
        );
        assert_eq!(store.pin_server(addr, &[1; 32]).unwrap(), ServerPin::Known);
        drop(store);
        let mut store = KeyStore::open(&home).unwrap();
        match store.pin_server(addr, &[2; 32]) {
            Err(PinError::ServerKeyChanged {
                pinned_fingerprint,
                presented_fingerprint,
            }) => {
                assert_eq!(pinned_fingerprint, Fingerprint::of_server(&[1; 32]));
                assert_eq!(presented_fingerprint, Fingerprint::of_server(&[2; 32]));
            }
            other => panic!("expected a key change, got {other:?}"),
        }
        // Still pinned to the old key until the user accepts.
        assert_eq!(store.server_key(addr).unwrap(), Some([1; 32]));
        store.accept_server_key(addr, &[2; 32]).unwrap();
        assert_eq!(store.pin_server(addr, &[2; 32]).unwrap(), ServerPin::Known);
        // Pins are per address.
        assert_eq!(
            store.pin_server("other:1", &[3; 32]).unwrap(),
            ServerPin::FirstUse
        );
    }

    #[test]
    fn a_changed_peer_key_blocks_sending_until_accepted() {
        let (_dir, home) = home();
        let (mut store, _, bob, _) = with_session(&home);
        assert_eq!(
            store.pin_peer(BOB, "bob", &bundle_of(&bob)).unwrap(),
            Pinned::Same
        );
        store.set_verified(BOB, true).unwrap();
        assert!(store.peer_for_sending(BOB).unwrap().verified);

        let new_bob = Identity::generate().unwrap();
        assert_eq!(
            store.pin_peer(BOB, "bob", &bundle_of(&new_bob)).unwrap(),
            Pinned::Changed
        );
        drop(store);
        let mut store = KeyStore::open(&home).unwrap();
        assert!(matches!(
            store.peer_for_sending(BOB),
            Err(KeyStoreError::KeyChanged { peer }) if peer == BOB
        ));
        // The old bundle stays pinned meanwhile, and seeing it again does
        // not lift the block.
        let record = store.peer(BOB).unwrap().unwrap();
        assert_eq!(record.bundle.public_key(), &bob.bundle());
        assert_eq!(record.pending_bundle, Some(new_bob.bundle()));
        assert_eq!(
            store.pin_peer(BOB, "bob", &bundle_of(&bob)).unwrap(),
            Pinned::Same
        );
        assert!(store.peer_for_sending(BOB).is_err());
        assert!(store.current_session_for(BOB).unwrap().is_some());

        store.accept_new_key(BOB).unwrap();
        let record = store.peer_for_sending(BOB).unwrap();
        assert_eq!(record.bundle.public_key(), &new_bob.bundle());
        assert!(!record.verified, "accepting a new key clears verified");
        assert!(record.pending_bundle.is_none());
        assert!(
            store.current_session_for(BOB).unwrap().is_none(),
            "sessions with the old key are dropped"
        );
        assert!(matches!(
            store.accept_new_key(BOB),
            Err(KeyStoreError::NoPendingKey(_))
        ));
        assert!(matches!(
            store.peer_for_sending(ALICE),
            Err(KeyStoreError::UnknownPeer(_))
        ));
        assert_eq!(store.peers().unwrap().len(), 1);
    }

    #[test]
    fn sessions_and_counters_survive_reopen_and_never_repeat() {
        let (_dir, home) = home();
        let (mut store, _, _, session) = with_session(&home);
        let sid = session.sid();
        assert_eq!(store.next_send_counter(sid).unwrap(), 1);
        assert_eq!(store.next_send_counter(sid).unwrap(), 2);
        store.commit_received_counter(sid, 7).unwrap();
        store.commit_received_counter(sid, 3).unwrap();
        drop(store);

        let mut store = KeyStore::open(&home).unwrap();
        let stored = store.session(sid).unwrap().unwrap();
        assert_eq!(stored.send_counter, 2);
        assert_eq!(stored.receive_counter, 7, "never lowered");
        assert_eq!(stored.session.send_key(), session.send_key());
        assert_eq!(stored.session.receive_key(), session.receive_key());
        assert_eq!(stored.session.role(), Role::Initiator);
        assert!(!stored.session.is_confirmed());
        assert_eq!(store.next_send_counter(sid).unwrap(), 3);

        store.mark_confirmed(sid).unwrap();
        assert!(store.session(sid).unwrap().unwrap().session.is_confirmed());
        assert!(matches!(
            store.save_session(&session),
            Err(KeyStoreError::SessionExists(_))
        ));
        let unknown = SessionId([9; 16]);
        assert!(matches!(
            store.next_send_counter(unknown),
            Err(KeyStoreError::UnknownSession(_))
        ));
        assert!(store.session(unknown).unwrap().is_none());
    }

    #[test]
    fn an_exhausted_counter_is_refused() {
        let (_dir, home) = home();
        let (mut store, _, _, session) = with_session(&home);
        store
            .conn
            .execute("UPDATE sessions SET send_counter = ?1", [i64::MAX - 1])
            .unwrap();
        assert_eq!(
            store.next_send_counter(session.sid()).unwrap(),
            i64::MAX as u64
        );
        assert!(matches!(
            store.next_send_counter(session.sid()),
            Err(KeyStoreError::CounterExhausted(_))
        ));
    }

    #[test]
    fn the_newest_session_is_current() {
        let (_dir, home) = home();
        let (mut store, alice, bob, first) = with_session(&home);
        let (second, _) = Session::initiate(&alice, ALICE, BOB, &bundle_of(&bob)).unwrap();
        store.save_session(&second).unwrap();
        let current = store.current_session_for(BOB).unwrap().unwrap();
        assert_eq!(current.session.sid(), second.sid());
        assert!(store.session(first.sid()).unwrap().is_some());
        assert!(store.current_session_for(ALICE).unwrap().is_none());
    }

    #[test]
    fn the_replay_window_survives_reopen_and_old_sessions_keep_refusing() {
        let (_dir, home) = home();
        let (mut store, _, _, session) = with_session(&home);
        let sid = session.sid();
        // Out of order: 5, then 2; 3 and 4 stay open.
        store.mark_handled(1, Some((sid, 5))).unwrap();
        store.commit_received_counter(sid, 2).unwrap();
        drop(store);
        let mut store = KeyStore::open(&home).unwrap();
        let window = store.session(sid).unwrap().unwrap().receive_window;
        assert_eq!(window.highest(), 5);
        assert!(window.check(2).is_err() && window.check(5).is_err());
        assert!(window.check(3).is_ok() && window.check(4).is_ok());
        // A session stored before windows existed (NULL): everything up to
        // its highest counter counts as received, as before.
        store
            .conn
            .execute(
                "UPDATE sessions SET receive_window = NULL, receive_counter = 9",
                [],
            )
            .unwrap();
        let window = store.session(sid).unwrap().unwrap().receive_window;
        assert!((1..=9).all(|c| window.check(c).is_err()));
        assert!(window.check(10).is_ok());
        store.commit_received_counter(sid, 12).unwrap();
        let window = store.session(sid).unwrap().unwrap().receive_window;
        assert!(window.check(11).is_ok() && window.check(9).is_err());
    }

    #[test]
    fn sessions_need_a_pinned_peer() {
        let (_dir, home) = home();
        let (mut store, alice) = with_identity(&home);
        let bob = Identity::generate().unwrap();
        let (session, _) = Session::initiate(&alice, ALICE, BOB, &bundle_of(&bob)).unwrap();
        assert!(matches!(
            store.save_session(&session),
            Err(KeyStoreError::UnknownPeer(_))
        ));
    }

    #[test]
    fn pending_messages_survive_reopen_until_handled() {
        let (_dir, home) = home();
        let (mut store, _, _, session) = with_session(&home);
        let waiting_sid = SessionId([0x5a; 16]);
        let message = |id: u64| PendingMessage {
            message_id: id,
            sender: BOB,
            kind: MessageKind::Text,
            sid: waiting_sid,
            content: vec![id as u8; 10],
            sent_at_ms: 1_767_225_600_000,
        };
        store.add_pending(&message(43)).unwrap();
        store.add_pending(&message(42)).unwrap();
        store.add_pending(&message(42)).unwrap(); // redelivered
        store
            .add_pending(&PendingMessage {
                sid: SessionId([1; 16]),
                ..message(50)
            })
            .unwrap();
        drop(store);

        let mut store = KeyStore::open(&home).unwrap();
        assert_eq!(
            store.pending_for(waiting_sid).unwrap(),
            vec![message(42), message(43)]
        );
        assert!(!store.is_handled(42).unwrap());
        store.mark_handled(42, Some((session.sid(), 4))).unwrap();
        assert!(store.is_handled(42).unwrap());
        assert_eq!(store.pending_for(waiting_sid).unwrap(), vec![message(43)]);
        assert_eq!(
            store
                .session(session.sid())
                .unwrap()
                .unwrap()
                .receive_counter,
            4
        );
        store.delete_pending(43).unwrap();
        assert!(store.pending_for(waiting_sid).unwrap().is_empty());
        // A failed mark changes nothing.
        assert!(
            store
                .mark_handled(99, Some((SessionId([7; 16]), 1)))
                .is_err()
        );
        assert!(!store.is_handled(99).unwrap());
        // Ids above i64::MAX keep their value.
        store.mark_handled(u64::MAX, None).unwrap();
        assert!(store.is_handled(u64::MAX).unwrap());
        assert!(!store.is_handled(u64::MAX - 1).unwrap());
    }

    #[test]
    fn old_handled_ids_are_pruned() {
        let (_dir, home) = home();
        let mut store = KeyStore::open(&home).unwrap();
        store.mark_handled(1, None).unwrap();
        store.mark_handled(2, None).unwrap();
        let day_ago = now_ms() - 24 * 3600 * 1000;
        store
            .conn
            .execute(
                "UPDATE handled_messages SET handled_at = ?1 WHERE message_id = 1",
                [day_ago],
            )
            .unwrap();
        assert_eq!(store.prune_handled(Duration::from_secs(3600)).unwrap(), 1);
        assert!(!store.is_handled(1).unwrap());
        assert!(store.is_handled(2).unwrap());
    }

    #[test]
    fn uploads_survive_reopen_and_notice_a_changed_file() {
        let (dir, home) = home();
        let (mut store, _, _, session) = with_session(&home);
        let path = dir.path().join("report.pdf");
        fs::write(&path, b"version one").unwrap();
        let stamp = FileStamp::of_path(&path).unwrap();
        let meta = FileMeta::new("report.pdf", stamp.size).unwrap();
        let sealed = session.seal_file_meta(1, &meta).unwrap();
        let id = UploadId([0x0f; 16]);
        store
            .save_upload(&UploadRecord {
                upload_id: id,
                destination: BOB,
                path: path.clone(),
                stamp,
                secret: FileSecret::from_parts(meta.secret.key(), meta.secret.nonce_prefix()),
                meta: sealed.clone(),
                created_at: SystemTime::now(),
            })
            .unwrap();
        drop(store);

        let mut store = KeyStore::open(&home).unwrap();
        let record = store.upload(id).unwrap().unwrap();
        assert_eq!(record.destination, BOB);
        assert_eq!(record.path, path);
        assert_eq!(record.stamp, stamp);
        assert_eq!(record.meta, sealed);
        assert_eq!(record.secret.key(), meta.secret.key());
        assert_eq!(record.secret.nonce_prefix(), meta.secret.nonce_prefix());
        assert!(record.file_unchanged().unwrap());
        assert_eq!(store.uploads().unwrap().len(), 1);

        fs::write(&path, b"version two, longer").unwrap();
        assert!(!record.file_unchanged().unwrap());
        fs::remove_file(&path).unwrap();
        assert!(record.file_unchanged().is_err());

        store.delete_upload(id).unwrap();
        assert!(store.upload(id).unwrap().is_none());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let (_dir, home) = home();
        let store = KeyStore::open(&home).unwrap();
        store
            .conn
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(store);
        assert!(matches!(
            KeyStore::open(&home),
            Err(KeyStoreError::SchemaTooNew { .. })
        ));
    }

    #[test]
    fn times_and_ids_convert_both_ways() {
        for v in [0, 1, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
            assert_eq!(from_sql_u64(to_sql_u64(v)), v);
        }
        for ms in [0, 1_767_225_600_000, -5_000] {
            assert_eq!(system_time_to_ms(ms_to_system_time(ms)), ms);
        }
    }
}
