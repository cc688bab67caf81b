//! Room events read but not shown yet: a room command reads its rooms' logs
//! before it acts (it must be on the room's current epoch), and what it read
//! waits here, in order, for the next `inbox` or `watch` to show.
//!
//! Kept as JSON of [`RoomEvent`]; bounded, oldest dropped first, so a user
//! who only ever sends cannot grow the store without end.
//!
//! What is read goes into the room's history in the same transaction that
//! queues it, in the order read: its texts and its events (who came and
//! went, a rename; [`RoomChange::kept_as_event`]). An entry is read once
//! (the engine keeps its seq), so each is recorded once: a crash before
//! the commit records and queues nothing, one after it both. Files are
//! recorded when their download ends (`keystore::room_downloads`).
//!
//! A room's creation is recorded apart, by the `room create` that made it
//! (`keystore::creates`): it is in no room's log, and only its creator saw
//! it.

use protocol::ClientId;
use rusqlite::{Connection, OptionalExtension, params};

use super::history::{Body, Direction, NewEntry, Status, insert};
use super::schema::blob_array;
use super::{KeyStore, KeyStoreError};
use crate::rooms::event::{RoomChange, RoomEvent};

/// Most room events kept unshown.
pub const ROOM_EVENTS_MAX: i64 = 10_000;

impl KeyStore {
    /// Records `events` in their rooms' history and appends those not
    /// quiet to the queue, in order, in one transaction.
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

/// [`KeyStore::queue_room_events`] inside the caller's transaction.
pub(super) fn queue(conn: &Connection, events: &[RoomEvent]) -> Result<(), KeyStoreError> {
    if events.is_empty() {
        return Ok(());
    }
    record(conn, events)?;
    show_only(conn, events.iter().filter(|e| !e.quiet))
}

/// Appends `events` to the queue of events to show, without recording them
/// in history (the caller does, if they belong there), inside the caller's
/// transaction; then the oldest beyond [`ROOM_EVENTS_MAX`] go, once per call.
pub(super) fn show_only<'a>(
    conn: &Connection,
    events: impl IntoIterator<Item = &'a RoomEvent>,
) -> Result<(), KeyStoreError> {
    for event in events {
        let json = serde_json::to_string(event)
            .map_err(|_| KeyStoreError::Corrupt("room event encoding"))?;
        conn.execute("INSERT INTO room_events (event) VALUES (?1)", params![json])?;
    }
    conn.execute(
        "DELETE FROM room_events WHERE entry <= (SELECT max(entry) FROM room_events) - ?1",
        params![ROOM_EVENTS_MAX],
    )?;
    Ok(())
}

/// Records the texts and kept events of `events` in their rooms'
/// history, in order.
fn record(conn: &Connection, events: &[RoomEvent]) -> Result<(), KeyStoreError> {
    let me: Option<ClientId> = conn
        .query_row("SELECT client_id FROM identity", [], |r| {
            blob_array(r, 0).map(ClientId)
        })
        .optional()?;
    for e in events {
        let sender = e.from.parse().unwrap_or(ClientId::NIL);
        let (body, status, message_id) = match &e.change {
            RoomChange::Text { text } => (
                Body::Text { text: text.clone() },
                Status::Received,
                Some(e.seq),
            ),
            // Never unread, and no message id: a receipt never names one.
            change if change.kept_as_event() => (
                Body::Event {
                    change: change.clone(),
                },
                Status::Read,
                None,
            ),
            _ => continue,
        };
        let direction = match (&body, me) {
            (Body::Event { .. }, Some(me)) if me == sender => Direction::Out,
            _ => Direction::In,
        };
        insert(
            conn,
            &NewEntry {
                conversation: e.conversation(),
                direction,
                sender,
                body,
                sender_time_ms: None,
                server_time_ms: Some(e.sent_at_ms),
                message_id,
                status,
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::room_event as event;
    use super::*;
    use crate::keystore::HistoryQuery;
    use crate::rooms::event::Named;

    #[test]
    fn room_events_go_into_history_with_their_queueing_once_or_not_at_all() {
        let (_dir, home) = super::super::fixtures::home();
        let mut store = KeyStore::open(&home).unwrap();
        let removed = RoomChange::Removed {
            members: vec![Named::other("carol")],
        };
        let renamed = RoomChange::Renamed {
            old_name: Some("old".into()),
            name: "team".into(),
        };
        let read = [
            event(1, RoomChange::Text { text: "a".into() }),
            event(2, removed.clone()),
            // Our own command's change: recorded, not shown again.
            RoomEvent {
                quiet: true,
                ..event(3, renamed.clone())
            },
            event(3, RoomChange::LeaveAsked),
        ];
        let room = read[0].conversation();
        let bodies = |store: &KeyStore| -> Vec<Body> {
            let all = store.history(&room, &HistoryQuery::default()).unwrap();
            all.into_iter().map(|e| e.body).collect()
        };

        // A crash before the queue's commit: nothing recorded either.
        super::super::fixtures::fail_inserts_into(&store, "room_events");
        assert!(store.queue_room_events(&read).is_err());
        assert!(bodies(&store).is_empty());
        super::super::fixtures::allow_inserts(&store);

        store.queue_room_events(&read).unwrap();
        let kept = vec![
            Body::Text { text: "a".into() },
            Body::Event { change: removed },
            Body::Event { change: renamed },
        ];
        assert_eq!(bodies(&store), kept);
        let shown = store.take_room_events().unwrap();
        assert_eq!(shown, [read[0].clone(), read[1].clone(), read[3].clone()]);
        assert!(store.take_room_events().unwrap().is_empty());
        assert_eq!(bodies(&store), kept, "showing records nothing again");
        // Events are never unread; the text is until shown.
        assert_eq!(store.conversation_activity().unwrap()[0].unread, 1);
    }

    #[test]
    fn queued_room_events_come_back_once_in_order() {
        let (_dir, home) = super::super::fixtures::home();
        let mut store = KeyStore::open(&home).unwrap();
        let e = |seq, text: &str| event(seq, RoomChange::Text { text: text.into() });
        store.queue_room_events(&[e(1, "a"), e(2, "b")]).unwrap();
        store.queue_room_events(&[e(3, "c")]).unwrap();
        assert_eq!(
            store.take_room_events().unwrap(),
            vec![e(1, "a"), e(2, "b"), e(3, "c")]
        );
        assert!(store.take_room_events().unwrap().is_empty());
    }
}
