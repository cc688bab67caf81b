//! Owner-only files and folders: a folder created 0700 and a file opened
//! 0600 (an existing one narrowed to 0600).
//!
//! A leaf on its own, naming nothing else in the crate, because the same
//! two helpers are wanted wherever the client writes secrets or received
//! files; they are to be merged with their twins in `transfer` and
//! `repl::terminal` into one module.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

/// Creates `dir` (and missing parents) with mode 0700; an existing folder
/// is left as it is.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Opens `path` for writing, creating it with mode 0600 if missing and
/// narrowing an existing file to 0600; `truncate` empties it.
pub(crate) fn open_private_file(path: &Path, truncate: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options
        .read(true)
        .write(true)
        .create(true)
        .truncate(truncate);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
        }
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        options.open(path)
    }
}
