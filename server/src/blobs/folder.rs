//! File bodies in a folder (the engine of SQLite nodes, and of PostgreSQL
//! nodes given `--files-dir`), never in memory.
//!
//! ```text
//! <data>/files/<uuid>.blob           complete files, referenced by message rows
//! <data>/files/tmp/<uuid>.part       version-2 file bodies being received
//! <data>/files/uploads/<id>.part     version-3 uploads in progress
//! ```
//!
//! A body is written to a part file, fsynced, renamed to its final name and
//! the folder fsynced; only then is the row that refers to it committed. A
//! crash at any moment therefore leaves either no row (and an orphan file that
//! the startup sweep removes) or a row whose file is complete. Nothing a pull
//! could return is ever half written.
//!
//! All file I/O runs in `spawn_blocking`.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use protocol::UploadId;

use crate::datadir::{create_private_dir, private_file_options};
use crate::direct::{BlobFile, PartFile};
use crate::error::StoreError;
use crate::store::UploadRecord;

/// The blob folder.
#[derive(Debug, Clone)]
pub(super) struct Folder {
    root: PathBuf,
    holds: Arc<Mutex<Holds>>,
}

/// Deletions put off while a backup copies blobs (see [`Folder::hold`]).
#[derive(Debug, Default)]
struct Holds {
    count: usize,
    deferred: Vec<String>,
}

/// While one exists, deleted blobs stay on disk; the last one dropped
/// deletes them. Drop it off the async workers (it may delete files).
pub struct FolderHold {
    blobs: Folder,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Corrupt(format!("file task failed: {e}")))?
        .map_err(StoreError::Io)
}

/// Runs `f` on the file in `slot` off the runtime and puts the file back
/// if it succeeded. After a failure the slot stays empty (the file's state
/// is unknown): the caller must drop or reopen it.
async fn on_file<F: Send + 'static, T: Send + 'static>(
    slot: &mut Option<F>,
    what: &str,
    f: impl FnOnce(&mut F) -> std::io::Result<T> + Send + 'static,
) -> Result<T, StoreError> {
    // Callers drop a handle whose operation failed; this is a bug guard,
    // not a sign of a damaged store.
    let mut file = slot.take().ok_or_else(|| {
        StoreError::Io(std::io::Error::other(format!(
            "{what} used again after a failed operation"
        )))
    })?;
    let (file, value) = blocking(move || {
        let value = f(&mut file)?;
        Ok((file, value))
    })
    .await?;
    *slot = Some(file);
    Ok(value)
}

impl Drop for FolderHold {
    fn drop(&mut self) {
        let deferred = {
            let mut holds = self.blobs.holds();
            holds.count -= 1;
            if holds.count > 0 {
                return;
            }
            std::mem::take(&mut holds.deferred)
        };
        for name in deferred {
            match fs::remove_file(self.blobs.blob_path(&name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    tracing::warn!(error = %e, "could not delete a blob; the startup sweep will");
                }
                _ => {}
            }
        }
    }
}

