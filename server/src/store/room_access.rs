//! Joining rooms as callers see it (PROTOCOL.md "Joining (142 to 144)"):
//! a member stores the room's group info (through the writer), anyone
//! lists the public rooms or finds a public or hidden room by its exact
//! name (through the read pool).

use bytes::Bytes;
use protocol::v3::{MAX_LISTED_ROOMS, RoomGroupInfo};
use protocol::{ClientId, RoomId};
use rusqlite::{OptionalExtension, params};

use super::handle::{ROW_OVERHEAD, Store};
use super::rooms::mismatch;
use super::rows::fixed;
use super::values::DeletedRoom;
use super::writer::{RoomDone, RoomWrite, WriteOp};
use crate::error::StoreError;

/// A public room as 143 lists it, before its online count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedRoomRow {
    /// The room.
    pub room: RoomId,
    /// Its name.
    pub name: String,
    /// Its current members.
    pub members: Vec<ClientId>,
    /// Joining needs its password (rule 3).
    pub locked: bool,
}

impl Store {
    /// Keeps `group_info` of `room` at `epoch` for joiners; `caller` must be
    /// a current member and `epoch` the room's.
    ///
    /// # Errors
    /// [`StoreError::UnknownRoom`], [`StoreError::StaleEpoch`],
    /// [`StoreError::RoomRefused`].
    pub async fn store_group_info(
        &self,
        caller: ClientId,
        room: RoomId,
        epoch: u64,
        group_info: Bytes,
    ) -> Result<u64, StoreError> {
        self.admit(group_info.len() as u64 + ROW_OVERHEAD)?;
        if let Some(pg) = self.pg() {
            return pg.store_group_info(caller, room, epoch, group_info).await;
        }
        let op = RoomWrite::GroupInfo {
            room,
            epoch,
            group_info,
        };
        match self
            .write(|reply| WriteOp::Room { caller, op, reply })
            .await?
        {
            RoomDone::GroupInfoStored(epoch) => Ok(epoch),
            other => Err(mismatch(&other)),
        }
    }

    /// Re-founds `room` for its member `caller` from the group info and tree
    /// of the caller's epoch, past the server's (PROTOCOL.md "Re-founding a
    /// restored room"); returns the epoch the server holds it at now.
    ///
    /// # Errors
    /// [`StoreError::UnknownRoom`], [`StoreError::StaleEpoch`],
    /// [`StoreError::RoomRefused`] (not restored, or a bad state), and the
    /// checks of a creation.
    pub async fn refound_room(
        &self,
        caller: ClientId,
        room: RoomId,
        group_info: Bytes,
        tree: Bytes,
    ) -> Result<u64, StoreError> {
        self.admit((group_info.len() + tree.len()) as u64 + ROW_OVERHEAD)?;
        if let Some(pg) = self.pg() {
            return pg.refound_room(caller, room).await;
        }
        let op = RoomWrite::Refound {
            room,
            group_info,
            tree,
        };
        match self
            .write(|reply| WriteOp::Room { caller, op, reply })
            .await?
        {
            RoomDone::Refounded(epoch) => Ok(epoch),
            other => Err(mismatch(&other)),
        }
    }

