//! Unfinished uploads, kept so that an upload can resume after a restart:
//! recipient, local file and its stamp, the file key and nonce prefix, and
//! the sealed metadata.
//!
//! Resuming is safe only for the same plaintext, so a record carries what
//! must be unchanged ([`FileStamp`]); the hash of the plaintext read so far
//! is kept beside it (`keystore::files`).
//!
//! Left out: the transfer itself (`crate::transfer`).

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use protocol::{ClientId, UploadId};
use rusqlite::{OptionalExtension, Row, params};

use super::schema::{
    blob_array, from_sql_u64, ms_to_system_time, secret_array, system_time_to_ms, to_sql_u64,
};
use super::{KeyStore, KeyStoreError};
use crate::crypto::file::NONCE_PREFIX_LEN;
use crate::crypto::{FileSecret, KEY_LEN};

/// A file's size and modification time: what must be unchanged for an
/// upload to resume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    /// Size in bytes.
    pub size: u64,
    /// Modification time in ns since the Unix epoch (negative before it).
    pub mtime_ns: i64,
}

impl FileStamp {
    /// The stamp of a file's metadata.
    ///
    /// # Errors
    /// The platform has no modification times.
    pub fn of(metadata: &fs::Metadata) -> io::Result<Self> {
        let modified = metadata.modified()?;
        let mtime_ns = match modified.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
            Err(e) => i64::try_from(e.duration().as_nanos()).map_or(i64::MIN, |n| -n),
        };
        Ok(Self {
            size: metadata.len(),
            mtime_ns,
        })
    }

    /// The stamp of the file at `path`.
    ///
    /// # Errors
    /// The file cannot be read.
    pub fn of_path(path: &Path) -> io::Result<Self> {
        Self::of(&fs::metadata(path)?)
    }
}

/// An upload the server has not completed, as needed to resume it.
///
/// Resuming re-encrypts the file under the same key and nonce prefix, which
/// is safe only for the same plaintext: re-encrypting *changed* content at a
/// position already sent would reuse a nonce with a different message. So an
/// upload resumes only if the file's size and modification time are the
/// stamp recorded here ([`UploadRecord::file_unchanged`]) and the plaintext
/// it read so far hashes as recorded ([`KeyStore::upload_prefix`]: a tool
/// that rewrites a file and restores its size and modification time passes
/// the first check but not the second); otherwise it must be cancelled and
/// sent again with a new key.
pub struct UploadRecord {
    /// The server's upload id.
    pub upload_id: UploadId,
    /// The recipient.
    pub destination: ClientId,
    /// The local file.
    pub path: PathBuf,
    /// The file's stamp when the upload began; its size is the plaintext size.
    pub stamp: FileStamp,
    /// The file's key and nonce prefix.
    pub secret: FileSecret,
    /// The sealed metadata sent with upload begin.
    pub meta: Vec<u8>,
    /// When the upload began.
    pub created_at: SystemTime,
}

impl UploadRecord {
    /// Whether the local file still has the recorded size and modification
    /// time, so the upload may resume.
    ///
    /// # Errors
    /// The file cannot be read (deleted, moved, no permission).
    pub fn file_unchanged(&self) -> io::Result<bool> {
        Ok(FileStamp::of_path(&self.path)? == self.stamp)
    }
}

impl fmt::Debug for UploadRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadRecord")
            .field("upload_id", &self.upload_id)
            .field("destination", &self.destination)
            .field("path", &self.path)
            .field("stamp", &self.stamp)
            .finish_non_exhaustive()
    }
}

