//! Bounds on what peers can make the store keep: texts waiting for a
//! session that has not arrived (`pending_messages`) and the ids of handled
//! messages (`handled_messages`).
//!
//! A text that arrives before its session's key is moved here from the
//! server, so anyone who can send to this user could grow the store without
//! end. So the store keeps at most [`PENDING_PER_SENDER`] such texts per
//! sender and [`PENDING_TOTAL`] (and [`PENDING_TOTAL_BYTES`]) in all; a text
//! over a bound is not taken off the server (the receiving side leaves it
//! unacknowledged and says so), where the server's inbox quota bounds it.
//! A text whose session never comes is forgotten after [`PENDING_TTL`], and
//! the user is told. Handled ids (kept to drop redeliveries) are forgotten
//! after [`HANDLED_TTL`], and beyond the newest [`HANDLED_MAX`].
//!
//! Left out: deciding what to show; this module only counts and forgets.

use std::time::Duration;

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::received::{pending_message, pending_row};
use super::schema::{now_ms, to_sql_u64};
use super::{KeyStore, KeyStoreError, PendingMessage};

/// Texts kept per sender while their session has not arrived. A genuine
/// sender's offer comes just before its texts, so a few are normal; more
/// than this is a peer that never sends its offer.
pub const PENDING_PER_SENDER: usize = 100;
/// Texts kept in all while their session has not arrived.
pub const PENDING_TOTAL: usize = 1000;
/// Bytes of such texts kept in all.
pub const PENDING_TOTAL_BYTES: u64 = 16 * 1024 * 1024;
/// How long such a text is kept before it is given up (the user is told).
pub const PENDING_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long a handled message id is remembered. A redelivery after that
/// would be handled again; a sealed one is still refused by its counter.
pub const HANDLED_TTL: Duration = Duration::from_secs(90 * 24 * 3600);
/// Most handled ids remembered (the oldest go first).
pub const HANDLED_MAX: usize = 200_000;

