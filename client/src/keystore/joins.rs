//! Joins from a welcome, noted before the rooms engine makes them
//! (`pending_joins`): the engine keeps its own database, so a join is made
//! there first and its "you joined" entry recorded here after, and a
//! crash between the two would lose the entry for good (the welcome's next
//! delivery finds the room held: the engine answers `RoomExists`).
//!
//! A row names the welcome (its message id) and the room its content
//! names, and says whether the entry is recorded. A welcome that comes
//! again while its row is not recorded records the join then; the entry
//! is recorded in the transaction that says so, so that of two deliveries
//! or two processes of one home only one records it. While a row is not
//! recorded its room's log waits (`rooms::sync`), so that the entry comes
//! before every entry of the room that waited for the welcome. A row not
//! recorded goes when its welcome is refused or handled; a recorded one
//! stays, so that a late second process never records the join again
//! (a row a room joined: a few bytes).
//!
//! A join by name (an external commit, PROTOCOL.md "Joining") is noted
//! the same way, by its room, before the engine makes it; the epoch its
//! commit is made at is added before the commit leaves, so a note without
//! one never reached the server. Its entry is recorded in the transaction
//! that takes the note away, by the run that joined or the next one, which
//! asks the server whether it took the join (`rooms::name_join`).
//!
//! Left out: the join itself (`crate::rooms`).

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sealpost_rooms::RoomId;

use super::conversation::note_name;
use super::history::{NewEntry, insert};
use super::notes::{drop_note, end_note};
use super::room_events::show_only;
use super::schema::{blob_array, from_sql_u64, to_sql_u64};
use super::{KeyStore, KeyStoreError};
use crate::rooms::event::RoomEvent;

/// Deletes the note of a join by name not recorded (the room as `?1`).
const NOTED_NAME_JOIN: &str =
    "DELETE FROM pending_joins WHERE welcome IS NULL AND recorded = 0 AND room = ?1";

/// Who records a join's entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinBy {
    /// The engine joined from the welcome just now.
    Joining,
    /// The engine held the room already, and the welcome's join was noted
    /// before this run's ([`KeyStore::begin_join`] said so): a crash, or
    /// another process, between the engine's join and the record.
    Recovering,
}

impl KeyStore {
    /// Notes that the welcome `welcome` (its message id) to `room` is about
    /// to be used; returns whether it was noted before (a join of it began
    /// in an earlier run, or in another process of this home).
    ///
    /// # Errors
    /// Database errors.
    pub fn begin_join(&mut self, welcome: u64, room: RoomId) -> Result<bool, KeyStoreError> {
        let added = self.conn.execute(
            "INSERT OR IGNORE INTO pending_joins (welcome, room, recorded) VALUES (?1, ?2, 0)",
            params![to_sql_u64(welcome), &room.0[..]],
        )?;
        Ok(added == 0)
    }

    /// Records `entry`, the "you joined" entry of the welcome `welcome` to
    /// `room`, unless it is recorded already; `Recovering`, only if the
    /// join is noted and not recorded. Returns whether it recorded it.
    ///
    /// # Errors
    /// Database errors.
    pub fn record_join(
        &mut self,
        welcome: u64,
        room: RoomId,
        entry: &NewEntry,
        by: JoinBy,
    ) -> Result<bool, KeyStoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let recorded: Option<bool> = tx
            .query_row(
                "SELECT recorded FROM pending_joins WHERE welcome = ?1",
                [to_sql_u64(welcome)],
                |r| r.get(0),
            )
            .optional()?;
        let record = match by {
            JoinBy::Joining => recorded != Some(true),
            JoinBy::Recovering => recorded == Some(false),
        };
        if record {
            insert(&tx, entry)?;
            tx.execute(
                "INSERT OR REPLACE INTO pending_joins (welcome, room, recorded) VALUES (?1, ?2, 1)",
                params![to_sql_u64(welcome), &room.0[..]],
            )?;
        }
        tx.commit()?;
        Ok(record)
    }

    /// Forgets the join of the welcome `welcome` if it is not recorded:
    /// the engine refused the welcome, or held the room before it.
    ///
    /// # Errors
    /// Database errors.
    pub fn drop_join(&mut self, welcome: u64) -> Result<(), KeyStoreError> {
        drop_join(&self.conn, welcome)
    }

    /// The rooms whose join is noted and not recorded: their logs wait.
    ///
    /// # Errors
    /// Database errors.
    pub fn rooms_joining(&self) -> Result<Vec<RoomId>, KeyStoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT room FROM pending_joins WHERE recorded = 0")?;
        let rows = stmt.query_map([], |r| blob_array(r, 0).map(RoomId))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// A join by name noted and not recorded yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameJoin {
    /// The room.
    pub room: RoomId,
    /// The name it was joined by.
    pub name: String,
    /// The epoch its commit was made at, once the engine made it (`None`:
    /// it never left).
    pub epoch: Option<u64>,
    /// It takes our own place again (a member the room lists).
    pub resync: bool,
}

