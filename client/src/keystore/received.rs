//! What the store remembers about received messages: those that arrived
//! before their session's offer (pending), and the ids of those already
//! handled, so that a redelivery is dropped.
//!
//! [`KeyStore::mark_handled`] records a message's id, its session counter
//! and its removal from the pending ones in one transaction. The bounds on
//! both tables are in `keystore::bounds`.
//!
//! Left out: deciding what a message means (`crate::inbox`).

use std::time::Duration;

use protocol::{ClientId, MessageKind};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use super::history::{Conversation, HistoryEntry};
use super::history_change::HistoryChange;
use super::schema::{blob_array, from_sql_u64, now_ms, to_sql_u64};
use super::sessions::record_received;
use super::{KeyStore, KeyStoreError};
use crate::crypto::SessionId;

/// Most notices kept unshown ([`KeyStore::keep_unshown_events`]).
const UNSHOWN_EVENTS_MAX: i64 = 10_000;

/// Whether a delivered message was handled here already
/// ([`KeyStore::handled_as`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Not handled.
    No,
    /// This very message was: a redelivery.
    Same,
    /// Another message had its id.
    Other,
}

/// A message that arrived before its session's offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMessage {
    /// The server's message id.
    pub message_id: u64,
    /// Who sent it.
    pub sender: ClientId,
    /// Its type (3 text or 4 file offer).
    pub kind: MessageKind,
    /// The session it needs.
    pub sid: SessionId,
    /// The content as delivered (for a file, the whole file offer).
    pub content: Vec<u8>,
    /// When the server stored it, in ms since the Unix epoch.
    pub sent_at_ms: u64,
}

