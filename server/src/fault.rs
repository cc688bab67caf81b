//! Storage faults the server can name: a full disk, a failing disk, a
//! read-only file system, a database that could not make a commit durable.
//!
//! Each is recognised from the `io::Error` or SQLite error that carries it,
//! answered to clients with its own reason (never `INTERNAL`), and logged
//! once (with what it means and what to do) until storage works again,
//! instead of once per refused request.
//!
//! The failpoints used by the fault tests are also defined here: they exist
//! only when the `failpoints` feature is on (tests); otherwise `fail_point!`
//! compiles to nothing.
//!
//! A leaf of the crate, beside rather than inside `store`: the store, the blob
//! folder, [`crate::error`] and [`crate::headroom`] all name faults, and this
//! module names none of them. A reported fault is announced through
//! [`wait_for_fault`], which the free-space watcher listens to, instead of
//! this module calling the watcher.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use protocol::ErrorReason;
use rusqlite::ffi;

/// A storage condition the server can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The file system is full (ENOSPC, EDQUOT, SQLITE_FULL).
    NoSpace,
    /// The disk failed to read or write (EIO and other I/O errors).
    Io,
    /// The file system is read-only (EROFS, SQLITE_READONLY).
    ReadOnly,
    /// The database could not make a commit durable (fsync failed): what it
    /// holds on disk is uncertain, so the server takes no more writes.
    SyncFailed,
    /// A message's file body is not in the files folder (removed by hand,
    /// or the server runs on another files folder than its database's).
    BodyMissing,
    /// A file or folder of the server's cannot be used: any other error the
    /// OS names (permission denied, a path that is not a folder, a folder
    /// that is gone), typically after a change made by hand.
    Unusable,
}

impl Fault {
    /// The reason a version-3 client is told.
    pub fn reason(self) -> ErrorReason {
        match self {
            Self::NoSpace => ErrorReason::StorageFull,
            Self::Io | Self::SyncFailed | Self::BodyMissing | Self::Unusable => {
                ErrorReason::StorageFailed
            }
            Self::ReadOnly => ErrorReason::StorageReadOnly,
        }
    }

    /// Text for the client.
    pub fn public_text(self) -> &'static str {
        match self {
            Self::NoSpace => "the server's disk is full; nothing was stored, try again later",
            Self::Io => "the server's disk failed; nothing was stored, try again later",
            Self::ReadOnly => "the server's storage is read-only; nothing was stored",
            Self::SyncFailed => {
                "the server stopped taking messages after a disk failure; ask its operator"
            }
            Self::BodyMissing => {
                "the file's body is missing from the server's files folder; ask its operator"
            }
            Self::Unusable => {
                "the server cannot use its storage (a file or folder it keeps is out of its \
                 reach); nothing was stored, ask its operator"
            }
        }
    }

    /// One line for the operator: what it means and what to do.
    pub fn advice(self) -> &'static str {
        match self {
            Self::NoSpace => {
                "the data folder's or the files folder's file system is full: new messages and \
                 uploads are refused (STORAGE_FULL) until space is freed; reads and \
                 acknowledgements go on. \
                 Free disk space or grow the file system; writes resume by themselves"
            }
            Self::Io => {
                "the disk under the data folder reported an I/O error: the write was refused \
                 (STORAGE_FAILED) and nothing of it was reported stored. Check the disk \
                 (dmesg, smartctl); writes are tried again on the next request"
            }
            Self::ReadOnly => {
                "the data folder's file system is read-only (remounted after errors?): writes \
                 are refused (STORAGE_READ_ONLY); reads and pulls go on. Check the disk, \
                 remount it read-write; writes resume by themselves"
            }
            Self::SyncFailed => {
                "the database could not make a commit durable (fsync failed): the commit was \
                 refused and, since what is on disk is now uncertain, the server takes no more \
                 writes (STORAGE_FAILED); reads go on. Check the disk (dmesg), then restart \
                 the server"
            }
            Self::BodyMissing => {
                "a message's file body is missing from the files folder (removed by hand, \
                 or the server runs on another --files-dir than its database was used with): \
                 its download is refused (STORAGE_FAILED). Put the files folder back, or \
                 start the server with the --files-dir its database was used with"
            }
            Self::Unusable => {
                "a file or folder in the data or files folder cannot be used (permission \
                 denied, not a folder, or gone; changed by hand?): the request was refused \
                 (STORAGE_FAILED). Give the folders back to the server's user as they were \
                 (owner-only, files/uploads and files/tmp folders); it is tried again on the \
                 next request"
            }
        }
    }

    fn index(self) -> usize {
        match self {
            Self::NoSpace => 0,
            Self::Io => 1,
            Self::ReadOnly => 2,
            Self::SyncFailed => 3,
            Self::BodyMissing => 4,
            Self::Unusable => 5,
        }
    }
}

/// The fault an I/O error stands for, if it is one the server can name.
pub fn classify_io(e: &io::Error) -> Option<Fault> {
    // Raw codes rather than `ErrorKind`: `StorageFull` and `ReadOnlyFilesystem`
    // are stable, but EIO and EDQUOT have no kind of their own.
    match e.raw_os_error()? {
        code if code == rustix::io::Errno::NOSPC.raw_os_error() => Some(Fault::NoSpace),
        code if code == rustix::io::Errno::DQUOT.raw_os_error() => Some(Fault::NoSpace),
        code if code == rustix::io::Errno::ROFS.raw_os_error() => Some(Fault::ReadOnly),
        code if code == rustix::io::Errno::IO.raw_os_error() => Some(Fault::Io),
        // Whatever else the OS says about the server's own files is still
        // a storage fault the operator must hear of, not an INTERNAL.
        _ => Some(Fault::Unusable),
    }
}

