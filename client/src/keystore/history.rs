//! The history of every conversation: each text and file sent or received,
//! and each room event (who was added, joined, left or was removed, roles,
//! the room's name and rule), in the order this client recorded them, with
//! the sender's sealed time, the local arrival time and a delivery status
//! (an event's is `read`: it is never unread, nor counted in receipts).
//!
//! A conversation is named by [`Conversation`]: a person by client id, a
//! room by its id (see `keystore::conversation`). Entries are ordered by a local
//! sequence number (`entry`), which is the order they happened here: the
//! sender's clock may be wrong, the local one only moves forward for us.
//!
//! Statuses move one way: an outgoing message is `sent` (sealed, handed to
//! the network), then `stored` (the server answered with its message id),
//! `delivered` and `read` (receipts from the peer's client), or `failed`
//! (the peer's client refused it, or it never reached the server), which
//! only a message not yet delivered can become. An incoming one is
//! `received`, then `read` once shown. [`KeyStore::set_status`] never moves
//! a status backwards, so receipts arriving out of order change nothing.
//!
//! The retention setting (`keystore::settings`) keeps
//! entries for that many days after their arrival; without it they are
//! kept until the user forgets the conversation. [`KeyStore::open`] applies
//! it each time the store opens.
//!
//! Left out: deciding what to record (the sending and receiving code does)
//! and how entries are shown (`crate::output`).

use std::path::PathBuf;

use protocol::ClientId;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

pub use super::conversation::Conversation;
use super::conversation::note_name;
use super::key_events::KeyEvent;
use super::room_receipts::RoomReceipts;
use super::schema::{blob_array, from_sql_u64, now_ms, to_sql_u64};
pub use super::status::Status;
use super::{KeyStore, KeyStoreError};
use crate::rooms::event::RoomChange;

fn hex<S: serde::Serializer>(id: &ClientId, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&id.to_string())
}

fn no_path(path: &std::path::Path) -> bool {
    path.as_os_str().is_empty()
}

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Received from the peer.
    In,
    /// Sent by this user.
    Out,
}

impl Direction {
    /// Its value in the `direction` column.
    fn code(self) -> i64 {
        match self {
            Self::In => 1,
            Self::Out => 2,
        }
    }
}

/// What a history entry holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Body {
    /// A text (escape before printing).
    Text {
        /// The text.
        text: String,
    },
    /// A file.
    File {
        /// The name the sender gave it (escape before printing).
        name: String,
        /// Its size in bytes.
        size: u64,
        /// Where it is on this machine: saved (incoming) or read from
        /// (outgoing); empty (and left out of JSON) for an offer not
        /// downloaded (held, declined).
        #[serde(skip_serializing_if = "no_path")]
        path: PathBuf,
    },
    /// A room event (someone added, removed or joined, the room renamed):
    /// no message, kept between them, never unread. Its `sender` is who
    /// acted (`out`: this user).
    Event {
        /// What happened: `room_event` and its fields, as `inbox --json`
        /// gives them (escape names before printing).
        #[serde(flatten)]
        change: RoomChange,
    },
    /// A person's key changed, or the user accepted the change
    /// (`keystore::key_events`): no message, never unread; its `sender` is
    /// the person.
    Key {
        /// What happened: `key_event` and its fingerprints.
        #[serde(flatten)]
        change: KeyEvent,
    },
}

/// An entry to record.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// The conversation.
    pub conversation: Conversation,
    /// Which way.
    pub direction: Direction,
    /// Who sent it (this user for outgoing ones).
    pub sender: ClientId,
    /// What it holds.
    pub body: Body,
    /// The sender's sealed clock, in ms since the Unix epoch.
    pub sender_time_ms: Option<u64>,
    /// When the server stored it (its word), for a received one.
    pub server_time_ms: Option<u64>,
    /// The server's message id, once known.
    pub message_id: Option<u64>,
    /// Its first status.
    pub status: Status,
}

/// A recorded entry.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    /// Its place in this client's order (grows with every entry).
    pub entry: u64,
    /// The conversation.
    pub conversation: Conversation,
    /// Which way.
    pub direction: Direction,
    /// Who sent it.
    #[serde(serialize_with = "hex")]
    pub sender: ClientId,
    /// What it holds.
    #[serde(flatten)]
    pub body: Body,
    /// The sender's sealed clock (ms since the Unix epoch), if known.
    pub sender_time_ms: Option<u64>,
    /// When the server stored it (its word), if known.
    pub server_time_ms: Option<u64>,
    /// When it was recorded here: received, or sealed to be sent.
    pub arrived_at_ms: u64,
    /// The server's message id, once known.
    pub message_id: Option<u64>,
    /// Where it is on its way.
    pub status: Status,
    /// When the status last changed, by the local clock.
    pub status_at_ms: u64,
    /// Why it failed, for a failed one; `not finished` for a file of ours
    /// still `sent` whose upload stopped part-way (`resume` finishes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For one of our room messages: how far its recipients read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipts: Option<RoomReceipts>,
}