impl KeyStore {
    /// Notes that we are about to join `room` by `name`; `false` if a join
    /// of it by name is noted already (another process of this home).
    ///
    /// # Errors
    /// Database errors.
    pub fn begin_name_join(&mut self, room: RoomId, name: &str) -> Result<bool, KeyStoreError> {
        let added = self.conn.execute(
            "INSERT OR IGNORE INTO pending_joins (welcome, room, recorded, name)
             VALUES (NULL, ?1, 0, ?2)",
            params![&room.0[..], name],
        )?;
        Ok(added == 1)
    }

    /// Notes the epoch the commit of the join of `room` by name is made at,
    /// before it leaves.
    ///
    /// # Errors
    /// Database errors.
    pub fn name_join_made(
        &mut self,
        room: RoomId,
        epoch: u64,
        resync: bool,
    ) -> Result<(), KeyStoreError> {
        self.conn.execute(
            "UPDATE pending_joins SET epoch = ?2, resync = ?3
             WHERE welcome IS NULL AND recorded = 0 AND room = ?1",
            params![&room.0[..], to_sql_u64(epoch), resync],
        )?;
        Ok(())
    }

    /// Records `entry`, the "you joined" entry of the join of `room` by
    /// name, if that join is noted, taking the note away in the same
    /// transaction; returns whether it recorded it (of two runs, one).
    ///
    /// # Errors
    /// Database errors.
    pub fn record_name_join(
        &mut self,
        room: RoomId,
        entry: &NewEntry,
        shown: Option<&RoomEvent>,
    ) -> Result<bool, KeyStoreError> {
        end_note(&mut self.conn, NOTED_NAME_JOIN, room, |tx, noted| {
            if noted {
                insert(tx, entry)?;
                note_name(tx, &entry.conversation)?;
                if let Some(event) = shown {
                    show_only(tx, [event])?;
                }
            }
            Ok(noted)
        })
    }

    /// Forgets the join of `room` by name: the engine refused it, or the
    /// server never took it. `shown`, a notice for the next `inbox`, is
    /// queued in the same transaction if the note was there: once.
    ///
    /// # Errors
    /// Database errors.
    pub fn drop_name_join(
        &mut self,
        room: RoomId,
        shown: Option<&RoomEvent>,
    ) -> Result<(), KeyStoreError> {
        drop_note(&mut self.conn, NOTED_NAME_JOIN, room, shown)
    }

