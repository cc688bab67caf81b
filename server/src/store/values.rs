//! The values the store takes and gives back: messages (inline or in a
//! blob), unfinished uploads, the events published after each commit, and
//! the clock that stamps them. A leaf: the handle, the read pool and the
//! writer thread all speak in these, so none of them owns them.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use protocol::v3::{Delivery, FileOffer};
use protocol::{ClientId, MessageKind, UploadId};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The wall-clock time `age` ago, in ms since the Unix epoch; 0 for an age
/// longer than that (nothing is older).
pub fn ms_ago(age: Duration) -> u64 {
    now_ms().saturating_sub(u64::try_from(age.as_millis()).unwrap_or(u64::MAX))
}

/// Where a message's content lives.
#[derive(Debug, Clone)]
pub enum MessageBody {
    /// In the database row.
    Inline(Bytes),
    /// In a blob file under `files/`.
    File {
        /// The blob's file name.
        blob: String,
        /// The uploader's opaque metadata (empty for version-2 files).
        meta: Bytes,
        /// The file's size.
        size: u64,
    },
}

impl MessageBody {
    /// Size of the content (the file's size for a blob).
    pub fn size(&self) -> u64 {
        match self {
            Self::Inline(c) => c.len() as u64,
            Self::File { size, .. } => *size,
        }
    }
}

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Who it is for.
    pub recipient: ClientId,
    /// Who sent it.
    pub sender: ClientId,
    /// Its type.
    pub kind: MessageKind,
    /// Its content.
    pub body: MessageBody,
}

/// A message that is durably stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// Its id.
    pub id: u64,
    /// When it was stored.
    pub created_at_ms: u64,
}

/// Where an upload goes: a client's inbox (120) or a room (139).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadTo {
    /// A registered client.
    Client(ClientId),
    /// A room the uploader is a member of.
    Room(protocol::RoomId),
}

/// What an expiry of unfinished uploads deleted: the callers delete the
/// files (part files by id, and finished room files no entry named).
#[derive(Debug, Clone, Default)]
pub struct ExpiredUploads {
    /// Unfinished uploads whose part files go.
    pub uploads: Vec<protocol::UploadId>,
    /// Blobs of finished room uploads that no room message named.
    pub blobs: Vec<String>,
}

/// A message removed by an acknowledgement or a version-2 pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// Its blob, to delete from disk.
    pub blob: Option<String>,
}

/// What removing an account deleted: the caller deletes the files.
#[derive(Debug, Clone)]
pub struct RemovedAccount {
    /// The account's id.
    pub id: ClientId,
    /// Messages that were waiting for it.
    pub messages: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Blobs of those messages.
    pub blobs: Vec<String>,
    /// Unfinished uploads from or to it.
    pub uploads: Vec<UploadId>,
    /// Type-7 messages stored for the senders of its deleted texts and
    /// file offers.
    pub notices: u64,
}

/// What deleting a room deleted, in its transaction: the caller deletes
/// the files.
#[derive(Debug, Clone, Default)]
pub struct DeletedRoom {
    /// Blobs of the room's files.
    pub blobs: Vec<String>,
    /// Unfinished uploads to the room, whose part files go.
    pub uploads: Vec<UploadId>,
}

/// A message waiting for its recipient.
#[derive(Debug, Clone)]
pub struct WaitingMessage {
    /// Its id.
    pub id: u64,
    /// Who sent it.
    pub sender: ClientId,
    /// Its type as sent.
    pub kind: MessageKind,
    /// Size of its content.
    pub size: u64,
    /// When it was stored.
    pub created_at_ms: u64,
    /// Its content, or where the content is.
    pub body: MessageBody,
}

impl WaitingMessage {
    /// The message as version 3 delivers it: inline content, or a file offer
    /// for anything whose content lives in a blob (see PROTOCOL.md, Files).
    pub fn to_delivery(&self) -> Delivery {
        let (kind, content) = match &self.body {
            MessageBody::Inline(c) => (self.kind, c.clone()),
            MessageBody::File { meta, size, .. } => {
                let offer = FileOffer {
                    size: *size,
                    meta: meta.clone(),
                };
                // Stored meta came through the codec, which bounds it by
                // MAX_FILE_META_LEN, so encoding cannot fail; an empty offer
                // would be a wrong but harmless fallback.
                (MessageKind::File, offer.encode().unwrap_or_default())
            }
        };
        Delivery {
            sender: self.sender,
            message_id: self.id,
            kind,
            sent_at_ms: self.created_at_ms,
            content,
        }
    }
}