impl HistoryEntry {
    /// The time to show it at: the sender's sealed clock, else the
    /// server's, else its arrival here (an entry read days late is dated
    /// by its sending, not its reading).
    pub fn shown_time_ms(&self) -> u64 {
        self.sender_time_ms
            .or(self.server_time_ms)
            .unwrap_or(self.arrived_at_ms)
    }

    /// Where it is on its way, in words: the status, or for a room message
    /// of ours still on its way to some, how many read it (`read by 1 of
    /// 3`).
    pub fn status_words(&self) -> String {
        match self.receipts.and_then(RoomReceipts::words) {
            Some(words) if matches!(self.status, Status::Stored | Status::Delivered) => words,
            _ => self.status.word().to_string(),
        }
    }
}

/// Which entries of a conversation to read.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// Only the last this many (after the other filters).
    pub limit: Option<usize>,
    /// Only those that arrived at or after this time (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Only texts, file names and the names in room events containing
    /// this, ignoring case.
    pub search: Option<String>,
}

impl KeyStore {
    /// Records a new entry; returns its number.
    ///
    /// # Errors
    /// Storage errors.
    pub fn add_history(&mut self, entry: &NewEntry) -> Result<u64, KeyStoreError> {
        insert(&self.conn, entry)
    }

    /// Moves the status of our message `message_id` to `peer` to `status`
    /// (never backwards, see the module docs), with `reason` for a failure.
    /// Returns whether it changed.
    ///
    /// # Errors
    /// Storage errors.
    pub fn set_status(
        &mut self,
        peer: &Conversation,
        direction: Direction,
        message_id: u64,
        status: Status,
        reason: Option<&str>,
    ) -> Result<bool, KeyStoreError> {
        set_status(&self.conn, peer, direction, message_id, status, reason)
    }

    /// The server answered the send of entry `entry` with `message_id`: it
    /// is stored.
    ///
    /// # Errors
    /// Storage errors.
    pub fn mark_stored(&mut self, entry: u64, message_id: u64) -> Result<(), KeyStoreError> {
        self.conn.execute(
            "UPDATE history SET message_id = ?2, status = 2, status_at = ?3
             WHERE entry = ?1 AND status = 1",
            params![to_sql_u64(entry), to_sql_u64(message_id), now_ms()],
        )?;
        Ok(())
    }

    /// Entry `entry` never reached the server: it failed, for `reason`.
    ///
    /// # Errors
    /// Storage errors.
    pub fn mark_unsent(&mut self, entry: u64, reason: &str) -> Result<(), KeyStoreError> {
        self.conn.execute(
            "UPDATE history SET status = 5, status_at = ?2, reason = ?3
             WHERE entry = ?1 AND status = 1",
            params![to_sql_u64(entry), now_ms(), reason],
        )?;
        Ok(())
    }

    /// Links entry `entry` (an outgoing file) to its upload, so that a
    /// resumed upload can mark it stored.
    ///
    /// # Errors
    /// Storage errors.
    pub fn link_upload(&mut self, entry: u64, upload_id: [u8; 16]) -> Result<(), KeyStoreError> {
        self.conn.execute(
            "UPDATE history SET upload_id = ?2 WHERE entry = ?1",
            params![to_sql_u64(entry), &upload_id[..]],
        )?;
        Ok(())
    }

