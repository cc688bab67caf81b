//! Why a key store operation failed: [`KeyStoreError`] for the store itself
//! and [`PinError`] for pinning a server key.
//!
//! A leaf of its own so that every room of the store (and the callers that
//! match on these errors) can name them without naming each other.

use std::io;

use protocol::ClientId;

use crate::crypto::{Fingerprint, SessionId};

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
    /// The stores could not be opened with the key from the given
    /// passphrase.
    #[error("wrong passphrase: the store in this home folder cannot be opened with it")]
    WrongPassphrase,
    /// A backup could not be opened with the key from the given passphrase:
    /// its first chunk fails its check, which a damaged first chunk does
    /// as well (the two cannot be told apart).
    #[error(
        "wrong passphrase, or the backup is damaged: it cannot be opened with this passphrase (give the passphrase it was exported under)"
    )]
    WrongBackupPassphrase,
    /// A backup file read during an import is not a whole backup; turned
    /// into [`crate::ClientError::BadBackup`], which names the file.
    #[error("the backup {0}")]
    Backup(crate::backup_fault::BackupFault),
    /// The home is encrypted and no passphrase was given.
    #[error(
        "this home folder is encrypted: give its passphrase (asked on a terminal, or --passphrase-file FILE, or SEALPOST_PASSPHRASE)"
    )]
    PassphraseNeeded,
    /// A new home needs a passphrase and none could be had (no terminal to
    /// ask on, nothing given).
    #[error(
        "no passphrase given for this new home folder: type one on a terminal, or use --passphrase-file FILE or SEALPOST_PASSPHRASE (or --no-passphrase for an unencrypted home)"
    )]
    FirstPassphraseNeeded,
    /// `passphrase change` found no new passphrase to read.
    #[error(
        "no new passphrase given: type it on a terminal, or use --new-passphrase-file FILE or SEALPOST_NEW_PASSPHRASE"
    )]
    NewPassphraseNeeded,
    /// A new passphrase (a new home's, a changed one, a backup's) shorter
    /// than the minimum; homes made under a shorter one still open.
    #[error("the new passphrase is too short: use at least {min} characters")]
    PassphraseTooShort {
        /// The fewest characters a new passphrase has.
        min: usize,
    },
    /// A passphrase was given for a home set up without one.
    #[error(
        "this home folder was set up with --no-passphrase and is not encrypted; run with --no-passphrase. To encrypt it, export it (`client --no-passphrase export FILE` asks for the backup's passphrase) and import that into a new home with the same passphrase"
    )]
    NoPassphraseHome,
    /// `passphrase change` in a home set up without one: there is nothing
    /// to change, and re-keying a plain store in place is not supported.
    #[error(
        "this home folder was set up with --no-passphrase and is not encrypted: it has no passphrase to change. To encrypt it, export it (`client --no-passphrase export FILE` asks for the backup's passphrase) and import that into a new home (`client --home NEW import FILE`, with the same passphrase); then use the new home and retire this one"
    )]
    NoPassphraseToChange,
    /// `passphrase change` to the passphrase the home has already.
    #[error("the new passphrase is the old one: nothing changed")]
    SamePassphrase,
    /// Another process has the home's store open (`passphrase change` needs
    /// it alone).
    #[error(
        "another client has this home folder open (a `watch`, the menu or the full-screen client): stop it, then try again"
    )]
    HomeInUse,
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
