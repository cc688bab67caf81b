//! File bodies: where the server keeps them, behind one interface its
//! callers use without knowing the engine.
//!
//! - [`folder`]: a folder (`--files-dir`, or `files/` in the data folder);
//!   SQLite nodes always, PostgreSQL nodes given `--files-dir` (a folder
//!   every node of the cluster shares).
//! - [`pg`]: chunk rows in the PostgreSQL database itself, the default of a
//!   node on `--database`: one engine holds all state.
//!
//! Either way a body becomes visible only through the committed row that
//! names it, is read range by range (never whole in memory), and is deleted
//! when the last row naming it goes.

mod folder;
mod pg;

use std::collections::HashSet;
use std::path::PathBuf;

use bytes::Bytes;
use protocol::UploadId;

use crate::error::StoreError;
use crate::store::UploadRecord;

use folder::{Folder, FolderHold, FolderReader, FolderUpload, FolderWriter};
use pg::{Database, DatabaseReader, DatabaseUpload, DatabaseWriter};

/// Where file bodies live; a cheap-to-clone handle.
#[derive(Clone)]
pub struct Blobs {
    engine: Engine,
}

#[derive(Clone)]
enum Engine {
    Folder(Folder),
    Database(Database),
}

/// While one exists, deleted blobs of a folder stay on disk (a backup is
/// copying them); the last one dropped deletes them. Drop it off the async
/// workers (it may delete files). Bodies in PostgreSQL need none: a backup
/// of the database is a snapshot.
pub struct BlobHold {
    _folder: Option<FolderHold>,
}

impl Blobs {
    /// Bodies in the folder `root` (creating it and its `tmp` and `uploads`
    /// folders if needed).
    ///
    /// # Errors
    /// A folder cannot be created.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        Ok(Self {
            engine: Engine::Folder(Folder::open(root)?),
        })
    }

    /// Bodies in the PostgreSQL database behind `pool` (the store's).
    pub fn in_database(pool: deadpool_postgres::Pool) -> Self {
        Self {
            engine: Engine::Database(Database::new(pool)),
        }
    }

    /// Whether the bodies are in the database.
    pub fn is_in_database(&self) -> bool {
        matches!(self.engine, Engine::Database(_))
    }

    /// See [`BlobHold`].
    pub fn hold(&self) -> BlobHold {
        BlobHold {
            _folder: match &self.engine {
                Engine::Folder(f) => Some(f.hold()),
                Engine::Database(_) => None,
            },
        }
    }

    /// Path of a complete blob, when bodies are files.
    pub fn blob_path(&self, name: &str) -> Option<PathBuf> {
        match &self.engine {
            Engine::Folder(f) => Some(f.blob_path(name)),
            Engine::Database(_) => None,
        }
    }

    /// Removes what a crash left behind; returns how many bodies went.
    /// A folder: partial version-2 bodies, blobs not in `referenced`, part
    /// files of uploads not in `uploads`, and live part files cut back to
    /// their durable offset (only on a node alone with its folder). The
    /// database: bodies nothing names that nobody wrote for an hour (so
    /// never another node's work in progress); the arguments are unused,
    /// the database answers itself in one snapshot.
    ///
    /// # Errors
    /// The folder cannot be read, or the database failed.
    pub async fn sweep(
        &self,
        referenced: HashSet<String>,
        uploads: Vec<UploadRecord>,
    ) -> Result<usize, StoreError> {
        match &self.engine {
            Engine::Folder(f) => f.sweep(referenced, uploads).await,
            Engine::Database(d) => d.sweep().await,
        }
    }

    /// Starts receiving a body.
    ///
    /// # Errors
    /// The file cannot be created.
    pub async fn create(&self) -> Result<BlobWriter, StoreError> {
        Ok(match &self.engine {
            Engine::Folder(f) => BlobWriter::Folder(f.create().await?),
            Engine::Database(d) => BlobWriter::Database(d.create()),
        })
    }

    /// Writes a whole small body as a blob; returns its name.
    ///
    /// # Errors
    /// The file system or the database failed.
    pub async fn write_whole(&self, content: Bytes) -> Result<String, StoreError> {
        let mut writer = self.create().await?;
        writer.write(content).await?;
        writer.finish().await
    }

    /// Opens a blob for reading.
    ///
    /// # Errors
    /// The blob is missing (folder) or its name is not a body's (database).
    pub async fn open_blob(&self, name: &str) -> Result<BlobReader, StoreError> {
        Ok(match &self.engine {
            Engine::Folder(f) => BlobReader::Folder(f.open_blob(name).await?),
            Engine::Database(d) => BlobReader::Database(d.open_blob(name)?),
        })
    }

    /// Deletes blobs; a missing one is not an error (the startup sweep or an
    /// earlier attempt may have removed it).
    pub async fn delete(&self, names: Vec<String>) {
        if names.is_empty() {
            return;
        }
        match &self.engine {
            Engine::Folder(f) => f.delete(names).await,
            Engine::Database(d) => d.delete(names).await,
        }
    }

    /// Opens an upload for appending at `offset` (its durable offset).
    ///
    /// # Errors
    /// The file system failed.
    pub async fn open_upload(&self, id: &UploadId, offset: u64) -> Result<UploadFile, StoreError> {
        Ok(match &self.engine {
            Engine::Folder(f) => UploadFile::Folder(f.open_upload(id, offset).await?),
            Engine::Database(d) => UploadFile::Database(d.open_upload(id, offset)),
        })
    }

    /// Deletes an upload's body.
    pub async fn delete_upload(&self, id: &UploadId) {
        match &self.engine {
            Engine::Folder(f) => f.delete_upload(id).await,
            Engine::Database(d) => d.delete_upload(id).await,
        }
    }

    /// Makes a complete upload a blob, durably; returns its name.
    ///
    /// # Errors
    /// The file system failed.
    pub async fn promote_upload(&self, upload: UploadFile) -> Result<String, StoreError> {
        match (&self.engine, upload) {
            (Engine::Folder(f), UploadFile::Folder(u)) => f.promote_upload(u).await,
            (Engine::Database(_), UploadFile::Database(u)) => Ok(Database::promote_upload(&u)),
            _ => Err(StoreError::Corrupt(
                "an upload opened by another body engine".into(),
            )),
        }
    }

    /// Turns a blob back into an upload's body (when committing the finished
    /// upload failed, so that it can be resumed). Rows in the database are
    /// the upload's already.
    pub async fn demote_upload(&self, name: &str, id: &UploadId) {
        if let Engine::Folder(f) = &self.engine {
            f.demote_upload(name, id).await;
        }
    }
}

