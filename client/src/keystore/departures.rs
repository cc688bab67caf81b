//! The rooms a member removed or banned us from (`room_departures`): the
//! commit that did it is read once, and the engine keeps only that we are
//! no longer a member, so who did it and when is kept here for a later
//! command on the room to say so instead of "no such room". One row per
//! room, the latest; dropped once we are in a room of that name again or
//! left one of that name ourselves.

use protocol::ClientId;
use rusqlite::{Connection, OptionalExtension, params};
use sealpost_rooms::RoomId;

use crate::rooms::event::{RoomChange, RoomEvent};

use super::schema::{blob_array, from_sql_u64, to_sql_u64};
use super::{KeyStore, KeyStoreError};

/// A room we were removed or banned from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomDeparture {
    /// The room.
    pub room: RoomId,
    /// Its name when we were removed (escape before printing).
    pub name: String,
    /// Who removed or banned us.
    pub by: ClientId,
    /// Banned, not only removed.
    pub banned: bool,
    /// When the server stored the commit (ms since the Unix epoch).
    pub at_ms: u64,
}

impl KeyStore {
    /// Keeps what `events` (read from the rooms' logs, in order) say of
    /// us: a removal or ban is recorded; a join or our own leave drops the
    /// records of that room's name.
    ///
    /// # Errors
    /// Database errors.
    pub fn note_room_departures(&mut self, events: &[RoomEvent]) -> Result<(), KeyStoreError> {
        // Most batches are texts: no write transaction for them.
        if !events.iter().any(|e| change(e).is_some()) {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        note_departures(&tx, events)?;
        tx.commit()?;
        Ok(())
    }

    /// Drops the records of `room` and of every room named `name`: we
    /// joined it by name.
    ///
    /// # Errors
    /// Database errors.
    pub fn forget_room_departure(&mut self, room: RoomId, name: &str) -> Result<(), KeyStoreError> {
        forget(&self.conn, room, name)
    }

    /// The latest room we were removed or banned from that `name` names
    /// (ignoring ASCII case) or whose id (32 hex digits) it is.
    ///
    /// # Errors
    /// Database errors.
    pub fn room_departure(&self, name: &str) -> Result<Option<RoomDeparture>, KeyStoreError> {
        let id = super::parse_room_id(name).map(|r| r.0.to_vec());
        Ok(self
            .conn
            .query_row(
                "SELECT room, name, by_client, banned, at_ms FROM room_departures
                 WHERE room = ?2 OR lower(name) = lower(?1)
                 ORDER BY room = ?2 DESC, at_ms DESC LIMIT 1",
                params![name, id],
                |row| {
                    Ok(RoomDeparture {
                        room: RoomId(blob_array(row, 0)?),
                        name: row.get(1)?,
                        by: ClientId(blob_array(row, 2)?),
                        banned: row.get(3)?,
                        at_ms: from_sql_u64(row.get(4)?),
                    })
                },
            )
            .optional()?)
    }
}

/// What one event changes in `room_departures`.
enum Change<'a> {
    /// We were removed or banned.
    Departed(RoomDeparture),
    /// We are in the room (or one of its name) again, or left it ourselves.
    Back(RoomId, &'a str),
}

fn change(e: &RoomEvent) -> Option<Change<'_>> {
    let room = super::parse_room_id(&e.room_id)?;
    match &e.change {
        RoomChange::RemovedYou | RoomChange::BannedYou => Some(Change::Departed(RoomDeparture {
            room,
            name: e.room.clone(),
            by: e.from.parse().unwrap_or(ClientId::NIL),
            banned: e.change == RoomChange::BannedYou,
            at_ms: e.sent_at_ms,
        })),
        RoomChange::Joined { .. }
        | RoomChange::JoinedByName { you: true, .. }
        | RoomChange::YouLeft => Some(Change::Back(room, &e.room)),
        _ => None,
    }
}

/// [`KeyStore::note_room_departures`] inside the caller's transaction.
pub(super) fn note_departures(
    conn: &Connection,
    events: &[RoomEvent],
) -> Result<(), KeyStoreError> {
    for c in events.iter().filter_map(change) {
        match c {
            Change::Departed(d) => note(conn, &d)?,
            Change::Back(room, name) => forget(conn, room, name)?,
        }
    }
    Ok(())
}

/// Records `d` inside the caller's transaction (the room's earlier record
/// gives way).
pub(super) fn note(conn: &Connection, d: &RoomDeparture) -> Result<(), KeyStoreError> {
    conn.execute(
        "INSERT OR REPLACE INTO room_departures (room, name, by_client, banned, at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            d.room.0.as_slice(),
            d.name,
            d.by.0.as_slice(),
            d.banned,
            to_sql_u64(d.at_ms)
        ],
    )?;
    Ok(())
}

/// Drops the records of `room` and of every room named `name` (ignoring
/// ASCII case) inside the caller's transaction: we are in a room of that
/// name again, or left it ourselves, and the name means that room now.
pub(super) fn forget(conn: &Connection, room: RoomId, name: &str) -> Result<(), KeyStoreError> {
    conn.execute(
        "DELETE FROM room_departures WHERE room = ?1 OR lower(name) = lower(?2)",
        params![room.0.as_slice(), name],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn departure(room: u8, name: &str, banned: bool, at_ms: u64) -> RoomDeparture {
        RoomDeparture {
            room: RoomId([room; 16]),
            name: name.into(),
            by: ClientId([0xa1; 16]),
            banned,
            at_ms,
        }
    }

    #[test]
    fn the_latest_departure_of_a_name_is_found_by_name_or_id_until_forgotten() {
        let (_dir, home) = super::super::fixtures::home();
        let store = KeyStore::open(&home).unwrap();
        let old = departure(1, "Team", false, 10);
        let new = departure(2, "team", true, 20);
        note(&store.conn, &old).unwrap();
        note(&store.conn, &new).unwrap();
        assert_eq!(store.room_departure("TEAM").unwrap(), Some(new.clone()));
        let by_id = hex::encode(old.room.0);
        assert_eq!(store.room_departure(&by_id).unwrap(), Some(old.clone()));
        assert_eq!(store.room_departure("ops").unwrap(), None);

        forget(&store.conn, RoomId([9; 16]), "team").unwrap();
        assert_eq!(store.room_departure("team").unwrap(), None);
        assert_eq!(store.room_departure(&by_id).unwrap(), None);
    }
}
