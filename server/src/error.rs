//! Server errors. [`StoreError`] is what persistence reports; each variant
//! that a peer can cause maps to a version-3 reason code, everything else is
//! `INTERNAL` and its detail stays in the log.

use protocol::ErrorReason;
use thiserror::Error;

use crate::fault::{self, Fault};

/// Failures of the store and blob folder.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The name is taken (ignoring ASCII case).
    #[error("name is taken")]
    NameTaken,
    /// The name is confusable with this registered one (UTS #39).
    #[error("the name looks like {0:?}, which is taken (Unicode confusables)")]
    NameConfusable(String),
    /// No client has this id.
    #[error("unknown client")]
    UnknownClient,
    /// The recipient has too many waiting messages.
    #[error("recipient's inbox holds the maximum of {0} messages")]
    InboxFull(u64),
    /// The recipient has too many waiting bytes.
    #[error("recipient's inbox holds the maximum of {}", startup::size::human(*.0))]
    InboxBytesFull(u64),
    /// The sender has the most bytes waiting that one sender may have.
    #[error("you have the maximum of {} waiting for recipients", startup::size::human(*.0))]
    SenderBytesFull(u64),
    /// The server's storage limit is reached.
    #[error("server storage limit of {} reached", startup::size::human(*.0))]
    StorageFull(u64),
    /// No unfinished upload of the caller has this id.
    #[error("no such upload")]
    UnknownUpload,
    /// Too many unfinished uploads.
    #[error("at most {0} unfinished uploads per client")]
    TooManyUploads(u32),
    /// No such room, or the caller is not a member.
    #[error("no such room")]
    UnknownRoom,
    /// The room id is taken.
    #[error("the room id is taken")]
    RoomExists,
    /// Another public or hidden room has this name.
    #[error("a room one may join has this name, or one that looks the same")]
    RoomNameTaken,
    /// The message is not for the room's current epoch.
    #[error("the room is at epoch {0}")]
    StaleEpoch(u64),
    /// The commit or message breaks the room's rules.
    #[error("refused: {0}")]
    RoomRefused(String),
    /// A leaf's credential does not match its client's registration.
    #[error("{0}")]
    RoomIdentity(String),
    /// The join needs the room's password, not proven on this connection.
    #[error("this room needs its password: prove it (148, 149) before joining")]
    WrongPassword,
    /// The room would have too many members.
    #[error("a room has at most {0} members")]
    RoomFull(usize),
    /// The room's log is full.
    #[error("a room's log holds at most {0} entries")]
    RoomLogFull(u64),
    /// A key package does not verify or is not the caller's.
    #[error("a key package does not verify or is not yours")]
    BadKeyPackage,
    /// The caller stores the most one-time key packages.
    #[error("you already store the most one-time key packages ({0})")]
    KeyPackagesFull(u32),

    #[error("you already hold the most room files ({0}); release one")]
    TooManyHolds(u32),

    #[error("no room entry {0} for you (deleted, or never yours)")]
    NoRoomEntry(u64),

    #[error("room entry {0} names no file")]
    NoRoomFile(u64),
    /// The store is shutting down.
    #[error("the store is closed")]
    Closed,
    /// SQLite failed.
    #[error("database: {0}")]
    Sqlite(rusqlite::Error),
    /// The file system failed.
    #[error("file system: {0}")]
    Io(std::io::Error),
    /// A message's file body is not in the files folder.
    #[error("the file body {0} is missing from the files folder")]
    BodyMissing(String),
    /// A stored value is not what the schema promises.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The data folder's disk is down to its free-space reserve.
    #[error(
        "the server's disk is full ({} free, {} kept in reserve)",
        startup::size::human(*.free), startup::size::human(*.reserve)
    )]
    DiskFull {
        /// Bytes free.
        free: u64,
        /// Bytes kept for deletes.
        reserve: u64,
    },
    /// A commit failed because of a storage fault; nothing of it was stored.
    #[error("commit refused ({0:?}): {1}")]
    Fault(Fault, String),
    /// The database refused a commit for a reason it did not name.
    #[error("the database refused the commit: {0}")]
    CommitRefused(String),
    /// PostgreSQL failed (the PostgreSQL engine).
    #[error("postgresql: {0}")]
    Postgres(tokio_postgres::Error),
    /// The PostgreSQL database cannot be reached (no connection within the
    /// pool's wait); the node keeps running and serves again when it returns.
    #[error("the database is unreachable: {0}")]
    DatabaseUnavailable(String),
    /// The request needs a part of the store only the SQLite engine has
    /// (its writer thread or read pool).
    #[error("this is served only by a SQLite-backed server, not a PostgreSQL-backed one")]
    NotOnPostgres,
    /// A node of a cluster holds another `server.key` than the one the
    /// cluster's database recorded (fingerprints of both).
    #[error(
        "this node's server.key (fingerprint {ours}) is not the cluster's \
         (fingerprint {cluster}, recorded in the database by its first node): \
         copy server.key from a node of the cluster into this node's data folder \
         (owner-only) and start it again"
    )]
    NotTheClustersKey {
        /// This node's fingerprint.
        ours: String,
        /// The cluster's.
        cluster: String,
    },
    /// A node of a cluster keeps file bodies elsewhere than the cluster's
    /// database recorded.
    #[error(
        "this node would keep file bodies {ours} but the cluster keeps them {cluster} \
         (recorded in the database by its first node): {remedy}"
    )]
    NotTheClustersBodies {
        /// Where this node would keep them, in words.
        ours: &'static str,
        /// Where the cluster does.
        cluster: &'static str,
        /// How to start the node the cluster's way.
        remedy: &'static str,
    },
    /// Writes stopped after the database failed to make a commit durable.
    #[error("writes are stopped since the database failed to sync; restart the server")]
    WritesStopped,
}

