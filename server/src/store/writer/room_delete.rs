//! The writer's statements for deleting a room (PROTOCOL.md "Deleting
//! (145)"): in one savepoint the owner's notice goes to every other member's
//! inbox as a type-6 message, and the room goes: its log, members, bans,
//! files, and the observer's `PublicGroup`.
//!
//! Only the owner deletes (an admin once the owner left, or the only
//! member: `sealpost_rooms::may_delete`), by the roles the observer follows (the group
//! context every member agrees on), not by the server's own columns.

use std::sync::Arc;

use bytes::Bytes;
use protocol::v3::RoomNotice;
use protocol::{ClientId, MessageKind, RoomId, UploadId};
use rusqlite::{Transaction, params};
use sealpost_rooms::{ObserverTx, peek_header};

use super::batch::{View, atomically};
use super::messages::insert_row;
use super::room_access::{self, member_epoch, room_error};
use super::room_files;
use crate::error::StoreError;
use crate::store::quota::Limits;
use crate::store::rows::fixed;
use crate::store::values::{DeletedRoom, MessageBody, StoreEvent, WaitingMessage, now_ms};

/// Deletes `room` for its owner `author`, leaving `notice` (a private
/// application message of the room at `epoch`) to each other member.
/// Its unfinished uploads are cancelled in the same savepoint (their
/// reservations given back). Returns the blobs of the room's files and the
/// uploads whose part files go, to delete once committed.
///
/// # Errors
/// [`StoreError::UnknownRoom`] (not a current member),
/// [`StoreError::RoomRefused`] (not the owner, or not a private application
/// message of this room), [`StoreError::StaleEpoch`]; quota errors.
pub(super) fn delete(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    limits: &Limits,
    author: ClientId,
    room: RoomId,
    epoch: u64,
    notice: Bytes,
) -> Result<DeletedRoom, StoreError> {
    let now = now_ms();
    let (freed, files, notices, uploads) = atomically(tx, || {
        let room_epoch = member_epoch(tx, room, author)?;
        let state = room_access::observed(tx, room)?;
        if !sealpost_rooms::may_delete(&state.members, sealpost_rooms::ClientId(author.0)) {
            return Err(StoreError::RoomRefused(
                "only the room's owner deletes it (an admin once the owner has left, \
                 or its only member)"
                    .into(),
            ));
        }
        let header = peek_header(&notice).map_err(room_error)?;
        if header.room.0 != room.0 || !header.private || !header.application {
            return Err(StoreError::RoomRefused(
                "the notice is not an application message of this room".into(),
            ));
        }
        if epoch != room_epoch || header.epoch != room_epoch {
            return Err(StoreError::StaleEpoch(room_epoch));
        }
        let content = RoomNotice {
            room,
            epoch,
            notice: notice.clone(),
        }
        .encode()
        .map_err(|e| StoreError::RoomRefused(e.to_string()))?;
        let mut notices = Vec::new();
        // A member whose account the operator removed keeps its leaf until
        // an admin removes it; it has no inbox for the notice.
        let recipients: Vec<ClientId> = state
            .members
            .iter()
            .map(|m| ClientId(m.client_id.0))
            .filter(|c| *c != author && view.client_known(c))
            .collect();
        for recipient in recipients {
            view.counts()
                .check(limits, &author, &recipient, content.len() as u64)?;
            let body = MessageBody::Inline(content.clone());
            let id = insert_row(
                tx,
                view,
                &recipient,
                &author,
                MessageKind::RoomDeleted,
                &body,
                now,
            )?;
            notices.push((
                recipient,
                Arc::new(WaitingMessage {
                    id,
                    sender: author,
                    kind: MessageKind::RoomDeleted,
                    size: body.size(),
                    created_at_ms: now,
                    body,
                }),
            ));
        }
        let mut stmt = tx.prepare_cached(
            "DELETE FROM room_log WHERE room = ?1 RETURNING sender, length(body)",
        )?;
        let rows = stmt.query_map(params![&room.0[..]], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut freed = Vec::new();
        for row in rows {
            let (sender, bytes) = row?;
            freed.push((ClientId(fixed(&sender, "client id")?), bytes));
        }
        drop(stmt);
        let files = room_files::delete_of_room(tx, room)?;
        let mut stmt = tx.prepare_cached(
            "DELETE FROM uploads WHERE to_room = 1 AND destination = ?1
             RETURNING id, owner, file_size",
        )?;
        let rows = stmt.query_map(params![&room.0[..]], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut uploads = Vec::new();
        for row in rows {
            let (id, owner, size) = row?;
            uploads.push((
                UploadId(fixed(&id, "upload id")?),
                ClientId(fixed(&owner, "client id")?),
                size as u64,
            ));
        }
        drop(stmt);
        for sql in [
            "DELETE FROM room_members WHERE room = ?1",
            "DELETE FROM room_holds WHERE room = ?1",
            "DELETE FROM room_bans WHERE room = ?1",
            "DELETE FROM room_passwords WHERE room = ?1",
            "DELETE FROM rooms WHERE id = ?1",
        ] {
            tx.prepare_cached(sql)?.execute(params![&room.0[..]])?;
        }
        ObserverTx::new(tx)
            .forget(sealpost_rooms::RoomId(room.0))
            .map_err(room_error)?;
        Ok((freed, files, notices, uploads))
    })?;
    for (sender, bytes) in freed {
        view.staged.tally.add_room_entry(sender, -bytes);
    }
    for (recipient, n) in notices {
        view.staged
            .tally
            .add_message(recipient, Some(author), 1, n.size as i64);
        view.staged.events.push(StoreEvent::NewMessage {
            recipient,
            message: n,
            queued: None,
        });
    }
    for &(_, owner, size) in &uploads {
        view.staged.tally.reserve_room_upload(owner, size, -1);
    }
    Ok(DeletedRoom {
        blobs: room_files::unstage(view, files),
        uploads: uploads.into_iter().map(|(id, _, _)| id).collect(),
    })
}
