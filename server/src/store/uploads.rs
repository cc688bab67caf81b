//! Unfinished uploads as callers see them: their rows (begun, progress,
//! completed into a file message, cancelled, expired) written through the
//! writer thread, and read back through the read pool. The blob files
//! themselves are `crate::blobs`; the writer's statements for these rows
//! are in `writer/uploads.rs`.

use bytes::Bytes;
use protocol::{ClientId, UploadId};

use super::handle::{ROW_OVERHEAD, Store};
use super::rows::{read_upload, row_to_upload};
use super::values::{ExpiredUploads, Stored, UploadRecord, UploadTo};
use super::writer::WriteOp;
use crate::error::StoreError;

impl Store {
    /// Begins an upload to a client or a room, reserving its size.
    ///
    /// # Errors
    /// Unknown destination (or not a member of the room), too many uploads,
    /// or a quota.
    pub async fn upload_begin(
        &self,
        owner: ClientId,
        to: UploadTo,
        file_size: u64,
        meta: Bytes,
    ) -> Result<UploadRecord, StoreError> {
        // The whole file must fit above the reserve now; its chunks are
        // admitted as they are written.
        if let Some(h) = self.inner.headroom.get() {
            h.check(file_size.saturating_add(ROW_OVERHEAD))?;
        }
        if let Some(pg) = self.pg() {
            return pg.upload_begin(owner, to, file_size, meta).await;
        }
        self.write(|reply| WriteOp::UploadBegin {
            owner,
            to,
            file_size,
            meta,
            reply,
        })
        .await
    }

    /// Records how much of an upload is durably on disk.
    pub fn upload_progress(&self, id: UploadId, durable_offset: u64) {
        if self.pg().is_some() {
            // Off the caller's path, as the writer's queue would take it.
            let store = self.clone();
            tokio::spawn(async move {
                if let Some(pg) = store.pg()
                    && let Err(e) = pg.upload_progress(id, durable_offset).await
                {
                    tracing::warn!(error = %e, "could not record upload progress");
                }
            });
            return;
        }
        let _ = self.submit(WriteOp::UploadProgress {
            id,
            durable_offset,
            reply: None,
        });
    }

    /// Records an upload's durable offset and waits until it is committed,
    /// so that an offset reported as durable survives a crash.
    ///
    /// # Errors
    /// The database refused the change or is closed.
    pub async fn upload_progress_committed(
        &self,
        id: UploadId,
        durable_offset: u64,
    ) -> Result<(), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.upload_progress(id, durable_offset).await;
        }
        self.write(|reply| WriteOp::UploadProgress {
            id,
            durable_offset,
            reply: Some(reply),
        })
        .await
    }

    /// Turns a finished upload into a file message stored in `blob`.
    ///
    /// # Errors
    /// The upload is not the owner's.
    pub async fn upload_complete(
        &self,
        id: UploadId,
        owner: ClientId,
        blob: String,
    ) -> Result<(UploadRecord, Stored), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.upload_complete(id, owner, blob).await;
        }
        self.write(|reply| WriteOp::UploadComplete {
            id,
            owner,
            blob,
            reply,
        })
        .await
    }

    /// Removes the owner's upload.
    ///
    /// # Errors
    /// [`StoreError::UnknownUpload`] if it is not the owner's.
    pub async fn upload_cancel(
        &self,
        id: UploadId,
        owner: ClientId,
    ) -> Result<UploadRecord, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.upload_cancel(id, owner).await;
        }
        self.write(|reply| WriteOp::UploadCancel { id, owner, reply })
            .await
    }

    /// Removes uploads begun before `created_before_ms`, and finished room
    /// files of that age that no room message named; returns what went.
    ///
    /// # Errors
    /// The database failed.
    pub async fn expire_uploads(
        &self,
        created_before_ms: u64,
    ) -> Result<ExpiredUploads, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.expire_uploads(created_before_ms).await;
        }
        self.write(|reply| WriteOp::ExpireUploads {
            created_before_ms,
            reply,
        })
        .await
    }

    /// An unfinished upload.
    ///
    /// # Errors
    /// The database failed.
    pub async fn upload(&self, id: UploadId) -> Result<Option<UploadRecord>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.upload(id).await;
        }
        self.read(move |conn| read_upload(conn, &id)).await
    }

    /// Every unfinished upload.
    ///
    /// # Errors
    /// The database failed.
    pub async fn uploads(&self) -> Result<Vec<UploadRecord>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.uploads().await;
        }
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT id, owner, destination, file_size, meta, durable_offset, to_room
                 FROM uploads",
            )?;
            let rows = stmt.query_map([], row_to_upload)?;
            let mut out = Vec::new();
            for row in rows {
                out.push(row??);
            }
            Ok(out)
        })
        .await
    }
}
