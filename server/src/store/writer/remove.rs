//! Removing an account (the operator's `server user remove`): its row, the
//! messages waiting for it and the unfinished uploads from or to it, in one
//! savepoint, with the quota counts given back. The name is free once the
//! batch commits; the files are deleted by the caller after that.

use protocol::{ClientId, UploadId};
use rusqlite::{OptionalExtension, Transaction};

use super::batch::{View, atomically};
use super::room_files;
use crate::error::StoreError;
use crate::store::values::RemovedAccount;

pub(super) fn remove_account(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    name_key: &str,
) -> Result<Option<RemovedAccount>, StoreError> {
    let (id, messages, uploads, unnamed) = match atomically(tx, || {
        let id: Option<Vec<u8>> = tx
            .prepare_cached("DELETE FROM clients WHERE name_key = ?1 RETURNING id")?
            .query_row([name_key], |r| r.get(0))
            .optional()?;
        let Some(id) = id else {
            return Ok(None);
        };
        let mut messages = Vec::new();
        let mut stmt = tx.prepare_cached(
            "DELETE FROM messages WHERE recipient = ?1 RETURNING id, size, blob, sender",
        )?;
        let mut rows = stmt.query([&id[..]])?;
        while let Some(r) = rows.next()? {
            messages.push((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ));
        }
        drop(rows);
        let mut uploads = Vec::new();
        let mut stmt = tx.prepare_cached(
            "DELETE FROM uploads WHERE owner = ?1 OR (destination = ?1 AND to_room = 0)
             RETURNING id, owner, destination, file_size, to_room",
        )?;
        let mut rows = stmt.query([&id[..]])?;
        while let Some(r) = rows.next()? {
            uploads.push((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, bool>(4)?,
            ));
        }
        drop(rows);
        drop(stmt);
        // No one may add the removed account to a room any more, and its
        // cursors no longer hold back the deletion of room entries (its
        // leaf stays in each room's MLS tree until an admin removes it).
        tx.prepare_cached("DELETE FROM key_packages WHERE owner = ?1")?
            .execute([&id[..]])?;
        tx.prepare_cached("DELETE FROM room_members WHERE client = ?1")?
            .execute([&id[..]])?;
        // Its holds on room files end: those entries go at their room's
        // next collection, or by retention.
        tx.prepare_cached("DELETE FROM room_holds WHERE client = ?1")?
            .execute([&id[..]])?;
        // Its room files no message names yet would only wait to expire.
        let unnamed = room_files::delete_unnamed_of(tx, &id)?;
        Ok(Some((id, messages, uploads, unnamed)))
    })? {
        Some(found) => found,
        None => return Ok(None),
    };
    let id = client_id(&id)?;
    let mut removed = RemovedAccount {
        id,
        messages: messages.len() as u64,
        bytes: 0,
        blobs: Vec::new(),
        uploads: Vec::with_capacity(uploads.len()),
    };
    let mut ids = Vec::with_capacity(messages.len());
    for (message_id, size, blob, sender) in messages {
        view.staged
            .tally
            .add_message(id, Some(client_id(&sender)?), -1, -size);
        removed.bytes += size as u64;
        removed.blobs.extend(blob);
        ids.push(message_id as u64);
    }
    removed.blobs.extend(room_files::unstage(view, unnamed));
    for (upload, owner, destination, size, to_room) in uploads {
        let (owner, destination) = (client_id(&owner)?, client_id(&destination)?);
        if to_room {
            view.staged
                .tally
                .reserve_room_upload(owner, size as u64, -1);
        } else {
            view.staged
                .tally
                .reserve_upload(owner, destination, size as u64, -1);
        }
        removed
            .uploads
            .push(UploadId(upload.as_slice().try_into().map_err(|_| {
                StoreError::Corrupt(format!("upload id of {} bytes", upload.len()))
            })?));
    }
    view.removed_messages(id, ids);
    view.staged.removed_clients.push(id);
    Ok(Some(removed))
}

fn client_id(bytes: &[u8]) -> Result<ClientId, StoreError> {
    bytes
        .try_into()
        .map(ClientId)
        .map_err(|_| StoreError::Corrupt(format!("client id of {} bytes", bytes.len())))
}