/// The fault a SQLite error stands for, if it is one the server can name.
pub fn classify_sqlite(e: &rusqlite::Error) -> Option<Fault> {
    let rusqlite::Error::SqliteFailure(f, _) = e else {
        return None;
    };
    match f.code {
        ffi::ErrorCode::DiskFull => Some(Fault::NoSpace),
        ffi::ErrorCode::ReadOnly => Some(Fault::ReadOnly),
        ffi::ErrorCode::SystemIoFailure => Some(match f.extended_code {
            ffi::SQLITE_IOERR_FSYNC | ffi::SQLITE_IOERR_DIR_FSYNC => Fault::SyncFailed,
            _ => Fault::Io,
        }),
        _ => None,
    }
}

/// Which faults have been logged since storage last worked.
static REPORTED: [AtomicBool; 6] = [const { AtomicBool::new(false) }; 6];

/// Storage faults reported so far; each wakes every waiter of
/// [`wait_for_fault`] (a fault is often the first sign the disk filled).
static FAULTS: Mutex<u64> = Mutex::new(0);
static FAULT_SEEN: Condvar = Condvar::new();

fn faults() -> MutexGuard<'static, u64> {
    FAULTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits until a fault is reported or `timeout` passes, whichever is first.
pub fn wait_for_fault(timeout: Duration) {
    let faults = faults();
    let seen = *faults;
    let _ = FAULT_SEEN
        .wait_timeout_while(faults, timeout, |n| *n == seen)
        .unwrap_or_else(|e| e.into_inner());
}

/// Logs a fault: in full the first time, at debug level after that, until
/// [`recovered`] says storage works again.
pub fn report(fault: Fault, detail: &dyn std::fmt::Display) {
    *faults() += 1;
    FAULT_SEEN.notify_all();
    if !REPORTED[fault.index()].swap(true, Ordering::Relaxed) {
        tracing::error!(error = %detail, "storage fault: {}", fault.advice());
    } else {
        tracing::debug!(error = %detail, ?fault, "storage fault again");
    }
}

/// Says once that storage works again after faults were reported (a write
/// was committed); later faults are logged in full again.
pub fn recovered() {
    // Called after every commit: a load first keeps the common case to reads.
    if !REPORTED.iter().any(|f| f.load(Ordering::Relaxed)) {
        return;
    }
    let mut any = false;
    for flag in &REPORTED {
        any |= flag.swap(false, Ordering::Relaxed);
    }
    if any {
        tracing::info!("storage works again: writes are accepted");
    }
}

/// A failpoint that turns an I/O call into the error it names: `enospc`,
/// `eio` or `erofs` (tests only; see the module docs).
#[cfg_attr(not(feature = "failpoints"), allow(dead_code))]
pub(crate) fn injected(name: &str) -> Option<Fault> {
    match name {
        "enospc" => Some(Fault::NoSpace),
        "eio" => Some(Fault::Io),
        "erofs" => Some(Fault::ReadOnly),
        "fsync" => Some(Fault::SyncFailed),
        _ => None,
    }
}

/// The `io::Error` the OS would have returned for `fault`.
#[cfg_attr(not(feature = "failpoints"), allow(dead_code))]
pub(crate) fn io_error(fault: Fault) -> io::Error {
    let errno = match fault {
        Fault::NoSpace => rustix::io::Errno::NOSPC,
        Fault::ReadOnly => rustix::io::Errno::ROFS,
        Fault::Io | Fault::SyncFailed => rustix::io::Errno::IO,
        Fault::BodyMissing => rustix::io::Errno::NOENT,
        Fault::Unusable => rustix::io::Errno::ACCESS,
    };
    io::Error::from_raw_os_error(errno.raw_os_error())
}

/// The SQLite error the database would have returned for `fault`.
#[cfg_attr(not(feature = "failpoints"), allow(dead_code))]
pub(crate) fn sqlite_error(fault: Fault) -> rusqlite::Error {
    let code = match fault {
        Fault::NoSpace => ffi::SQLITE_FULL,
        Fault::ReadOnly => ffi::SQLITE_READONLY,
        Fault::Io => ffi::SQLITE_IOERR_WRITE,
        Fault::SyncFailed => ffi::SQLITE_IOERR_FSYNC,
        Fault::BodyMissing | Fault::Unusable => ffi::SQLITE_CANTOPEN,
    };
    rusqlite::Error::SqliteFailure(ffi::Error::new(code), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_and_sqlite_errors_are_named() {
        for fault in [Fault::NoSpace, Fault::Io, Fault::ReadOnly] {
            assert_eq!(classify_io(&io_error(fault)), Some(fault));
        }
        for fault in [
            Fault::NoSpace,
            Fault::Io,
            Fault::ReadOnly,
            Fault::SyncFailed,
        ] {
            assert_eq!(classify_sqlite(&sqlite_error(fault)), Some(fault));
        }
        assert_eq!(classify_io(&io::Error::other("x")), None);
        assert_eq!(classify_io(&io::Error::from(io::ErrorKind::NotFound)), None);
        // Regression (D4): permission denied and the like were INTERNAL.
        for errno in [rustix::io::Errno::ACCESS, rustix::io::Errno::NOTDIR] {
            let e = io::Error::from_raw_os_error(errno.raw_os_error());
            assert_eq!(classify_io(&e), Some(Fault::Unusable));
        }
    }

    #[test]
    fn no_fault_is_answered_as_internal() {
        for fault in [
            Fault::NoSpace,
            Fault::Io,
            Fault::ReadOnly,
            Fault::SyncFailed,
            Fault::BodyMissing,
            Fault::Unusable,
        ] {
            assert_ne!(fault.reason(), ErrorReason::Internal);
        }
    }
}
