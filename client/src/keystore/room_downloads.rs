//! Room files announced and not downloaded yet. A room message is decrypted
//! once (MLS spends its key), so the announcement (the file's key, name,
//! size and hash) is kept here, with the events read before it, in one
//! transaction; the download then runs before the entry is acknowledged
//! (the server deletes the blob once every member acknowledged it), and its
//! outcome becomes the room event shown, in the same transaction that
//! forgets the announcement. A download cut short is found here again by
//! the next read of the rooms.

use protocol::RoomId;
use rusqlite::params;

use super::history::{NewEntry, insert};
use super::{KeyStore, KeyStoreError};
use crate::rooms::event::RoomEvent;

/// An announced room file waiting for its download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomDownload {
    /// The room (the server's id).
    pub room: RoomId,
    /// The entry that announced it.
    pub seq: u64,
    /// The event to show once it is done (its change is the file's).
    pub event: RoomEvent,
    /// The announcement: the room content of PROTOCOL.md ("Room content").
    pub file: Vec<u8>,
}

impl KeyStore {
    /// Queues `before` (the events read ahead of the announcement) and
    /// keeps `download`, in one transaction.
    ///
    /// # Errors
    /// Database errors.
    pub fn add_room_download(
        &mut self,
        before: &[RoomEvent],
        download: &RoomDownload,
    ) -> Result<(), KeyStoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        super::room_events::queue(&tx, before)?;
        add(&tx, download)?;
        tx.commit()?;
        Ok(())
    }

    /// Every waiting download, in the order the rooms' logs gave them.
    ///
    /// # Errors
    /// Database errors; a row that does not parse.
    pub fn room_downloads(&self) -> Result<Vec<RoomDownload>, KeyStoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT room, seq, event, file FROM room_downloads ORDER BY seq")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Vec<u8>>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (room, seq, event, file) = row?;
            out.push(RoomDownload {
                room: RoomId(
                    room.try_into()
                        .map_err(|_| KeyStoreError::Corrupt("room download's room"))?,
                ),
                seq: seq as u64,
                event: serde_json::from_str(&event)
                    .map_err(|_| KeyStoreError::Corrupt("room download's event"))?,
                file,
            });
        }
        Ok(out)
    }

    /// Forgets the download of entry `seq` of `room`, queues `event` (its
    /// outcome), records `history` (the received file, or the offer held)
    /// and keeps `offer` (a file the server holds for the user's
    /// decision), in one transaction.
    ///
    /// # Errors
    /// Database errors.
    pub fn finish_room_download(
        &mut self,
        room: RoomId,
        seq: u64,
        event: &RoomEvent,
        history: Option<&NewEntry>,
        offer: Option<&super::RoomOffer>,
    ) -> Result<(), KeyStoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM room_downloads WHERE room = ?1 AND seq = ?2",
            params![&room.0[..], seq as i64],
        )?;
        super::room_events::queue(&tx, std::slice::from_ref(event))?;
        if let Some(entry) = history {
            insert(&tx, entry)?;
        }
        if let Some(offer) = offer {
            super::room_offers::insert(&tx, offer)?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// Keeps `download` inside the caller's transaction.
pub(super) fn add(
    conn: &rusqlite::Connection,
    download: &RoomDownload,
) -> Result<(), KeyStoreError> {
    let event = serde_json::to_string(&download.event)
        .map_err(|_| KeyStoreError::Corrupt("room event encoding"))?;
    conn.execute(
        "INSERT OR REPLACE INTO room_downloads (room, seq, event, file) VALUES (?1, ?2, ?3, ?4)",
        params![
            &download.room.0[..],
            download.seq as i64,
            event,
            download.file
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::room_event as event;
    use super::*;
    use crate::rooms::event::RoomChange;

    fn file_change(path: Option<&str>) -> RoomChange {
        RoomChange::File {
            name: "a.bin".into(),
            size: 3,
            path: path.map(Into::into),
            not_saved: None,
        }
    }

    #[test]
    fn an_announced_file_waits_across_a_reopen_and_its_outcome_is_shown_after_what_came_before() {
        let (_dir, home) = super::super::fixtures::home();
        let room = RoomId([4; 16]);
        let download = RoomDownload {
            room,
            seq: 9,
            event: event(9, file_change(None)),
            file: vec![1, 2, 3],
        };
        {
            let mut store = KeyStore::open(&home).unwrap();
            let hello = event(8, RoomChange::Text { text: "hi".into() });
            store.add_room_download(&[hello], &download).unwrap();
        }
        let mut store = KeyStore::open(&home).unwrap();
        assert_eq!(store.room_downloads().unwrap(), vec![download.clone()]);
        let done = event(9, file_change(Some("/tmp/a.bin")));
        store
            .finish_room_download(room, 9, &done, None, None)
            .unwrap();
        assert!(store.room_downloads().unwrap().is_empty());
        let shown = store.take_room_events().unwrap();
        assert_eq!(shown.len(), 2);
        assert_eq!(shown[0].seq, 8);
        assert_eq!(shown[1], done);
    }
}
