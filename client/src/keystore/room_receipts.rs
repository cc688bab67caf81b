//! Room receipts (PROTOCOL.md "Room receipts"), both ways:
//!
//! - **Ours out**: the members each of our room messages went to, and how
//!   far each of them read it. A member's receipt (watermarks over the
//!   room's log) moves only its own rows, so one who joined later cannot
//!   claim earlier messages; a history entry becomes `delivered` (`read`)
//!   once every recipient's row is.
//! - **Ours in**: how far we read each room's log, against what we told the
//!   room, so that a receipt not sent (no connection, the process ended) is
//!   sent by a later run, and one receipt carries both marks when both moved.

use protocol::ClientId;
use rusqlite::{OptionalExtension, params};
use sealpost_rooms::RoomId;
use serde::Serialize;

use super::schema::{blob_array, from_sql_u64, now_ms, to_sql_u64};
use super::status::Status;
use super::{Conversation, KeyStore, KeyStoreError};

/// How far the recipients of one of our room messages read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RoomReceipts {
    /// The other members of the room when it was sent.
    pub members: u32,
    /// How many of them opened it.
    pub delivered: u32,
    /// How many of them were shown it.
    pub read: u32,
}

impl RoomReceipts {
    /// The words history shows for it, once a recipient moved it.
    pub fn words(self) -> Option<String> {
        let Self {
            members,
            delivered,
            read,
        } = self;
        if read == members {
            Some("read".into())
        } else if read > 0 {
            Some(format!("read by {read} of {members}"))
        } else if delivered > 0 {
            Some(format!("delivered to {delivered} of {members}"))
        } else {
            None
        }
    }
}

/// How far we read a room's log, not yet told to the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomMarks {
    /// The room.
    pub room: RoomId,
    /// Opened up to this entry.
    pub delivered: u64,
    /// Shown up to this entry (never above `delivered`).
    pub read: u64,
}

