//! Server errors. [`StoreError`] is what persistence reports; each variant
//! that a peer can cause maps to a version-3 reason code, everything else is
//! `INTERNAL` and its detail stays in the log.

use protocol::ErrorReason;
use thiserror::Error;

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
    #[error("recipient's inbox holds the maximum of {0} bytes")]
    InboxBytesFull(u64),
    /// The sender has the most bytes waiting that one sender may have.
    #[error("you have the maximum of {0} bytes waiting for recipients")]
    SenderBytesFull(u64),
    /// The server's storage limit is reached.
    #[error("server storage limit of {0} bytes reached")]
    StorageFull(u64),
    /// No unfinished upload of the caller has this id.
    #[error("no such upload")]
    UnknownUpload,
    /// Too many unfinished uploads.
    #[error("at most {0} unfinished uploads per client")]
    TooManyUploads(u32),
    /// The store is shutting down.
    #[error("the store is closed")]
    Closed,
    /// SQLite failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file system failed.
    #[error("file system: {0}")]
    Io(#[from] std::io::Error),
    /// A stored value is not what the schema promises.
    #[error("corrupt store: {0}")]
    Corrupt(String),
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
            Self::Closed => ErrorReason::ShuttingDown,
            Self::Sqlite(_) | Self::Io(_) | Self::Corrupt(_) => ErrorReason::Internal,
        }
    }

    /// Whether the peer caused it (and it is not worth a warning in the log).
    pub fn is_peer_fault(&self) -> bool {
        !matches!(
            self,
            Self::Sqlite(_) | Self::Io(_) | Self::Corrupt(_) | Self::Closed
        )
    }

    /// Text safe to send to the peer: internal details are not.
    pub fn public_text(&self) -> String {
        if self.is_peer_fault() {
            self.to_string()
        } else if matches!(self, Self::Closed) {
            "the server is shutting down".into()
        } else {
            "internal server error".into()
        }
    }
}
