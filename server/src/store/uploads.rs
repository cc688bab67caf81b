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

    /// Removes uploads idle since before `before_ms` (neither begun nor
    /// advanced since), and finished room files made before it that no
    /// room message named; returns what went.
    ///
    /// # Errors
    /// The database failed.
    pub async fn expire_uploads(&self, before_ms: u64) -> Result<ExpiredUploads, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.expire_uploads(before_ms).await;
        }
        self.write(|reply| WriteOp::ExpireUploads { before_ms, reply })
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use protocol::{Name, PublicKey};

    use super::*;
    use crate::config::Durability;
    use crate::store::directory::Protocol;
    use crate::store::quota::Limits;
    use crate::store::values::now_ms;

    /// Past this instant nothing happened to the upload but its progress.
    async fn a_moment_later() -> u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let now = now_ms();
        tokio::time::sleep(Duration::from_millis(5)).await;
        now
    }

    const LIMITS: Limits = Limits {
        inbox_max_messages: 1_000,
        inbox_max_bytes: 1 << 30,
        sender_max_bytes: 1 << 30,
        max_storage_bytes: 1 << 40,
        max_uploads_per_client: 10,
    };

    /// Two uploads from alice to bob, both begun; one then makes progress.
    /// Expiry by inactivity takes the stalled one first, however long ago
    /// the moving one began, and the moving one only once it stalls too.
    async fn expiry_counts_from_the_last_progress(store: &Store) {
        let mut ids = Vec::new();
        for (name, key) in [("alice", 1), ("bob", 2)] {
            let name = Name::new(name).unwrap();
            let key = PublicKey([key; protocol::PUBLIC_KEY_LEN]);
            let record = store.register(name, key, Protocol::V3, None).await.unwrap();
            ids.push(record.id);
        }
        let (alice, bob) = (ids[0], ids[1]);
        let moving = store
            .upload_begin(alice, UploadTo::Client(bob), 1 << 20, Bytes::new())
            .await
            .unwrap();
        let stalled = store
            .upload_begin(alice, UploadTo::Client(bob), 1 << 20, Bytes::new())
            .await
            .unwrap();
        let after_both_began = a_moment_later().await;
        store
            .upload_progress_committed(moving.id, 65_536)
            .await
            .unwrap();
        let expired = store.expire_uploads(after_both_began).await.unwrap();
        assert_eq!(expired.uploads, vec![stalled.id]);
        let after_progress = a_moment_later().await;
        let expired = store.expire_uploads(after_progress).await.unwrap();
        assert_eq!(expired.uploads, vec![moving.id]);
        store.close().await;
    }

    #[tokio::test]
    async fn an_upload_still_making_progress_is_not_expired_however_long_ago_it_began() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("server.db");
        let notify = Arc::new(|_| {});
        let store = Store::open(&db, Durability::Normal, LIMITS, |_| true, notify).unwrap();
        expiry_counts_from_the_last_progress(&store).await;
    }

    #[tokio::test]
    async fn on_postgresql_an_upload_still_making_progress_is_not_expired() {
        let postgres = tokio::task::spawn_blocking(pgtemp::Postgres::start)
            .await
            .unwrap()
            .unwrap();
        let notify = Arc::new(|_| {});
        let store = Store::open_postgres(&postgres.url(), LIMITS, notify)
            .await
            .unwrap();
        expiry_counts_from_the_last_progress(&store).await;
    }
}