    /// The joins by name noted and not recorded.
    ///
    /// # Errors
    /// Database errors.
    pub fn name_joins(&self) -> Result<Vec<NameJoin>, KeyStoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT room, name, epoch, resync FROM pending_joins
             WHERE welcome IS NULL AND recorded = 0",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(NameJoin {
                room: RoomId(blob_array(r, 0)?),
                name: r.get(1)?,
                epoch: r.get::<_, Option<i64>>(2)?.map(from_sql_u64),
                resync: r.get::<_, Option<bool>>(3)?.unwrap_or(false),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// [`KeyStore::drop_join`] on `conn` (inside the caller's transaction).
pub(super) fn drop_join(conn: &Connection, welcome: u64) -> Result<(), KeyStoreError> {
    conn.execute(
        "DELETE FROM pending_joins WHERE welcome = ?1 AND recorded = 0",
        [to_sql_u64(welcome)],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::{Body, Conversation, Direction, HistoryQuery, Status};
    use crate::rooms::event::{Named, RoomChange};

    const ROOM: RoomId = RoomId([7; 16]);

    fn joined() -> NewEntry {
        NewEntry {
            conversation: Conversation::room(ROOM, "team"),
            direction: Direction::In,
            sender: super::super::fixtures::BOB,
            body: Body::Event {
                change: RoomChange::Joined {
                    members: vec![Named::other("bob")],
                },
            },
            sender_time_ms: None,
            server_time_ms: Some(1),
            message_id: None,
            status: Status::Read,
        }
    }

    fn joins(store: &KeyStore) -> usize {
        let room = Conversation::room(ROOM, "team");
        let all = store.history(&room, &HistoryQuery::default()).unwrap();
        all.len()
    }

    fn record(store: &mut KeyStore, welcome: u64, by: JoinBy) -> bool {
        store.record_join(welcome, ROOM, &joined(), by).unwrap()
    }

    #[test]
    fn a_join_is_recorded_once_by_the_run_that_joined_or_the_one_after_its_crash() {
        use JoinBy::{Joining, Recovering};
        let (_dir, home) = super::super::fixtures::home();
        let mut store = KeyStore::open(&home).unwrap();
        // Joined: recorded once, however often a second process or a
        // delivery again tries; the room's log waits until then.
        assert!(!store.begin_join(1, ROOM).unwrap());
        assert_eq!(store.rooms_joining().unwrap(), [ROOM]);
        assert!(record(&mut store, 1, Joining));
        assert!(store.rooms_joining().unwrap().is_empty());
        assert!(store.begin_join(1, ROOM).unwrap());
        assert!(!record(&mut store, 1, Recovering));
        assert!(!record(&mut store, 1, Joining));
        store.drop_join(1).unwrap();
        assert!(!record(&mut store, 1, Joining));
        assert_eq!(joins(&store), 1);

        // A crash after the engine's join: the next run recovers it, once.
        assert!(!store.begin_join(2, ROOM).unwrap());
        drop(store);
        let mut store = KeyStore::open(&home).unwrap();
        assert!(store.begin_join(2, ROOM).unwrap());
        assert!(record(&mut store, 2, Recovering));
        assert!(!record(&mut store, 2, Recovering));
        assert!(!record(&mut store, 2, Joining));
        assert_eq!(joins(&store), 2);

        // A welcome never noted (a copy of one used before) recovers
        // nothing, nor does one whose join was dropped (refused, handled).
        assert!(!record(&mut store, 3, Recovering));
        assert!(!store.begin_join(4, ROOM).unwrap());
        store.drop_join(4).unwrap();
        assert!(store.rooms_joining().unwrap().is_empty());
        assert!(!record(&mut store, 4, Recovering));
        assert_eq!(joins(&store), 2);
    }

    #[test]
    fn a_join_by_name_is_noted_once_and_recorded_once_by_the_run_that_finds_it_noted() {
        let (_dir, home) = super::super::fixtures::home();
        let mut store = KeyStore::open(&home).unwrap();
        // Noted before the engine makes it; its log waits meanwhile.
        assert!(store.begin_name_join(ROOM, "team").unwrap());
        assert!(!store.begin_name_join(ROOM, "team").unwrap());
        assert_eq!(store.rooms_joining().unwrap(), [ROOM]);
        let never_sent = NameJoin {
            room: ROOM,
            name: "team".into(),
            epoch: None,
            resync: false,
        };
        assert_eq!(
            store.name_joins().unwrap(),
            std::slice::from_ref(&never_sent)
        );
        store.name_join_made(ROOM, 3, true).unwrap();
        drop(store);

        // The next run finds it with its epoch; of two records, one counts.
        let mut store = KeyStore::open(&home).unwrap();
        let made = NameJoin {
            epoch: Some(3),
            resync: true,
            ..never_sent
        };
        assert_eq!(store.name_joins().unwrap(), [made]);
        // Its notice for the next `inbox` is queued with the record, once.
        let notice = |change| crate::keystore::fixtures::room_event(0, change);
        let you_joined = notice(RoomChange::JoinedByName {
            member: "alice".into(),
            you: true,
            again: true,
        });
        assert!(
            store
                .record_name_join(ROOM, &joined(), Some(&you_joined))
                .unwrap()
        );
        assert!(
            !store
                .record_name_join(ROOM, &joined(), Some(&you_joined))
                .unwrap()
        );
        assert!(store.name_joins().unwrap().is_empty());
        assert!(store.rooms_joining().unwrap().is_empty());
        assert_eq!(joins(&store), 1);
        assert_eq!(store.take_room_events().unwrap(), [you_joined]);

        // Dropped (never taken): nothing to record, a notice once, and a
        // new join is noted.
        assert!(store.begin_name_join(ROOM, "team").unwrap());
        let cut_short = notice(RoomChange::JoinCutShort);
        store.drop_name_join(ROOM, Some(&cut_short)).unwrap();
        store.drop_name_join(ROOM, Some(&cut_short)).unwrap();
        assert!(!store.record_name_join(ROOM, &joined(), None).unwrap());
        assert_eq!(joins(&store), 1);
        assert_eq!(store.take_room_events().unwrap(), [cut_short]);
        assert!(store.begin_name_join(ROOM, "team").unwrap());

        // A welcome's join of the same room is its own note.
        assert!(!store.begin_join(9, ROOM).unwrap());
        store.drop_name_join(ROOM, None).unwrap();
        assert_eq!(store.rooms_joining().unwrap(), [ROOM]);
    }
}
