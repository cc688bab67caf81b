//! Whose conversation a history entry belongs to, and the names of rooms
//! as their history knows them.
//!
//! A person is kept by client id, so that a rename on the server does not
//! split the conversation. A room is kept by its id (the MLS group id, 16
//! random bytes), never its name: two rooms may have the same name one
//! after the other, and a rename must not split one room's history. Its
//! name is only for showing and for finding it by what the user types, so
//! the last name each room had is kept beside its history (`room_names`,
//! refreshed with every entry and rename); that is the name of a room we
//! left or that was deleted.
//!
//! History written before rooms were kept by id (schema 12) is kept under
//! a key made of its name (`name:` and the name, which no id's 32 hex
//! digits can be) until [`KeyStore::adopt_named_room_history`] moves it to
//! the id of the room of ours that had the name then; what it cannot place
//! (rooms we had left) stays under its name, shown and found by it.

use protocol::ClientId;
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use sealpost_rooms::RoomId;
use serde::Serialize;

use super::schema::now_ms;
use super::{KeyStore, KeyStoreError};

/// Whose conversation an entry belongs to. Two values are the same
/// conversation when their keys are ([`Conversation::key`]): a room's name
/// is not part of who it is.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Conversation {
    /// One-to-one, with the peer of this client id.
    Person {
        /// The peer.
        #[serde(serialize_with = "client_hex")]
        id: ClientId,
    },
    /// A room.
    Room {
        /// The room's id; `None` for history from before rooms were kept
        /// by id that no room of ours took (see the module docs).
        #[serde(serialize_with = "room_hex", skip_serializing_if = "Option::is_none")]
        id: Option<RoomId>,
        /// The room's name: its current one, or the last one its history
        /// saw (escape before printing).
        name: String,
    },
}

fn client_hex<S: serde::Serializer>(id: &ClientId, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&id.to_string())
}

fn room_hex<S: serde::Serializer>(id: &Option<RoomId>, s: S) -> Result<S::Ok, S::Error> {
    match id {
        Some(id) => s.serialize_str(&room_key(id)),
        None => s.serialize_none(),
    }
}

/// The prefix of a key made of a room's name (see the module docs).
const NAMED: &str = "name:";

/// A room id as history keeps it: 32 lowercase hex digits.
fn room_key(id: &RoomId) -> String {
    hex::encode(id.0)
}

/// The room id of 32 hex digits (any case), if `text` is one.
pub fn parse_room_id(text: &str) -> Option<RoomId> {
    let mut id = [0u8; 16];
    hex::decode_to_slice(text, &mut id).ok()?;
    Some(RoomId(id))
}

impl Conversation {
    /// The room `id`, named `name`.
    pub fn room(id: RoomId, name: impl Into<String>) -> Self {
        Self::Room {
            id: Some(id),
            name: name.into(),
        }
    }

    /// How the history table keys it: the kind (1 person, 2 room) and the
    /// id in hex (or a room's `name:` key).
    pub(super) fn key(&self) -> (i64, String) {
        match self {
            Self::Person { id } => (1, id.to_string()),
            Self::Room { id: Some(id), .. } => (2, room_key(id)),
            Self::Room { id: None, name } => (2, format!("{NAMED}{name}")),
        }
    }

    /// The conversation of a history key; `name` is the room's name as
    /// `room_names` has it (a `name:` key is its own name).
    pub(super) fn from_key(
        kind: i64,
        key: String,
        name: Option<String>,
    ) -> Result<Self, KeyStoreError> {
        match kind {
            1 => key
                .parse()
                .map(|id| Self::Person { id })
                .map_err(|_| KeyStoreError::Corrupt("history conversation id")),
            2 => match key.strip_prefix(NAMED) {
                Some(named) => Ok(Self::Room {
                    id: None,
                    name: named.to_string(),
                }),
                None => {
                    let id =
                        parse_room_id(&key).ok_or(KeyStoreError::Corrupt("history room id"))?;
                    // A room with history but no recorded name: its id is
                    // all there is to show.
                    Ok(Self::room(id, name.unwrap_or(key)))
                }
            },
            _ => Err(KeyStoreError::Corrupt("history conversation kind")),
        }
    }
}

