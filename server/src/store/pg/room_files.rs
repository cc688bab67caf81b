//! Files to a room on PostgreSQL (PROTOCOL.md "Files to a room"): an upload
//! to a room begins like any upload but reserves no inbox; finished, it
//! becomes a `room_files` row (one blob, whatever the room's size) that one
//! room message then names (`rooms.rs`). The same rules as the SQLite
//! writer's (`writer/room_files.rs`); the steps shared with one-to-one
//! files are `uploads.rs`'.

use bytes::Bytes;
use deadpool_postgres::Transaction;
use protocol::{ClientId, RoomId, UploadId};

use super::Pg;
use super::quota::{self, Usage};
use crate::error::StoreError;
use crate::store::values::{Stored, UploadRecord, now_ms};

impl Pg {
    /// Begins an upload to `room`, whose current member `owner` must be.
    pub(super) async fn upload_begin_room(
        &self,
        owner: ClientId,
        room: RoomId,
        file_size: u64,
        meta: Bytes,
    ) -> Result<UploadRecord, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        // The room's row first (as every room write): a deletion of the
        // room in flight commits before this looks for the member, so no
        // upload begins to a room that is gone.
        tx.execute(
            "SELECT 1 FROM rooms WHERE id = $1 FOR SHARE",
            &[&&room.0[..]],
        )
        .await?;
        let member = tx
            .query_opt(
                "SELECT 1 FROM room_members WHERE room = $1 AND client = $2
                     AND until_seq IS NULL",
                &[&&room.0[..], &&owner.0[..]],
            )
            .await?;
        if member.is_none() {
            return Err(StoreError::UnknownRoom);
        }
        let usage = quota::lock(&tx, &[owner]).await?;
        let mine = usage.get(&owner).copied().unwrap_or_default();
        if mine.uploads >= i64::from(self.limits.max_uploads_per_client) {
            return Err(StoreError::TooManyUploads(
                self.limits.max_uploads_per_client,
            ));
        }
        if mine.sent_bytes as u64 + file_size > self.limits.sender_max_bytes {
            return Err(StoreError::SenderBytesFull(self.limits.sender_max_bytes));
        }
        let reserved = Usage {
            sent_bytes: file_size as i64,
            uploads: 1,
            ..Usage::default()
        };
        quota::add(&tx, &owner, reserved).await?;
        quota::add_storage(&tx, &self.limits, &owner, file_size as i64).await?;
        let id = UploadId(*uuid::Uuid::new_v4().as_bytes());
        tx.execute(
            "INSERT INTO uploads (id, owner, destination, file_size, meta, durable_offset,
                                  created_at, to_room)
             VALUES ($1, $2, $3, $4, $5, 0, $6, true)",
            &[
                &&id.0[..],
                &&owner.0[..],
                &&room.0[..],
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
            destination: ClientId(room.0),
            file_size,
            meta,
            durable_offset: 0,
            to_room: true,
        })
    }

    /// Turns a finished upload to a room (its row already deleted in `tx`)
    /// into a room file waiting to be named, and commits. Keeps the
    /// upload's creation time: an unnamed file expires like it.
    pub(super) async fn complete_room_file(
        &self,
        tx: Transaction<'_>,
        record: UploadRecord,
        created_at: u64,
        blob: String,
    ) -> Result<(UploadRecord, Stored), StoreError> {
        quota::lock(&tx, &[record.owner]).await?;
        // The reservation stays, now as the room file.
        let done = Usage {
            uploads: -1,
            ..Usage::default()
        };
        quota::add(&tx, &record.owner, done).await?;
        tx.execute(
            "INSERT INTO room_files (id, room, owner, size, blob, created_at, seq)
             VALUES ($1, $2, $3, $4, $5, $6, NULL)",
            &[
                &&record.id.0[..],
                &&record.destination.0[..],
                &&record.owner.0[..],
                &(record.file_size as i64),
                &blob,
                &(created_at as i64),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok((
            record,
            Stored {
                id: 0,
                created_at_ms: now_ms(),
            },
        ))
    }
}
