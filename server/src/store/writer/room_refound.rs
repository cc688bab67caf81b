//! The writer's statements for re-founding a room a restored server holds
//! behind its members (PROTOCOL.md "Re-founding a restored room (151)"): in
//! one savepoint the observer follows the member's group info and tree in
//! place of the backup's state, and the room's epoch, members, roles,
//! rule, name, bans and group info follow it. Nothing is appended to the
//! log: members at the new epoch go on where they were.
//!
//! Only a room marked restored (the first start after `server restore`
//! marks every room; the room's first commit after that clears the mark):
//! a server never restored only raises an epoch, and no member holds one
//! past it, so anything else would be a member's word against the log.

use protocol::{ClientId, RoomId};
use rusqlite::{OptionalExtension, Transaction, params};
use sealpost_rooms::{MAX_ROOM_MEMBERS, ObserverTx};

use super::batch::{View, atomically};
use super::room_access::{self, member_epoch, room_error};
use super::room_holds;
use super::rooms::Registered;
use crate::error::StoreError;
use crate::store::restored::NOT_RESTORED;

/// Re-founds `room` for its member `caller` from `group_info` and `tree`
/// (the caller's current epoch, past the server's); returns the new epoch.
///
/// # Errors
/// [`StoreError::UnknownRoom`] (not a current member),
/// [`StoreError::RoomRefused`] (not marked restored, another room's group
/// info, the caller not in it, bad roles), [`StoreError::StaleEpoch`] (not
/// past the server's epoch), [`StoreError::RoomIdentity`],
/// [`StoreError::RoomFull`], the name rules.
pub(super) fn refound(
    tx: &Transaction<'_>,
    view: &View<'_>,
    caller: ClientId,
    room: RoomId,
    group_info: &[u8],
    tree: &[u8],
) -> Result<u64, StoreError> {
    atomically(tx, || {
        member_epoch(tx, room, caller)?;
        let restored: bool = tx
            .prepare_cached("SELECT restored FROM rooms WHERE id = ?1")?
            .query_row(params![&room.0[..]], |r| r.get(0))
            .optional()?
            .unwrap_or(false);
        if !restored {
            return Err(StoreError::RoomRefused(NOT_RESTORED.into()));
        }
        let (state, access) = ObserverTx::new(tx)
            .refound(
                sealpost_rooms::RoomId(room.0),
                group_info,
                tree,
                &Registered(view.directory),
            )
            .map_err(room_error)?;
        if !state.members.iter().any(|m| m.client_id.0 == caller.0) {
            return Err(StoreError::RoomRefused(
                "the re-founder is not a member of the state it sends".into(),
            ));
        }
        if state.members.len() > MAX_ROOM_MEMBERS {
            return Err(StoreError::RoomFull(MAX_ROOM_MEMBERS));
        }
        if let Some(name) = &state.name {
            crate::names::check_room_name(name)?;
        }
        room_access::follow(tx, room, &state, Some(&access))?;
        tx.prepare_cached(
            "UPDATE rooms SET epoch = ?1, group_info = ?2, group_epoch = ?1 WHERE id = ?3",
        )?
        .execute(params![state.epoch as i64, group_info, &room.0[..]])?;
        let last: i64 = tx
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM room_log WHERE room = ?1")?
            .query_row(params![&room.0[..]], |r| r.get(0))?;
        follow_members(tx, room, &state.members, last)?;
        Ok(state.epoch)
    })
}

/// Makes the server's members those of the new state: one it lacks (added
/// after the backup) reads from the log's end on; one the state lacks
/// (gone after the backup) stops receiving, as a removed member does.
fn follow_members(
    tx: &Transaction<'_>,
    room: RoomId,
    members: &[sealpost_rooms::RoomMember],
    last: i64,
) -> Result<(), StoreError> {
    let mut current =
        tx.prepare_cached("SELECT client FROM room_members WHERE room = ?1 AND until_seq IS NULL")?;
    let held: Vec<Vec<u8>> = current
        .query_map(params![&room.0[..]], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    drop(current);
    for client in held {
        if members.iter().any(|m| m.client_id.0[..] == client[..]) {
            continue;
        }
        // One that has read everything goes at once; one still reading
        // keeps its cursor up to the last entry, as after a removal.
        tx.prepare_cached(
            "DELETE FROM room_members WHERE room = ?1 AND client = ?2 AND cursor >= ?3",
        )?
        .execute(params![&room.0[..], &client, last])?;
        tx.prepare_cached(
            "UPDATE room_members SET until_seq = ?3 WHERE room = ?1 AND client = ?2",
        )?
        .execute(params![&room.0[..], &client, last])?;
    }
    let mut member = tx.prepare_cached(
        "INSERT INTO room_members (room, client, role, cursor, until_seq, joined_seq)
         VALUES (?1, ?2, ?3, ?4, NULL, ?4)
         ON CONFLICT (room, client) DO UPDATE SET role = excluded.role,
             cursor = CASE WHEN until_seq IS NULL THEN cursor ELSE excluded.cursor END,
             joined_seq = CASE WHEN until_seq IS NULL THEN joined_seq ELSE excluded.joined_seq END,
             until_seq = NULL",
    )?;
    for m in members {
        member.execute(params![
            &room.0[..],
            &m.client_id.0[..],
            m.role.code(),
            last
        ])?;
    }
    drop(member);
    room_holds::forget_gone(tx)?;
    Ok(())
}
