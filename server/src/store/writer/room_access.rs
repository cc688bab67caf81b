//! The writer's statements for joining rooms (PROTOCOL.md "Joining (142 to
//! 144)"): the room's rule, name and banned ids as the observer follows
//! them after each creation and commit, and the group info members store
//! for joiners; and what every room write asks first (is the caller a
//! member, at which epoch) with what the observer's refusals mean.
//!
//! The columns are a copy of what the observer's `PublicGroup` holds (the
//! access and name extensions), kept in the same savepoint as the log, so
//! that listing and finding rooms are plain indexed reads that never parse
//! MLS. Who may join is decided by the observer on the commit itself; these
//! columns only choose what 143 lists and what 144 answers.

use rusqlite::{ErrorCode, OptionalExtension, Transaction, params};
use sealpost_rooms::{Access, JoinRule, ObserverTx, RoomState, RoomsError, check_group_info};

use crate::error::StoreError;
use protocol::{ClientId, RoomId};

/// Copies the room's rule and name (the name only while one may join) from
/// `state`, and its banned ids from `access` when a commit changed them.
///
/// # Errors
/// [`StoreError::RoomNameTaken`] if another public or hidden room has the
/// name or one confusable with it; database errors.
pub(super) fn follow(
    tx: &Transaction<'_>,
    room: RoomId,
    state: &RoomState,
    access: Option<&Access>,
) -> Result<(), StoreError> {
    let name = match state.rule {
        JoinRule::InviteOnly => None,
        JoinRule::Public | JoinRule::Hidden | JoinRule::Password | JoinRule::HiddenPassword => {
            state.name.as_deref()
        }
    };
    let key = match name {
        Some(name) => name_key(tx, room, name)?,
        None => None,
    };
    let updated = tx
        .prepare_cached("UPDATE rooms SET rule = ?1, name = ?2, name_key = ?3 WHERE id = ?4")?
        .execute(params![state.rule.code(), name, key, &room.0[..]]);
    match updated {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::ConstraintViolation => {
            return Err(StoreError::RoomNameTaken);
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(access) = access {
        tx.prepare_cached("DELETE FROM room_bans WHERE room = ?1")?
            .execute(params![&room.0[..]])?;
        let mut ban = tx.prepare_cached("INSERT INTO room_bans (room, client) VALUES (?1, ?2)")?;
        for client in access.banned() {
            ban.execute(params![&room.0[..], &client.0[..]])?;
        }
    }
    Ok(())
}

/// The confusability key an open room named `name` gets: refused when
/// another open room holds it, unless this room already had the name (two
/// rooms named alike before keys existed: the newer keeps its name, without
/// the key; see `schema::key_room_names`).
fn name_key(tx: &Transaction<'_>, room: RoomId, name: &str) -> Result<Option<String>, StoreError> {
    let key = crate::names::skeleton_key(name);
    let holder: Option<Vec<u8>> = tx
        .prepare_cached("SELECT id FROM rooms WHERE name_key = ?1")?
        .query_row(params![key], |r| r.get(0))
        .optional()?;
    match holder {
        Some(id) if id != room.0[..] => {
            let had: Option<String> = tx
                .prepare_cached("SELECT name FROM rooms WHERE id = ?1")?
                .query_row(params![&room.0[..]], |r| r.get(0))
                .optional()?
                .flatten();
            if had.as_deref() == Some(name) {
                Ok(None)
            } else {
                Err(StoreError::RoomNameTaken)
            }
        }
        _ => Ok(Some(key)),
    }
}

/// Keeps `group_info` for joiners: from a current member, of this room at
/// its current epoch (PROTOCOL.md "Group info (142)").
///
/// # Errors
/// [`StoreError::UnknownRoom`] (not a member), [`StoreError::StaleEpoch`],
/// [`StoreError::RoomRefused`] (not a group info of this room and epoch).
pub(super) fn store_group_info(
    tx: &Transaction<'_>,
    caller: ClientId,
    room: RoomId,
    epoch: u64,
    group_info: &[u8],
) -> Result<u64, StoreError> {
    let current = member_epoch(tx, room, caller)?;
    if current != epoch {
        return Err(StoreError::StaleEpoch(current));
    }
    check_group_info(group_info, sealpost_rooms::RoomId(room.0), epoch).map_err(|_| {
        StoreError::RoomRefused("not a group info of this room at this epoch".into())
    })?;
    tx.prepare_cached("UPDATE rooms SET group_info = ?1, group_epoch = ?2 WHERE id = ?3")?
        .execute(params![group_info, epoch as i64, &room.0[..]])?;
    Ok(epoch)
}

/// The room's state as the observer holds it now.
pub(super) fn observed(tx: &Transaction<'_>, room: RoomId) -> Result<RoomState, StoreError> {
    ObserverTx::new(tx)
        .room(sealpost_rooms::RoomId(room.0))
        .map_err(room_error)
}

/// What the observer's refusal means for the peer.
pub(super) fn room_error(e: RoomsError) -> StoreError {
    match e {
        RoomsError::StaleEpoch { room, .. } => StoreError::StaleEpoch(room),
        RoomsError::UnknownRoom => StoreError::UnknownRoom,
        RoomsError::RoomExists => StoreError::RoomExists,
        RoomsError::Identity(e) => StoreError::RoomIdentity(e.to_string()),
        RoomsError::Database(e) => StoreError::Sqlite(e),
        other => StoreError::RoomRefused(other.to_string()),
    }
}

/// The room's epoch, if `client` is a current member (else the room is
/// unknown to it: the same answer as for a room that does not exist).
pub(super) fn member_epoch(
    tx: &Transaction<'_>,
    room: RoomId,
    client: ClientId,
) -> Result<u64, StoreError> {
    tx.prepare_cached(
        "SELECT r.epoch FROM rooms r JOIN room_members m ON m.room = r.id
         WHERE r.id = ?1 AND m.client = ?2 AND m.until_seq IS NULL",
    )?
    .query_row(params![&room.0[..], &client.0[..]], |r| r.get::<_, i64>(0))
    .optional()?
    .map(|e| e as u64)
    .ok_or(StoreError::UnknownRoom)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema;

    #[test]
    fn an_open_rooms_name_is_refused_when_it_looks_like_another_unless_the_room_had_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
        schema::migrate(&mut conn).unwrap();
        // "team" holds its key; "tеam" (a Cyrillic е) was named before keys
        // and, being the younger, was left without one.
        conn.execute_batch(&format!(
            "INSERT INTO rooms (id, epoch, creator, created_at, rule, name, name_key)
                 VALUES (x'{a}', 1, x'00', 1, 1, 'team', '{key}');
             INSERT INTO rooms (id, epoch, creator, created_at, rule, name)
                 VALUES (x'{b}', 1, x'00', 2, 1, 't\u{435}am');",
            a = "aa".repeat(16),
            b = "bb".repeat(16),
            key = crate::names::skeleton_key("team"),
        ))
        .unwrap();
        let (a, b, c) = (RoomId([0xaa; 16]), RoomId([0xbb; 16]), RoomId([0xcc; 16]));
        let tx = conn.transaction().unwrap();
        let taken =
            |r: Result<Option<String>, StoreError>| matches!(r, Err(StoreError::RoomNameTaken));
        // The holder may change the name's case: the key is its own.
        assert_eq!(
            name_key(&tx, a, "Team").unwrap(),
            Some(crate::names::skeleton_key("team"))
        );
        // The younger look-alike keeps its name, without the key...
        assert_eq!(name_key(&tx, b, "t\u{435}am").unwrap(), None);
        // ...but may not move to another look-alike, nor may a new room.
        assert!(taken(name_key(&tx, b, "TEAM")));
        assert!(taken(name_key(&tx, c, "team")));
        assert!(taken(name_key(&tx, c, "t\u{435}am")));
        assert_eq!(
            name_key(&tx, c, "crew").unwrap(),
            Some(crate::names::skeleton_key("crew"))
        );
    }
}
