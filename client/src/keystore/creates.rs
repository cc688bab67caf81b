//! Room creations noted before the rooms engine makes the room
//! (`pending_creates`): the engine keeps its own database, so a room is
//! made there first, then sent to the server, and its "you created" entry
//! recorded here after. Killed in between, the engine would hold a room
//! the server may never have had (and `room create` of the name would
//! then say it is taken), or the server a room whose history never says
//! it was created.
//!
//! The note names the room, its name and rule. It goes in the transaction
//! that records the creation, or with the room when the server refused
//! it; the next read of the rooms' logs finishes one a crash left
//! (`rooms::create`), asking the server whether it has the room.
//!
//! Left out: the creation itself (`crate::rooms::create`).

use rusqlite::params;
use sealpost_rooms::RoomId;

use super::conversation::note_name;
use super::history::{NewEntry, insert};
use super::notes::{drop_note, end_note};
use super::room_events::show_only;
use super::schema::blob_array;
use super::{KeyStore, KeyStoreError};
use crate::rooms::event::RoomEvent;

/// Deletes the note of a creation (the room as `?1`).
const NOTED_CREATE: &str = "DELETE FROM pending_creates WHERE room = ?1";

/// A room creation noted and not finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomCreate {
    /// The room.
    pub room: RoomId,
    /// The name it is made with.
    pub name: String,
    /// Its rule in the words a creation entry keeps (`public`, ...).
    pub rule: String,
}

