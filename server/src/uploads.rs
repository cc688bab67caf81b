//! Unfinished uploads, shared by all connections: every step of an upload's
//! life (begin, chunk, resume, cancel, expiry, the sync when a connection
//! closes) in one place, coordinating the database record and the part file.
//! The version-3 operations only turn what these steps report into answers.
//!
//! An upload may be continued from another connection (after a broken one,
//! perhaps before the server noticed the old one is gone), so each open part
//! file sits behind its own async lock: chunks from any connection are applied
//! one at a time, and each must start exactly where the file ends. Part files
//! are synced at least every [`SYNC_INTERVAL`] bytes ([`SHARED_SYNC_INTERVAL`]
//! in a cluster), when a connection that
//! wrote to them closes, and before their offset is reported by a resume; the
//! durable offset is recorded in the database each time. Uploads left
//! unfinished for too long are deleted by [`Uploads::expire_periodically`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use protocol::{ClientId, UploadId};
use tokio::sync::Mutex as AsyncMutex;

use crate::blobs::{Blobs, UploadFile};
use crate::error::StoreError;
use crate::store::{Store, Stored, UploadRecord, UploadTo, ms_ago};

/// Most bytes written to a part file between two syncs.
pub(crate) const SYNC_INTERVAL: u64 = 64 * 1024 * 1024;
/// The same in a cluster (a shared store): another node resumes an upload
/// from the offset last recorded durable, so a node killed mid-upload costs
/// the client at most this much sent again, for one fsync and one row
/// update per interval.
pub(crate) const SHARED_SYNC_INTERVAL: u64 = 8 * 1024 * 1024;
/// How often unfinished uploads are checked for expiry.
const EXPIRY_INTERVAL: Duration = Duration::from_secs(600);

/// An open upload: its record and its part file.
pub(crate) struct OpenUpload {
    pub(crate) record: UploadRecord,
    file: UploadFile,
}

type Slot = Arc<AsyncMutex<Option<OpenUpload>>>;

/// What a chunk did.
pub(crate) enum ChunkOutcome {
    /// Stored; the next chunk goes at this offset.
    Stored(u64),
    /// The file is complete and became a message (or, to a room, a room
    /// file waiting to be named: its `Stored` id is 0).
    Completed(UploadRecord, Stored),
}

/// Why a chunk was refused.
pub(crate) enum ChunkError {
    /// The offset is not where the upload stands.
    BadOffset { expected: u64 },
    /// The chunk would go past the announced size.
    PastEnd { file_size: u64 },
    /// The upload does not exist or is not the caller's.
    Store(StoreError),
}

impl From<StoreError> for ChunkError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// The registry of open uploads, with the database and blob folder they
/// live in (both cheap-to-clone handles).
#[derive(Clone)]
pub(crate) struct Uploads {
    store: Store,
    blobs: Blobs,
    // A std mutex around the map only; the per-upload async lock is held
    // across file I/O.
    open: Arc<Mutex<HashMap<UploadId, Slot>>>,
}

impl Uploads {
    /// Uploads kept in `store`, their part files in `blobs`.
    pub(crate) fn new(store: Store, blobs: Blobs) -> Self {
        Self {
            store,
            blobs,
            open: Arc::default(),
        }
    }

    fn slot(&self, id: &UploadId) -> Slot {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(*id)
            .or_default()
            .clone()
    }