    /// Deletes `room` for its owner `caller`, leaving `notice` to every
    /// other member, and cancels the unfinished uploads to it, in one
    /// transaction; returns the room's files and part files to delete.
    ///
    /// # Errors
    /// [`StoreError::UnknownRoom`], [`StoreError::RoomRefused`] (not the
    /// owner), [`StoreError::StaleEpoch`], quota errors.
    pub async fn delete_room(
        &self,
        caller: ClientId,
        room: RoomId,
        epoch: u64,
        notice: Bytes,
    ) -> Result<DeletedRoom, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.delete_room(caller, room, epoch, notice).await;
        }
        let op = RoomWrite::Delete {
            room,
            epoch,
            notice,
        };
        match self
            .write(|reply| WriteOp::Room { caller, op, reply })
            .await?
        {
            RoomDone::Deleted(deleted) => Ok(deleted),
            other => Err(mismatch(&other)),
        }
    }

    /// The public rooms, the first [`MAX_LISTED_ROOMS`] by name, with their
    /// current members.
    ///
    /// # Errors
    /// The database failed.
    pub async fn listed_rooms(&self) -> Result<Vec<ListedRoomRow>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.listed_rooms().await;
        }
        self.read(|conn| {
            let mut rooms = conn.prepare_cached(
                "SELECT id, name, rule FROM rooms WHERE rule IN (1, 3) AND name IS NOT NULL
                 ORDER BY name LIMIT ?1",
            )?;
            let mut members = conn.prepare_cached(
                "SELECT client FROM room_members WHERE room = ?1 AND until_seq IS NULL",
            )?;
            let rows = rooms.query_map(params![MAX_LISTED_ROOMS as i64], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, name, rule) = row?;
                let mut ids = Vec::new();
                for m in members.query_map(params![&id[..]], |r| r.get::<_, Vec<u8>>(0))? {
                    ids.push(ClientId(fixed(&m?, "client id")?));
                }
                out.push(ListedRoomRow {
                    room: RoomId(fixed(&id, "room id")?),
                    name,
                    members: ids,
                    locked: rule == 3,
                });
            }
            Ok(out)
        })
        .await
    }

    /// The public or hidden room named exactly `name`, with its group info,
    /// unless `caller` is banned from it; or, `name` being a room id in 32
    /// lowercase hex digits, the room of any rule of which `caller` is a
    /// current member (its way back after losing the room's state: a
    /// resync, PROTOCOL.md "Access"). Every other case (no such room,
    /// invite-only, banned, no group info) is one and the same
    /// [`StoreError::UnknownRoom`], decided by one query.
    ///
    /// # Errors
    /// [`StoreError::UnknownRoom`]; the database failed.
    pub async fn find_room(
        &self,
        caller: ClientId,
        name: String,
    ) -> Result<RoomGroupInfo, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.find_room(caller, name).await;
        }
        self.read(move |conn| {
            let id = member_room_id(&name);
            let found: Option<(Vec<u8>, i64, Vec<u8>)> = conn
                .prepare_cached(
                    "SELECT r.id, r.group_epoch, r.group_info FROM rooms r
                     WHERE r.group_info IS NOT NULL
                         AND ((r.name = ?1 AND r.rule != 0
                               AND NOT EXISTS (SELECT 1 FROM room_bans b
                                               WHERE b.room = r.id AND b.client = ?2))
                           OR (r.id = ?3
                               AND EXISTS (SELECT 1 FROM room_members m
                                           WHERE m.room = r.id AND m.client = ?2
                                               AND m.until_seq IS NULL)))
                     ORDER BY r.id = ?3 DESC LIMIT 1",
                )?
                .query_row(
                    params![name, &caller.0[..], id.as_ref().map(|i| &i[..])],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let (id, epoch, group_info) = found.ok_or(StoreError::UnknownRoom)?;
            Ok(RoomGroupInfo {
                room: RoomId(fixed(&id, "room id")?),
                epoch: epoch as u64,
                group_info: Bytes::from(group_info),
            })
        })
        .await
    }
}

