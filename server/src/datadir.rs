//! The data folder: readable by its owner only, and used by one server at a
//! time.
//!
//! - Folders are 0700 and files 0600: the database and its `-wal` and `-shm`
//!   (SQLite gives those its database file's mode), the identity key, file
//!   bodies and part files. A folder left looser by an older version is
//!   tightened when the server opens it.
//! - A second server on the same folder would interleave two writers'
//!   commits and sweep away each other's files: [`DataDirLock`] holds an
//!   exclusive lock on `server.lock` for as long as the server runs, and the
//!   kernel drops it when the process ends, even after `kill -9`.
//!
//! Mode bits are a Unix notion; elsewhere only the lock applies.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Name of the lock file inside the data folder.
pub const LOCK_FILE: &str = "server.lock";
/// Mode of every folder the server makes.
pub const FOLDER_MODE: u32 = 0o700;
/// Mode of every file the server makes.
pub const FILE_MODE: u32 = 0o600;

/// Why the data folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// Another process holds the lock.
    #[error(
        "the data folder {0} is in use by another server (it holds {0}/server.lock); stop that one or choose another --data-dir"
    )]
    InUse(PathBuf),
    /// The file system failed.
    #[error("data folder {path}: {source}")]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The data folder's lock, held until dropped.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Creates the folder (0700) if needed, tightens what is in it, and
    /// takes its lock.
    ///
    /// # Errors
    /// [`DataDirError::InUse`] if another server holds the folder; the
    /// folder cannot be created or read.
    pub fn acquire(dir: &Path) -> Result<Self, DataDirError> {
        create_private_dir(dir).map_err(io_at(dir))?;
        let path = dir.join(LOCK_FILE);
        let file = private_file_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_at(&path))?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                return Err(DataDirError::InUse(dir.to_path_buf()));
            }
            Err(fs4::TryLockError::Error(e)) => return Err(io_at(&path)(e)),
        }
        // Only the holder tightens, so that a refused second server changes
        // nothing.
        let tightened = tighten(dir).map_err(io_at(dir))?;
        if tightened > 0 {
            tracing::info!(
                folder = %dir.display(),
                entries = tightened,
                "made the data folder readable by its owner only"
            );
        }
        Ok(Self { _file: file })
    }
}

/// Options that create a file readable and writable by its owner only.
pub fn private_file_options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    options
}

/// Creates `dir` and its missing parents, each 0700.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    #[allow(unused_mut)]
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(FOLDER_MODE);
    }
    builder.create(dir)
}

/// Creates the database file (0600) before SQLite does, so that it and the
/// `-wal` and `-shm` files SQLite gives the same mode are owner-only.
///
/// # Errors
/// The file cannot be created.
pub fn create_private_file(path: &Path) -> io::Result<()> {
    private_file_options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map(drop)
}

/// Sets folders under `dir` (itself included) to 0700 and files to 0600
/// where they allow more; returns how many it changed.
fn tighten(dir: &Path) -> io::Result<usize> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut changed = 0;
        let mut stack = vec![dir.to_path_buf()];
        while let Some(path) = stack.pop() {
            // Never follow a link out of the folder.
            let meta = fs::symlink_metadata(&path)?;
            let want = if meta.is_dir() {
                FOLDER_MODE
            } else if meta.is_file() {
                FILE_MODE
            } else {
                continue;
            };
            if meta.permissions().mode() & 0o777 & !want != 0 {
                fs::set_permissions(&path, fs::Permissions::from_mode(want))?;
                changed += 1;
            }
            if meta.is_dir() {
                for entry in fs::read_dir(&path)? {
                    stack.push(entry?.path());
                }
            }
        }
        Ok(changed)
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(0)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_second_lock_on_the_folder_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = DataDirLock::acquire(&data).unwrap();
        let second = DataDirLock::acquire(&data).unwrap_err();
        assert!(matches!(&second, DataDirError::InUse(p) if p == &data));
        assert!(second.to_string().contains(&data.display().to_string()));
        drop(first);
        DataDirLock::acquire(&data).unwrap();
    }

    #[test]
    fn an_old_loose_folder_is_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        fs::create_dir_all(data.join("files")).unwrap();
        fs::write(data.join("server.db"), b"").unwrap();
        fs::write(data.join("files").join("x.blob"), b"").unwrap();
        for p in [&data, &data.join("files")] {
            fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
        }
        for p in [data.join("server.db"), data.join("files").join("x.blob")] {
            fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        }
        let _lock = DataDirLock::acquire(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("files")), 0o700);
        assert_eq!(mode(&data.join("server.db")), 0o600);
        assert_eq!(mode(&data.join("files").join("x.blob")), 0o600);
        assert_eq!(mode(&data.join(LOCK_FILE)), 0o600);
    }
}
