//! The writer's statements for files sent to a room (PROTOCOL.md "Files to
//! a room"): an upload to a room begins like any upload but reserves no
//! inbox; finished, it becomes a `room_files` row (one blob, whatever the
//! room's size) that one room message then names; the row goes with the
//! entry that names it, or unnamed with the expiry of unfinished uploads.
//!
//! Every deletion returns the blob names: the caller deletes the files once
//! the batch has committed (a crash in between leaves orphans, which the
//! startup sweep removes). The upload steps shared with one-to-one files
//! (chunks, resume, cancel) are `uploads.rs`'.

use bytes::Bytes;
use protocol::{ClientId, RoomId, UploadId};
use rusqlite::{Transaction, params};

use super::batch::View;
use crate::error::StoreError;
use crate::store::quota::Limits;
use crate::store::rows::fixed;
use crate::store::values::{Stored, UploadRecord, now_ms};

/// Begins an upload to `room`, whose current member `owner` must be.
pub(super) fn begin(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    limits: &Limits,
    owner: ClientId,
    room: RoomId,
    file_size: u64,
    meta: Bytes,
) -> Result<UploadRecord, StoreError> {
    let member = tx
        .prepare_cached(
            "SELECT 1 FROM room_members WHERE room = ?1 AND client = ?2 AND until_seq IS NULL",
        )?
        .exists(params![&room.0[..], &owner.0[..]])?;
    if !member {
        return Err(StoreError::UnknownRoom);
    }
    if view.counts().uploads(&owner) >= i64::from(limits.max_uploads_per_client) {
        return Err(StoreError::TooManyUploads(limits.max_uploads_per_client));
    }
    view.counts().check_room(limits, &owner, file_size)?;
    let id = UploadId(*uuid::Uuid::new_v4().as_bytes());
    tx.prepare_cached(
        "INSERT INTO uploads (id, owner, destination, file_size, meta, durable_offset,
                              created_at, to_room)
         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, 1)",
    )?
    .execute(params![
        &id.0[..],
        &owner.0[..],
        &room.0[..],
        file_size as i64,
        &meta[..],
        now_ms() as i64
    ])?;
    view.staged.tally.reserve_room_upload(owner, file_size, 1);
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

/// Turns a finished upload to a room (its row already deleted by the
/// caller, in the same savepoint) into a room file waiting to be named.
/// Keeps the upload's creation time: an unnamed file expires like it.
pub(super) fn complete(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    record: &UploadRecord,
    created_at: u64,
    blob: &str,
) -> Result<Stored, StoreError> {
    tx.prepare_cached(
        "INSERT INTO room_files (id, room, owner, size, blob, created_at, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)",
    )?
    .execute(params![
        &record.id.0[..],
        &record.destination.0[..],
        &record.owner.0[..],
        record.file_size as i64,
        blob,
        created_at as i64
    ])?;
    // The reservation stays, now as the room file.
    view.staged.tally.complete_upload(record.owner);
    Ok(Stored {
        id: 0,
        created_at_ms: now_ms(),
    })
}

/// Makes entry `seq` name the file `file`: a finished upload of `author`
/// to `room` that no entry names yet.
pub(super) fn name(
    tx: &Transaction<'_>,
    room: RoomId,
    author: ClientId,
    file: UploadId,
    seq: u64,
) -> Result<(), StoreError> {
    let named = tx
        .prepare_cached(
            "UPDATE room_files SET seq = ?1
             WHERE id = ?2 AND room = ?3 AND owner = ?4 AND seq IS NULL",
        )?
        .execute(params![seq as i64, &file.0[..], &room.0[..], &author.0[..]])?;
    if named == 0 {
        return Err(StoreError::UnknownUpload);
    }
    Ok(())
}

/// A deleted room file: whose bytes it held, how many, and its blob.
pub(super) struct FreedFile {
    pub(super) owner: ClientId,
    pub(super) size: i64,
    pub(super) blob: String,
}

/// Gives the freed files' bytes back to their owners and returns their blobs.
pub(super) fn unstage(view: &mut View<'_>, freed: Vec<FreedFile>) -> Vec<String> {
    freed
        .into_iter()
        .map(|f| {
            view.staged.tally.add_room_entry(f.owner, -f.size);
            f.blob
        })
        .collect()
}

/// Deletes the files named by entries of `room` up to `upto` that no
/// member holds (the entries every member has read, deleted in the same
/// savepoint).
pub(super) fn delete_upto(
    tx: &Transaction<'_>,
    room: RoomId,
    upto: i64,
) -> Result<Vec<FreedFile>, StoreError> {
    freed(
        tx,
        "DELETE FROM room_files WHERE room = ?1 AND seq IS NOT NULL AND seq <= ?2
             AND NOT EXISTS (SELECT 1 FROM room_holds h
                             WHERE h.room = ?1 AND h.seq = room_files.seq)
         RETURNING owner, size, blob",
        params![&room.0[..], upto],
    )
}

/// Deletes the file entry `seq` of `room` names (its last hold released).
pub(super) fn delete_one(
    tx: &Transaction<'_>,
    room: RoomId,
    seq: u64,
) -> Result<Vec<FreedFile>, StoreError> {
    freed(
        tx,
        "DELETE FROM room_files WHERE room = ?1 AND seq = ?2 RETURNING owner, size, blob",
        params![&room.0[..], seq as i64],
    )
}

/// Deletes every file of `room`, named or not (its owner deleted it).
pub(super) fn delete_of_room(
    tx: &Transaction<'_>,
    room: RoomId,
) -> Result<Vec<FreedFile>, StoreError> {
    freed(
        tx,
        "DELETE FROM room_files WHERE room = ?1 RETURNING owner, size, blob",
        params![&room.0[..]],
    )
}

/// Deletes the files whose entries are gone (retention).
pub(super) fn delete_orphaned(tx: &Transaction<'_>) -> Result<Vec<FreedFile>, StoreError> {
    freed(
        tx,
        "DELETE FROM room_files WHERE seq IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM room_log l WHERE l.seq = room_files.seq)
         RETURNING owner, size, blob",
        [],
    )
}

/// Deletes finished files no entry named, made before `created_before_ms`.
pub(super) fn delete_unnamed(
    tx: &Transaction<'_>,
    created_before_ms: u64,
) -> Result<Vec<FreedFile>, StoreError> {
    freed(
        tx,
        "DELETE FROM room_files WHERE seq IS NULL AND created_at < ?1
         RETURNING owner, size, blob",
        [created_before_ms as i64],
    )
}

/// Deletes the files of `owner` no entry named (its account is removed).
pub(super) fn delete_unnamed_of(
    tx: &Transaction<'_>,
    owner: &[u8],
) -> Result<Vec<FreedFile>, StoreError> {
    freed(
        tx,
        "DELETE FROM room_files WHERE seq IS NULL AND owner = ?1
         RETURNING owner, size, blob",
        [owner],
    )
}

fn freed(
    tx: &Transaction<'_>,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<FreedFile>, StoreError> {
    let mut stmt = tx.prepare_cached(sql)?;
    let rows = stmt.query_map(params, |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (owner, size, blob) = row?;
        out.push(FreedFile {
            owner: ClientId(fixed(&owner, "room file owner")?),
            size,
            blob,
        });
    }
    Ok(out)
}
