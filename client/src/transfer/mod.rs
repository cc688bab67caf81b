//! File transfers in constant memory: [`upload`] sends a file,
//! [`download`] receives one; both are `impl Client` blocks.
//!
//! Here is only what the two directions share: how many pieces are in
//! flight, how often a transfer goes on after a lost connection, and the
//! small helpers both use. Left out: the disk (the download's writer thread
//! and owner-only files are in [`crate::disk`]) and the bookkeeping that
//! lets a transfer resume (the key store, [`crate::partial`],
//! [`crate::upload_prefix`]).

use std::path::Path;

use crate::client::ClientError;
use crate::crypto::FileSecret;

pub(crate) mod download;
pub(crate) mod upload;

pub use crate::disk::write_file;

/// Chunks (uploads) or ranges (downloads) in flight at once.
const WINDOW: usize = 4;
/// Attempts to continue a transfer after lost connections.
const ATTEMPTS: u32 = 6;

fn copy_secret(s: &FileSecret) -> FileSecret {
    FileSecret::from_parts(s.key(), s.nonce_prefix())
}

pub(crate) fn file_error(path: &Path, source: std::io::Error) -> ClientError {
    ClientError::File {
        path: crate::display::escape_path(path),
        source,
    }
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ClientError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ClientError::Io(std::io::Error::other(e.to_string())))
}