impl PartialEq for Conversation {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Conversation {}

impl std::hash::Hash for Conversation {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

/// Records `name` as the name of the room `conversation` is (nothing for a
/// person or a `name:` key), on `conn` inside the caller's transaction.
pub(super) fn note_name(
    conn: &rusqlite::Connection,
    conversation: &Conversation,
) -> Result<(), KeyStoreError> {
    if let Conversation::Room { id: Some(id), name } = conversation {
        conn.execute(
            "INSERT INTO room_names (room, name, named_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (room) DO UPDATE SET name = excluded.name, named_at = excluded.named_at",
            params![room_key(id), name, now_ms()],
        )?;
    }
    Ok(())
}

/// The setting that says named history was adopted (it is done once).
const ADOPTED: &str = "room_history_adopted";

impl KeyStore {
    /// The room `id` is named `name` now (created, joined or renamed): its
    /// history, kept by id, is shown under that name.
    ///
    /// # Errors
    /// Storage errors.
    pub fn note_room_name(&mut self, id: RoomId, name: &str) -> Result<(), KeyStoreError> {
        note_name(&self.conn, &Conversation::room(id, name))
    }

    /// The room with history that went by `name` (ignoring ASCII case)
    /// most recently (a room's name is refreshed with each entry), or whose id is `name` (32 hex digits); `None` if
    /// history knows no such room.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn room_in_history(&self, name: &str) -> Result<Option<Conversation>, KeyStoreError> {
        if let Some(id) = parse_room_id(name) {
            let key = room_key(&id);
            let known: Option<String> = self
                .conn
                .query_row("SELECT name FROM room_names WHERE room = ?1", [&key], |r| {
                    r.get(0)
                })
                .optional()?;
            let has: bool = self.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM history WHERE conv_kind = 2 AND conv = ?1)",
                [&key],
                |r| r.get(0),
            )?;
            if known.is_some() || has {
                return Ok(Some(Conversation::room(id, known.unwrap_or(key))));
            }
        }
        let found: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT room, name FROM room_names WHERE lower(name) = lower(?1)
                   AND EXISTS (SELECT 1 FROM history WHERE conv_kind = 2 AND conv = room)
                 ORDER BY named_at DESC, rowid DESC LIMIT 1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((key, shown)) = found else {
            return Ok(None);
        };
        Conversation::from_key(2, key, Some(shown)).map(Some)
    }

    /// Moves the history kept under a room's name since before rooms were
    /// kept by id (see the module docs) to the room of ours that has that
    /// name, `rooms` being every room we are in; once: later rooms with
    /// those names are other rooms. A name two of our rooms share stays
    /// where it is. Returns how many entries moved.
    ///
    /// # Errors
    /// Storage errors.
    pub fn adopt_named_room_history(
        &mut self,
        rooms: &[(RoomId, String)],
    ) -> Result<usize, KeyStoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let done: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM settings WHERE key = ?1)",
            [ADOPTED],
            |r| r.get(0),
        )?;
        if done {
            return Ok(0);
        }
        let mut moved = 0;
        for (id, name) in rooms {
            if rooms.iter().filter(|(_, n)| n == name).count() == 1 {
                moved += adopt(&tx, *id, name)?;
            }
        }
        tx.execute(
            "INSERT INTO settings (key, value) VALUES (?1, '1')",
            [ADOPTED],
        )?;
        tx.commit()?;
        Ok(moved)
    }
}

/// Moves the `name:` history of `name` to the room `id`.
fn adopt(tx: &Transaction<'_>, id: RoomId, name: &str) -> Result<usize, KeyStoreError> {
    let old = format!("{NAMED}{name}");
    let key = room_key(&id);
    let moved = tx.execute(
        "UPDATE history SET conv = ?2 WHERE conv_kind = 2 AND conv = ?1",
        params![old, key],
    )?;
    if moved > 0 {
        tx.execute(
            "INSERT INTO room_names (room, name, named_at)
                 SELECT ?2, name, named_at FROM room_names WHERE room = ?1
             ON CONFLICT (room) DO NOTHING",
            params![old, key],
        )?;
        tx.execute("DELETE FROM room_names WHERE room = ?1", [&old])?;
    }
    Ok(moved)
}

#[cfg(test)]
mod tests;