/// Makes a rename or a new file in `dir` durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Folder {
    /// Uses (creating if needed) `root` and its `tmp` and `uploads` folders.
    ///
    /// # Errors
    /// A folder cannot be created.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        create_private_dir(&root.join("tmp"))?;
        create_private_dir(&root.join("uploads"))?;
        Ok(Self {
            root,
            holds: Arc::default(),
        })
    }

    fn holds(&self) -> std::sync::MutexGuard<'_, Holds> {
        self.holds.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps every blob that exists now until the hold is dropped: a backup
    /// takes one before its database snapshot, so that each blob the
    /// snapshot refers to is still there to copy even if its message is
    /// acknowledged meanwhile.
    pub fn hold(&self) -> FolderHold {
        self.holds().count += 1;
        FolderHold {
            blobs: self.clone(),
        }
    }

    /// Path of a complete blob.
    pub fn blob_path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Path of an upload's part file.
    pub fn upload_path(&self, id: &UploadId) -> PathBuf {
        self.root.join("uploads").join(format!("{id}.part"))
    }

    /// Removes what a crash left behind: partial version-2 bodies, blobs no
    /// message refers to, part files of uploads that no longer exist. Part
    /// files of live uploads are cut back to their last durable offset (bytes
    /// after it may not have reached the disk intact). Returns the number of
    /// files removed.
    ///
    /// # Errors
    /// The folder cannot be read.
    pub async fn sweep(
        &self,
        referenced: HashSet<String>,
        uploads: Vec<UploadRecord>,
    ) -> Result<usize, StoreError> {
        let this = self.clone();
        blocking(move || {
            let mut removed = 0;
            for entry in fs::read_dir(this.root.join("tmp"))? {
                fs::remove_file(entry?.path())?;
                removed += 1;
            }
            for entry in fs::read_dir(&this.root)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(".blob") && !referenced.contains(&name) {
                    fs::remove_file(entry.path())?;
                    removed += 1;
                }
            }
            let live: HashSet<String> = uploads.iter().map(|u| format!("{}.part", u.id)).collect();
            for entry in fs::read_dir(this.root.join("uploads"))? {
                let entry = entry?;
                if !live.contains(&*entry.file_name().to_string_lossy()) {
                    fs::remove_file(entry.path())?;
                    removed += 1;
                }
            }
            for upload in &uploads {
                let path = this.upload_path(&upload.id);
                let file = private_file_options()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)?;
                if file.metadata()?.len() > upload.durable_offset {
                    file.set_len(upload.durable_offset)?;
                    file.sync_all()?;
                }
            }
            Ok(removed)
        })
        .await
    }

    /// Starts receiving a body into a temporary file.
    ///
    /// # Errors
    /// The file cannot be created.
    pub async fn create(&self) -> Result<FolderWriter, StoreError> {
        let name = format!("{}.blob", uuid::Uuid::new_v4());
        let part = self.root.join("tmp").join(format!("{name}.part"));
        let path = part.clone();
        let file = blocking(move || {
            private_file_options()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
        })
        .await?;
        Ok(FolderWriter {
            file: Some(file),
            part,
            name,
            root: self.root.clone(),
        })
    }

    /// Writes a whole small body as a blob; returns its name (the tests'
    /// shortcut; the server goes through `Blobs::write_whole`).
    ///
    /// # Errors
    /// The file system failed.
    #[cfg(test)]
    pub async fn write_whole(&self, content: Bytes) -> Result<String, StoreError> {
        let mut writer = self.create().await?;
        writer.write(content).await?;
        writer.finish().await
    }

    /// Opens a blob for reading.
    ///
    /// # Errors
    /// [`StoreError::BodyMissing`] if the blob is not there; another
    /// error of the file system.
    pub async fn open_blob(&self, name: &str) -> Result<FolderReader, StoreError> {
        let path = self.blob_path(name);
        let file = match blocking(move || BlobFile::open(&path)).await {
            Err(StoreError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::BodyMissing(name.to_string()));
            }
            other => other?,
        };
        Ok(FolderReader { file: Some(file) })
    }

    /// Deletes blobs; a missing one is not an error (the startup sweep or an
    /// earlier attempt may have removed it).
    pub async fn delete(&self, names: Vec<String>) {
        if names.is_empty() {
            return;
        }
        {
            let mut holds = self.holds();
            if holds.count > 0 {
                holds.deferred.extend(names);
                return;
            }
        }
        let paths: Vec<PathBuf> = names.iter().map(|n| self.blob_path(n)).collect();
        let result = blocking(move || {
            for path in paths {
                match fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            Ok(())
        })
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not delete delivered blobs; the startup sweep will");
        }
    }

    /// Opens an upload's part file for appending at `offset`, cutting off
    /// anything after it.
    ///
    /// # Errors
    /// The file system failed.
    pub async fn open_upload(
        &self,
        id: &UploadId,
        offset: u64,
    ) -> Result<FolderUpload, StoreError> {
        let path = self.upload_path(id);
        let p = path.clone();
        let part = blocking(move || PartFile::open(&p, offset)).await?;
        Ok(FolderUpload {
            part: Some(part),
            path,
            len: offset,
            synced: offset,
        })
    }

    /// Deletes an upload's part file.
    pub async fn delete_upload(&self, id: &UploadId) {
        let path = self.upload_path(id);
        let _ = blocking(move || match fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        })
        .await;
    }

    /// Moves a complete upload into place as a blob, durably; returns its name.
    ///
    /// # Errors
    /// The file system failed.
    pub async fn promote_upload(&self, upload: FolderUpload) -> Result<String, StoreError> {
        let name = format!("{}.blob", uuid::Uuid::new_v4());
        let to = self.blob_path(&name);
        let root = self.root.clone();
        let FolderUpload { part, path, .. } = upload;
        blocking(move || {
            if let Some(part) = part {
                part.close()?;
            }
            fs::rename(&path, &to)?;
            sync_dir(&root)?;
            sync_dir(&root.join("uploads"))
        })
        .await?;
        Ok(name)
    }

    /// Moves a blob back to be an upload's part file (when committing the
    /// finished upload failed, so that it can be resumed).
    pub async fn demote_upload(&self, name: &str, id: &UploadId) {
        let from = self.blob_path(name);
        let to = self.upload_path(id);
        let _ = blocking(move || fs::rename(from, to)).await;
    }
}

/// A body being written to a temporary file.
pub struct FolderWriter {
    // Taken while a blocking write owns it.
    file: Option<File>,
    part: PathBuf,
    name: String,
    root: PathBuf,
}

