//! Room files over the automatic download limit that the server holds for
//! this member (PROTOCOL.md "Holding a room file (150)") until the user
//! accepts or declines them. The announcement (the file's key, name, size
//! and hash) is read once, so it is kept here; the room's cursor moves on.
//! Its number for the user is the entry's `seq`, from the server's one
//! counter of message ids, so it never meets a held file's message id.

use std::fmt;

use protocol::{ClientId, RoomId};
use rusqlite::{OptionalExtension, params};
use zeroize::Zeroizing;

use super::held::{HeldEnd, end_held};
use super::history::NewEntry;
use super::schema::{blob_array, from_sql_u64, now_ms, to_sql_u64};
use super::{KeyStore, KeyStoreError};

/// A held room file waiting for the user's decision.
#[derive(Clone, PartialEq, Eq)]
pub struct RoomOffer {
    /// The room (the server's id).
    pub room: RoomId,
    /// The room's name here.
    pub room_name: String,
    /// The entry that announced it: `accept-file N`, `decline-file N`.
    pub seq: u64,
    /// Its sender.
    pub sender: ClientId,
    /// The file's name as the sender gave it (escape before printing).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// When its sender sent it (ms since the Unix epoch).
    pub sent_at_ms: u64,
    /// The announcement: the room content of PROTOCOL.md ("Room content"),
    /// with the file's key.
    pub file: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for RoomOffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoomOffer")
            .field("room", &self.room)
            .field("seq", &self.seq)
            .field("sender", &self.sender)
            .field("name", &self.name)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "SELECT room, room_name, seq, sender, name, size, sent_at, file
    FROM room_offers";

fn offer_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<RoomOffer> {
    Ok(RoomOffer {
        room: RoomId(blob_array(row, 0)?),
        room_name: row.get(1)?,
        seq: from_sql_u64(row.get(2)?),
        sender: ClientId(blob_array(row, 3)?),
        name: row.get(4)?,
        size: from_sql_u64(row.get(5)?),
        sent_at_ms: from_sql_u64(row.get(6)?),
        file: Zeroizing::new(row.get(7)?),
    })
}

/// Keeps `offer` in `tx` (again: no change).
pub(super) fn insert(tx: &rusqlite::Transaction<'_>, offer: &RoomOffer) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO room_offers (seq, room, room_name, sender, name, size, file,
             sent_at, held_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            to_sql_u64(offer.seq),
            &offer.room.0[..],
            offer.room_name,
            &offer.sender.0[..],
            offer.name,
            to_sql_u64(offer.size),
            &offer.file[..],
            to_sql_u64(offer.sent_at_ms),
            now_ms(),
        ],
    )?;
    Ok(())
}

impl KeyStore {
    /// Every held room offer, oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub fn room_offers(&self) -> Result<Vec<RoomOffer>, KeyStoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!("{COLUMNS} ORDER BY held_at, seq"))?;
        let rows = stmt.query_map([], offer_from)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Held room offer `seq`, if any.
    ///
    /// # Errors
    /// Database errors.
    pub fn room_offer(&self, seq: u64) -> Result<Option<RoomOffer>, KeyStoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("{COLUMNS} WHERE seq = ?1"),
                [to_sql_u64(seq)],
                offer_from,
            )
            .optional()?)
    }

    /// Forgets held room offer `seq` and turns its history entry (`entry`,
    /// as it was held) into what became of it (`end`), in one transaction.
    ///
    /// # Errors
    /// Database errors.
    pub fn end_room_offer(
        &mut self,
        seq: u64,
        entry: &NewEntry,
        end: &HeldEnd,
    ) -> Result<(), KeyStoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        end_held(&tx, entry.clone(), end)?;
        tx.execute("DELETE FROM room_offers WHERE seq = ?1", [to_sql_u64(seq)])?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets held room offer `seq` (none: no change).
    ///
    /// # Errors
    /// Database errors.
    pub fn forget_room_offer(&self, seq: u64) -> Result<(), KeyStoreError> {
        self.conn
            .execute("DELETE FROM room_offers WHERE seq = ?1", [to_sql_u64(seq)])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_room_offer_survives_a_reopen_until_it_is_forgotten() {
        let (_dir, home) = super::super::fixtures::home();
        let offer = RoomOffer {
            room: RoomId([4; 16]),
            room_name: "team".into(),
            seq: u64::MAX - 1,
            sender: ClientId([7; 16]),
            name: "big.bin".into(),
            size: 1 << 40,
            sent_at_ms: 5,
            file: Zeroizing::new(vec![1, 2, 3]),
        };
        {
            let mut store = KeyStore::open(&home).unwrap();
            let tx = store.conn.transaction().unwrap();
            insert(&tx, &offer).unwrap();
            insert(&tx, &offer).unwrap();
            tx.commit().unwrap();
        }
        let store = KeyStore::open(&home).unwrap();
        assert_eq!(store.room_offers().unwrap(), vec![offer.clone()]);
        assert_eq!(store.room_offer(offer.seq).unwrap(), Some(offer.clone()));
        assert_eq!(store.room_offer(1).unwrap(), None);
        store.forget_room_offer(offer.seq).unwrap();
        assert!(store.room_offers().unwrap().is_empty());
    }
}
