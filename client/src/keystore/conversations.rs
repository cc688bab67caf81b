//! Every conversation at a glance, for a list of them (the full-screen
//! client's): when each last had an entry and how many received entries
//! were not shown yet, and marking a conversation's received entries as
//! read once it was shown.
//!
//! Unread is the history's own status (`received`, not `read` yet), so a
//! count survives a restart and agrees with the read receipts already sent.
//! Left out: which conversations exist without history (pinned peers,
//! rooms: `crate::conversations` adds them) and how they are shown.

use rusqlite::params;

use super::history::{Conversation, Direction, Status};
use super::schema::{from_sql_u64, now_ms};
use super::{KeyStore, KeyStoreError};

/// One conversation's activity in the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// The conversation.
    pub conversation: Conversation,
    /// When its newest entry was recorded here (ms since the Unix epoch).
    pub last_ms: u64,
    /// Received entries not shown yet.
    pub unread: usize,
    /// Received file offers held for the user's answer (they stay until
    /// accepted or declined, shown or not).
    pub held: usize,
}

fn direction_code(d: Direction) -> i64 {
    match d {
        Direction::In => 1,
        Direction::Out => 2,
    }
}

impl KeyStore {
    /// The activity of every conversation that has history, newest first.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn conversation_activity(&self) -> Result<Vec<Activity>, KeyStoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT conv_kind, conv, MAX(arrived_at),
                    SUM(CASE WHEN direction = ?1 AND status = ?2 THEN 1 ELSE 0 END),
                    SUM(CASE WHEN direction = ?1 AND status = ?3 THEN 1 ELSE 0 END),
                    (SELECT name FROM room_names WHERE room = conv AND conv_kind = 2)
             FROM history GROUP BY conv_kind, conv ORDER BY MAX(arrived_at) DESC",
        )?;
        let rows = stmt.query_map(
            params![
                direction_code(Direction::In),
                Status::Received.code(),
                Status::Held.code()
            ],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    (r.get::<_, i64>(3)?, r.get::<_, i64>(4)?),
                    r.get::<_, Option<String>>(5)?,
                ))
            },
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (kind, key, last, (unread, held), name) = row?;
            let count = |n: i64| usize::try_from(n.max(0)).unwrap_or(usize::MAX);
            out.push(Activity {
                conversation: Conversation::from_key(kind, key, name)?,
                last_ms: from_sql_u64(last),
                unread: count(unread),
                held: count(held),
            });
        }
        Ok(out)
    }

    /// The received entries of `conversation` not shown yet become `read`;
    /// returns the server's message ids of those that have one (for read
    /// receipts), oldest first.
    ///
    /// # Errors
    /// Storage errors.
    pub fn mark_conversation_read(
        &mut self,
        conversation: &Conversation,
    ) -> Result<Vec<u64>, KeyStoreError> {
        let (kind, key) = conversation.key();
        let mut stmt = self.conn.prepare(
            "UPDATE history SET status = ?1, status_at = ?2
             WHERE conv_kind = ?3 AND conv = ?4 AND direction = ?5 AND status = ?6
             RETURNING entry, message_id",
        )?;
        let rows = stmt.query_map(
            params![
                Status::Read.code(),
                now_ms(),
                kind,
                key,
                direction_code(Direction::In),
                Status::Received.code()
            ],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?)),
        )?;
        let mut marked = Vec::new();
        for row in rows {
            let (entry, id) = row?;
            if let Some(id) = id {
                marked.push((entry, from_sql_u64(id)));
            }
        }
        marked.sort_unstable();
        Ok(marked.into_iter().map(|(_, id)| id).collect())
    }

    /// [`KeyStore::set_status`] for every received `(conversation, id)` in
    /// `entries`, in one transaction: one sync for a whole inbox shown,
    /// not one per message. Returns how many changed.
    ///
    /// # Errors
    /// Storage errors (then none changed).
    pub fn set_received_statuses(
        &mut self,
        entries: &[(Conversation, u64)],
        status: Status,
    ) -> Result<usize, KeyStoreError> {
        let tx = self.conn.transaction()?;
        let mut changed = 0;
        for (conversation, id) in entries {
            changed += usize::from(super::history::set_status(
                &tx,
                conversation,
                Direction::In,
                *id,
                status,
                None,
            )?);
        }
        tx.commit()?;
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::fixtures::{ALICE, BOB, home, with_session};
    use crate::keystore::{Body, NewEntry};

    fn entry(conversation: Conversation, direction: Direction, id: u64) -> NewEntry {
        NewEntry {
            conversation,
            direction,
            sender: if direction == Direction::In {
                BOB
            } else {
                ALICE
            },
            body: Body::Text {
                text: format!("m{id}"),
            },
            sender_time_ms: None,
            server_time_ms: None,
            message_id: Some(id),
            status: if direction == Direction::In {
                Status::Received
            } else {
                Status::Stored
            },
        }
    }

    #[test]
    fn unread_counts_only_received_entries_until_marked_read() {
        let (_dir, home) = home();
        let (mut store, ..) = with_session(&home);
        let bob = Conversation::Person { id: BOB };
        let team = Conversation::room(sealpost_rooms::RoomId([7; 16]), "team");
        store
            .add_history(&entry(bob.clone(), Direction::Out, 1))
            .unwrap();
        store
            .add_history(&entry(bob.clone(), Direction::In, 2))
            .unwrap();
        store
            .add_history(&entry(bob.clone(), Direction::In, 3))
            .unwrap();
        store
            .add_history(&entry(team.clone(), Direction::In, 7))
            .unwrap();
        let activity = store.conversation_activity().unwrap();
        let count = |c: &Conversation, a: &[Activity]| {
            a.iter().find(|x| x.conversation == *c).map(|x| x.unread)
        };
        assert_eq!(activity.len(), 2);
        assert_eq!(count(&bob, &activity), Some(2));
        assert_eq!(count(&team, &activity), Some(1));
        assert_eq!(store.mark_conversation_read(&bob).unwrap(), vec![2, 3]);
        // A second time there is nothing left to mark.
        assert!(store.mark_conversation_read(&bob).unwrap().is_empty());
        let activity = store.conversation_activity().unwrap();
        assert_eq!(count(&bob, &activity), Some(0));
        assert_eq!(count(&team, &activity), Some(1));
    }

    #[test]
    fn a_held_file_offer_is_counted_apart_and_stays_until_answered() {
        let (_dir, home) = home();
        let (mut store, ..) = with_session(&home);
        let bob = Conversation::Person { id: BOB };
        store
            .add_history(&entry(bob.clone(), Direction::In, 2))
            .unwrap();
        let mut offer = entry(bob.clone(), Direction::In, 3);
        offer.body = Body::File {
            name: "big.iso".into(),
            size: 1 << 30,
            path: std::path::PathBuf::new(),
        };
        offer.status = Status::Held;
        store.add_history(&offer).unwrap();
        let counts = |store: &KeyStore| {
            let a = store.conversation_activity().unwrap();
            let bob = a.iter().find(|x| x.conversation == bob).unwrap();
            (bob.unread, bob.held)
        };
        assert_eq!(counts(&store), (1, 1));
        // Showing the conversation reads the text; the offer still waits.
        assert_eq!(store.mark_conversation_read(&bob).unwrap(), vec![2]);
        assert_eq!(counts(&store), (0, 1));
    }

    #[test]
    fn received_messages_shown_together_are_read_in_one_transaction() {
        let (_dir, home) = home();
        let (mut store, ..) = with_session(&home);
        let bob = Conversation::Person { id: BOB };
        for id in [50, 51, 52] {
            store
                .add_history(&entry(bob.clone(), Direction::In, id))
                .unwrap();
        }
        store
            .add_history(&entry(bob.clone(), Direction::Out, 51))
            .unwrap();
        // 51 also names our own message and 99 nothing: only received ones move.
        let shown = [(bob.clone(), 50), (bob.clone(), 51), (bob.clone(), 99)];
        assert_eq!(
            store.set_received_statuses(&shown, Status::Read).unwrap(),
            2
        );
        assert_eq!(
            store.set_received_statuses(&shown, Status::Read).unwrap(),
            0,
            "read already: nothing moves twice"
        );
        drop(store);

        let store = crate::keystore::KeyStore::open(&home).unwrap();
        let statuses: Vec<_> = store
            .history(&bob, &crate::keystore::HistoryQuery::default())
            .unwrap()
            .iter()
            .map(|e| (e.direction, e.message_id, e.status))
            .collect();
        assert_eq!(
            statuses,
            vec![
                (Direction::In, Some(50), Status::Read),
                (Direction::In, Some(51), Status::Read),
                (Direction::In, Some(52), Status::Received),
                (Direction::Out, Some(51), Status::Stored),
            ]
        );
        let activity = store.conversation_activity().unwrap();
        assert_eq!(activity[0].unread, 1);
    }
}
