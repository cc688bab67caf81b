//! What happened in a room, as the client reports it: its creation, a
//! text, a join, who was added, joined by name, removed, banned, unbanned or left, a role
//! change, a new join rule, a rename, or an entry that could not be read. Plain values for `--json` and for the queue of room
//! events not shown yet (entries read by a room command are shown by the
//! next `inbox`), in a leaf of their own so that the inbox, the output and
//! the room code need not import each other.
//!
//! Names in these values are the names the members are pinned under here
//! (escape before printing), never the server's word alone.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::keystore::{Conversation, parse_room_id};

/// A room event kept until it is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomEvent {
    /// The entry's place in the room's log (for a join: the welcome's
    /// message id).
    pub seq: u64,
    /// The room's name.
    pub room: String,
    /// The room's id, 32 hex digits: its history is kept by it (empty in
    /// events queued before it was recorded).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub room_id: String,
    /// Who acted (the sender or committer): client id, 32 hex digits.
    pub from: String,
    /// When the server stored it (ms since the Unix epoch, the server's word).
    pub sent_at_ms: u64,
    /// What happened.
    pub change: RoomChange,
    /// Recorded in the room's history but not shown: a change our own
    /// command made, which the command reported. Never queued.
    #[serde(skip)]
    pub quiet: bool,
}

impl RoomEvent {
    /// The room's conversation in history.
    pub fn conversation(&self) -> Conversation {
        room_conversation(&self.room_id, &self.room)
    }
}

/// The conversation of the room of id `id` (hex) named `name`; by its
/// name alone if the id is missing (an event queued before ids were).
pub fn room_conversation(id: &str, name: &str) -> Conversation {
    Conversation::Room {
        id: parse_room_id(id),
        name: name.to_string(),
    }
}

/// A member a room event names: by the name pinned here, the user's own
/// name for the user (`you`), as `room members --json` gives them. An
/// event queued before this was kept reads `"you"` as the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "NamedWire")]
pub struct Named {
    /// The name (escape before printing).
    pub name: String,
    /// Whether it is this home's user (a person reads "you").
    pub you: bool,
}

impl Named {
    /// Someone else, by `name`.
    pub fn other(name: impl Into<String>) -> Self {
        Named {
            name: name.into(),
            you: false,
        }
    }

    /// As a person reads it, escaped: "you" for the user.
    pub fn shown(&self) -> String {
        shown_member(&self.name, self.you)
    }
}

/// A member named `name` as a person reads it, escaped: "you" for the
/// user (`you`), whom JSON names by their own name.
pub fn shown_member(name: &str, you: bool) -> String {
    if you {
        "you".into()
    } else {
        crate::display::escape_line(name).into_owned()
    }
}

/// [`Named`] as kept: an object, or a plain name from before.
#[derive(Deserialize)]
#[serde(untagged)]
enum NamedWire {
    Plain(String),
    Full {
        name: String,
        #[serde(default)]
        you: bool,
    },
}

impl From<NamedWire> for Named {
    fn from(w: NamedWire) -> Self {
        match w {
            NamedWire::Plain(name) => Named {
                you: name == "you",
                name,
            },
            NamedWire::Full { name, you } => Named { name, you },
        }
    }
}