/// An unfinished upload.
#[derive(Debug, Clone)]
pub struct UploadRecord {
    /// Its id.
    pub id: UploadId,
    /// Who uploads.
    pub owner: ClientId,
    /// Who the file is for: a client, or the room when `to_room`.
    pub destination: ClientId,
    /// Whether the destination is a room (request 139).
    pub to_room: bool,
    /// Its announced size.
    pub file_size: u64,
    /// Opaque metadata for the file message.
    pub meta: Bytes,
    /// Bytes known to be on disk for good.
    pub durable_offset: u64,
}

/// What the store reports after each commit, in commit order.
#[derive(Debug, Clone)]
pub enum StoreEvent {
    /// A message became durable.
    NewMessage {
        /// Its recipient.
        recipient: ClientId,
        /// The message.
        message: Arc<WaitingMessage>,
        /// When its send was queued for the writer, if it was sent as such
        /// (for `crate::timing`: its whole way through the server).
        queued: Option<Instant>,
    },
    /// Messages were removed.
    Removed {
        /// Their recipient.
        recipient: ClientId,
        /// Their ids.
        ids: Vec<u64>,
    },
    /// An entry was appended to a room's log.
    RoomEntry {
        /// The members who should receive it (not its author).
        recipients: Arc<[ClientId]>,
        /// The entry.
        entry: Arc<protocol::v3::RoomEntry>,
    },
    /// A member acknowledged a room's entries up to `seq`.
    RoomAcked {
        /// The member.
        client: ClientId,
        /// The room.
        room: protocol::RoomId,
        /// The acknowledged entry (cumulative).
        seq: u64,
    },
    /// Messages for `recipient` were stored through another node of a
    /// cluster: what is waiting must be read from the database.
    Stale {
        /// Their recipient.
        recipient: ClientId,
    },
    /// Entries of rooms `recipients` are members of were stored through
    /// another node of a cluster: what is waiting must be read from the
    /// database.
    RoomStale {
        /// The rooms' members.
        recipients: Vec<ClientId>,
    },
    /// Messages may have been stored through other nodes unannounced (the
    /// node could not hear them for a while): every subscriber reloads.
    AllStale,
    /// The operator removed `client` through another node of a cluster:
    /// its sessions here end (the directory has dropped it already).
    AccountRemoved {
        /// The removed account.
        client: ClientId,
    },
    /// A claim left a client with few one-time key packages.
    KeyPackagesLow {
        /// The client.
        owner: ClientId,
        /// One-time packages left.
        stock: u32,
    },
    /// Who another node of a cluster shows online changed.
    Presence(PresenceUpdate),
}

/// What another node of a cluster shows online, as heard through the
/// database (`crate::presence` keeps it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresenceUpdate {
    /// These clients came online (`true`) or went offline there.
    Changed {
        /// The node.
        node: String,
        /// Each client and whether it is shown now.
        changes: Vec<(ClientId, bool)>,
    },
    /// Everyone the node shows now.
    Node {
        /// The node.
        node: String,
        /// Its clients shown online.
        clients: Vec<ClientId>,
    },
    /// The node stopped, or was silent too long: it shows nobody.
    Gone {
        /// The node.
        node: String,
    },
    /// Every other node and whom it shows (after this node could not
    /// hear them for a while, and when it starts).
    All(Vec<(String, Vec<ClientId>)>),
}

#[cfg(test)]
impl StoreEvent {
    /// A text `content` stored as message `id` for `recipient` (tests).
    pub(crate) fn stored_text(
        recipient: ClientId,
        sender: ClientId,
        id: u64,
        content: &'static [u8],
    ) -> Self {
        StoreEvent::NewMessage {
            recipient,
            message: Arc::new(WaitingMessage {
                id,
                sender,
                kind: MessageKind::Text,
                size: content.len() as u64,
                created_at_ms: 0,
                body: MessageBody::Inline(Bytes::from_static(content)),
            }),
            queued: None,
        }
    }
}
