//! File transfers in constant memory: [`upload`] sends a file,
//! [`download`] receives one; both are `impl Client` blocks.
//!
//! Here is only what the two directions share: how many pieces are in
//! flight, how often a transfer goes on after a lost connection, and the
//! small helpers both use, and the stop for the downloads the client
//! starts by itself ([`Client::cancel_downloads`]). Left out: the disk (the download's writer thread
//! and owner-only files are in [`crate::disk`]) and the bookkeeping that
//! lets a transfer resume (the key store, [`crate::partial`],
//! [`crate::upload_prefix`]).

use std::path::Path;

use tokio_util::sync::CancellationToken;

use crate::client::{Client, ClientError};
use crate::crypto::FileSecret;

pub(crate) mod download;
pub(crate) mod upload;

pub use crate::disk::write_file;

/// Chunks (uploads) or ranges (downloads) in flight at once.
const WINDOW: usize = 4;
/// Attempts to continue a transfer after lost connections: waiting 0.4,
/// 0.8, 1.6 s, then 3.2 s each, about 16 s in all, so that a server's
/// routine restart does not stop a transfer.
const ATTEMPTS: u32 = 8;

fn copy_secret(s: &FileSecret) -> FileSecret {
    FileSecret::from_parts(s.key(), s.nonce_prefix())
}

pub(crate) fn file_error(path: &Path, source: std::io::Error) -> ClientError {
    ClientError::File {
        path: crate::display::escape_path(path),
        source,
    }
}

/// Refuses, before anything is sent, a file larger than the server takes:
/// its limit counts sealed bytes, and the user is told in the file's own
/// size, and the largest file that fits.
pub(crate) fn within_server_limit(
    conn: &crate::connection::Connection,
    path: &Path,
    size: u64,
) -> Result<(), ClientError> {
    use crate::crypto::ciphertext_len;
    let max = conn.limits().max_file_size;
    if ciphertext_len(size) <= max {
        return Ok(());
    }
    // The sealed length grows with the file: the largest file that fits.
    let (mut fits, mut over) = (0u64, size);
    while over - fits > 1 {
        let mid = fits + (over - fits) / 2;
        if ciphertext_len(mid) <= max {
            fits = mid;
        } else {
            over = mid;
        }
    }
    let why = format!(
        "it is {}, and this server takes files of at most {}",
        crate::output::size(size),
        crate::output::size(fits)
    );
    Err(file_error(
        path,
        std::io::Error::new(std::io::ErrorKind::FileTooLarge, why),
    ))
}

/// The file at `path` as a sender names it: refused, by the path as typed,
/// when it is missing or not a regular file (a folder, a pipe, a process
/// substitution's `/dev/fd/N`, whose canonical form names no file), then
/// made absolute for the records that resume it. Blocking.
pub(crate) fn regular_file(path: &Path) -> Result<std::path::PathBuf, ClientError> {
    let meta = std::fs::metadata(path).map_err(|e| file_error(path, e))?;
    if !meta.is_file() {
        return Err(file_error(
            path,
            std::io::Error::other("not a regular file"),
        ));
    }
    std::fs::canonicalize(path).map_err(|e| file_error(path, e))
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ClientError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ClientError::Io(std::io::Error::other(e.to_string())))
}

impl Client {
    /// Stops the downloads the client is running by itself now: a file
    /// received while watching or reading the inbox, a room file. Later
    /// ones start as usual. A file from a person stopped so is held as an
    /// offer ([`crate::keystore::HoldReason::Cancelled`]) with what arrived
    /// kept in its part file: accepting it resumes from there, declining
    /// it deletes the part. A room file stopped so is passed over and its
    /// part deleted (the room's log moves on; the event says so).
    pub fn cancel_downloads(&self) {
        let mut token = self
            .inner
            .downloads_cancel
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        token.cancel();
        *token = CancellationToken::new();
    }

    /// What stops an automatic download begun now.
    pub(crate) fn download_token(&self) -> CancellationToken {
        self.inner
            .downloads_cancel
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .child_token()
    }
}
