//! Unfinished uploads on PostgreSQL: begin (reserving the whole file against
//! the quotas, as the SQLite writer does), progress, complete into a file
//! message in the same transaction, cancel and expire. An upload to a room
//! reserves no inbox; finished, it becomes a `room_files` row that one room
//! message then names (`rooms.rs`), as on SQLite (`writer/room_files.rs`).
//!
//! The bodies are files in the folder the nodes share (`crate::blobs`);
//! only these rows say how much of one is durable, so any node can resume
//! an upload another began.

use bytes::Bytes;
use protocol::{ClientId, MessageKind, UploadId};
use tokio_postgres::{Row, Transaction};

use super::Pg;
use super::channels::client_id;
use super::messages::add_message;
use super::quota::{self, Usage};
use super::room_acks::{Freed, freed_files};
use crate::error::StoreError;
use crate::store::rows::fixed;
use crate::store::values::{ExpiredUploads, MessageBody, Stored, UploadRecord, UploadTo, now_ms};

pub(super) const UPLOAD_COLUMNS: &str = "id, owner, destination, file_size, meta, durable_offset, to_room, \
                              created_at";

impl Pg {
    /// See `Store::upload_begin`.
    pub(crate) async fn upload_begin(
        &self,
        owner: ClientId,
        to: UploadTo,
        file_size: u64,
        meta: Bytes,
    ) -> Result<UploadRecord, StoreError> {
        let destination = match to {
            UploadTo::Client(destination) => destination,
            UploadTo::Room(room) => {
                return self.upload_begin_room(owner, room, file_size, meta).await;
            }
        };
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let usage = quota::lock(&tx, &[owner, destination]).await?;
        let inbox = usage.get(&destination).ok_or(StoreError::UnknownClient)?;
        let mine = usage.get(&owner).copied().unwrap_or_default();
        if mine.uploads >= i64::from(self.limits.max_uploads_per_client) {
            return Err(StoreError::TooManyUploads(
                self.limits.max_uploads_per_client,
            ));
        }
        // Reserve now everything the finished file will hold (quota.rs).
        quota::check(&self.limits, inbox, &mine, file_size)?;
        add_message(&tx, &destination, &owner, 1, file_size as i64).await?;
        let one_upload = Usage {
            uploads: 1,
            ..Usage::default()
        };
        quota::add(&tx, &owner, one_upload).await?;
        quota::add_storage(&tx, &self.limits, &destination, file_size as i64).await?;
        let id = UploadId(*uuid::Uuid::new_v4().as_bytes());
        tx.execute(
            "INSERT INTO uploads (id, owner, destination, file_size, meta, durable_offset,
                                  created_at)
             VALUES ($1, $2, $3, $4, $5, 0, $6)",
            &[
                &&id.0[..],
                &&owner.0[..],
                &&destination.0[..],
                &(file_size as i64),
                &&meta[..],
                &(now_ms() as i64),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(UploadRecord {
            id,
            owner,
            destination,
            file_size,
            meta,
            durable_offset: 0,
            to_room: false,
        })
    }

    /// See `Store::upload_progress_committed`.
    pub(crate) async fn upload_progress(
        &self,
        id: UploadId,
        durable_offset: u64,
    ) -> Result<(), StoreError> {
        self.conn()
            .await?
            .execute(
                // Progress is recorded by tasks that may commit out of
                // order; the offset only grows.
                "UPDATE uploads SET durable_offset = GREATEST(durable_offset, $1),
                                    active_at = GREATEST(active_at, $3)
                 WHERE id = $2",
                &[&(durable_offset as i64), &&id.0[..], &(now_ms() as i64)],
            )
            .await?;
        Ok(())
    }

    /// See `Store::upload_complete`.
    pub(crate) async fn upload_complete(
        &self,
        id: UploadId,
        owner: ClientId,
        blob: String,
    ) -> Result<(UploadRecord, Stored), StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let (record, created_at) = remove(&tx, &id, owner).await?;
        if record.to_room {
            return self.complete_room_file(tx, record, created_at, blob).await;
        }
        quota::lock(&tx, &[owner, record.destination]).await?;
        // The reservation made at begin becomes the message: every quota
        // already counts it, so a file accepted at begin is always delivered.
        let done = Usage {
            uploads: -1,
            ..Usage::default()
        };
        quota::add(&tx, &owner, done).await?;
        let body = MessageBody::File {
            blob,
            meta: record.meta.clone(),
            size: record.file_size,
        };
        let created_at = now_ms();
        let message_id = self
            .insert_row(
                &tx,
                &record.destination,
                &owner,
                MessageKind::File,
                &body,
                created_at,
            )
            .await?;
        tx.commit().await?;
        self.announce(record.destination);
        Ok((
            record,
            Stored {
                id: message_id,
                created_at_ms: created_at,
            },
        ))
    }

