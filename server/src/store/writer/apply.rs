//! The operations the writer applies, dispatched one by one inside the
//! batch's transaction; accounts (register, last seen) are here, messages
//! and uploads in their own files. Nothing here commits: the loop in
//! `mod.rs` does, once for the whole batch.

use protocol::{ClientId, Name, PublicKey};
use rusqlite::{OptionalExtension, Transaction, params};

use super::batch::View;
use super::ops::{Pending, RoomDone, RoomWrite, WriteOp};
use super::{
    key_packages, messages, remove, room_access, room_acks, room_delete, room_holds, room_password,
    room_refound, rooms, uploads,
};
use crate::error::StoreError;
use crate::store::directory::{ClientRecord, Protocol, name_key};
use crate::store::quota::Limits;
use crate::store::values::now_ms;

/// Applies one operation inside the batch's transaction. Statements that fail
/// because of the request (a taken name) leave the transaction usable.
pub(super) fn apply(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    limits: &Limits,
    op: WriteOp,
) -> Option<Pending> {
    Some(match op {
        WriteOp::Register {
            name,
            public_key,
            protocol,
            skeleton,
            reply,
        } => Pending::Client(
            reply,
            register(tx, view, name, public_key, protocol, skeleton),
        ),
        WriteOp::Insert { message, reply } => {
            Pending::Stored(reply, messages::insert(tx, view, limits, message))
        }
        WriteOp::Delete {
            recipient,
            ids,
            reply,
        } => Pending::Removed(reply, messages::delete(tx, view, recipient, &ids)),
        WriteOp::Touch { id } => {
            if let Err(e) = tx
                .prepare_cached("UPDATE clients SET last_seen = ?1 WHERE id = ?2")
                .and_then(|mut s| s.execute(params![now_ms() as i64, &id.0[..]]))
            {
                tracing::warn!(error = %e, "could not record last seen");
            }
            return None;
        }
        WriteOp::UploadBegin {
            owner,
            to,
            file_size,
            meta,
            reply,
        } => Pending::Upload(
            reply,
            uploads::upload_begin(tx, view, limits, owner, to, file_size, meta),
        ),
        WriteOp::UploadProgress {
            id,
            durable_offset,
            reply,
        } => {
            let result = tx
                .prepare_cached(
                    "UPDATE uploads SET durable_offset = ?1, active_at = ?3 WHERE id = ?2",
                )
                .and_then(|mut s| {
                    s.execute(params![durable_offset as i64, &id.0[..], now_ms() as i64])
                });
            if let Err(e) = &result {
                tracing::warn!(error = %e, "could not record upload progress");
            }
            return reply.map(|r| Pending::Recorded(r, result.map(drop).map_err(Into::into)));
        }
        WriteOp::UploadComplete {
            id,
            owner,
            blob,
            reply,
        } => Pending::Completed(reply, uploads::upload_complete(tx, view, id, owner, blob)),
        WriteOp::UploadCancel { id, owner, reply } => {
            Pending::Upload(reply, uploads::upload_remove(tx, view, id, Some(owner)))
        }
        WriteOp::ExpireUploads { before_ms, reply } => {
            Pending::Expired(reply, uploads::expire_uploads(tx, view, before_ms))
        }
        WriteOp::RemoveAccount {
            name_key,
            reason,
            reply,
        } => Pending::Account(reply, remove::remove_account(tx, view, &name_key, reason)),
        WriteOp::Room { caller, op, reply } => {
            Pending::Room(reply, apply_room(tx, view, limits, caller, op))
        }
    })
}

