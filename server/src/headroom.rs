//! The free-space reserve: new messages and uploads are refused before the
//! disk the server writes to is full (the data folder's, and `--files-dir`'s
//! when file bodies live in a folder elsewhere: the fuller one counts), so
//! that what frees space always works.
//!
//! An acknowledgement is a delete, and a delete needs room in the database's
//! write-ahead log; a server whose disk filled up with messages could then
//! never be drained. So the server keeps `--min-free-space` (by default 1% of
//! the file system, at most 256 MB) for deletes, cancels and its own
//! bookkeeping, and answers sends and upload chunks that would eat into it
//! with `STORAGE_FULL`. When space comes back (recipients read their
//! messages, the operator frees disk) writes resume by themselves.
//!
//! Free space is not asked of the OS per request: a background thread
//! measures it every [`RECHECK`] (and at once after a storage fault, which
//! `crate::fault` announces), and each admitted write subtracts its size from
//! the cached figure, so a burst between two measurements cannot overshoot
//! the reserve.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::error::StoreError;
use crate::fault;

/// How often free space is measured.
pub const RECHECK: Duration = Duration::from_secs(1);
/// Largest default reserve.
pub const MAX_DEFAULT_RESERVE: u64 = 256_000_000;

/// Why the reserve cannot be kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HeadroomError {
    /// `--min-free-space` is as large as the disk: every write refused.
    #[error(
        "--min-free-space {} is not less than the whole file system ({}): every message and \
         file would be refused",
        startup::size::human(*.reserve), startup::size::human(*.disk)
    )]
    ReserveOverDisk {
        /// The reserve asked for.
        reserve: u64,
        /// The smallest file system's size.
        disk: u64,
    },
    /// A file system cannot be measured (or the measuring thread started).
    #[error("measuring free space: {0}")]
    Measure(std::io::Error),
}

/// Free space on the file systems the server writes to (the least free of
/// them), and the reserve kept on each.
#[derive(Clone)]
pub struct Headroom {
    state: Arc<State>,
}

struct State {
    /// The folders whose file systems are measured.
    dirs: Vec<PathBuf>,
    /// Which of them had the least free space at the last measurement.
    fullest: AtomicUsize,
    reserve: u64,
    /// Bytes available to the server, as last measured minus what was
    /// admitted since.
    free: AtomicU64,
    /// Whether writes are being refused (logged on each change).
    low: AtomicBool,
    /// The smallest write refused since `low` was set: writes count as
    /// resumed once it would fit.
    wanted: AtomicU64,
}

/// (available bytes, total bytes) of the file system holding `dir`.
fn measure(dir: &Path) -> std::io::Result<(u64, u64)> {
    fail::fail_point!("headroom-free", |free| {
        // Tests pretend a file system with this many bytes free.
        let free = free.and_then(|f| f.parse().ok()).unwrap_or(0);
        Ok((free, 1 << 40))
    });
    let s = rustix::fs::statvfs(dir)?;
    Ok((
        s.f_bavail.saturating_mul(s.f_frsize),
        s.f_blocks.saturating_mul(s.f_frsize),
    ))
}

/// The file systems holding `dirs`: the least free one's available bytes
/// and the index in `dirs` of the folder on it, and the smallest one's
/// total bytes.
fn measure_fullest(dirs: &[PathBuf]) -> std::io::Result<(u64, usize, u64)> {
    let (mut free, mut fullest, mut smallest) = (u64::MAX, 0, u64::MAX);
    for (i, dir) in dirs.iter().enumerate() {
        let (available, total) = measure(dir)?;
        if available < free {
            (free, fullest) = (available, i);
        }
        smallest = smallest.min(total);
    }
    Ok((free, fullest, smallest))
}

impl Headroom {
    /// Measures the file systems of `dirs` and starts re-measuring them in
    /// the background (until the last handle is dropped). `min_free` None
    /// means the default: 1% of the smallest of them, at most
    /// [`MAX_DEFAULT_RESERVE`].
    ///
    /// # Errors
    /// [`HeadroomError::ReserveOverDisk`] if `min_free` is at least the
    /// smallest file system's size (every write would be refused); a file
    /// system cannot be measured.
    pub fn start(dirs: &[PathBuf], min_free: Option<u64>) -> Result<Headroom, HeadroomError> {
        let (free, fullest, smallest) = measure_fullest(dirs).map_err(HeadroomError::Measure)?;
        if let Some(reserve) = min_free.filter(|&r| r >= smallest) {
            return Err(HeadroomError::ReserveOverDisk {
                reserve,
                disk: smallest,
            });
        }
        let reserve = min_free.unwrap_or((smallest / 100).min(MAX_DEFAULT_RESERVE));
        let state = Arc::new(State {
            dirs: dirs.to_vec(),
            fullest: AtomicUsize::new(fullest),
            reserve,
            free: AtomicU64::new(free),
            low: AtomicBool::new(false),
            wanted: AtomicU64::new(0),
        });
        let weak = Arc::downgrade(&state);
        std::thread::Builder::new()
            .name("headroom".into())
            .spawn(move || watch(weak))
            .map_err(HeadroomError::Measure)?;
        let headroom = Headroom { state };
        headroom.state.update(free);
        Ok(headroom)
    }