/// A body being written.
pub enum BlobWriter {
    /// To a temporary file.
    Folder(FolderWriter),
    /// A row at a time.
    Database(DatabaseWriter),
}

impl BlobWriter {
    /// Appends a piece.
    ///
    /// # Errors
    /// The file system or the database failed.
    pub async fn write(&mut self, data: Bytes) -> Result<(), StoreError> {
        match self {
            Self::Folder(w) => w.write(data).await,
            Self::Database(w) => w.write(data).await,
        }
    }

    /// Makes the body durable under its final name; returns the name.
    ///
    /// # Errors
    /// The file system or the database failed (what was written goes).
    pub async fn finish(self) -> Result<String, StoreError> {
        match self {
            Self::Folder(w) => w.finish().await,
            Self::Database(w) => w.finish().await,
        }
    }
}

/// A blob being read.
pub enum BlobReader {
    /// A file.
    Folder(FolderReader),
    /// Rows.
    Database(DatabaseReader),
}

impl BlobReader {
    /// Reads up to `len` bytes at `offset` (fewer at the end of the body).
    ///
    /// # Errors
    /// The file system or the database failed.
    pub async fn read_at(&mut self, offset: u64, len: usize) -> Result<Bytes, StoreError> {
        match self {
            Self::Folder(r) => r.read_at(offset, len).await,
            Self::Database(r) => r.read_at(offset, len).await,
        }
    }
}

/// An upload's body open for appending.
pub enum UploadFile {
    /// A part file, synced now and then.
    Folder(FolderUpload),
    /// Rows, each chunk committed with the upload's offset, flushed now
    /// and then.
    Database(DatabaseUpload),
}

impl UploadFile {
    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        match self {
            Self::Folder(u) => u.len(),
            Self::Database(u) => u.len(),
        }
    }

    /// Bytes known durable.
    pub fn synced(&self) -> u64 {
        match self {
            Self::Folder(u) => u.synced(),
            Self::Database(u) => u.flushed(),
        }
    }

    /// Whether the upload's record already holds its durable offset after
    /// a sync: a database upload's offset is its own row, moved by every
    /// chunk and flushed by the sync, so the store has nothing to record.
    pub fn keeps_its_offset(&self) -> bool {
        matches!(self, Self::Database(_))
    }

    /// Appends a chunk.
    ///
    /// # Errors
    /// The file system or the database failed, or (database) the upload
    /// moved on elsewhere or went.
    pub async fn append(&mut self, data: Bytes) -> Result<(), StoreError> {
        fail::fail_point!("upload-append", |name| Err(StoreError::Io(
            crate::fault::io_error(
                name.as_deref()
                    .and_then(crate::fault::injected)
                    .unwrap_or(crate::fault::Fault::Io)
            )
        )));
        match self {
            Self::Folder(u) => u.append(data).await,
            Self::Database(u) => u.append(data).await,
        }
    }

    /// Makes everything written so far durable; returns the durable length.
    ///
    /// # Errors
    /// The file system or the database failed, or (database) the upload
    /// moved on elsewhere or went.
    pub async fn sync(&mut self) -> Result<u64, StoreError> {
        match self {
            Self::Folder(u) => u.sync().await,
            Self::Database(u) => u.sync().await,
        }
    }
}
