//! A change to history recorded together with a received message, in the
//! transaction that marks it handled ([`KeyStore::mark_handled_with`]):
//! a new entry, or a status our peer's refusal or receipt, or the server's
//! type-7 notice, moves.
//!
//! [`KeyStore::mark_handled_with`]: super::KeyStore::mark_handled_with

use protocol::ClientId;
use rusqlite::{Connection, params};

use super::history::{Body, Conversation, Direction, NewEntry, Status, insert, set_status};
use super::key_events::KeyEvent;
use super::schema::to_sql_u64;
use super::{KeyStore, KeyStoreError};

/// A change to history recorded together with a received message.
#[derive(Debug, Clone)]
pub enum HistoryChange {
    /// A new entry.
    Add(NewEntry),
    /// Our messages `message_ids` to `peer` failed, for `reason`: the
    /// peer's client refused one (a refusal notice), or the server says
    /// the peer's account was deleted before they were delivered (a type-7
    /// notice). Only those still on their way fail; the ids name only our
    /// own outgoing messages in the conversation with `peer`.
    Failed {
        /// The peer who refused them, or the deleted account.
        peer: ClientId,
        /// The server's ids of our messages.
        message_ids: Vec<u64>,
        /// Why, in a few words.
        reason: String,
    },
    /// The peer's receipt: our messages `message_ids` to it reached
    /// `status` (delivered or read; declined, for files).
    Receipt {
        /// The peer who sent the receipt.
        peer: ClientId,
        /// The server's ids of our messages.
        message_ids: Vec<u64>,
        /// Delivered, read or declined.
        status: Status,
    },
}

impl HistoryChange {
    /// Applies the change on `conn` (inside the caller's transaction).
    pub(super) fn apply(&self, conn: &Connection) -> Result<(), KeyStoreError> {
        match self {
            Self::Add(entry) => {
                insert(conn, entry)?;
            }
            Self::Failed {
                peer,
                message_ids,
                reason,
            } => {
                let peer = Conversation::Person { id: *peer };
                for id in message_ids {
                    set_status(
                        conn,
                        &peer,
                        Direction::Out,
                        *id,
                        Status::Failed,
                        Some(reason),
                    )?;
                }
            }
            Self::Receipt {
                peer,
                message_ids,
                status,
            } => {
                let peer = Conversation::Person { id: *peer };
                for id in message_ids {
                    set_status(conn, &peer, Direction::Out, *id, *status, None)?;
                }
            }
        }
        Ok(())
    }
}

/// Records `event` in `peer`'s history (inside the caller's transaction).
pub(super) fn record_key_event(
    conn: &Connection,
    peer: ClientId,
    event: KeyEvent,
) -> Result<(), KeyStoreError> {
    insert(
        conn,
        &NewEntry {
            conversation: Conversation::Person { id: peer },
            direction: Direction::In,
            sender: peer,
            body: Body::Key { change: event },
            sender_time_ms: None,
            server_time_ms: None,
            message_id: None,
            // Never unread: the conversation's list says a key changed.
            status: Status::Read,
        },
    )?;
    Ok(())
}

impl KeyStore {
    /// Which of `message_ids` are our own outgoing messages to `peer` that
    /// are still only sent or stored: those a type-7 notice may fail.
    ///
    /// # Errors
    /// The store failed.
    pub fn still_stored_to(
        &self,
        peer: ClientId,
        message_ids: &[u64],
    ) -> Result<Vec<u64>, KeyStoreError> {
        let (kind, key) = Conversation::Person { id: peer }.key();
        // Direction 2 is out; statuses 1 and 2 are sent and stored
        // (`Status::code`), the two that failing replaces.
        let mut stmt = self.conn.prepare_cached(
            "SELECT 1 FROM history WHERE conv_kind = ?1 AND conv = ?2 AND direction = 2
               AND message_id = ?3 AND status IN (1, 2)",
        )?;
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for id in message_ids {
            if seen.insert(*id) && stmt.exists(params![kind, key, to_sql_u64(*id)])? {
                out.push(*id);
            }
        }
        Ok(out)
    }
}
