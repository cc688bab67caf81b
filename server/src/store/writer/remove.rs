//! Removing an account (the operator's `server user remove`, or its own
//! 114): its row, the messages waiting for it and the unfinished uploads
//! from or to it, in one savepoint, with the quota counts given back, and a
//! type-7 notice for each sender of its deleted texts and file offers
//! (`store::not_delivered`). The name is free once the batch commits; the
//! files are deleted by the caller after that.

use std::sync::Arc;

use protocol::v3::GoneReason;
use protocol::{ClientId, MessageKind, UploadId};
use rusqlite::{OptionalExtension, Transaction};

use super::batch::{View, atomically};
use super::messages::insert_row;
use super::room_files;
use crate::error::StoreError;
use crate::store::directory::Protocol;
use crate::store::not_delivered::notices;
use crate::store::values::{MessageBody, RemovedAccount, StoreEvent, WaitingMessage, now_ms};

pub(super) fn remove_account(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    name_key: &str,
    reason: GoneReason,
) -> Result<Option<RemovedAccount>, StoreError> {
    let now = now_ms();
    let (id, messages, uploads, unnamed, told) = match atomically(tx, || {
        let id: Option<Vec<u8>> = tx
            .prepare_cached("DELETE FROM clients WHERE name_key = ?1 RETURNING id")?
            .query_row([name_key], |r| r.get(0))
            .optional()?;
        let Some(id) = id else {
            return Ok(None);
        };
        let mut messages = Vec::new();
        let mut stmt = tx.prepare_cached(
            "DELETE FROM messages WHERE recipient = ?1 RETURNING id, size, blob, sender, kind",
        )?;
        let mut rows = stmt.query([&id[..]])?;
        while let Some(r) = rows.next()? {
            messages.push((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, u8>(4)?,
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
        let told = tell_senders(tx, view, &id, &messages, reason, now)?;
        Ok(Some((id, messages, uploads, unnamed, told)))
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
        notices: told.len() as u64,
    };
    let mut ids = Vec::with_capacity(messages.len());
    for (message_id, size, blob, sender, _) in messages {
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
    for (recipient, n) in told {
        // Counted as the deleted account's, as its other messages are: an
        // acknowledgement gives back what its sender was counted.
        view.staged
            .tally
            .add_message(recipient, Some(id), 1, n.size as i64);
        view.staged.events.push(StoreEvent::NewMessage {
            recipient,
            message: n,
            queued: None,
        });
    }
    view.staged.removed_clients.push(id);
    Ok(Some(removed))
}

/// A deleted message's row: id, size, blob, sender, kind.
type Deleted = (i64, i64, Option<String>, Vec<u8>, u8);

/// Stores the type-7 notices for the senders of `messages`, deleted with
/// the account `gone`: version-3 accounts only (version 2 has no type 7),
/// and never held to their inbox limits (the deletion cannot be refused).
fn tell_senders(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    gone: &[u8],
    messages: &[Deleted],
    reason: GoneReason,
    now: u64,
) -> Result<Vec<(ClientId, Arc<WaitingMessage>)>, StoreError> {
    let gone = client_id(gone)?;
    let mut deleted = Vec::with_capacity(messages.len());
    for (id, _, _, sender, kind) in messages {
        // A kind this server does not know is not one to tell of.
        if let Ok(kind) = MessageKind::from_code(*kind) {
            deleted.push((client_id(sender)?, *id as u64, kind));
        }
    }
    let grouped = notices(deleted, gone, reason, |sender| {
        view.client_known(sender) && view.directory.get(Protocol::V3, sender).is_some()
    })?;
    let mut told = Vec::with_capacity(grouped.len());
    for (recipient, content) in grouped {
        let body = MessageBody::Inline(content);
        let kind = MessageKind::NotDelivered;
        let id = insert_row(tx, view, &recipient, &gone, kind, &body, now)?;
        told.push((
            recipient,
            Arc::new(WaitingMessage {
                id,
                sender: gone,
                kind,
                size: body.size(),
                created_at_ms: now,
                body,
            }),
        ));
    }
    Ok(told)
}

fn client_id(bytes: &[u8]) -> Result<ClientId, StoreError> {
    bytes
        .try_into()
        .map(ClientId)
        .map_err(|_| StoreError::Corrupt(format!("client id of {} bytes", bytes.len())))
}