impl KeyStore {
    /// Notes that `create` is about to be made, before the engine makes it.
    ///
    /// # Errors
    /// Database errors.
    pub fn begin_room_create(&mut self, create: &RoomCreate) -> Result<(), KeyStoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO pending_creates (room, name, rule) VALUES (?1, ?2, ?3)",
            params![&create.room.0[..], create.name, create.rule],
        )?;
        Ok(())
    }

    /// The room creations noted and not finished.
    ///
    /// # Errors
    /// Database errors.
    pub fn room_creates(&self) -> Result<Vec<RoomCreate>, KeyStoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT room, name, rule FROM pending_creates")?;
        let rows = stmt.query_map([], |r| {
            Ok(RoomCreate {
                room: RoomId(blob_array(r, 0)?),
                name: r.get(1)?,
                rule: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records `entry`, the creation of `room` (a
    /// [`crate::rooms::event::RoomChange::Created`] event), and the room's
    /// name, taking the creation's note away, in one transaction; the
    /// entry only if the room's history holds no creation yet, so that a
    /// create retried with the same room records it once. `shown`, a notice
    /// for the next `inbox`, is queued with it if the note was there.
    /// Returns whether it recorded the entry.
    ///
    /// # Errors
    /// Database errors.
    pub fn record_room_created(
        &mut self,
        room: RoomId,
        entry: &NewEntry,
        shown: Option<&RoomEvent>,
    ) -> Result<bool, KeyStoreError> {
        end_note(&mut self.conn, NOTED_CREATE, room, |tx, noted| {
            let (kind, key) = entry.conversation.key();
            let recorded: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM history WHERE conv_kind = ?1 AND conv = ?2
                   AND kind = 3 AND json_extract(body, '$.room_event') = 'created')",
                params![kind, key],
                |r| r.get(0),
            )?;
            if recorded {
                note_name(tx, &entry.conversation)?;
            } else {
                insert(tx, entry)?;
                if let Some(event) = shown.filter(|_| noted) {
                    show_only(tx, [event])?;
                }
            }
            Ok(!recorded)
        })
    }

    /// Forgets the creation of `room`: the server refused it or never had
    /// it. `shown`, a notice for the next `inbox`, is queued in the same
    /// transaction if the note was there: once.
    ///
    /// # Errors
    /// Database errors.
    pub fn drop_room_create(
        &mut self,
        room: RoomId,
        shown: Option<&RoomEvent>,
    ) -> Result<(), KeyStoreError> {
        drop_note(&mut self.conn, NOTED_CREATE, room, shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::{Body, Conversation, Direction, HistoryQuery, Status};
    use crate::rooms::event::RoomChange;
    use protocol::ClientId;

    const ROOM: RoomId = RoomId([7; 16]);

    fn create() -> RoomCreate {
        RoomCreate {
            room: ROOM,
            name: "team".into(),
            rule: "public".into(),
        }
    }

    fn created() -> Body {
        Body::Event {
            change: RoomChange::Created {
                name: "team".into(),
                rule: "public".into(),
            },
        }
    }

    fn entry() -> NewEntry {
        NewEntry {
            conversation: Conversation::room(ROOM, "team"),
            direction: Direction::Out,
            sender: ClientId([0x11; 16]),
            body: created(),
            sender_time_ms: None,
            server_time_ms: None,
            message_id: None,
            status: Status::Read,
        }
    }

    fn notice(change: RoomChange) -> RoomEvent {
        RoomEvent {
            seq: 0,
            room: "team".into(),
            room_id: crate::rooms::hex(&ROOM),
            from: ClientId([0x11; 16]).to_string(),
            sent_at_ms: 1,
            change,
            quiet: false,
        }
    }

    fn bodies(store: &KeyStore) -> Vec<Body> {
        let room = Conversation::room(ROOM, "team");
        let all = store.history(&room, &HistoryQuery::default()).unwrap();
        all.into_iter().map(|e| e.body).collect()
    }

    #[test]
    fn a_room_creation_is_recorded_once_never_unread_nor_queued() {
        let (_dir, home) = super::super::fixtures::home();
        let mut store = KeyStore::open(&home).unwrap();
        assert!(store.record_room_created(ROOM, &entry(), None).unwrap());
        // Again (a create run twice for one room): not recorded again.
        assert!(!store.record_room_created(ROOM, &entry(), None).unwrap());
        assert_eq!(bodies(&store), [created()]);
        assert_eq!(store.conversation_activity().unwrap()[0].unread, 0);
        assert!(store.take_room_events().unwrap().is_empty());
        assert_eq!(
            store.room_in_history("team").unwrap(),
            Some(Conversation::room(ROOM, "team")),
            "the room is named"
        );
    }

    #[test]
    fn a_noted_creation_ends_once_recorded_or_dropped_with_its_notice_queued_once() {
        let (_dir, home) = super::super::fixtures::home();
        let mut store = KeyStore::open(&home).unwrap();
        store.begin_room_create(&create()).unwrap();
        drop(store);
        // Noted across a restart (a crash), until it ends.
        let mut store = KeyStore::open(&home).unwrap();
        assert_eq!(store.room_creates().unwrap(), [create()]);
        let made = notice(RoomChange::Created {
            name: "team".into(),
            rule: "public".into(),
        });
        assert!(
            store
                .record_room_created(ROOM, &entry(), Some(&made))
                .unwrap()
        );
        assert!(store.room_creates().unwrap().is_empty());
        assert!(
            !store
                .record_room_created(ROOM, &entry(), Some(&made))
                .unwrap()
        );
        assert_eq!(store.take_room_events().unwrap(), [made]);
        assert_eq!(bodies(&store), [created()]);

        // One the server never had: dropped, its notice queued once, and
        // nothing in history.
        let other = RoomCreate {
            room: RoomId([8; 16]),
            ..create()
        };
        store.begin_room_create(&other).unwrap();
        let cut = notice(RoomChange::CreateCutShort);
        store.drop_room_create(other.room, Some(&cut)).unwrap();
        store.drop_room_create(other.room, Some(&cut)).unwrap();
        assert!(store.room_creates().unwrap().is_empty());
        assert_eq!(store.take_room_events().unwrap(), [cut]);
        assert_eq!(bodies(&store), [created()]);
    }
}
