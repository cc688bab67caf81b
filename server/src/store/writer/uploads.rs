//! The writer's statements for unfinished uploads: begin (reserving the
//! whole file against the quotas), cancel, expire, and complete, which turns
//! the upload's row into a file message in the same transaction (or, for an
//! upload to a room, into a room file: `room_files.rs`).

use std::sync::Arc;

use bytes::Bytes;
use protocol::{ClientId, MessageKind, UploadId};
use rusqlite::{Transaction, params};

use super::batch::{View, atomically};
use super::messages::insert_row;
use super::room_files;
use crate::error::StoreError;
use crate::store::quota::Limits;
use crate::store::rows::read_upload;
use crate::store::values::{
    ExpiredUploads, MessageBody, StoreEvent, Stored, UploadRecord, UploadTo, WaitingMessage, now_ms,
};

pub(super) fn upload_begin(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    limits: &Limits,
    owner: ClientId,
    to: UploadTo,
    file_size: u64,
    meta: Bytes,
) -> Result<UploadRecord, StoreError> {
    let destination = match to {
        UploadTo::Client(c) => c,
        UploadTo::Room(room) => {
            return room_files::begin(tx, view, limits, owner, room, file_size, meta);
        }
    };
    if !view.client_known(&destination) {
        return Err(StoreError::UnknownClient);
    }
    if view.counts().uploads(&owner) >= i64::from(limits.max_uploads_per_client) {
        return Err(StoreError::TooManyUploads(limits.max_uploads_per_client));
    }
    // Reserve now everything the finished file will hold (quota.rs), so
    // that uploads begun side by side cannot together overfill a quota.
    view.counts()
        .check(limits, &owner, &destination, file_size)?;
    let id = UploadId(*uuid::Uuid::new_v4().as_bytes());
    let created_at = now_ms();
    tx.prepare_cached(
        "INSERT INTO uploads (id, owner, destination, file_size, meta, durable_offset, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
    )?
    .execute(params![
        &id.0[..],
        &owner.0[..],
        &destination.0[..],
        file_size as i64,
        &meta[..],
        created_at as i64
    ])?;
    view.staged
        .tally
        .reserve_upload(owner, destination, file_size, 1);
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

/// Finds the caller's upload; `owner` None means any owner (expiry).
fn owned_upload(
    tx: &Transaction<'_>,
    id: &UploadId,
    owner: Option<ClientId>,
) -> Result<UploadRecord, StoreError> {
    let record = read_upload(tx, id)?.ok_or(StoreError::UnknownUpload)?;
    if owner.is_some_and(|o| o != record.owner) {
        return Err(StoreError::UnknownUpload);
    }
    Ok(record)
}

/// Gives back what an unfinished upload reserved.
fn unstage_upload(view: &mut View<'_>, record: &UploadRecord) {
    if record.to_room {
        view.staged
            .tally
            .reserve_room_upload(record.owner, record.file_size, -1);
    } else {
        view.staged
            .tally
            .reserve_upload(record.owner, record.destination, record.file_size, -1);
    }
}

pub(super) fn upload_remove(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    id: UploadId,
    owner: Option<ClientId>,
) -> Result<UploadRecord, StoreError> {
    let record = owned_upload(tx, &id, owner)?;
    tx.prepare_cached("DELETE FROM uploads WHERE id = ?1")?
        .execute([&id.0[..]])?;
    unstage_upload(view, &record);
    Ok(record)
}

pub(super) fn upload_complete(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    id: UploadId,
    owner: ClientId,
    blob: String,
) -> Result<(UploadRecord, Stored), StoreError> {
    let record = owned_upload(tx, &id, Some(owner))?;
    if record.to_room {
        let created_at: i64 = tx
            .prepare_cached("SELECT created_at FROM uploads WHERE id = ?1")?
            .query_row([&id.0[..]], |r| r.get(0))?;
        let stored = atomically(tx, || {
            tx.prepare_cached("DELETE FROM uploads WHERE id = ?1")?
                .execute([&id.0[..]])?;
            room_files::complete(tx, view, &record, created_at as u64, &blob)
        })?;
        return Ok((record, stored));
    }
    let body = MessageBody::File {
        blob,
        meta: record.meta.clone(),
        size: record.file_size,
    };
    let created_at = now_ms();
    let message_id = atomically(tx, || {
        tx.prepare_cached("DELETE FROM uploads WHERE id = ?1")?
            .execute([&id.0[..]])?;
        insert_row(
            tx,
            view,
            &record.destination,
            &owner,
            MessageKind::File,
            &body,
            created_at,
        )
    })?;
    // The reservation made at begin becomes the message: every quota
    // already counts it, so a file accepted at begin is always delivered.
    view.staged.tally.complete_upload(owner);
    view.staged.events.push(StoreEvent::NewMessage {
        recipient: record.destination,
        message: Arc::new(WaitingMessage {
            id: message_id,
            sender: owner,
            kind: MessageKind::File,
            size: record.file_size,
            created_at_ms: created_at,
            body,
        }),
        queued: None,
    });
    Ok((
        record,
        Stored {
            id: message_id,
            created_at_ms: created_at,
        },
    ))
}

pub(super) fn expire_uploads(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    before_ms: u64,
) -> Result<ExpiredUploads, StoreError> {
    let (records, unnamed) = atomically(tx, || {
        let ids: Vec<Vec<u8>> = tx
            .prepare_cached("SELECT id FROM uploads WHERE MAX(created_at, active_at) < ?1")?
            .query_map([before_ms as i64], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut records = Vec::with_capacity(ids.len());
        for raw in ids {
            let id = UploadId(
                raw.as_slice()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("upload id".into()))?,
            );
            records.push(owned_upload(tx, &id, None)?);
            tx.prepare_cached("DELETE FROM uploads WHERE id = ?1")?
                .execute([&id.0[..]])?;
        }
        // Finished room files no message named in the same time.
        let unnamed = room_files::delete_unnamed(tx, before_ms)?;
        Ok((records, unnamed))
    })?;
    for record in &records {
        unstage_upload(view, record);
    }
    Ok(ExpiredUploads {
        uploads: records.into_iter().map(|r| r.id).collect(),
        blobs: room_files::unstage(view, unnamed),
    })
}