impl FolderWriter {
    /// Appends a piece.
    ///
    /// # Errors
    /// The file system failed.
    pub async fn write(&mut self, data: Bytes) -> Result<(), StoreError> {
        on_file(&mut self.file, "blob writer", move |file| {
            file.write_all(&data)
        })
        .await
    }

    /// Makes the body durable under its final name; returns the name.
    ///
    /// # Errors
    /// The file system failed (the temporary file is removed).
    pub async fn finish(mut self) -> Result<String, StoreError> {
        let file = self.file.take();
        let part = std::mem::take(&mut self.part);
        let to = self.root.join(&self.name);
        let root = self.root.clone();
        let result = blocking(move || {
            if let Some(file) = file {
                file.sync_all()?;
            }
            fs::rename(&part, &to)?;
            sync_dir(&root)
        })
        .await;
        result.map(|()| self.name.clone())
    }
}

impl Drop for FolderWriter {
    fn drop(&mut self) {
        // An unfinished body (the sender went away) is removed at once; the
        // startup sweep catches what a crash leaves.
        if !self.part.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.part);
        }
    }
}

/// A blob being read.
pub struct FolderReader {
    // Taken while a blocking read owns it.
    file: Option<BlobFile>,
}

impl FolderReader {
    /// Reads up to `len` bytes at `offset` (fewer at the end of the file).
    ///
    /// # Errors
    /// The file system failed.
    pub async fn read_at(&mut self, offset: u64, len: usize) -> Result<Bytes, StoreError> {
        on_file(&mut self.file, "blob reader", move |file| {
            file.read_at(offset, len)
        })
        .await
    }
}

/// An upload's part file open for appending.
pub struct FolderUpload {
    // Taken while a blocking operation owns it.
    part: Option<PartFile>,
    path: PathBuf,
    len: u64,
    synced: u64,
}

impl FolderUpload {
    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Bytes known to be on disk.
    pub fn synced(&self) -> u64 {
        self.synced
    }

    /// Appends a chunk.
    ///
    /// # Errors
    /// The file system failed.
    pub async fn append(&mut self, data: Bytes) -> Result<(), StoreError> {
        self.len = on_file(&mut self.part, "upload file", move |part| {
            part.append(&data)?;
            Ok(part.len())
        })
        .await?;
        Ok(())
    }

    /// Makes everything written so far durable; returns the durable length.
    ///
    /// # Errors
    /// The file system failed.
    pub async fn sync(&mut self) -> Result<u64, StoreError> {
        on_file(&mut self.part, "upload file", PartFile::sync).await?;
        self.synced = self.len;
        Ok(self.synced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_finished_blob_is_readable_and_a_dropped_one_vanishes() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Folder::open(dir.path()).unwrap();
        let mut w = blobs.create().await.unwrap();
        w.write(Bytes::from_static(b"hello ")).await.unwrap();
        w.write(Bytes::from_static(b"world")).await.unwrap();
        let name = w.finish().await.unwrap();
        let mut r = blobs.open_blob(&name).await.unwrap();
        assert_eq!(&r.read_at(0, 100).await.unwrap()[..], b"hello world");
        assert_eq!(&r.read_at(6, 3).await.unwrap()[..], b"wor");
        assert!(r.read_at(20, 3).await.unwrap().is_empty());

        let mut w = blobs.create().await.unwrap();
        w.write(Bytes::from_static(b"half")).await.unwrap();
        drop(w);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn sweep_removes_orphans_and_cuts_uploads_back() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Folder::open(dir.path()).unwrap();
        let kept = blobs
            .write_whole(Bytes::from_static(b"kept"))
            .await
            .unwrap();
        let orphan = blobs
            .write_whole(Bytes::from_static(b"orphan"))
            .await
            .unwrap();
        fs::write(dir.path().join("tmp/x.blob.part"), b"partial").unwrap();
        let live = UploadId([1; 16]);
        fs::write(blobs.upload_path(&live), vec![7u8; 100]).unwrap();
        fs::write(blobs.upload_path(&UploadId([2; 16])), b"gone").unwrap();
        let record = UploadRecord {
            id: live,
            owner: protocol::ClientId([3; 16]),
            destination: protocol::ClientId([4; 16]),
            file_size: 1000,
            meta: Bytes::new(),
            durable_offset: 40,
            to_room: false,
        };
        let removed = blobs
            .sweep([kept.clone()].into_iter().collect(), vec![record])
            .await
            .unwrap();
        assert_eq!(removed, 3);
        assert!(dir.path().join(&kept).exists());
        assert!(!dir.path().join(&orphan).exists());
        assert_eq!(fs::metadata(blobs.upload_path(&live)).unwrap().len(), 40);
    }
}