    /// The entry of an upload, if one was recorded.
    ///
    /// # Errors
    /// Storage errors.
    pub fn upload_entry(&self, upload_id: [u8; 16]) -> Result<Option<u64>, KeyStoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT entry FROM history WHERE upload_id = ?1",
                [&upload_id[..]],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .map(from_sql_u64))
    }

    /// The entries of `conversation` that `query` selects, oldest first.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn history(
        &self,
        conversation: &Conversation,
        query: &HistoryQuery,
    ) -> Result<Vec<HistoryEntry>, KeyStoreError> {
        let (kind, key) = conversation.key();
        let mut stmt = self.conn.prepare(&format!(
            "{ENTRY_COLUMNS} WHERE conv_kind = ?1 AND conv = ?2 AND arrived_at >= ?3
             ORDER BY entry DESC"
        ))?;
        let since = query.since_ms.unwrap_or(i64::MIN);
        let needle = query.search.as_ref().map(|s| s.to_lowercase());
        let limit = query.limit.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        // Newest first, so that a limit stops the scan early; the search is
        // done here rather than in SQL so that it works on any stored form.
        for row in stmt.query_map(params![kind, key, since], history_row)? {
            if out.len() >= limit {
                break;
            }
            let entry = row??;
            let matches = needle.as_ref().is_none_or(|n| match &entry.body {
                Body::Text { text } => text.to_lowercase().contains(n),
                Body::File { name, .. } => name.to_lowercase().contains(n),
                Body::Event { change } => {
                    change.words().iter().any(|w| w.to_lowercase().contains(n))
                }
                Body::Key { change } => change.fingerprints().iter().any(|w| w.contains(n)),
            });
            if matches {
                out.push(entry);
            }
        }
        out.reverse();
        Ok(out)
    }

    /// The entry of the message `message_id` received in `conversation`,
    /// if it is recorded.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn received_entry(
        &self,
        conversation: &Conversation,
        message_id: u64,
    ) -> Result<Option<HistoryEntry>, KeyStoreError> {
        self.entry_by_id(conversation, Direction::In, message_id)
    }

    /// The entry of our message `message_id` sent in `conversation`, if
    /// it is recorded.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn sent_entry(
        &self,
        conversation: &Conversation,
        message_id: u64,
    ) -> Result<Option<HistoryEntry>, KeyStoreError> {
        self.entry_by_id(conversation, Direction::Out, message_id)
    }

    fn entry_by_id(
        &self,
        conversation: &Conversation,
        direction: Direction,
        message_id: u64,
    ) -> Result<Option<HistoryEntry>, KeyStoreError> {
        let (kind, key) = conversation.key();
        let direction = direction.code();
        self.conn
            .query_row(
                &format!(
                    "{ENTRY_COLUMNS} WHERE conv_kind = ?1 AND conv = ?2 AND direction = ?3
                     AND message_id = ?4"
                ),
                params![kind, key, direction, to_sql_u64(message_id)],
                history_row,
            )
            .optional()?
            .transpose()
    }

    /// The entry of the message `message_id` received in any conversation
    /// (message ids and room seqs come from one counter), if recorded.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn received_by_id(&self, message_id: u64) -> Result<Option<HistoryEntry>, KeyStoreError> {
        self.conn
            .query_row(
                &format!("{ENTRY_COLUMNS} WHERE direction = 1 AND message_id = ?1"),
                [to_sql_u64(message_id)],
                history_row,
            )
            .optional()?
            .transpose()
    }

    /// Deletes every entry of `conversation`; returns how many.
    ///
    /// # Errors
    /// Storage errors.
    pub fn forget(&mut self, conversation: &Conversation) -> Result<usize, KeyStoreError> {
        let (kind, key) = conversation.key();
        let gone = self.conn.execute(
            "DELETE FROM history WHERE conv_kind = ?1 AND conv = ?2",
            params![kind, key],
        )?;
        if kind == 2 {
            self.conn
                .execute("DELETE FROM room_names WHERE room = ?1", [&key])?;
        }
        Ok(gone)
    }
}

/// The columns [`history_row`] reads, before a `WHERE`.
const ENTRY_COLUMNS: &str = "SELECT entry, conv_kind, conv, direction, sender, kind, body,
        file_size, file_path, sender_time, arrived_at, message_id, status, status_at,
        -- A file still `sent` whose upload is kept: it stopped part-way,
        -- and `resume` finishes it.
        COALESCE(reason, CASE WHEN status = 1 AND upload_id IN
            (SELECT upload_id FROM uploads) THEN 'not finished' END),
        server_time,
        (SELECT name FROM room_names WHERE room = conv AND conv_kind = 2),
        (SELECT count(*) FROM room_recipients r WHERE r.entry = history.entry),
        (SELECT count(*) FROM room_recipients r
         WHERE r.entry = history.entry AND r.status >= 3),
        (SELECT count(*) FROM room_recipients r
         WHERE r.entry = history.entry AND r.status >= 4)
    FROM history";

