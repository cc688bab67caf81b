//! Room events read but not shown yet: a room command reads its rooms' logs
//! before it acts (it must be on the room's current epoch), and what it read
//! waits here, in order, for the next `inbox` or `watch` to show.
//!
//! Kept as JSON of [`RoomEvent`]; bounded, oldest dropped first, so a user
//! who only ever sends cannot grow the store without end.

use rusqlite::{Connection, params};

use super::{KeyStore, KeyStoreError};
use crate::rooms::event::RoomEvent;

/// Most room events kept unshown.
pub const ROOM_EVENTS_MAX: i64 = 10_000;

impl KeyStore {
    /// Appends `events` to the queue, in order.
    ///
    /// # Errors
    /// Database errors.
    pub fn queue_room_events(&mut self, events: &[RoomEvent]) -> Result<(), KeyStoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        queue(&tx, events)?;
        tx.commit()?;
        Ok(())
    }

    /// Takes every queued room event, oldest first.
    ///
    /// # Errors
    /// Database errors; a row that does not parse.
    pub fn take_room_events(&mut self) -> Result<Vec<RoomEvent>, KeyStoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let rows: Vec<String> = {
            let mut stmt = tx.prepare("SELECT event FROM room_events ORDER BY entry")?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        tx.execute("DELETE FROM room_events", [])?;
        tx.commit()?;
        rows.iter()
            .map(|r| serde_json::from_str(r).map_err(|_| KeyStoreError::Corrupt("room event")))
            .collect()
    }
}

/// Appends `events` to the queue inside the caller's transaction.
pub(super) fn queue(conn: &Connection, events: &[RoomEvent]) -> Result<(), KeyStoreError> {
    if events.is_empty() {
        return Ok(());
    }
    for e in events {
        let json =
            serde_json::to_string(e).map_err(|_| KeyStoreError::Corrupt("room event encoding"))?;
        conn.execute("INSERT INTO room_events (event) VALUES (?1)", params![json])?;
    }
    conn.execute(
        "DELETE FROM room_events WHERE entry <= (SELECT max(entry) FROM room_events) - ?1",
        params![ROOM_EVENTS_MAX],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rooms::event::RoomChange;

    #[test]
    fn queued_room_events_come_back_once_in_order() {
        let (_dir, home) = super::super::fixtures::home();
        let mut store = KeyStore::open(&home).unwrap();
        let e = |seq, text: &str| RoomEvent {
            seq,
            room: "team".into(),
            room_id: "07".repeat(16),
            from: "00".repeat(16),
            sent_at_ms: 1,
            change: RoomChange::Text { text: text.into() },
        };
        store.queue_room_events(&[e(1, "a"), e(2, "b")]).unwrap();
        store.queue_room_events(&[e(3, "c")]).unwrap();
        assert_eq!(
            store.take_room_events().unwrap(),
            vec![e(1, "a"), e(2, "b"), e(3, "c")]
        );
        assert!(store.take_room_events().unwrap().is_empty());
    }
}