impl KeyStore {
    /// Records the members our room entry `entry` went to, none of whom
    /// has read it yet.
    ///
    /// # Errors
    /// Storage errors.
    pub fn add_room_recipients(
        &mut self,
        entry: u64,
        members: &[ClientId],
    ) -> Result<(), KeyStoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO room_recipients (entry, member, status) VALUES (?1, ?2, ?3)",
            )?;
            for m in members {
                insert.execute(params![
                    to_sql_u64(entry),
                    &m.as_bytes()[..],
                    Status::Stored.code()
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// `member` of `room` opened our messages up to entry `delivered` of
    /// its log and was shown them up to `read`: its rows move (never
    /// back), and so does each entry every recipient has now opened or
    /// read. Returns how many of our entries' counts moved.
    ///
    /// # Errors
    /// Storage errors (then nothing moved).
    pub fn apply_room_receipt(
        &mut self,
        room: &Conversation,
        member: ClientId,
        delivered: u64,
        read: u64,
    ) -> Result<usize, KeyStoreError> {
        let (kind, key) = room.key();
        let tx = self.conn.transaction()?;
        let mut touched = Vec::new();
        for (through, status) in [(delivered, Status::Delivered), (read, Status::Read)] {
            if through == 0 {
                continue;
            }
            // Only the member's rows still below `status` are looked at
            // (the index), each entry's place in the log by its key.
            let mut moved = tx.prepare_cached(
                "UPDATE room_recipients SET status = ?1
                 WHERE member = ?2 AND status < ?1
                   AND (SELECT message_id FROM history h
                        WHERE h.entry = room_recipients.entry AND h.conv_kind = ?3
                          AND h.conv = ?4 AND h.direction = 2) <= ?5
                 RETURNING entry",
            )?;
            let rows = moved.query_map(
                params![
                    status.code(),
                    &member.as_bytes()[..],
                    kind,
                    key,
                    to_sql_u64(through)
                ],
                |r| r.get::<_, i64>(0),
            )?;
            for row in rows {
                touched.push(row?);
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for &entry in &touched {
            for status in [Status::Delivered, Status::Read] {
                tx.execute(
                    "UPDATE history SET status = ?1, status_at = ?2
                     WHERE entry = ?3 AND status IN (?4, ?5) AND status < ?1
                       AND NOT EXISTS (SELECT 1 FROM room_recipients r
                                       WHERE r.entry = ?3 AND r.status < ?1)",
                    params![
                        status.code(),
                        now_ms(),
                        entry,
                        Status::Stored.code(),
                        Status::Delivered.code()
                    ],
                )?;
            }
        }
        tx.commit()?;
        Ok(touched.len())
    }

    /// How far the recipients of our entry `entry` read it; `None` for an
    /// entry with none recorded (not a room message of ours, or a room too
    /// large for receipts).
    ///
    /// # Errors
    /// Storage errors.
    pub fn room_receipts(&self, entry: u64) -> Result<Option<RoomReceipts>, KeyStoreError> {
        let counts = self
            .conn
            .prepare_cached(
                "SELECT count(*), count(*) FILTER (WHERE status >= 3),
                        count(*) FILTER (WHERE status >= 4)
                 FROM room_recipients WHERE entry = ?1",
            )?
            .query_row([to_sql_u64(entry)], |r| {
                Ok(RoomReceipts {
                    members: r.get(0)?,
                    delivered: r.get(1)?,
                    read: r.get(2)?,
                })
            })
            .optional()?;
        Ok(counts.filter(|c| c.members > 0))
    }

    /// We opened `room`'s log up to entry `delivered` and showed it up to
    /// `read` (0: no news): the marks rise, never fall.
    ///
    /// # Errors
    /// Storage errors.
    pub fn raise_room_marks(
        &mut self,
        room: RoomId,
        delivered: u64,
        read: u64,
    ) -> Result<(), KeyStoreError> {
        raise_marks(&self.conn, room, delivered, read)
    }

    /// The user was shown `room`'s log up to entry `through`: opened, and
    /// read too unless read receipts are off.
    ///
    /// # Errors
    /// Storage errors.
    pub fn note_room_shown(&mut self, room: RoomId, through: u64) -> Result<(), KeyStoreError> {
        let read = if self.read_receipts()? { through } else { 0 };
        self.raise_room_marks(room, through, read)
    }

    /// The rooms whose marks rose past what we told them.
    ///
    /// # Errors
    /// Storage errors.
    pub fn room_marks_due(&self) -> Result<Vec<RoomMarks>, KeyStoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT room, delivered, read FROM room_marks
             WHERE delivered > sent_delivered OR read > sent_read",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(RoomMarks {
                room: RoomId(blob_array(r, 0)?),
                delivered: from_sql_u64(r.get(1)?),
                read: from_sql_u64(r.get(2)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// We told `marks.room` its marks (or, for a room we no longer send
    /// receipts in, gave up on them).
    ///
    /// # Errors
    /// Storage errors.
    pub fn room_marks_sent(&mut self, marks: RoomMarks) -> Result<(), KeyStoreError> {
        self.conn.execute(
            "UPDATE room_marks SET sent_delivered = max(sent_delivered, ?2),
                                   sent_read = max(sent_read, ?3)
             WHERE room = ?1",
            params![
                &marks.room.0[..],
                to_sql_u64(marks.delivered),
                to_sql_u64(marks.read)
            ],
        )?;
        Ok(())
    }
}

/// [`KeyStore::raise_room_marks`] inside the caller's transaction.
pub(super) fn raise_marks(
    conn: &rusqlite::Connection,
    room: RoomId,
    delivered: u64,
    read: u64,
) -> Result<(), KeyStoreError> {
    // Shown means opened.
    let delivered = delivered.max(read);
    conn.execute(
        "INSERT INTO room_marks (room, delivered, read) VALUES (?1, ?2, ?3)
         ON CONFLICT (room) DO UPDATE SET
             delivered = max(delivered, excluded.delivered),
             read = max(read, excluded.read)",
        params![&room.0[..], to_sql_u64(delivered), to_sql_u64(read)],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::fixtures::home;
    use crate::keystore::{Body, Direction, HistoryQuery, NewEntry};

    const ROOM: RoomId = RoomId([7; 16]);
    const BOB: ClientId = ClientId([2; 16]);
    const CAROL: ClientId = ClientId([3; 16]);
    const DAVE: ClientId = ClientId([4; 16]);

    fn sent(store: &mut KeyStore, seq: u64, to: &[ClientId]) -> u64 {
        let entry = store
            .add_history(&NewEntry {
                conversation: Conversation::room(ROOM, "team"),
                direction: Direction::Out,
                sender: ClientId([1; 16]),
                body: Body::Text {
                    text: format!("message {seq}"),
                },
                sender_time_ms: None,
                server_time_ms: None,
                message_id: Some(seq),
                status: Status::Stored,
            })
            .unwrap();
        store.add_room_recipients(entry, to).unwrap();
        entry
    }

    fn words(store: &KeyStore, entry: u64) -> Option<String> {
        store.room_receipts(entry).unwrap().unwrap().words()
    }

    fn statuses(store: &KeyStore) -> Vec<(u64, Status)> {
        store
            .history(&Conversation::room(ROOM, "team"), &HistoryQuery::default())
            .unwrap()
            .into_iter()
            .map(|e| (e.message_id.unwrap(), e.status))
            .collect()
    }

    #[test]
    fn an_entry_is_read_once_every_recipient_read_it_and_only_theirs_count() {
        let (_dir, home) = home();
        let mut store = KeyStore::open(&home).unwrap();
        let first = sent(&mut store, 10, &[BOB, CAROL]);
        // Dave joined after the first message: his receipt cannot claim it.
        let second = sent(&mut store, 20, &[BOB, CAROL, DAVE]);
        let room = Conversation::room(ROOM, "team");

        store.apply_room_receipt(&room, DAVE, 25, 25).unwrap();
        assert_eq!(
            statuses(&store),
            [(10, Status::Stored), (20, Status::Stored)]
        );
        let counts = store.room_receipts(first).unwrap().unwrap();
        assert_eq!((counts.members, counts.delivered, counts.read), (2, 0, 0));
        assert_eq!(counts.words(), None);

        // Bob opened both and read the first: two entries' counts moved.
        assert_eq!(store.apply_room_receipt(&room, BOB, 20, 10).unwrap(), 2);
        assert_eq!(words(&store, second).as_deref(), Some("read by 1 of 3"));
        assert_eq!(words(&store, first).as_deref(), Some("read by 1 of 2"));

        // Carol opened both: the second is delivered to all three.
        store.apply_room_receipt(&room, CAROL, 20, 0).unwrap();
        assert_eq!(
            statuses(&store),
            [(10, Status::Delivered), (20, Status::Delivered)]
        );
        store.apply_room_receipt(&room, CAROL, 20, 20).unwrap();
        assert_eq!(
            statuses(&store),
            [(10, Status::Read), (20, Status::Delivered)]
        );
        assert_eq!(words(&store, first).as_deref(), Some("read"));
        // Never back: an older receipt changes nothing.
        assert_eq!(store.apply_room_receipt(&room, CAROL, 5, 5).unwrap(), 0);
        assert_eq!(
            statuses(&store),
            [(10, Status::Read), (20, Status::Delivered)]
        );
        // Forgetting the conversation takes its recipients along.
        store.forget(&room).unwrap();
        assert_eq!(store.room_receipts(first).unwrap(), None);
    }

    #[test]
    fn marks_rise_are_due_until_told_and_survive_reopening() {
        let (_dir, home) = home();
        let mut store = KeyStore::open(&home).unwrap();
        assert!(store.room_marks_due().unwrap().is_empty());
        store.raise_room_marks(ROOM, 12, 0).unwrap();
        store.raise_room_marks(ROOM, 9, 9).unwrap();
        let due = store.room_marks_due().unwrap();
        assert_eq!(
            due,
            [RoomMarks {
                room: ROOM,
                delivered: 12,
                read: 9
            }]
        );
        store.room_marks_sent(due[0]).unwrap();
        assert!(store.room_marks_due().unwrap().is_empty());
        store.raise_room_marks(ROOM, 3, 3).unwrap();
        assert!(store.room_marks_due().unwrap().is_empty());
        store.raise_room_marks(ROOM, 0, 12).unwrap();
        drop(store);
        let store = KeyStore::open(&home).unwrap();
        assert_eq!(
            store.room_marks_due().unwrap(),
            [RoomMarks {
                room: ROOM,
                delivered: 12,
                read: 12
            }]
        );
    }
}