impl StoreError {
    /// The reason a version-3 client is told.
    pub fn reason(&self) -> ErrorReason {
        match self {
            Self::NameTaken | Self::NameConfusable(_) => ErrorReason::NameTaken,
            Self::UnknownClient => ErrorReason::UnknownClient,
            Self::InboxFull(_) => ErrorReason::InboxFull,
            Self::InboxBytesFull(_) => ErrorReason::InboxBytesFull,
            Self::SenderBytesFull(_) => ErrorReason::SenderBytesFull,
            Self::StorageFull(_) => ErrorReason::StorageFull,
            Self::UnknownUpload => ErrorReason::UnknownUpload,
            Self::TooManyUploads(_) => ErrorReason::TooManyUploads,
            Self::UnknownRoom => ErrorReason::UnknownRoom,
            Self::RoomExists | Self::RoomNameTaken => ErrorReason::RoomExists,
            Self::StaleEpoch(_) => ErrorReason::StaleEpoch,
            Self::RoomRefused(_) => ErrorReason::RoomRefused,
            Self::RoomIdentity(_) => ErrorReason::RoomIdentity,
            Self::RoomFull(_) => ErrorReason::RoomFull,
            Self::WrongPassword => ErrorReason::WrongPassword,
            Self::RoomLogFull(_) => ErrorReason::RoomLogFull,
            Self::BadKeyPackage => ErrorReason::BadKeyPackage,
            Self::KeyPackagesFull(_) => ErrorReason::KeyPackagesFull,
            Self::TooManyHolds(_) => ErrorReason::TooManyHolds,
            Self::NoRoomEntry(_) => ErrorReason::UnknownMessage,
            Self::NoRoomFile(_) => ErrorReason::BadMessageType,
            Self::Closed => ErrorReason::ShuttingDown,
            Self::DiskFull { .. } => ErrorReason::StorageFull,
            Self::CommitRefused(_) | Self::Postgres(_) | Self::DatabaseUnavailable(_) => {
                ErrorReason::StorageFailed
            }
            // Said at start only: such a node never serves.
            Self::NotOnPostgres
            | Self::NotTheClustersKey { .. }
            | Self::NotTheClustersBodies { .. } => ErrorReason::Internal,
            Self::Sqlite(_)
            | Self::Io(_)
            | Self::BodyMissing(_)
            | Self::Corrupt(_)
            | Self::Fault(..)
            | Self::WritesStopped => self.fault().map_or(ErrorReason::Internal, |f| f.reason()),
        }
    }

    /// The storage fault behind this error, if it is one the server can name.
    pub fn fault(&self) -> Option<Fault> {
        match self {
            Self::Io(e) => fault::classify_io(e),
            Self::Sqlite(e) => fault::classify_sqlite(e),
            Self::Fault(f, _) => Some(*f),
            Self::WritesStopped => Some(Fault::SyncFailed),
            Self::BodyMissing(_) => Some(Fault::BodyMissing),
            _ => None,
        }
    }

    /// Logs a failure inside the server: a named fault once until storage
    /// works again, anything else every time. Refusals the peer caused, and
    /// the reserve (logged by the headroom when it is reached), are not.
    pub fn log(&self) {
        if let Some(f) = self.fault() {
            fault::report(f, self);
        } else if !self.is_peer_fault() && !matches!(self, Self::DiskFull { .. }) {
            tracing::error!(error = %self, "request failed inside the server");
        }
    }

    /// Whether the peer caused it (and it is not worth a warning in the log).
    pub fn is_peer_fault(&self) -> bool {
        !matches!(
            self,
            Self::Sqlite(_)
                | Self::Io(_)
                | Self::BodyMissing(_)
                | Self::Corrupt(_)
                | Self::Closed
                | Self::DiskFull { .. }
                | Self::Fault(..)
                | Self::CommitRefused(_)
                | Self::WritesStopped
                | Self::Postgres(_)
                | Self::DatabaseUnavailable(_)
                | Self::NotOnPostgres
        )
    }

    /// Text safe to send to the peer: internal details are not.
    pub fn public_text(&self) -> String {
        if self.is_peer_fault() {
            self.to_string()
        } else if matches!(self, Self::Closed) {
            "the server is shutting down".into()
        } else if matches!(self, Self::DiskFull { .. }) {
            "the server's disk is full; try again after recipients have read their messages".into()
        } else if let Some(f) = self.fault() {
            f.public_text().into()
        } else if matches!(self, Self::NotOnPostgres) {
            self.to_string()
        } else if matches!(self, Self::Postgres(_) | Self::DatabaseUnavailable(_)) {
            "the server's database failed or is unreachable; nothing was stored, try again later"
                .into()
        } else if matches!(self, Self::CommitRefused(_)) {
            "the server's database refused the write; nothing was stored, try again later".into()
        } else {
            "internal server error".into()
        }
    }
}

// By hand rather than `#[from]`, which also makes the inner error the
// `source()`: the message above already shows it, and a cause chain
// (`{:#}`, what the binaries print) would say it twice ("Permission
// denied (os error 13): Permission denied (os error 13)").
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Postgres(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_chain_says_the_os_error_once() {
        // Regression: "file system: Permission denied (os error 13):
        // Permission denied (os error 13)".
        let e = anyhow::Error::new(StoreError::from(std::io::Error::from_raw_os_error(13)));
        let shown = format!("{e:#}");
        assert_eq!(shown.matches("os error 13").count(), 1, "{shown}");
    }
}