impl KeyStore {
    /// Remembers an unfinished upload (replacing one with the same id).
    ///
    /// # Errors
    /// Storage errors.
    pub fn save_upload(&mut self, upload: &UploadRecord) -> Result<(), KeyStoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO uploads (upload_id, destination, path, plaintext_size,
                 mtime_ns, file_key, nonce_prefix, meta, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                &upload.upload_id.0[..],
                &upload.destination.0[..],
                path_to_bytes(&upload.path),
                to_sql_u64(upload.stamp.size),
                upload.stamp.mtime_ns,
                &upload.secret.key()[..],
                &upload.secret.nonce_prefix()[..],
                &upload.meta,
                system_time_to_ms(upload.created_at),
            ],
        )?;
        Ok(())
    }

    /// Every unfinished upload, oldest first.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn uploads(&self) -> Result<Vec<UploadRecord>, KeyStoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!("{UPLOAD_COLUMNS} ORDER BY created_at, rowid"))?;
        let rows = stmt.query_map([], upload_row)?;
        rows.map(|row| Ok(row?)).collect()
    }

    /// One unfinished upload.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn upload(&self, upload_id: UploadId) -> Result<Option<UploadRecord>, KeyStoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("{UPLOAD_COLUMNS} WHERE upload_id = ?1"),
                [&upload_id.0[..]],
                upload_row,
            )
            .optional()?)
    }

    /// Forgets an upload (finished, cancelled, or expired on the server).
    ///
    /// # Errors
    /// Storage errors.
    pub fn delete_upload(&mut self, upload_id: UploadId) -> Result<(), KeyStoreError> {
        self.conn.execute(
            "DELETE FROM uploads WHERE upload_id = ?1",
            [&upload_id.0[..]],
        )?;
        Ok(())
    }
}

const UPLOAD_COLUMNS: &str = "SELECT upload_id, destination, path, plaintext_size, mtime_ns,
        file_key, nonce_prefix, meta, created_at FROM uploads";

fn upload_row(row: &Row<'_>) -> rusqlite::Result<UploadRecord> {
    let key = secret_array::<KEY_LEN>(row, 5)?;
    let prefix = secret_array::<NONCE_PREFIX_LEN>(row, 6)?;
    Ok(UploadRecord {
        upload_id: UploadId(blob_array(row, 0)?),
        destination: ClientId(blob_array(row, 1)?),
        path: path_from_bytes(row.get_ref(2)?.as_blob()?),
        stamp: FileStamp {
            size: from_sql_u64(row.get(3)?),
            mtime_ns: row.get(4)?,
        },
        secret: FileSecret::from_parts(&key, &prefix),
        meta: row.get(7)?,
        created_at: ms_to_system_time(row.get(8)?),
    })
}

#[cfg(unix)]
pub(super) fn path_to_bytes(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

#[cfg(unix)]
pub(super) fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

#[cfg(not(unix))]
pub(super) fn path_to_bytes(path: &Path) -> Vec<u8> {
    path.to_string_lossy().into_owned().into_bytes()
}

#[cfg(not(unix))]
pub(super) fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::FileMeta;
    use crate::keystore::fixtures::{BOB, home, with_session};

    #[test]
    fn uploads_survive_reopen_and_notice_a_changed_file() {
        let (dir, home) = home();
        let (mut store, _, _, session) = with_session(&home);
        let path = dir.path().join("report.pdf");
        fs::write(&path, b"version one").unwrap();
        let stamp = FileStamp::of_path(&path).unwrap();
        let meta = FileMeta::new("report.pdf", stamp.size).unwrap();
        let sealed = session.seal_file_meta(1, &meta).unwrap();
        let id = UploadId([0x0f; 16]);
        store
            .save_upload(&UploadRecord {
                upload_id: id,
                destination: BOB,
                path: path.clone(),
                stamp,
                secret: FileSecret::from_parts(meta.secret.key(), meta.secret.nonce_prefix()),
                meta: sealed.clone(),
                created_at: SystemTime::now(),
            })
            .unwrap();
        drop(store);

        let mut store = KeyStore::open(&home).unwrap();
        let record = store.upload(id).unwrap().unwrap();
        assert_eq!(record.destination, BOB);
        assert_eq!(record.path, path);
        assert_eq!(record.stamp, stamp);
        assert_eq!(record.meta, sealed);
        assert_eq!(record.secret.key(), meta.secret.key());
        assert_eq!(record.secret.nonce_prefix(), meta.secret.nonce_prefix());
        assert!(record.file_unchanged().unwrap());
        assert_eq!(store.uploads().unwrap().len(), 1);

        fs::write(&path, b"version two, longer").unwrap();
        assert!(!record.file_unchanged().unwrap());
        fs::remove_file(&path).unwrap();
        assert!(record.file_unchanged().is_err());

        store.delete_upload(id).unwrap();
        assert!(store.upload(id).unwrap().is_none());
    }
}