impl KeyStore {
    /// Keeps a message whose session is not known yet. A message id already
    /// kept is ignored (redelivery).
    ///
    /// # Errors
    /// Storage errors.
    pub fn add_pending(&mut self, message: &PendingMessage) -> Result<(), KeyStoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO pending_messages
                 (message_id, sid, sender, kind, content, sent_at, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                to_sql_u64(message.message_id),
                &message.sid.0[..],
                &message.sender.0[..],
                message.kind.code(),
                &message.content,
                to_sql_u64(message.sent_at_ms),
                now_ms(),
            ],
        )?;
        Ok(())
    }

    /// The messages waiting for session `sid`, in message-id order.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn pending_for(&self, sid: SessionId) -> Result<Vec<PendingMessage>, KeyStoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT message_id, sender, kind, sid, content, sent_at FROM pending_messages
             WHERE sid = ?1 ORDER BY message_id",
        )?;
        let rows = stmt.query_map([&sid.0[..]], pending_row)?;
        rows.map(|row| pending_message(row?)).collect()
    }

    /// Forgets a pending message (handled, or given up).
    ///
    /// # Errors
    /// Storage errors.
    pub fn delete_pending(&mut self, message_id: u64) -> Result<(), KeyStoreError> {
        self.conn.execute(
            "DELETE FROM pending_messages WHERE message_id = ?1",
            [to_sql_u64(message_id)],
        )?;
        Ok(())
    }

    /// Whether the message `message_id` whose digest is `digest` (see
    /// `crate::inbox::digest`) was handled already: [`Handled::Same`] for
    /// a redelivery (also when the id was handled before digests were
    /// kept), [`Handled::Other`] when another message had that id (the
    /// server's data went back to an older copy, which hands out its ids
    /// again): that one is new.
    ///
    /// # Errors
    /// Storage errors.
    pub fn handled_as(&self, message_id: u64, digest: &[u8; 32]) -> Result<Handled, KeyStoreError> {
        let known: Option<Option<Vec<u8>>> = self
            .conn
            .query_row(
                "SELECT digest FROM handled_messages WHERE message_id = ?1",
                [to_sql_u64(message_id)],
                |r| r.get(0),
            )
            .optional()?;
        Ok(match known {
            None => Handled::No,
            Some(None) => Handled::Same,
            Some(Some(d)) if d == digest => Handled::Same,
            Some(Some(_)) => Handled::Other,
        })
    }

    /// Forgets that `message_id` was handled (another message had that id:
    /// [`Handled::Other`]), with its note of being unshown.
    ///
    /// # Errors
    /// Storage errors.
    pub fn forget_handled(&mut self, message_id: u64) -> Result<(), KeyStoreError> {
        let tx = self.conn.transaction()?;
        for table in ["handled_messages", "unshown_messages"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE message_id = ?1"),
                [to_sql_u64(message_id)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Whether a server message id was handled already (drop a redelivery).
    ///
    /// # Errors
    /// Storage errors.
    pub fn is_handled(&self, message_id: u64) -> Result<bool, KeyStoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM handled_messages WHERE message_id = ?1",
                [to_sql_u64(message_id)],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Records, in one transaction, that a message was handled: its id
    /// (for dedupe), the session counter it carried if it was sealed
    /// (`Some((sid, counter))`, recorded in the session's replay window), and
    /// its removal from the pending messages. Call it after the message's
    /// effect (shown, file saved) is done and before acknowledging it to the
    /// server.
    ///
    /// # Errors
    /// [`KeyStoreError::UnknownSession`]; storage errors.
    pub fn mark_handled(
        &mut self,
        message_id: u64,
        counter: Option<(SessionId, u64)>,
    ) -> Result<(), KeyStoreError> {
        self.mark_handled_with(message_id, counter, None)
            .map(|_| ())
    }

    /// [`KeyStore::mark_handled`] with the change it makes to history, in
    /// the same transaction: a received text is in history exactly when it
    /// is marked handled, whatever crashes. Returns `false`, changing
    /// nothing, when the id was handled already: another client process on
    /// this home got there first (the caller then shows nothing).
    ///
    /// # Errors
    /// [`KeyStoreError::UnknownSession`]; storage errors.
    pub fn mark_handled_with(
        &mut self,
        message_id: u64,
        counter: Option<(SessionId, u64)>,
        change: Option<&HistoryChange>,
    ) -> Result<bool, KeyStoreError> {
        self.mark_delivery_handled(message_id, None, counter, change)
    }

    /// [`KeyStore::mark_handled_with`] noting what the message was (its
    /// `digest`, see [`KeyStore::handled_as`]) in the same row.
    ///
    /// # Errors
    /// As [`KeyStore::mark_handled_with`].
    pub fn mark_delivery_handled(
        &mut self,
        message_id: u64,
        digest: Option<&[u8; 32]>,
        counter: Option<(SessionId, u64)>,
        change: Option<&HistoryChange>,
    ) -> Result<bool, KeyStoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let handled = tx
            .query_row(
                "SELECT 1 FROM handled_messages WHERE message_id = ?1",
                [to_sql_u64(message_id)],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if handled {
            return Ok(false);
        }
        if let Some((sid, counter)) = counter {
            record_received(&tx, sid, counter)?;
        }
        if let Some(change) = change {
            change.apply(&tx)?;
        }
        tx.execute(
            "INSERT OR IGNORE INTO handled_messages (message_id, handled_at, digest)
             VALUES (?1, ?2, ?3)",
            params![to_sql_u64(message_id), now_ms(), digest.map(|d| &d[..])],
        )?;
        tx.execute(
            "DELETE FROM pending_messages WHERE message_id = ?1",
            [to_sql_u64(message_id)],
        )?;
        // A welcome's join not recorded by now never will be: its room's
        // log waits no longer.
        super::joins::drop_join(&tx, message_id)?;
        tx.commit()?;
        Ok(true)
    }

    /// Notes handled messages whose events could not be shown (the output
    /// failed): they stay on the server, and their redelivery is shown
    /// from history ([`KeyStore::take_unshown`]) rather than dropped.
    ///
    /// # Errors
    /// Storage errors.
    pub fn mark_unshown(&mut self, message_ids: &[u64]) -> Result<(), KeyStoreError> {
        let tx = self.conn.transaction()?;
        // Bounded as the handled ids are: a note outlives none of them.
        tx.execute(
            "DELETE FROM unshown_messages
             WHERE message_id NOT IN (SELECT message_id FROM handled_messages)",
            [],
        )?;
        for id in message_ids {
            tx.execute(
                "INSERT OR IGNORE INTO unshown_messages (message_id)
                 SELECT message_id FROM handled_messages WHERE message_id = ?1",
                [to_sql_u64(*id)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Takes the note that handled message `message_id` from `sender` was
    /// not shown: its history entry (a text or file) to show now, once
    /// (the note goes, so no other process of this home shows it too).
    ///
    /// # Errors
    /// Storage errors.
    pub fn take_unshown(
        &mut self,
        message_id: u64,
        sender: ClientId,
    ) -> Result<Option<HistoryEntry>, KeyStoreError> {
        let taken = self.conn.execute(
            "DELETE FROM unshown_messages WHERE message_id = ?1",
            [to_sql_u64(message_id)],
        )?;
        if taken == 0 {
            return Ok(None);
        }
        self.received_entry(&Conversation::Person { id: sender }, message_id)
    }

    /// Keeps notices that could not be shown (the output failed) and that
    /// no redelivery brings back, each as the JSON of its event, after
    /// those kept before; the next read shows them
    /// ([`KeyStore::take_unshown_events`]). Bounded: the oldest go first.
    ///
    /// # Errors
    /// Storage errors.
    pub fn keep_unshown_events(&mut self, events: &[String]) -> Result<(), KeyStoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for e in events {
            tx.execute("INSERT INTO unshown_events (event) VALUES (?1)", [e])?;
        }
        tx.execute(
            "DELETE FROM unshown_events
             WHERE entry <= (SELECT max(entry) FROM unshown_events) - ?1",
            [UNSHOWN_EVENTS_MAX],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Takes the notices [`KeyStore::keep_unshown_events`] kept, oldest
    /// first: each is returned once (taken before it is shown, so a crash
    /// loses it rather than shows it twice).
    ///
    /// # Errors
    /// Storage errors.
    pub fn take_unshown_events(&mut self) -> Result<Vec<String>, KeyStoreError> {
        // Every read of the inbox asks, most often of an empty table: no
        // write lock then, which other processes of this home would wait on.
        let any: bool =
            self.conn
                .query_row("SELECT EXISTS (SELECT 1 FROM unshown_events)", [], |r| {
                    r.get(0)
                })?;
        if !any {
            return Ok(Vec::new());
        }
        // Immediate: a read that upgrades to a write after another process
        // wrote fails at once (`database is locked`) instead of waiting.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rows = {
            let mut stmt = tx.prepare("SELECT event FROM unshown_events ORDER BY entry")?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?
        };
        tx.execute("DELETE FROM unshown_events", [])?;
        tx.commit()?;
        Ok(rows)
    }

    /// Forgets handled message ids recorded more than `age` ago; returns how
    /// many. Keep `age` well above the time a message can wait on the server
    /// unacknowledged (a redelivery after pruning would be handled again,
    /// though a sealed one is still refused by its counter).
    ///
    /// # Errors
    /// Storage errors.
    pub fn prune_handled(&mut self, age: Duration) -> Result<usize, KeyStoreError> {
        let age_ms = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
        let cutoff = now_ms().saturating_sub(age_ms);
        Ok(self.conn.execute(
            "DELETE FROM handled_messages WHERE handled_at < ?1",
            [cutoff],
        )?)
    }
}

/// A `pending_messages` row as selected by `pending_row`'s callers:
/// message id, sender, kind, sid, content, sent at.
pub(super) type PendingRow = (i64, [u8; 16], u8, [u8; 16], Vec<u8>, i64);

/// Reads the columns `message_id, sender, kind, sid, content, sent_at`.
pub(super) fn pending_row(row: &Row<'_>) -> rusqlite::Result<PendingRow> {
    Ok((
        row.get(0)?,
        blob_array::<16>(row, 1)?,
        row.get(2)?,
        blob_array::<16>(row, 3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

pub(super) fn pending_message(
    (id, sender, kind, sid, content, sent_at): PendingRow,
) -> Result<PendingMessage, KeyStoreError> {
    Ok(PendingMessage {
        message_id: from_sql_u64(id),
        sender: ClientId(sender),
        kind: MessageKind::from_code(kind)
            .map_err(|_| KeyStoreError::Corrupt("pending message type"))?,
        sid: SessionId(sid),
        content,
        sent_at_ms: from_sql_u64(sent_at),
    })
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::fixtures::{BOB, home, with_session};

    #[test]
    fn unshown_notices_come_back_once_in_order_after_a_reopen() {
        let (_dir, home) = home();
        let (mut store, ..) = with_session(&home);
        store
            .keep_unshown_events(&["a".into(), "b".into()])
            .unwrap();
        store.keep_unshown_events(&["c".into()]).unwrap();
        drop(store);
        let mut store = KeyStore::open(&home).unwrap();
        assert_eq!(store.take_unshown_events().unwrap(), ["a", "b", "c"]);
        assert!(store.take_unshown_events().unwrap().is_empty());
    }

    #[test]
    fn pending_messages_survive_reopen_until_handled() {
        let (_dir, home) = home();
        let (mut store, _, _, session) = with_session(&home);
        let waiting_sid = SessionId([0x5a; 16]);
        let message = |id: u64| PendingMessage {
            message_id: id,
            sender: BOB,
            kind: MessageKind::Text,
            sid: waiting_sid,
            content: vec![id as u8; 10],
            sent_at_ms: 1_767_225_600_000,
        };
        store.add_pending(&message(43)).unwrap();
        store.add_pending(&message(42)).unwrap();
        store.add_pending(&message(42)).unwrap(); // redelivered
        store
            .add_pending(&PendingMessage {
                sid: SessionId([1; 16]),
                ..message(50)
            })
            .unwrap();
        drop(store);

        let mut store = KeyStore::open(&home).unwrap();
        assert_eq!(
            store.pending_for(waiting_sid).unwrap(),
            vec![message(42), message(43)]
        );
        assert!(!store.is_handled(42).unwrap());
        store.mark_handled(42, Some((session.sid(), 4))).unwrap();
        assert!(store.is_handled(42).unwrap());
        assert_eq!(store.pending_for(waiting_sid).unwrap(), vec![message(43)]);
        assert_eq!(
            store
                .session(session.sid())
                .unwrap()
                .unwrap()
                .receive_counter,
            4
        );
        store.delete_pending(43).unwrap();
        assert!(store.pending_for(waiting_sid).unwrap().is_empty());
        // A failed mark changes nothing.
        assert!(
            store
                .mark_handled(99, Some((SessionId([7; 16]), 1)))
                .is_err()
        );
        assert!(!store.is_handled(99).unwrap());
        // Ids above i64::MAX keep their value.
        store.mark_handled(u64::MAX, None).unwrap();
        assert!(store.is_handled(u64::MAX).unwrap());
        assert!(!store.is_handled(u64::MAX - 1).unwrap());
    }

    #[test]
    fn old_handled_ids_are_pruned() {
        let (_dir, home) = home();
        let mut store = KeyStore::open(&home).unwrap();
        store.mark_handled(1, None).unwrap();
        store.mark_handled(2, None).unwrap();
        let day_ago = now_ms() - 24 * 3600 * 1000;
        store
            .conn
            .execute(
                "UPDATE handled_messages SET handled_at = ?1 WHERE message_id = 1",
                [day_ago],
            )
            .unwrap();
        assert_eq!(store.prune_handled(Duration::from_secs(3600)).unwrap(), 1);
        assert!(!store.is_handled(1).unwrap());
        assert!(store.is_handled(2).unwrap());
    }

    #[test]
    fn an_id_handled_for_another_message_is_told_from_a_redelivery() {
        let (_dir, home) = home();
        let mut store = KeyStore::open(&home).unwrap();
        let (first, second) = ([1u8; 32], [2u8; 32]);
        assert_eq!(store.handled_as(7, &first).unwrap(), Handled::No);
        // Handled without its digest (by an older version): a redelivery.
        store.mark_handled(6, None).unwrap();
        assert_eq!(store.handled_as(6, &second).unwrap(), Handled::Same);
        store
            .mark_delivery_handled(7, Some(&first), None, None)
            .unwrap();
        assert_eq!(store.handled_as(7, &first).unwrap(), Handled::Same);
        assert_eq!(store.handled_as(7, &second).unwrap(), Handled::Other);
        store.forget_handled(7).unwrap();
        assert_eq!(store.handled_as(7, &second).unwrap(), Handled::No);
        store
            .mark_delivery_handled(7, Some(&second), None, None)
            .unwrap();
        assert_eq!(store.handled_as(7, &second).unwrap(), Handled::Same);
    }
}
