//! Deleting a room on PostgreSQL (PROTOCOL.md "Deleting (145)"), its
//! unfinished uploads cancelled in the same transaction, and
//! storing its group info for joiners ("Group info (142)"): the same rules
//! as the SQLite writer's (`writer/room_delete.rs`,
//! `writer/room_access.rs`), each in one transaction holding the room's row.
//!
//! Only the owner deletes (an admin once the owner left, or the only
//! member: `sealpost_rooms::may_delete`), by the roles the observer follows (the group
//! context every member agrees on), not by the server's own columns.

use bytes::Bytes;
use protocol::v3::RoomNotice;
use protocol::{ClientId, MessageKind, RoomId};
use sealpost_rooms::{check_group_info, peek_header};

use super::Pg;
use super::channels::client_id;
use super::messages::add_message;
use super::quota;
use super::room_acks::{Freed, freed_files};
use super::room_log::member_epoch;
use super::room_observer::{self, lock_room, room_error};
use super::uploads::{UPLOAD_COLUMNS, row_to_upload};
use crate::error::StoreError;
use crate::store::values::{DeletedRoom, MessageBody, now_ms};

impl Pg {
    /// See `Store::delete_room`.
    pub(crate) async fn delete_room(
        &self,
        author: ClientId,
        room: RoomId,
        epoch: u64,
        notice: Bytes,
    ) -> Result<DeletedRoom, StoreError> {
        let now = now_ms();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        lock_room(&tx, room).await?;
        let room_epoch = member_epoch(&tx, room, author).await?;
        let snapshot = room_observer::load(&tx, room).await?;
        let (state, _) = self
            .observe(snapshot, move |o, _| o.room(sealpost_rooms::RoomId(room.0)))
            .await?;
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
        let recipients: Vec<ClientId> = state
            .members
            .iter()
            .filter(|m| m.client_id.0 != author.0)
            .map(|m| ClientId(m.client_id.0))
            .collect();
        // The room's unfinished uploads go with it (after the room's row,
        // before usage rows: the lock order of `quota.rs`).
        let uploads = tx
            .query(
                &format!(
                    "DELETE FROM uploads WHERE to_room AND destination = $1
                     RETURNING {UPLOAD_COLUMNS}"
                ),
                &[&&room.0[..]],
            )
            .await?
            .iter()
            .map(row_to_upload)
            .collect::<Result<Vec<_>, _>>()?;
        // Every usage row this transaction changes, locked in one statement.
        let owners = tx
            .query(
                "SELECT sender FROM room_log WHERE room = $1
                 UNION SELECT owner FROM room_files WHERE room = $1",
                &[&&room.0[..]],
            )
            .await?;
        let mut clients = recipients.clone();
        clients.push(author);
        for r in &owners {
            clients.push(client_id(r.get(0))?);
        }
        clients.extend(uploads.iter().map(|u| u.owner));
        let usage = quota::lock(&tx, &clients).await?;
        self.give_back(&tx, &uploads).await?;
        // A member whose account the operator removed keeps its leaf until
        // an admin removes it; it has no inbox for the notice.
        let recipients: Vec<ClientId> = recipients
            .into_iter()
            .filter(|r| usage.contains_key(r))
            .collect();
        let mut sent = usage.get(&author).copied().unwrap_or_default();
        for recipient in &recipients {
            let inbox = usage.get(recipient).ok_or(StoreError::UnknownClient)?;
            quota::check(&self.limits, inbox, &sent, content.len() as u64)?;
            sent.sent_bytes += content.len() as i64;
        }
        for &recipient in &recipients {
            add_message(&tx, &recipient, &author, 1, content.len() as i64).await?;
            let body = MessageBody::Inline(content.clone());
            let kind = MessageKind::RoomDeleted;
            self.insert_row(&tx, &recipient, &author, kind, &body, now)
                .await?;
        }
        let rows = tx
            .query(
                "DELETE FROM room_log WHERE room = $1
                 RETURNING sender, octet_length(body)::BIGINT",
                &[&&room.0[..]],
            )
            .await?;
        let mut freed = Freed::new();
        for r in &rows {
            *freed.entry(client_id(r.get(0))?).or_default() += r.get::<_, i64>(1);
        }
        let files = tx
            .query(
                "DELETE FROM room_files WHERE room = $1 RETURNING owner, size, blob",
                &[&&room.0[..]],
            )
            .await?;
        let mut blobs = Vec::new();
        freed_files(&files, &mut freed, &mut blobs)?;
        // The notices and the freed bytes go through the author's stripe,
        // as one change (one stripe keeps the lock order).
        let notices = (content.len() * recipients.len()) as i64;
        quota::add_storage(&tx, &self.limits, &author, notices).await?;
        self.give_back_room_bytes(&tx, author, freed).await?;
        for sql in [
            "DELETE FROM room_members WHERE room = $1",
            "DELETE FROM room_holds WHERE room = $1",
            "DELETE FROM room_bans WHERE room = $1",
            "DELETE FROM room_passwords WHERE room = $1",
            "DELETE FROM room_mls WHERE room = $1",
            "DELETE FROM rooms WHERE id = $1",
        ] {
            tx.execute(sql, &[&&room.0[..]]).await?;
        }
        tx.commit().await?;
        for recipient in recipients {
            self.announce(recipient);
        }
        Ok(DeletedRoom {
            blobs,
            uploads: uploads.into_iter().map(|u| u.id).collect(),
        })
    }

    /// See `Store::store_group_info`.
    pub(crate) async fn store_group_info(
        &self,
        caller: ClientId,
        room: RoomId,
        epoch: u64,
        group_info: Bytes,
    ) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        lock_room(&tx, room).await?;
        let current = member_epoch(&tx, room, caller).await?;
        if current != epoch {
            return Err(StoreError::StaleEpoch(current));
        }
        check_group_info(&group_info, sealpost_rooms::RoomId(room.0), epoch).map_err(|_| {
            StoreError::RoomRefused("not a group info of this room at this epoch".into())
        })?;
        tx.execute(
            "UPDATE rooms SET group_info = $1, group_epoch = $2 WHERE id = $3",
            &[&&group_info[..], &(epoch as i64), &&room.0[..]],
        )
        .await?;
        tx.commit().await?;
        Ok(epoch)
    }

    /// Re-founding (151) is for rooms `server restore` brought back, and a
    /// cluster's rooms live in PostgreSQL, which that command does not
    /// restore: none is ever marked restored, so a member is refused.
    pub(crate) async fn refound_room(
        &self,
        caller: ClientId,
        room: RoomId,
    ) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let current = member_epoch(&tx, room, caller).await?;
        Err(StoreError::RoomRefused(format!(
            "{} (the server holds it at epoch {current})",
            crate::store::restored::NOT_RESTORED
        )))
    }
}