    fn forget(&self, id: &UploadId) {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    /// Opens the caller's upload's part file if it is not open yet.
    async fn ensure_open(
        &self,
        slot: &mut Option<OpenUpload>,
        id: &UploadId,
        owner: ClientId,
    ) -> Result<(), StoreError> {
        if slot.is_none() {
            let record = self
                .store
                .upload(*id)
                .await?
                .ok_or(StoreError::UnknownUpload)?;
            if record.owner != owner {
                return Err(StoreError::UnknownUpload);
            }
            let file = self.blobs.open_upload(id, record.durable_offset).await?;
            *slot = Some(OpenUpload { record, file });
        }
        match slot {
            Some(open) if open.record.owner == owner => Ok(()),
            _ => Err(StoreError::UnknownUpload),
        }
    }

    /// Begins an upload: records it (reserving its size) and opens its
    /// empty part file. Returns its record.
    ///
    /// # Errors
    /// Unknown destination, too many uploads, a quota, or the file system.
    pub(crate) async fn begin(
        &self,
        owner: ClientId,
        to: UploadTo,
        file_size: u64,
        meta: Bytes,
    ) -> Result<UploadRecord, StoreError> {
        let record = self.store.upload_begin(owner, to, file_size, meta).await?;
        let file = match self.blobs.open_upload(&record.id, 0).await {
            Ok(file) => file,
            Err(e) => {
                // The client was told the start failed and has no id to
                // resume or cancel: a record left behind would hold its
                // reservation and a place among its unfinished uploads
                // until it expired.
                if let Err(undo) = self.cancel(&record.id, owner).await {
                    tracing::error!(upload = %record.id, error = %undo, "could not undo a failed upload start");
                }
                return Err(e);
            }
        };
        let slot = self.slot(&record.id);
        *slot.lock().await = Some(OpenUpload {
            record: record.clone(),
            file,
        });
        Ok(record)
    }

    /// Makes the upload's bytes durable and returns its record with the
    /// offset to continue from.
    pub(crate) async fn resume(
        &self,
        id: &UploadId,
        owner: ClientId,
    ) -> Result<UploadRecord, StoreError> {
        let slot = self.slot(id);
        let mut guard = slot.lock().await;
        if self.store.is_shared() {
            // Another node may have taken the upload further since this
            // one last wrote it: start again from what the database says.
            guard.take();
        }
        self.ensure_open(&mut guard, id, owner).await?;
        let open = guard.as_mut().ok_or(StoreError::UnknownUpload)?;
        if let Err(e) = sync(&self.store, open).await {
            // As in `chunk`: reopen at the last durable offset next time.
            guard.take();
            return Err(e);
        }
        let open = guard.as_mut().ok_or(StoreError::UnknownUpload)?;
        // The answer calls this offset durable: the database must say so
        // too before it goes out, or a crash would cut the file back.
        if !open.file.keeps_its_offset() {
            self.store
                .upload_progress_committed(open.record.id, open.file.len())
                .await?;
        }
        let mut record = open.record.clone();
        record.durable_offset = open.file.len();
        Ok(record)
    }

    /// Appends a chunk at `offset`; completes the upload when it is full.
    pub(crate) async fn chunk(
        &self,
        id: &UploadId,
        owner: ClientId,
        offset: u64,
        data: Bytes,
    ) -> Result<ChunkOutcome, ChunkError> {
        let store = &self.store;
        let slot = self.slot(id);
        let mut guard = slot.lock().await;
        self.ensure_open(&mut guard, id, owner).await?;
        let open = guard.as_mut().ok_or(StoreError::UnknownUpload)?;
        let expected = open.file.len();
        if offset != expected {
            return Err(ChunkError::BadOffset { expected });
        }
        let file_size = open.record.file_size;
        if expected + data.len() as u64 > file_size {
            return Err(ChunkError::PastEnd { file_size });
        }
        // Refused above the reserve before a byte is written: the part file
        // stays as it was and the same chunk can come again later.
        store.admit(data.len() as u64)?;
        let interval = if store.is_shared() {
            SHARED_SYNC_INTERVAL
        } else {
            SYNC_INTERVAL
        };
        let written = match open.file.append(data).await {
            Ok(())
                if open.file.len() < file_size
                    && open.file.len() - open.file.synced() >= interval =>
            {
                sync(store, open).await
            }
            other => other,
        };
        if let Err(e) = written {
            // The part file's state after a failed write or sync is unknown:
            // close it, so that the next chunk or resume reopens it at the
            // last offset known durable (never reporting lost bytes as kept).
            guard.take();
            return Err(e.into());
        }
        let open = guard.as_mut().ok_or(StoreError::UnknownUpload)?;
        let len = open.file.len();
        if len < file_size {
            return Ok(ChunkOutcome::Stored(len));
        }
        // Complete: make the file durable in its final place, then commit the
        // message that refers to it.
        let Some(open) = guard.take() else {
            return Err(StoreError::UnknownUpload.into());
        };
        let blob = self.blobs.promote_upload(open.file).await?;
        match store.upload_complete(*id, owner, blob.clone()).await {
            Ok((record, stored)) => {
                drop(guard);
                self.forget(id);
                Ok(ChunkOutcome::Completed(record, stored))
            }
            Err(e) => {
                // Put the part file back so that the upload can be resumed.
                self.blobs.demote_upload(&blob, id).await;
                tracing::error!(upload = %id, error = %e, "could not commit a finished upload");
                Err(e.into())
            }
        }
    }

    /// Syncs the given uploads (a closing connection's) and records their
    /// durable offsets.
    pub(crate) async fn sync_all(&self, ids: impl IntoIterator<Item = UploadId>) {
        for id in ids {
            let slot = self.slot(&id);
            let mut guard = slot.lock().await;
            if let Some(open) = guard.as_mut() {
                if let Err(e) = sync(&self.store, open).await {
                    tracing::warn!(upload = %id, error = %e, "could not sync an upload");
                }
            } else {
                drop(guard);
                self.forget(&id);
            }
        }
    }

    /// Cancels the owner's upload: removes its record, then its part file.
    ///
    /// # Errors
    /// [`StoreError::UnknownUpload`] if it is not the owner's.
    pub(crate) async fn cancel(&self, id: &UploadId, owner: ClientId) -> Result<(), StoreError> {
        self.store.upload_cancel(*id, owner).await?;
        self.remove(id).await;
        Ok(())
    }

    /// Deletes the uploads idle since before `before_ms`, records and
    /// part files, and the finished room files of that age no room message
    /// names; returns how many there were.
    ///
    /// # Errors
    /// The database failed.
    pub(crate) async fn expire(&self, before_ms: u64) -> Result<usize, StoreError> {
        let expired = self.store.expire_uploads(before_ms).await?;
        for id in &expired.uploads {
            self.remove(id).await;
        }
        let count = expired.uploads.len() + expired.blobs.len();
        self.blobs.delete(expired.blobs).await;
        Ok(count)
    }

    /// Closes and deletes the part files of uploads whose records are
    /// already gone (an account the operator removed, a deleted room).
    pub(crate) async fn discard(&self, ids: &[UploadId]) {
        for id in ids {
            self.remove(id).await;
        }
    }

    /// Deletes unfinished uploads that made no progress for `max_age`, now
    /// and then; runs until the task is aborted.
    pub(crate) async fn expire_periodically(self, max_age: Duration) {
        let mut tick = tokio::time::interval(EXPIRY_INTERVAL);
        loop {
            tick.tick().await;
            let before = ms_ago(max_age);
            match self.expire(before).await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "expired unfinished uploads"),
                Err(e) => tracing::warn!(error = %e, "could not expire uploads"),
            }
        }
    }

    /// Closes and deletes an upload's part file (cancelled or expired).
    async fn remove(&self, id: &UploadId) {
        let slot = self.slot(id);
        slot.lock().await.take();
        self.forget(id);
        self.blobs.delete_upload(id).await;
    }
}

async fn sync(store: &Store, open: &mut OpenUpload) -> Result<(), StoreError> {
    if open.file.synced() != open.file.len() {
        let durable = open.file.sync().await?;
        if !open.file.keeps_its_offset() {
            store.upload_progress(open.record.id, durable);
        }
    }
    Ok(())
}