/// Whether a text may be kept while it waits for its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingRoom {
    /// Kept (or it already was).
    Kept,
    /// Its sender already has [`PENDING_PER_SENDER`] texts waiting.
    SenderFull,
    /// [`PENDING_TOTAL`] or [`PENDING_TOTAL_BYTES`] is reached.
    StoreFull,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl KeyStore {
    /// Keeps a message whose session is not known yet, if the bounds allow
    /// (a message id already kept is [`PendingRoom::Kept`] again).
    ///
    /// # Errors
    /// Storage errors.
    pub fn add_pending_bounded(
        &mut self,
        message: &PendingMessage,
    ) -> Result<PendingRoom, KeyStoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = to_sql_u64(message.message_id);
        let known = tx
            .query_row(
                "SELECT 1 FROM pending_messages WHERE message_id = ?1",
                [id],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if known {
            return Ok(PendingRoom::Kept);
        }
        let from_sender: i64 = tx.query_row(
            "SELECT count(*) FROM pending_messages WHERE sender = ?1",
            [&message.sender.0[..]],
            |r| r.get(0),
        )?;
        if from_sender >= PENDING_PER_SENDER as i64 {
            return Ok(PendingRoom::SenderFull);
        }
        let (count, bytes): (i64, i64) = tx.query_row(
            "SELECT count(*), coalesce(sum(length(content)), 0) FROM pending_messages",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        if count >= PENDING_TOTAL as i64
            || bytes.saturating_add(message.content.len() as u64) > PENDING_TOTAL_BYTES
        {
            return Ok(PendingRoom::StoreFull);
        }
        tx.execute(
            "INSERT INTO pending_messages
                 (message_id, sid, sender, kind, content, sent_at, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                id,
                &message.sid.0[..],
                &message.sender.0[..],
                message.kind.code(),
                &message.content,
                to_sql_u64(message.sent_at_ms),
                now_ms(),
            ],
        )?;
        tx.commit()?;
        Ok(PendingRoom::Kept)
    }

    /// How many messages wait for their session, and their bytes.
    ///
    /// # Errors
    /// Storage errors.
    pub fn pending_totals(&self) -> Result<(usize, u64), KeyStoreError> {
        let (count, bytes): (i64, i64) = self.conn.query_row(
            "SELECT count(*), coalesce(sum(length(content)), 0) FROM pending_messages",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((
            usize::try_from(count).unwrap_or(0),
            u64::try_from(bytes).unwrap_or(0),
        ))
    }

    /// Gives up the messages that waited for their session longer than
    /// `age`: each is forgotten and recorded as handled (its server copy is
    /// gone already). Returns them (without content), to tell the user.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn expire_pending(&mut self, age: Duration) -> Result<Vec<PendingMessage>, KeyStoreError> {
        let cutoff = now_ms().saturating_sub(ms(age));
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let expired = {
            // The content is not needed to tell the user what was given up.
            let mut stmt = tx.prepare(
                "SELECT message_id, sender, kind, sid, x'', sent_at FROM pending_messages
                 WHERE received_at < ?1 ORDER BY message_id",
            )?;
            stmt.query_map([cutoff], pending_row)?
                .map(|row| pending_message(row?))
                .collect::<Result<Vec<_>, KeyStoreError>>()?
        };
        for m in &expired {
            let id = to_sql_u64(m.message_id);
            tx.execute(
                "INSERT OR IGNORE INTO handled_messages (message_id, handled_at) VALUES (?1, ?2)",
                params![id, now_ms()],
            )?;
            tx.execute("DELETE FROM pending_messages WHERE message_id = ?1", [id])?;
        }
        tx.commit()?;
        Ok(expired)
    }

    /// Forgets handled ids older than [`HANDLED_TTL`] and all but the
    /// newest [`HANDLED_MAX`]; returns how many went.
    ///
    /// # Errors
    /// Storage errors.
    pub fn prune_handled_bounded(&mut self) -> Result<usize, KeyStoreError> {
        let old = self.prune_handled(HANDLED_TTL)?;
        let extra = self.conn.execute(
            "DELETE FROM handled_messages WHERE message_id IN (
                 SELECT message_id FROM handled_messages
                 ORDER BY handled_at DESC, message_id DESC LIMIT -1 OFFSET ?1)",
            [HANDLED_MAX as i64],
        )?;
        Ok(old + extra)
    }

    /// How many handled ids are remembered.
    ///
    /// # Errors
    /// Storage errors.
    pub fn handled_count(&self) -> Result<usize, KeyStoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM handled_messages", [], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SessionId;
    use protocol::{ClientId, MessageKind};

    fn text(id: u64, sender: u8, len: usize) -> PendingMessage {
        PendingMessage {
            message_id: id,
            sender: ClientId([sender; 16]),
            kind: MessageKind::Text,
            sid: SessionId([sender; 16]),
            content: vec![0; len],
            sent_at_ms: 1,
        }
    }

    #[test]
    fn pending_texts_are_bounded_per_sender_and_in_all() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = KeyStore::open(dir.path()).unwrap();
        for i in 0..PENDING_PER_SENDER as u64 {
            assert_eq!(
                store.add_pending_bounded(&text(i, 1, 10)).unwrap(),
                PendingRoom::Kept
            );
        }
        assert_eq!(
            store.add_pending_bounded(&text(10_000, 1, 10)).unwrap(),
            PendingRoom::SenderFull
        );
        // A redelivery of one already kept is fine.
        assert_eq!(
            store.add_pending_bounded(&text(0, 1, 10)).unwrap(),
            PendingRoom::Kept
        );
        assert_eq!(
            store.add_pending_bounded(&text(20_000, 2, 10)).unwrap(),
            PendingRoom::Kept
        );
        let big = (PENDING_TOTAL_BYTES as usize) / 2 + 1;
        assert_eq!(
            store.add_pending_bounded(&text(30_000, 3, big)).unwrap(),
            PendingRoom::Kept
        );
        assert_eq!(
            store.add_pending_bounded(&text(30_001, 4, big)).unwrap(),
            PendingRoom::StoreFull
        );
        assert_eq!(store.pending_totals().unwrap().0, PENDING_PER_SENDER + 2);
    }

    #[test]
    fn old_pending_texts_expire_and_count_as_handled() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = KeyStore::open(dir.path()).unwrap();
        store.add_pending_bounded(&text(1, 1, 3)).unwrap();
        store.add_pending_bounded(&text(2, 1, 3)).unwrap();
        store
            .conn
            .execute(
                "UPDATE pending_messages SET received_at = 0 WHERE message_id = 1",
                [],
            )
            .unwrap();
        let gone = store.expire_pending(PENDING_TTL).unwrap();
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].message_id, 1);
        assert!(store.is_handled(1).unwrap());
        assert!(!store.is_handled(2).unwrap());
        assert_eq!(store.pending_totals().unwrap().0, 1);
    }

    #[test]
    fn handled_ids_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = KeyStore::open(dir.path()).unwrap();
        store.mark_handled(1, None).unwrap();
        store
            .conn
            .execute("UPDATE handled_messages SET handled_at = 0", [])
            .unwrap();
        store.mark_handled(2, None).unwrap();
        assert_eq!(store.prune_handled_bounded().unwrap(), 1);
        assert_eq!(store.handled_count().unwrap(), 1);
        assert!(store.is_handled(2).unwrap());
    }
}
