//! What the file transfer tests share: a progress recorder, a progress that
//! cancels, a hash, and the names in a folder.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use client::Progress;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

/// Cancels `token` once `after` bytes went through.
pub struct CancelAfter {
    /// Bytes to let through first.
    pub after: u64,
    /// Bytes seen so far.
    pub seen: AtomicU64,
    /// What it cancels.
    pub token: CancellationToken,
}

impl CancelAfter {
    /// Cancels `token` after `after` bytes.
    pub fn new(after: u64, token: CancellationToken) -> Self {
        Self {
            after,
            seen: AtomicU64::new(0),
            token,
        }
    }
}

impl Progress for CancelAfter {
    fn start(&self, _: &str, _: u64, _: u64) {}
    fn advance(&self, n: u64) {
        if self.seen.fetch_add(n, Ordering::SeqCst) + n >= self.after {
            self.token.cancel();
        }
    }
    fn finish(&self) {}
}

/// Records where transfers start and how many bytes go through.
#[derive(Default)]
pub struct Recorder {
    /// `(total, already done)` of each transfer started.
    pub starts: Mutex<Vec<(u64, u64)>>,
    /// Bytes moved.
    pub moved: AtomicU64,
}

impl Progress for Recorder {
    fn start(&self, _: &str, total: u64, done: u64) {
        self.starts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((total, done));
    }
    fn advance(&self, n: u64) {
        self.moved.fetch_add(n, Ordering::SeqCst);
    }
    fn finish(&self) {}
}

/// SHA-256 of `data`.
pub fn sha(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

/// Every name in `dir`, sorted (none if it does not exist).
pub fn names_in(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
