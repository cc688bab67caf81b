//! The client's persistent local store: one SQLite file, `<home>/store.db`,
//! plus the `me.info` file of the reference client.
//!
//! What it keeps, so that a restart loses nothing (a message received before
//! a restart still decrypts after it):
//!
//! - **identity**: the user's name, client id and the 96 secret bytes;
//! - **server pins**: the home's one server key, with the addresses it was
//!   seen at (trust on first use; a different key at any address is
//!   [`PinError::ServerKeyChanged`]);
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
//! - **history**: every text and file sent and received, per
//!   conversation, with its delivery status (`keystore::history`), and the
//!   settings (how long history is kept);
//! - **contacts**, **held file offers** and **partial downloads**
//!   (`keystore::files`), and the bounds on pending and handled messages
//!   (`keystore::bounds`);
//! - **room events** read from the rooms' logs and not shown yet
//!   (`keystore::room_events`; the rooms' MLS state is `rooms.db`, the
//!   engine's own file), and room files announced but not downloaded yet
//!   (`keystore::room_downloads`).
//!
//! Each of these has a room of its own, an `impl KeyStore` block with its
//! tests: `identity` and `me_info`, `pins` (servers and peers), `sessions`,
//! `received` (pending and handled messages), `uploads`, `files` and
//! `bounds`; `schema` holds the tables and their migrations, `error` the
//! error types. Owner-only files and folders come from `crate::disk`. This
//! file opens the store.
//!
//! **Identity and `me.info`.** The database is the source of truth;
//! `me.info` is written from it and reconciled on open (see
//! `keystore::me_info`).
//!
//! **Encryption at rest.** `store.db` is a SQLCipher database keyed with
//! Argon2id of the user's passphrase (see `keystore::atrest`); a keyed
//! store keeps no `me.info` (it would hold the identity's secret in the
//! clear) and moves one it finds into the database.
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
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

pub mod atrest;
mod bounds;
mod conversation;
mod conversations;
mod creates;
mod departures;
mod error;
mod files;
mod held;
mod history;
mod history_change;
mod identity;
mod in_use;
mod joins;
mod key_events;
mod me_info;
mod notes;
mod pins;
mod received;
mod restored;
mod room_downloads;
mod room_events;
mod room_log;
mod room_offers;
mod room_receipts;
mod room_uploads;
mod schema;
mod sessions;
mod settings;
mod status;
mod uploads;

pub use atrest::{Protection, STORE_FILE, StoreKey};
pub use bounds::{
    HANDLED_MAX, HANDLED_TTL, PENDING_PER_SENDER, PENDING_TOTAL, PENDING_TOTAL_BYTES, PENDING_TTL,
    PendingRoom,
};
pub use conversation::{Conversation, parse_room_id};
pub use conversations::Activity;
pub use creates::RoomCreate;
pub use departures::RoomDeparture;
pub use error::{KeyStoreError, PinError};
pub use files::{HeldFile, HoldReason, PartialDownload};
pub use held::HeldEnd;
pub use history::{Body, Direction, HistoryEntry, HistoryQuery, NewEntry, Status};
pub use history_change::HistoryChange;
pub use identity::StoredIdentity;
pub use joins::{JoinBy, NameJoin};
pub use key_events::KeyEvent;
pub use pins::{LookAlike, PeerRecord, Pinned, ServerPin};
pub use received::{Handled, PendingMessage};
pub use restored::RestoredRoom;
pub use room_downloads::RoomDownload;
pub use room_log::LogRead;
pub use room_offers::RoomOffer;
pub use room_receipts::{RoomMarks, RoomReceipts};
pub use room_uploads::RoomUploadRecord;
pub use schema::SCHEMA_VERSION;
pub use sessions::StoredSession;
pub use uploads::{FileStamp, UploadRecord};

use crate::disk::{create_private_dir, open_private};