/// The room id a 144 name gives in 32 lowercase hex digits (a member's way
/// back into a room of any rule), if it is one.
pub(crate) fn member_room_id(name: &str) -> Option<[u8; 16]> {
    if name.len() != 32 || !name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut id = [0u8; 16];
    hex::decode_to_slice(name, &mut id).ok()?;
    Some(id)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::config::Durability;
    use crate::store::quota::Limits;
    use crate::store::schema;

    const ALICE: ClientId = ClientId([0xa1; 16]);
    const BOB: ClientId = ClientId([0xb0; 16]);
    const CAROL: ClientId = ClientId([0xc0; 16]);
    const DAVE: ClientId = ClientId([0xd0; 16]);
    const ERIN: ClientId = ClientId([0xe0; 16]);
    /// Invite-only: alice is in it, dave was removed, erin banned.
    const TEAM: RoomId = RoomId([0x1a; 16]);
    /// Invite-only: alice is in it.
    const LAB: RoomId = RoomId([0x3c; 16]);
    /// Public, named with `LAB`'s id: bob is in it.
    const DECOY: RoomId = RoomId([0x22; 16]);

    fn id(room: RoomId) -> String {
        hex::encode(room.0)
    }

    /// A store in `dir` holding the three rooms, each with its group info
    /// (its name's bytes) at epoch 5, written to the migrated schema before
    /// the store opens it, as a server finds it on start.
    fn store(dir: &Path) -> Store {
        let db = dir.join("server.db");
        let mut conn = rusqlite::Connection::open(&db).unwrap();
        schema::migrate(&mut conn).unwrap();
        let (team, lab, decoy) = (id(TEAM), id(LAB), id(DECOY));
        let (alice, bob, dave, erin) = (id_of(ALICE), id_of(BOB), id_of(DAVE), id_of(ERIN));
        conn.execute_batch(&format!(
            "INSERT INTO rooms (id, epoch, creator, created_at, rule, name, group_epoch, group_info)
                 VALUES (x'{team}', 5, x'{alice}', 1, 0, 'team', 5, CAST('team' AS BLOB)),
                        (x'{lab}', 5, x'{alice}', 2, 0, 'lab', 5, CAST('lab' AS BLOB)),
                        (x'{decoy}', 5, x'{bob}', 3, 1, '{lab}', 5, CAST('decoy' AS BLOB));
             INSERT INTO room_members (room, client, role, cursor, until_seq)
                 VALUES (x'{team}', x'{alice}', 2, 0, NULL),
                        (x'{team}', x'{dave}', 0, 0, 3),
                        (x'{team}', x'{erin}', 0, 0, 4),
                        (x'{lab}', x'{alice}', 2, 0, NULL),
                        (x'{decoy}', x'{bob}', 2, 0, NULL);
             INSERT INTO room_bans (room, client) VALUES (x'{team}', x'{erin}');"
        ))
        .unwrap();
        drop(conn);
        let limits = Limits {
            inbox_max_messages: 1_000,
            inbox_max_bytes: 1 << 30,
            sender_max_bytes: 1 << 30,
            max_storage_bytes: 1 << 40,
            max_uploads_per_client: 10,
        };
        Store::open(&db, Durability::Normal, limits, |_| true, Arc::new(|_| {})).unwrap()
    }

    fn id_of(client: ClientId) -> String {
        hex::encode(client.0)
    }

    /// The room `caller` finds by `name`, with its group info as text;
    /// `None` when the store answers `UnknownRoom`.
    async fn found(store: &Store, caller: ClientId, name: &str) -> Option<(RoomId, String)> {
        match store.find_room(caller, name.to_string()).await {
            Ok(g) => {
                assert_eq!(g.epoch, 5);
                Some((g.room, String::from_utf8(g.group_info.to_vec()).unwrap()))
            }
            Err(StoreError::UnknownRoom) => None,
            Err(e) => panic!("{name:?}: {e}"),
        }
    }

    #[tokio::test]
    async fn a_member_finds_an_invite_only_room_by_its_id_and_not_by_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        assert_eq!(
            found(&store, ALICE, &id(TEAM)).await,
            Some((TEAM, "team".into()))
        );
        assert_eq!(found(&store, ALICE, "team").await, None);
        store.close().await;
    }

    #[tokio::test]
    async fn a_non_member_a_banned_user_and_a_removed_member_find_nothing_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        for (who, caller) in [("non-member", CAROL), ("removed", DAVE), ("banned", ERIN)] {
            assert_eq!(found(&store, caller, &id(TEAM)).await, None, "{who}");
        }
        store.close().await;
    }

    #[tokio::test]
    async fn an_id_in_upper_case_or_of_the_wrong_length_finds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        // Its id has letters, so that upper case is another name.
        let team = id(TEAM);
        for name in [
            team.to_uppercase(),
            team[..31].to_string(),
            format!("{team}1"),
            team[..30].to_string(),
        ] {
            assert_eq!(found(&store, ALICE, &name).await, None, "{name}");
        }
        store.close().await;
    }

    #[tokio::test]
    async fn an_open_room_named_with_another_rooms_id_loses_to_that_room_for_its_members() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let lab = id(LAB);
        // Not in the lab: the open room of that name, by its name.
        assert_eq!(
            found(&store, CAROL, &lab).await,
            Some((DECOY, "decoy".into()))
        );
        assert_eq!(
            found(&store, BOB, &lab).await,
            Some((DECOY, "decoy".into()))
        );
        // A member of the lab: the lab, whose id it is.
        assert_eq!(found(&store, ALICE, &lab).await, Some((LAB, "lab".into())));
        store.close().await;
    }
}
