//! What a raw room member makes of an entry of a room's log: the engine
//! processes it, and the typed room content (or the commit) becomes a
//! [`Seen`].

use anyhow::{Context, bail};
use client::rooms::{RoomContent, RoomFile};
use protocol::v3;
use protocol::{ClientId, RoomId};
use sealpost_rooms::Incoming;

use super::RoomUser;

/// What a member saw in its rooms, in log order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A text from a member.
    Text {
        /// The room.
        room: RoomId,
        /// Its sender.
        sender: ClientId,
        /// The text.
        text: String,
    },
    /// A commit of another member (who was added and removed).
    Commit {
        /// The room.
        room: RoomId,
        /// The epoch after it.
        epoch: u64,
        /// Whether it removed the reader.
        removed_us: bool,
    },
    /// A file announced by a member (its key etc. in
    /// [`RoomUser::room_file`]).
    File {
        /// The room.
        room: RoomId,
        /// Its sender.
        sender: ClientId,
        /// The entry that announced it.
        seq: u64,
        /// Its announced name.
        name: String,
        /// Its announced size.
        size: u64,
    },
    /// A member's receipt: how far it read the room's log.
    Receipt {
        /// The room.
        room: RoomId,
        /// Its sender.
        sender: ClientId,
        /// Opened up to this entry.
        delivered: u64,
        /// Shown up to this entry.
        read: u64,
    },
    /// The reader joined from a welcome.
    Joined {
        /// The room.
        room: RoomId,
        /// The epoch it joined at.
        epoch: u64,
    },
}

impl RoomUser {
    /// Processes one entry with the engine.
    pub fn read(&self, e: &v3::RoomEntry) -> anyhow::Result<Seen> {
        Ok(self.read_content(e)?.0)
    }

    /// Processes one entry: what it is, and the file it announces.
    pub(super) fn read_content(
        &self,
        e: &v3::RoomEntry,
    ) -> anyhow::Result<(Seen, Option<RoomFile>)> {
        let room = e.room;
        Ok(
            match self
                .engine
                .process(&e.message, &self.book)
                .with_context(|| format!("entry {} of room {room}", e.seq))?
            {
                Incoming::Message { plaintext, .. } => match RoomContent::decode(&plaintext)? {
                    RoomContent::Text(text) => (
                        Seen::Text {
                            room,
                            sender: e.sender,
                            text,
                        },
                        None,
                    ),
                    RoomContent::File(file) => (
                        Seen::File {
                            room,
                            sender: e.sender,
                            seq: e.seq,
                            name: file.name.clone(),
                            size: file.size,
                        },
                        Some(file),
                    ),
                    // Only a type-6 message carries a deletion notice.
                    RoomContent::Deleted => {
                        bail!("entry {} of room {room} is a deletion notice", e.seq)
                    }
                    // No test of raw users changes a password.
                    RoomContent::PasswordChanged => {
                        bail!("entry {} of room {room} is a password notice", e.seq)
                    }
                    RoomContent::Receipt { delivered, read } => (
                        Seen::Receipt {
                            room,
                            sender: e.sender,
                            delivered,
                            read,
                        },
                        None,
                    ),
                },
                Incoming::Commit {
                    summary,
                    removed_us,
                    ..
                } => (
                    Seen::Commit {
                        room,
                        epoch: summary.epoch,
                        removed_us,
                    },
                    None,
                ),
                other => bail!("unexpected {other:?}"),
            },
        )
    }
}
