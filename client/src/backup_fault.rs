//! What is wrong with a file given to `import`: [`BackupFault`], said of
//! the file and never of the home's key store.
//!
//! A leaf, so that the key store's error can carry it through the store
//! without the store importing the backup format (`crate::backup_stream`),
//! which imports the store (and turns a fault into the store's error).

/// What is wrong with a file given to `import`: the file's fault, never
/// the home's (see [`crate::ClientError::BadBackup`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackupFault {
    /// It does not start as a backup does.
    #[error("is not a Sealpost backup")]
    NotABackup,
    /// It ends before its header or a chunk does: an incomplete copy.
    #[error(
        "is cut short: the backup is incomplete (a copy or transfer that stopped early?); import a whole copy of it"
    )]
    CutShort,
    /// A chunk after the first fails its check (the passphrase, which
    /// opened the first, is right).
    #[error(
        "is damaged: part of the backup fails its integrity check; import an intact copy of it"
    )]
    Damaged,
    /// Written by a newer client, with tables this one does not know.
    #[error("comes from a newer client: update this one to import it")]
    TooNew,
    /// Its contents open but are not what a client writes.
    #[error("is not a backup this client can read: {0}")]
    Unreadable(&'static str),
    /// Reading the file failed.
    #[error("cannot be read: {0}")]
    Read(String),
}

impl BackupFault {
    /// The fault an error of reading a backup carries (as
    /// `crate::backup_stream` makes them); any other failure to read is one
    /// of reading the file.
    pub(crate) fn of(e: std::io::Error) -> Self {
        match e.get_ref().and_then(|i| i.downcast_ref::<BackupFault>()) {
            Some(fault) => fault.clone(),
            None => BackupFault::Read(e.to_string()),
        }
    }
}