    /// The reserve in bytes.
    pub fn reserve(&self) -> u64 {
        self.state.reserve
    }

    /// Free bytes on the fullest file system written to, as last measured.
    pub fn free(&self) -> u64 {
        self.state.free.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Admits a write of `bytes`, or refuses it with [`StoreError::DiskFull`]
    /// if it would leave less than the reserve free.
    ///
    /// # Errors
    /// See above.
    pub fn admit(&self, bytes: u64) -> Result<(), StoreError> {
        let state = &self.state;
        let admitted = state
            .free
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |free| {
                (free >= state.reserve.saturating_add(bytes)).then(|| free - bytes)
            });
        match admitted {
            Ok(_) => Ok(()),
            Err(free) => {
                state.refused(bytes, free);
                Err(StoreError::DiskFull {
                    free,
                    reserve: state.reserve,
                })
            }
        }
    }

    /// Whether a write of `bytes` would fit above the reserve now (without
    /// counting it: an upload's chunks are admitted as they come).
    ///
    /// # Errors
    /// [`StoreError::DiskFull`] if it would not.
    pub fn check(&self, bytes: u64) -> Result<(), StoreError> {
        let state = &self.state;
        let free = state.free.load(Ordering::Acquire);
        if free >= state.reserve.saturating_add(bytes) {
            return Ok(());
        }
        state.refused(bytes, free);
        Err(StoreError::DiskFull {
            free,
            reserve: state.reserve,
        })
    }
}

impl State {
    fn update(&self, free: u64) {
        self.free.store(free, Ordering::Release);
        let wanted = self.wanted.load(Ordering::Acquire);
        if self.low.load(Ordering::Acquire) && free >= self.reserve.saturating_add(wanted) {
            self.low.store(false, Ordering::Release);
            tracing::info!(
                free,
                reserve = self.reserve,
                "free disk space is back: new messages and uploads are accepted again"
            );
        }
    }

    /// The folder on the file system with the least free space.
    fn fullest_dir(&self) -> &Path {
        let i = self.fullest.load(Ordering::Relaxed);
        self.dirs
            .get(i)
            .or(self.dirs.first())
            .map_or(Path::new("."), |d| d)
    }

    fn refused(&self, bytes: u64, free: u64) {
        if self.low.swap(true, Ordering::AcqRel) {
            self.wanted.fetch_min(bytes, Ordering::AcqRel);
            return;
        }
        self.wanted.store(bytes, Ordering::Release);
        tracing::error!(
            free,
            reserve = self.reserve,
            refused = bytes,
            dir = %self.fullest_dir().display(),
            "the server's disk is nearly full: new messages and uploads that would eat into \
             the free-space reserve are refused (STORAGE_FULL); reads, acknowledgements and \
             cancels go on. Free disk space or wait for recipients to read their messages; \
             writes resume by themselves"
        );
    }
}

/// Re-measures every [`RECHECK`] or after a storage fault, until the
/// headroom is dropped.
fn watch(state: Weak<State>) {
    loop {
        let Some(s) = state.upgrade() else { return };
        match measure_fullest(&s.dirs) {
            Ok((free, fullest, _)) => {
                s.fullest.store(fullest, Ordering::Relaxed);
                s.update(free);
            }
            Err(e) => tracing::warn!(error = %e, "cannot measure free disk space"),
        }
        drop(s);
        fault::wait_for_fault(RECHECK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_reserve_is_one_percent_at_most_256_mib() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = [dir.path().to_path_buf()];
        let h = Headroom::start(&dirs, None).unwrap();
        let (_, total) = measure(dir.path()).unwrap();
        assert_eq!(h.reserve(), (total / 100).min(MAX_DEFAULT_RESERVE));
        let h = Headroom::start(&dirs, Some(1234)).unwrap();
        assert_eq!(h.reserve(), 1234);
    }

    #[test]
    fn a_reserve_as_large_as_the_disk_is_refused_in_human_units() {
        let dir = tempfile::tempdir().unwrap();
        let (_, total) = measure(dir.path()).unwrap();
        let err = Headroom::start(&[dir.path().to_path_buf()], Some(total))
            .err()
            .unwrap();
        assert!(
            matches!(err, HeadroomError::ReserveOverDisk { .. }),
            "{err}"
        );
        assert!(err.to_string().starts_with("--min-free-space "), "{err}");
        assert!(
            err.to_string().contains(&startup::size::human(total)),
            "{err}"
        );
    }

    #[test]
    fn admitted_writes_count_against_the_reserve_until_measured_again() {
        let dir = tempfile::tempdir().unwrap();
        let h = Headroom::start(&[dir.path().to_path_buf()], Some(0)).unwrap();
        // Pretend 1000 bytes are free: a reserve of 100 admits 900.
        let h = Headroom {
            state: Arc::new(State {
                dirs: h.state.dirs.clone(),
                fullest: AtomicUsize::new(0),
                reserve: 100,
                free: AtomicU64::new(1000),
                low: AtomicBool::new(false),
                wanted: AtomicU64::new(0),
            }),
        };
        h.admit(500).unwrap();
        h.admit(400).unwrap();
        assert!(matches!(
            h.admit(1),
            Err(StoreError::DiskFull {
                free: 100,
                reserve: 100
            })
        ));
        h.state.update(5000);
        h.admit(1).unwrap();
    }
}