fn apply_room(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    limits: &Limits,
    caller: ClientId,
    op: RoomWrite,
) -> Result<RoomDone, StoreError> {
    Ok(match op {
        RoomWrite::UploadKeyPackages {
            last_resort,
            packages,
        } => RoomDone::Stock(key_packages::upload(tx, caller, last_resort, &packages)?),
        RoomWrite::ClaimKeyPackages { clients } => {
            RoomDone::Claimed(key_packages::claim(tx, view, &clients)?)
        }
        RoomWrite::Create {
            room,
            group_info,
            tree,
        } => RoomDone::Created(rooms::create(tx, view, caller, room, &group_info, &tree)?),
        RoomWrite::Commit {
            room,
            epoch,
            commit,
            welcome,
            proven,
        } => RoomDone::Committed(rooms::commit(
            tx, view, limits, caller, room, epoch, commit, welcome, proven,
        )?),
        RoomWrite::Send {
            room,
            epoch,
            file,
            message,
        } => RoomDone::Sent(rooms::send(
            tx, view, limits, caller, room, epoch, file, message,
        )?),
        RoomWrite::Ack { acks } => {
            let (moved, blobs) = room_acks::ack(tx, view, caller, &acks)?;
            RoomDone::Acked(moved, blobs)
        }
        RoomWrite::Expire { before_ms } => {
            let (count, blobs) = room_acks::expire(tx, view, before_ms)?;
            RoomDone::Expired(count, blobs)
        }
        RoomWrite::GroupInfo {
            room,
            epoch,
            group_info,
        } => RoomDone::GroupInfoStored(super::batch::atomically(tx, || {
            room_access::store_group_info(tx, caller, room, epoch, &group_info)
        })?),
        RoomWrite::PasswordSetup { fresh } => {
            RoomDone::PasswordSetup(room_password::setup(tx, &fresh)?)
        }
        RoomWrite::Password { room, record } => {
            room_password::set(tx, caller, room, &record)?;
            RoomDone::PasswordStored
        }
        RoomWrite::Delete {
            room,
            epoch,
            notice,
        } => RoomDone::Deleted(room_delete::delete(
            tx, view, limits, caller, room, epoch, notice,
        )?),
        RoomWrite::Refound {
            room,
            group_info,
            tree,
        } => RoomDone::Refounded(room_refound::refound(
            tx,
            view,
            caller,
            room,
            &group_info,
            &tree,
        )?),
        RoomWrite::Hold { room, seq, hold } => {
            let (held, blobs) = room_holds::hold(tx, view, caller, room, seq, hold)?;
            RoomDone::Held(held, blobs)
        }
    })
}

fn register(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    name: Name,
    public_key: PublicKey,
    protocol: Protocol,
    skeleton: Option<String>,
) -> Result<ClientRecord, StoreError> {
    let id = ClientId(*uuid::Uuid::new_v4().as_bytes());
    let now = now_ms() as i64;
    let key = name_key(name.as_str());
    // Both unique indexes (the name ignoring ASCII case, and the skeleton)
    // refuse here, in the same statement that registers: no check-then-act.
    let inserted = tx
        .prepare_cached(
            "INSERT INTO clients (id, name, name_key, public_key, registered_at, last_seen,
                                  protocol, skeleton)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            &id.0[..],
            name.as_str(),
            key,
            &public_key.0[..],
            now,
            protocol.code(),
            skeleton,
        ])?;
    if inserted == 0 {
        // Which index refused (reading this transaction, so names registered
        // earlier in the batch count too).
        let same_name = tx
            .prepare_cached("SELECT 1 FROM clients WHERE name_key = ?1")?
            .exists([&key])?;
        let look_alike: Option<String> = match &skeleton {
            Some(skeleton) if !same_name => tx
                .prepare_cached("SELECT name FROM clients WHERE skeleton = ?1")?
                .query_row([skeleton], |r| r.get(0))
                .optional()?,
            _ => None,
        };
        return Err(match look_alike {
            Some(existing) => StoreError::NameConfusable(existing),
            None => StoreError::NameTaken,
        });
    }
    let record = ClientRecord {
        id,
        name,
        public_key,
        protocol,
    };
    view.staged.clients.push(record.clone());
    Ok(record)
}