/// Records `entry` on `conn` (inside the caller's transaction, if any).
pub(super) fn insert(conn: &Connection, entry: &NewEntry) -> Result<u64, KeyStoreError> {
    let (conv_kind, conv) = entry.conversation.key();
    // The room's name as it is now, for showing its history once we left.
    note_name(conn, &entry.conversation)?;
    let (kind, body, size, path) = match &entry.body {
        Body::Text { text } => (1, text.clone(), None, None),
        Body::File { name, size, path } => (
            2,
            name.clone(),
            Some(to_sql_u64(*size)),
            Some(path.as_os_str().as_encoded_bytes()),
        ),
        Body::Event { change } => (
            3,
            serde_json::to_string(change)
                .map_err(|_| KeyStoreError::Corrupt("room event encoding"))?,
            None,
            None,
        ),
        Body::Key { change } => (
            4,
            serde_json::to_string(change)
                .map_err(|_| KeyStoreError::Corrupt("key event encoding"))?,
            None,
            None,
        ),
    };
    let direction = entry.direction.code();
    let now = now_ms();
    let id: i64 = conn.query_row(
        "INSERT INTO history (conv_kind, conv, direction, sender, kind, body, file_size,
                              file_path, sender_time, arrived_at, message_id, status, status_at,
                              server_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?10, ?13)
         RETURNING entry",
        params![
            conv_kind,
            conv,
            direction,
            &entry.sender.0[..],
            kind,
            body,
            size,
            path,
            entry.sender_time_ms.map(to_sql_u64),
            now,
            entry.message_id.map(to_sql_u64),
            entry.status.code(),
            entry.server_time_ms.map(to_sql_u64),
        ],
        |r| r.get(0),
    )?;
    Ok(from_sql_u64(id))
}

/// [`KeyStore::set_status`] on `conn` (inside the caller's transaction).
pub(super) fn set_status(
    conn: &Connection,
    conversation: &Conversation,
    direction: Direction,
    message_id: u64,
    status: Status,
    reason: Option<&str>,
) -> Result<bool, KeyStoreError> {
    let (kind, key) = conversation.key();
    let direction = direction.code();
    let from: Vec<String> = status
        .replaces()
        .iter()
        .map(|s| s.code().to_string())
        .collect();
    if from.is_empty() {
        return Ok(false);
    }
    // Only a file offer can be declined (kind 2): a peer's receipt naming
    // a text changes nothing.
    let only_files = if status == Status::Declined {
        " AND kind = 2"
    } else {
        ""
    };
    // The codes are our own small integers, never input.
    let sql = format!(
        "UPDATE history SET status = ?1, status_at = ?2, reason = ?3
         WHERE conv_kind = ?4 AND conv = ?5 AND direction = ?6 AND message_id = ?7
           AND status IN ({}){only_files}",
        from.join(", ")
    );
    let changed = conn.execute(
        &sql,
        params![
            status.code(),
            now_ms(),
            reason,
            kind,
            key,
            direction,
            to_sql_u64(message_id)
        ],
    )?;
    Ok(changed > 0)
}

/// A history row; the outer result is SQLite's, the inner one ours.
fn history_row(row: &Row<'_>) -> rusqlite::Result<Result<HistoryEntry, KeyStoreError>> {
    let conversation = match Conversation::from_key(row.get(1)?, row.get(2)?, row.get(16)?) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e)),
    };
    let direction = match row.get::<_, i64>(3)? {
        1 => Direction::In,
        2 => Direction::Out,
        _ => return Ok(Err(KeyStoreError::Corrupt("history direction"))),
    };
    let text: String = row.get(6)?;
    let body = match row.get::<_, i64>(5)? {
        1 => Body::Text { text },
        2 => {
            let path: Vec<u8> = row.get::<_, Option<Vec<u8>>>(8)?.unwrap_or_default();
            Body::File {
                name: text,
                size: from_sql_u64(row.get::<_, Option<i64>>(7)?.unwrap_or(0)),
                path: path_from_bytes(path),
            }
        }
        3 => match serde_json::from_str(&text) {
            Ok(change) => Body::Event { change },
            Err(_) => return Ok(Err(KeyStoreError::Corrupt("history event"))),
        },
        4 => match serde_json::from_str(&text) {
            Ok(change) => Body::Key { change },
            Err(_) => return Ok(Err(KeyStoreError::Corrupt("history key event"))),
        },
        _ => return Ok(Err(KeyStoreError::Corrupt("history kind"))),
    };
    let status = match Status::from_code(row.get(12)?) {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(HistoryEntry {
        entry: from_sql_u64(row.get(0)?),
        conversation,
        direction,
        sender: ClientId(blob_array(row, 4)?),
        body,
        sender_time_ms: row.get::<_, Option<i64>>(9)?.map(from_sql_u64),
        server_time_ms: row.get::<_, Option<i64>>(15)?.map(from_sql_u64),
        arrived_at_ms: from_sql_u64(row.get(10)?),
        message_id: row.get::<_, Option<i64>>(11)?.map(from_sql_u64),
        status,
        status_at_ms: from_sql_u64(row.get(13)?),
        reason: row.get(14)?,
        receipts: Some(RoomReceipts {
            members: row.get(17)?,
            delivered: row.get(18)?,
            read: row.get(19)?,
        })
        .filter(|r| r.members > 0),
    }))
}

fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

#[cfg(test)]
mod tests;