/// What happened in a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "room_event", rename_all = "snake_case")]
pub enum RoomChange {
    /// A text from a member.
    Text {
        /// The text.
        text: String,
    },
    /// A member sent a file: saved in the downloads folder, or why not.
    File {
        /// Its name, as the sender gave it.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// Where it was saved, once downloaded and its hash checked.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<PathBuf>,
        /// Why it was not saved, in words a person acts on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        not_saved: Option<String>,
    },
    /// A member sent a file larger than the automatic download limit: the
    /// server holds it for us until the user accepts it (`accept-file N`,
    /// N the event's seq) or declines it.
    FileHeld {
        /// Its name, as the sender gave it.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// The automatic download limit it is over.
        limit: u64,
    },
    /// We created the room (recorded in its creator's history only, never
    /// queued: the `room create` that made it said so).
    Created {
        /// The name it was created with.
        name: String,
        /// Who could join it then: invite-only, public, hidden,
        /// public+password or hidden+password.
        rule: String,
    },
    /// We joined the room: who is in it.
    Joined {
        /// The members, by pinned name.
        members: Vec<Named>,
    },
    /// Members were added.
    Added {
        /// Who.
        members: Vec<Named>,
    },
    /// Members were removed by an admin.
    Removed {
        /// Who.
        members: Vec<Named>,
    },
    /// We were removed: nothing of the room reaches us any more.
    RemovedYou,
    /// We were removed and banned: nor may we join again until unbanned.
    BannedYou,
    /// We left, as we asked (another member's client committed it).
    YouLeft,
    /// Members left.
    Left {
        /// Who.
        members: Vec<Named>,
    },
    /// A member asked to leave (a member's client commits it).
    LeaveAsked,
    /// A member's role changed.
    Role {
        /// Whose (the user's own name for the user).
        member: String,
        /// Whether it is this home's user's (a person reads "you").
        #[serde(default)]
        you: bool,
        /// The new role: member, admin or owner.
        role: String,
    },
    /// A user joined by name (a public or hidden room), without an invitation.
    JoinedByName {
        /// Who (the user's own name for the user).
        member: String,
        /// Whether it is this home's user (a person reads "you").
        #[serde(default)]
        you: bool,
        /// A member the room listed took its own place again (a resync: its
        /// home was restored from a backup), in a room of any rule.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        again: bool,
    },
    /// A join of ours by name was cut short (the client stopped, or lost
    /// the server) before the server took it: it was not made, and the
    /// room is forgotten here.
    JoinCutShort,
    /// A creation of ours was cut short (the client stopped, or lost the
    /// server) before the server took the room: it was not made, and the
    /// room is forgotten here.
    CreateCutShort,
    /// Users were banned (a banned member is also in a `Removed`).
    Banned {
        /// Who.
        members: Vec<Named>,
    },
    /// Bans were lifted.
    Unbanned {
        /// Who.
        members: Vec<Named>,
    },
    /// Who may join changed.
    JoinRule {
        /// invite-only, public or hidden.
        rule: String,
    },
    /// An admin replaced the room's password (no commit: the room's rule
    /// stayed).
    PasswordChanged,
    /// The room was renamed.
    Renamed {
        /// The name it had (missing in events queued before it was kept).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        old_name: Option<String>,
        /// The new name.
        name: String,
    },
    /// The owner deleted the room; it is forgotten here.
    Deleted,
    /// A deletion notice this client could not check (it was sent in an
    /// epoch we never reached: the room's log went with the room), for a
    /// room the server no longer has us in. Kept until the user's `room
    /// leave` forgets it.
    DeletedUnchecked,
    /// A deletion notice not believed (not from the room's owner, or not
    /// opening): the room is kept.
    DeleteRefused {
        /// Why, in one line.
        error: String,
    },
    /// A member's client refused our invitation to the room (a refusal
    /// notice for our welcome): they read nothing of it, while the room
    /// lists them until an admin removes them. A room we are no longer in
    /// is named as history last knew it, else by its id.
    InvitationRefused {
        /// Who refused it (the name they are pinned under here).
        member: String,
        /// Why, as their notice says.
        reason: crate::crypto::RefusalReason,
        /// Whether the room still lists them as a member (false too when
        /// we are not in it: we cannot tell).
        listed: bool,
        /// Whether we are still in the room (we left it, deleted it or
        /// were removed before the refusal came). Events kept from before
        /// this was recorded read as in it unless their room is empty.
        #[serde(default = "in_room_by_default")]
        in_room: bool,
    },
    /// An entry that could not be read (refused, or did not decrypt).
    Unreadable {
        /// Why, in one line.
        error: String,
    },
}

impl RoomChange {
    /// Whether it is kept in the room's history as an event of its own:
    /// its creation, who came and went, roles, the room's name and rule, a refused
    /// invitation, an entry that could not be read (where a message or a
    /// change would have been). Not texts and files (kept as messages), a
    /// leave request (the leave that follows tells it), nor what concerns
    /// no room kept here (a deletion not checked or not believed; an
    /// invitation that could not be opened names no room).
    pub fn kept_as_event(&self) -> bool {
        !matches!(
            self,
            Self::Text { .. }
                | Self::File { .. }
                | Self::FileHeld { .. }
                | Self::LeaveAsked
                | Self::JoinCutShort
                | Self::CreateCutShort
                | Self::DeletedUnchecked
                | Self::DeleteRefused { .. }
        )
    }

    /// The names it holds (members, the room's names, a role or rule),
    /// for a history search.
    pub fn words(&self) -> Vec<&str> {
        fn names(m: &[Named]) -> Vec<&str> {
            m.iter().map(|n| n.name.as_str()).collect()
        }
        match self {
            Self::Joined { members }
            | Self::Added { members }
            | Self::Removed { members }
            | Self::Left { members }
            | Self::Banned { members }
            | Self::Unbanned { members } => names(members),
            Self::Role { member, role, .. } => vec![member, role],
            Self::JoinedByName { member, .. } | Self::InvitationRefused { member, .. } => {
                vec![member]
            }
            Self::JoinRule { rule } => vec![rule],
            Self::Created { name, rule } => vec![name, rule],
            Self::Renamed { old_name, name } => old_name
                .iter()
                .map(String::as_str)
                .chain([name.as_str()])
                .collect(),
            Self::Text { text } => vec![text],
            Self::File { name, .. } | Self::FileHeld { name, .. } => vec![name],
            Self::DeleteRefused { error } | Self::Unreadable { error } => vec![error],
            Self::RemovedYou
            | Self::BannedYou
            | Self::YouLeft
            | Self::LeaveAsked
            | Self::JoinCutShort
            | Self::CreateCutShort
            | Self::PasswordChanged
            | Self::Deleted
            | Self::DeletedUnchecked => Vec::new(),
        }
    }
}

/// An `invitation_refused` kept before `in_room` was recorded named a room
/// we were in (one we were not in had an empty name).
fn in_room_by_default() -> bool {
    true
}
