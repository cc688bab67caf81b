//! The rooms a restored home was in (`restored_rooms`): a backup holds no
//! room's keys (MLS state), only which rooms the backed-up home was in,
//! their join rule and who manages them, so that a command on such a room
//! says how to get back in instead of "no such room". One row per room,
//! dropped once we are in the room again.

use protocol::ClientId;
use rusqlite::{OptionalExtension, params};
use sealpost_rooms::{LeafKey, RoomId};

use super::schema::blob_array;
use super::{KeyStore, KeyStoreError};

/// A room the backed-up home was in and this home holds no keys of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredRoom {
    /// The room.
    pub room: RoomId,
    /// Its name when the backup was made (escape before printing).
    pub name: String,
    /// Its join rule then (`JoinRule::code`).
    pub rule: u8,
    /// Its owner and admins then, the owner first, us left out.
    pub admins: Vec<ClientId>,
    /// We owned it (nobody may remove an owner to add it again).
    pub owned: bool,
}

impl RestoredRoom {
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        let admins: Vec<u8> = row.get(3)?;
        Ok(Self {
            room: RoomId(blob_array(row, 0)?),
            name: row.get(1)?,
            rule: row.get(2)?,
            admins: admins
                .chunks_exact(16)
                .map(|c| ClientId(c.try_into().unwrap_or_default()))
                .collect(),
            owned: row.get(4)?,
        })
    }

    /// The row as a backup line's columns hold it.
    pub(crate) fn columns(&self) -> (Vec<u8>, Vec<u8>) {
        let admins = self.admins.iter().flat_map(|a| a.0).collect();
        (self.room.0.to_vec(), admins)
    }
}

impl KeyStore {
    /// Every room restored without its keys, by name.
    ///
    /// # Errors
    /// Database errors.
    pub fn restored_rooms(&self) -> Result<Vec<RestoredRoom>, KeyStoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT room, name, rule, admins, owned FROM restored_rooms ORDER BY lower(name), room",
        )?;
        let rows = stmt.query_map([], RestoredRoom::from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The room restored without its keys that `name` names (ignoring ASCII
    /// case) or whose id (32 hex digits) it is.
    ///
    /// # Errors
    /// Database errors.
    pub fn restored_room(&self, name: &str) -> Result<Option<RestoredRoom>, KeyStoreError> {
        let id = super::parse_room_id(name).map(|r| r.0.to_vec());
        Ok(self
            .conn
            .query_row(
                "SELECT room, name, rule, admins, owned FROM restored_rooms
                 WHERE room = ?2 OR lower(name) = lower(?1)
                 ORDER BY room = ?2 DESC LIMIT 1",
                params![name, id],
                RestoredRoom::from_row,
            )
            .optional()?)
    }

    /// The backed-up home's MLS leaf key, if this home was restored from a
    /// backup that holds one.
    ///
    /// # Errors
    /// Database errors.
    pub fn restored_leaf_key(&self) -> Result<Option<LeafKey>, KeyStoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT pair FROM restored_leaf_key WHERE only = 1",
                [],
                |row| {
                    Ok(LeafKey {
                        pair: zeroize::Zeroizing::new(row.get(0)?),
                    })
                },
            )
            .optional()?)
    }

    /// Keeps `room` as one to get back into (as a restored backup names
    /// it): a room of ours whose state the engine is about to let go of.
    ///
    /// # Errors
    /// Database errors.
    pub fn keep_restored_room(&mut self, room: &RestoredRoom) -> Result<(), KeyStoreError> {
        let (id, admins) = room.columns();
        self.conn.execute(
            "INSERT OR REPLACE INTO restored_rooms (room, name, rule, admins, owned)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, room.name, room.rule, admins, room.owned],
        )?;
        Ok(())
    }

    /// We are in `room` again (added, or joined): it is no longer one to
    /// get back into.
    ///
    /// # Errors
    /// Database errors.
    pub fn forget_restored_room(&mut self, room: RoomId) -> Result<(), KeyStoreError> {
        self.conn.execute(
            "DELETE FROM restored_rooms WHERE room = ?1",
            [room.0.as_slice()],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restored_room_is_found_by_name_or_id_until_forgotten() {
        let (_dir, home) = super::super::fixtures::home();
        let mut store = KeyStore::open(&home).unwrap();
        let room = RestoredRoom {
            room: RoomId([7; 16]),
            name: "Team".into(),
            rule: 0,
            admins: vec![ClientId([1; 16]), ClientId([2; 16])],
            owned: false,
        };
        let (id, admins) = room.columns();
        store
            .conn
            .execute(
                "INSERT INTO restored_rooms (room, name, rule, admins) VALUES (?1, ?2, 0, ?3)",
                params![id, room.name, admins],
            )
            .unwrap();
        assert_eq!(store.restored_room("TEAM").unwrap(), Some(room.clone()));
        assert_eq!(
            store.restored_room(&hex::encode([7u8; 16])).unwrap(),
            Some(room.clone())
        );
        assert_eq!(store.restored_room("ops").unwrap(), None);
        assert_eq!(store.restored_rooms().unwrap(), vec![room]);
        store.forget_restored_room(RoomId([7; 16])).unwrap();
        assert_eq!(store.restored_room("team").unwrap(), None);
    }
}
