//! What reading the rooms' logs records, in one transaction: the events of
//! the entries read (history and the queue), departures, the rooms' receipt
//! marks, a file announced, and, per room, the last log entry whose events
//! are recorded here (`room_log_read`).
//!
//! The rooms engine keeps what an entry came to until the client has
//! recorded it (`sealpost_rooms::EntryRead`), so that a crash between its
//! commit and this one loses nothing; a crash after this one and before the
//! engine lets go hands the same entries out again. The mark is what makes
//! that second case record nothing twice: an entry at or below it is
//! passed over. It moves only with log entries, passed explicitly: a
//! join's event carries the welcome's message id as its `seq`, another
//! number space.

use rusqlite::{Connection, OptionalExtension, params};
use sealpost_rooms::RoomId;

use super::room_downloads::RoomDownload;
use super::schema::{from_sql_u64, to_sql_u64};
use super::{KeyStore, KeyStoreError};
use crate::rooms::event::RoomEvent;

/// One entry of a room's log read, with what it came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRead {
    /// The room.
    pub room: RoomId,
    /// The entry's place in the room's log.
    pub seq: u64,
    /// Its events, in order (none for a receipt or our own message).
    pub events: Vec<RoomEvent>,
}

impl KeyStore {
    /// Records the events of `read` not recorded before (see the module
    /// docs), raises the rooms' marks to `opened`, then keeps `download`
    /// (the file announced after them, if not recorded before) and moves
    /// each room's mark to its last entry, in one transaction.
    ///
    /// # Errors
    /// Database errors.
    pub fn keep_room_log(
        &mut self,
        read: &[LogRead],
        opened: &[(RoomId, u64)],
        download: Option<&RoomDownload>,
    ) -> Result<(), KeyStoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut events = Vec::new();
        for r in read {
            if r.seq > mark(&tx, r.room)? {
                events.extend(r.events.iter().cloned());
            }
        }
        for (room, through) in opened {
            super::room_receipts::raise_marks(&tx, *room, *through, 0)?;
        }
        super::departures::note_departures(&tx, &events)?;
        super::room_events::queue(&tx, &events)?;
        let file = download.map(|d| (sealpost_rooms::RoomId(d.room.0), d.seq));
        if let (Some(d), Some((room, seq))) = (download, file)
            && seq > mark(&tx, room)?
        {
            super::room_downloads::add(&tx, d)?;
        }
        let moved = read.iter().map(|r| (r.room, r.seq)).chain(file);
        for (room, seq) in moved {
            tx.execute(
                "INSERT INTO room_log_read (room, seq) VALUES (?1, ?2)
                 ON CONFLICT (room) DO UPDATE SET seq = max(seq, excluded.seq)",
                params![&room.0[..], to_sql_u64(seq)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The last entry of `room`'s log whose events are recorded here (0:
    /// none).
    ///
    /// # Errors
    /// Database errors.
    pub fn room_log_read(&self, room: RoomId) -> Result<u64, KeyStoreError> {
        mark(&self.conn, room)
    }
}

fn mark(conn: &Connection, room: RoomId) -> Result<u64, KeyStoreError> {
    let seq: Option<i64> = conn
        .query_row(
            "SELECT seq FROM room_log_read WHERE room = ?1",
            params![&room.0[..]],
            |r| r.get(0),
        )
        .optional()?;
    Ok(seq.map_or(0, from_sql_u64))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::room_event as event;
    use super::*;
    use crate::keystore::HistoryQuery;
    use crate::rooms::event::RoomChange;

    fn text(seq: u64, text: &str) -> RoomEvent {
        event(seq, RoomChange::Text { text: text.into() })
    }

    fn texts(store: &KeyStore, room: &RoomEvent) -> Vec<String> {
        let all = store
            .history(&room.conversation(), &HistoryQuery::default())
            .unwrap();
        all.into_iter()
            .map(|e| match e.body {
                super::super::Body::Text { text } => text,
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn entries_read_again_after_their_record_are_recorded_once_and_the_mark_only_rises() {
        let (_dir, home) = super::super::fixtures::home();
        let mut store = KeyStore::open(&home).unwrap();
        let room = crate::keystore::parse_room_id(&text(1, "a").room_id).unwrap();
        let entry = |seq, events| LogRead { room, seq, events };
        assert_eq!(store.room_log_read(room).unwrap(), 0);

        // A crash in the transaction records nothing, the mark included.
        super::super::fixtures::fail_inserts_into(&store, "room_log_read");
        let first = [entry(4, vec![text(4, "a")]), entry(5, vec![])];
        assert!(store.keep_room_log(&first, &[], None).is_err());
        assert!(texts(&store, &text(4, "a")).is_empty());
        super::super::fixtures::allow_inserts(&store);

        store.keep_room_log(&first, &[], None).unwrap();
        assert_eq!(store.room_log_read(room).unwrap(), 5);
        // The same entries again (the engine handed them out once more),
        // with one new: only the new one is recorded and shown.
        let again = [
            entry(4, vec![text(4, "a")]),
            entry(5, vec![]),
            entry(6, vec![text(6, "b")]),
        ];
        store.keep_room_log(&again, &[], None).unwrap();
        assert_eq!(texts(&store, &text(4, "a")), ["a", "b"]);
        let shown = store.take_room_events().unwrap();
        assert_eq!(shown, [text(4, "a"), text(6, "b")]);
        assert_eq!(store.room_log_read(room).unwrap(), 6);

        // An older entry never moves the mark back.
        store.keep_room_log(&[entry(2, vec![])], &[], None).unwrap();
        assert_eq!(store.room_log_read(room).unwrap(), 6);
    }

    #[test]
    fn a_file_announced_again_after_its_record_is_not_kept_twice() {
        let (_dir, home) = super::super::fixtures::home();
        let mut store = KeyStore::open(&home).unwrap();
        let e = text(7, "f");
        let room = crate::keystore::parse_room_id(&e.room_id).unwrap();
        let download = RoomDownload {
            room: protocol::RoomId(room.0),
            seq: 7,
            event: e,
            file: b"offer".to_vec(),
        };
        store.keep_room_log(&[], &[], Some(&download)).unwrap();
        assert_eq!(store.room_log_read(room).unwrap(), 7);
        assert_eq!(
            store.room_downloads().unwrap(),
            std::slice::from_ref(&download)
        );
        store
            .finish_room_download(download.room, 7, &download.event, None, None)
            .unwrap();
        store.keep_room_log(&[], &[], Some(&download)).unwrap();
        assert!(store.room_downloads().unwrap().is_empty());
    }
}