/// Name of the identity file in the home folder.
pub const ME_INFO_FILE: &str = "me.info";
/// How long SQLite waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The client's persistent store. See the module docs.
pub struct KeyStore {
    // `crate::contacts` keeps its few queries on peer names beside its logic.
    pub(crate) conn: Connection,
    /// `store.db`, shared-locked while the store is open (`in_use`);
    /// after `conn`, so that it is closed after the connection.
    in_use: std::fs::File,
    home: PathBuf,
    /// The SQLCipher key; `None` for a plain store.
    key: Option<StoreKey>,
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
        Self::open_keyed(home, None)
    }

    /// Opens the store of `home` as `protection` says: sets the home up on
    /// first use, derives the key from the passphrase, and opens the store
    /// with it.
    ///
    /// # Errors
    /// As [`Self::open_keyed`], and [`KeyStoreError::PassphraseNeeded`] or
    /// [`KeyStoreError::NoPassphraseHome`] when `protection` does not fit
    /// the home.
    pub fn open_protected(
        home: impl AsRef<Path>,
        protection: &Protection,
    ) -> Result<Self, KeyStoreError> {
        let key = atrest::unlock(home.as_ref(), protection)?;
        Self::open_keyed(home, key)
    }

    /// Opens the store with a SQLCipher key (`None`: plain), as [`Self::open`].
    ///
    /// # Errors
    /// As [`Self::open`], and [`KeyStoreError::WrongPassphrase`].
    pub fn open_keyed(
        home: impl AsRef<Path>,
        key: Option<StoreKey>,
    ) -> Result<Self, KeyStoreError> {
        let home = home.as_ref().to_path_buf();
        create_private_dir(&home)?;
        let path = home.join(STORE_FILE);
        // Created by us first, so that SQLite never makes it with the umask's mode.
        let in_use = open_private(&path, false)?;
        // Shared with every other client of the home; waits while a
        // `passphrase change` holds it alone (`in_use`).
        in_use.lock_shared()?;
        let conn = Connection::open(&path)?;
        // The key goes first: SQLCipher reads nothing before it.
        atrest::apply_key(&conn, key.as_ref())?;
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
        let mut store = Self {
            conn,
            in_use,
            home,
            key,
        };
        store.migrate()?;
        store.reconcile_me_info()?;
        store.apply_retention()?;
        Ok(store)
    }

    /// The home folder.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The SQLCipher key (`None`: a plain store), for the home's other
    /// store (the rooms engine's).
    pub fn key(&self) -> Option<&StoreKey> {
        self.key.as_ref()
    }

    /// Re-keys the store (`PRAGMA rekey`) with `key`; the caller records
    /// the new salt once every store of the home has the new key.
    ///
    /// # Errors
    /// [`KeyStoreError::NoPassphraseHome`] for a plain store; database errors.
    pub fn rekey(&mut self, key: StoreKey) -> Result<(), KeyStoreError> {
        if self.key.is_none() {
            return Err(KeyStoreError::NoPassphraseHome);
        }
        self.conn
            .execute_batch(&atrest::key_pragma("rekey", &key))?;
        self.key = Some(key);
        Ok(())
    }
}

/// What the tests of every room start from: a home folder, a store with
/// Alice's identity, and one with Bob pinned and a session.
#[cfg(test)]
mod fixtures {
    use std::path::{Path, PathBuf};

    use protocol::{ClientId, Name};

    use super::KeyStore;
    use crate::crypto::{Identity, Session, VerifiedBundle};
    use crate::rooms::event::{RoomChange, RoomEvent};

    pub(super) const ALICE: ClientId = ClientId([0x11; 16]);
    pub(super) const BOB: ClientId = ClientId([0x22; 16]);

    pub(super) fn home() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("alice-home");
        (dir, home)
    }

    pub(super) fn with_identity(home: &Path) -> (KeyStore, Identity) {
        let mut store = KeyStore::open(home).unwrap();
        let identity = Identity::generate().unwrap();
        store
            .save_identity(&Name::new("alice").unwrap(), ALICE, &identity)
            .unwrap();
        (store, identity)
    }

    pub(super) fn bundle_of(identity: &Identity) -> VerifiedBundle {
        VerifiedBundle::verify(&identity.bundle()).unwrap()
    }

    /// Makes every insert into `table` fail until [`allow_inserts`], as a
    /// crash inside the transaction that makes it would.
    pub(super) fn fail_inserts_into(store: &KeyStore, table: &str) {
        store
            .conn
            .execute_batch(&format!(
                "CREATE TEMP TRIGGER crash AFTER INSERT ON {table}
                 BEGIN SELECT RAISE(ABORT, 'crash'); END;"
            ))
            .unwrap();
    }

    /// Undoes [`fail_inserts_into`].
    pub(super) fn allow_inserts(store: &KeyStore) {
        store.conn.execute_batch("DROP TRIGGER crash").unwrap();
    }

    /// Entry `seq` of the room `team` (id 07…07): `change`, shown.
    pub(super) fn room_event(seq: u64, change: RoomChange) -> RoomEvent {
        RoomEvent {
            seq,
            room: "team".into(),
            room_id: "07".repeat(16),
            from: "00".repeat(16),
            sent_at_ms: 1,
            change,
            quiet: false,
        }
    }

    /// Alice's store with Bob pinned and a session Alice initiated.
    pub(super) fn with_session(home: &Path) -> (KeyStore, Identity, Identity, Session) {
        let (mut store, alice) = with_identity(home);
        let bob = Identity::generate().unwrap();
        store.pin_peer(BOB, "bob", &bundle_of(&bob)).unwrap();
        let (session, _) = Session::initiate(&alice, ALICE, BOB, &bundle_of(&bob)).unwrap();
        store.save_session(&session).unwrap();
        (store, alice, bob, session)
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::fixtures::{home, with_identity};
    use super::*;

    #[test]
    fn keystore_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<KeyStore>();
    }

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
}