    /// See `Store::upload_cancel`.
    pub(crate) async fn upload_cancel(
        &self,
        id: UploadId,
        owner: ClientId,
    ) -> Result<UploadRecord, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let (record, _) = remove(&tx, &id, owner).await?;
        self.give_back(&tx, std::slice::from_ref(&record)).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// See `Store::expire_uploads`; every node runs it, and each expired
    /// row is returned to the one whose statement deleted it.
    pub(crate) async fn expire_uploads(
        &self,
        before_ms: u64,
    ) -> Result<ExpiredUploads, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let rows = tx
            .query(
                &format!(
                    "DELETE FROM uploads WHERE GREATEST(created_at, active_at) < $1
                     RETURNING {UPLOAD_COLUMNS}"
                ),
                &[&(before_ms as i64)],
            )
            .await?;
        let records = rows
            .iter()
            .map(row_to_upload)
            .collect::<Result<Vec<_>, _>>()?;
        self.give_back(&tx, &records).await?;
        let files = tx
            .query(
                "DELETE FROM room_files WHERE seq IS NULL AND created_at < $1
                 RETURNING owner, size, blob",
                &[&(before_ms as i64)],
            )
            .await?;
        let mut freed = Freed::new();
        let mut blobs = Vec::new();
        freed_files(&files, &mut freed, &mut blobs)?;
        if let Some(through) = freed.keys().min().copied() {
            self.give_back_room_bytes(&tx, through, freed).await?;
        }
        tx.commit().await?;
        Ok(ExpiredUploads {
            uploads: records.into_iter().map(|r| r.id).collect(),
            blobs,
        })
    }

    /// Gives back what removed unfinished uploads reserved.
    pub(super) async fn give_back(
        &self,
        tx: &Transaction<'_>,
        records: &[UploadRecord],
    ) -> Result<(), StoreError> {
        let Some(first) = records.first() else {
            return Ok(());
        };
        // A room's id is no client's: only uploads to clients lock theirs.
        let clients: Vec<ClientId> = records
            .iter()
            .flat_map(|r| [Some(r.owner), (!r.to_room).then_some(r.destination)])
            .flatten()
            .collect();
        quota::lock(tx, &clients).await?;
        let mut total = 0;
        for r in records {
            if r.to_room {
                let back = Usage {
                    sent_bytes: -(r.file_size as i64),
                    ..Usage::default()
                };
                quota::add(tx, &r.owner, back).await?;
            } else {
                add_message(tx, &r.destination, &r.owner, -1, -(r.file_size as i64)).await?;
            }
            let gone = Usage {
                uploads: -1,
                ..Usage::default()
            };
            quota::add(tx, &r.owner, gone).await?;
            total += r.file_size as i64;
        }
        // Through one stripe: only the sum counts, and one lock keeps the
        // lock order.
        quota::add_storage(tx, &self.limits, &first.destination, -total).await
    }

    /// See `Store::upload`.
    pub(crate) async fn upload(&self, id: UploadId) -> Result<Option<UploadRecord>, StoreError> {
        self.conn()
            .await?
            .query_opt(
                &format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE id = $1"),
                &[&&id.0[..]],
            )
            .await?
            .as_ref()
            .map(row_to_upload)
            .transpose()
    }

    /// See `Store::uploads`.
    pub(crate) async fn uploads(&self) -> Result<Vec<UploadRecord>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query(&format!("SELECT {UPLOAD_COLUMNS} FROM uploads"), &[])
            .await?;
        rows.iter().map(row_to_upload).collect()
    }
}

/// Deletes the owner's upload row; returns it with its creation time.
///
/// # Errors
/// [`StoreError::UnknownUpload`] if there is none.
async fn remove(
    tx: &Transaction<'_>,
    id: &UploadId,
    owner: ClientId,
) -> Result<(UploadRecord, u64), StoreError> {
    let row = tx
        .query_opt(
            &format!("DELETE FROM uploads WHERE id = $1 AND owner = $2 RETURNING {UPLOAD_COLUMNS}"),
            &[&&id.0[..], &&owner.0[..]],
        )
        .await?
        .ok_or(StoreError::UnknownUpload)?;
    Ok((row_to_upload(&row)?, row.get::<_, i64>(7) as u64))
}

pub(super) fn row_to_upload(r: &Row) -> Result<UploadRecord, StoreError> {
    Ok(UploadRecord {
        id: UploadId(fixed(r.get(0), "upload id")?),
        owner: client_id(r.get(1))?,
        destination: client_id(r.get(2))?,
        file_size: r.get::<_, i64>(3) as u64,
        meta: Bytes::from(r.get::<_, Vec<u8>>(4)),
        durable_offset: r.get::<_, i64>(5) as u64,
        to_room: r.get(6),
    })
}
