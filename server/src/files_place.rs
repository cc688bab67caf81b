//! Which files folder a SQLite database goes with, recorded in the data
//! folder (`files.place`) at the first start and checked at every later one.
//!
//! A database started with another `--files-dir` than it was used with
//! (or without the flag it was used with) would serve rows whose bodies are
//! elsewhere, and its start-up sweep would delete every body in the folder
//! it was given that its own rows do not name: another server's files. So a
//! start refuses, naming both folders. A new database takes a folder only
//! if that is new or empty. The cluster records its own place in its
//! PostgreSQL database (`store::pg::cluster`); this covers SQLite only.
//!
//! The record is the folder's path, relative to the data folder when it is
//! inside it (the default `files/`), so that moving a whole data folder
//! keeps it valid. `server backup` does not carry it: a restored database
//! takes the folder of its first start.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::datadir::private_file_options;

/// Name of the record inside the data folder.
pub const PLACE_FILE: &str = "files.place";

/// Why the files folder given does not go with the database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FilesPlaceError {
    /// The database was used with another folder.
    #[error(
        "the database in {data} was used with files folder {recorded}, not {given}: start it \
         with --files-dir {recorded} (if you moved the files to {given} on purpose, delete \
         {data}/{PLACE_FILE} first)",
        data = .data.display(), recorded = .recorded.display(), given = .given.display()
    )]
    OtherFolder {
        /// The data folder.
        data: PathBuf,
        /// The folder the database was used with.
        recorded: PathBuf,
        /// The folder this start names.
        given: PathBuf,
    },
    /// A new database was given a folder that holds files already.
    #[error(
        "files folder {given} holds files, but the database in {data} is new: they belong to \
         another server's database (give that server's --data-dir, or an empty or new \
         --files-dir)",
        data = .data.display(), given = .given.display()
    )]
    NotEmptyForNewDatabase {
        /// The data folder.
        data: PathBuf,
        /// The folder this start names.
        given: PathBuf,
    },
    /// The record or the folder could not be read or written.
    #[error("{path}: {source}", path = .path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> FilesPlaceError + '_ {
    move |source| FilesPlaceError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Checks that `files` goes with the database in `data` (`database_is_new`:
/// it is about to be created) and records it if nothing is recorded yet.
/// Blocking: call it off the async workers.
///
/// # Errors
/// [`FilesPlaceError::OtherFolder`], [`FilesPlaceError::NotEmptyForNewDatabase`],
/// or the file system failed.
pub fn check_and_record(
    data: &Path,
    files: &Path,
    database_is_new: bool,
) -> Result<(), FilesPlaceError> {
    let data_abs = resolved(data).map_err(io_at(data))?;
    let given = resolved(files).map_err(io_at(files))?;
    let record = data.join(PLACE_FILE);
    match fs::read_to_string(&record) {
        Ok(text) => {
            let recorded =
                resolved(&data_abs.join(text.trim_end_matches('\n'))).map_err(io_at(&record))?;
            if recorded == given {
                return Ok(());
            }
            Err(FilesPlaceError::OtherFolder {
                data: data.to_path_buf(),
                recorded,
                given,
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if database_is_new && holds_files(&given).map_err(io_at(&given))? {
                return Err(FilesPlaceError::NotEmptyForNewDatabase {
                    data: data.to_path_buf(),
                    given,
                });
            }
            let text = match given.strip_prefix(&data_abs) {
                Ok(inside) => inside.to_path_buf(),
                Err(_) => given.clone(),
            };
            write_record(&record, &text).map_err(io_at(&record))
        }
        Err(e) => Err(io_at(&record)(e)),
    }
}

/// The absolute path of `path`, through links when it exists (a folder
/// named through a link is the same folder).
fn resolved(path: &Path) -> io::Result<PathBuf> {
    match fs::canonicalize(path) {
        Ok(p) => Ok(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => std::path::absolute(path),
        Err(e) => Err(e),
    }
}

/// Whether `folder` holds anything but the empty `tmp/` and `uploads/`
/// the server makes in it.
fn holds_files(folder: &Path) -> io::Result<bool> {
    let entries = match fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let own = name == "tmp" || name == "uploads";
        if !own || !entry.file_type()?.is_dir() || fs::read_dir(entry.path())?.next().is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Writes the record whole: to a side file first, renamed into place.
fn write_record(record: &Path, text: &Path) -> io::Result<()> {
    use std::io::Write as _;
    let part = record.with_extension("place.part");
    let mut file = private_file_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&part)?;
    file.write_all(text.as_os_str().as_encoded_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    fs::rename(&part, record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_folder_is_recorded_relative_and_survives_a_moved_data_folder() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a");
        fs::create_dir(&data).unwrap();
        check_and_record(&data, &data.join("files"), true).unwrap();
        assert_eq!(
            fs::read_to_string(data.join(PLACE_FILE)).unwrap(),
            "files\n"
        );
        let moved = dir.path().join("b");
        fs::rename(&data, &moved).unwrap();
        check_and_record(&moved, &moved.join("files"), false).unwrap();
        let other = dir.path().join("other");
        let err = check_and_record(&moved, &other, false).unwrap_err();
        assert!(matches!(err, FilesPlaceError::OtherFolder { .. }), "{err}");
    }

    #[test]
    fn a_new_database_refuses_a_folder_with_files_but_takes_an_empty_one() {
        let dir = tempfile::tempdir().unwrap();
        let (data, files) = (dir.path().join("d"), dir.path().join("f"));
        fs::create_dir_all(files.join("tmp")).unwrap();
        fs::create_dir(&data).unwrap();
        fs::write(files.join("x.blob"), b"x").unwrap();
        let err = check_and_record(&data, &files, true).unwrap_err();
        assert!(matches!(
            err,
            FilesPlaceError::NotEmptyForNewDatabase { .. }
        ));
        fs::remove_file(files.join("x.blob")).unwrap();
        check_and_record(&data, &files, true).unwrap();
    }
}
