//! The room commands' own refusals: why a room command was refused before
//! anything was sent ([`RoomRefusal`], one stable code each), and which
//! command about a user named one the server does not know
//! ([`RoomUserAction`]). Left out: their words for a person
//! (`repl::explain`) and their codes beside the others (`repl::codes`).

use super::ClientError;

impl ClientError {
    /// A room command refused for `why`, said as `text`.
    pub(crate) fn room(why: RoomRefusal, text: impl Into<String>) -> Self {
        Self::RoomRefused {
            why,
            text: text.into(),
        }
    }
}

/// Why a room command was refused before anything was sent. The same
/// refusal has the same code in every command, so that a script can act on
/// it (`not_admin`: ask an admin; `unchanged`: nothing to do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoomRefusal {
    /// The command needs an admin (or the owner) and we are a plain member.
    NotAdmin,
    /// The command needs the room's owner.
    NotOwner,
    /// The user the command is about is ourselves.
    IsYou,
    /// The user the command is about is the room's owner, whom nobody
    /// removes, bans or demotes.
    IsOwner,
    /// The user the command is about is not in the room.
    NotMember,
    /// The user to add (or we, joining) is in the room already.
    AlreadyMember,
    /// The user to add is banned from the room.
    Banned,
    /// The room is already as asked (rule, name, role, ban): nothing to do.
    Unchanged,
    /// Leaving would leave nobody to manage the room.
    LastAdmin,
    /// We are the room's only member: nobody could complete a leave.
    OnlyMember,
    /// The owner's account is gone, and only an owner may remove it.
    OwnerGone,
    /// The server says members' accounts are gone: an admin removes them
    /// first, by a command of their own, never on the server's word alone.
    MembersGone,
    /// The name given cannot name a room.
    BadRoomName,
    /// The room password given is empty.
    EmptyPassword,
    /// Other members' changes kept winning; trying again may succeed.
    Busy,
    /// The server holds the room at an older epoch than ours (restored
    /// from a backup) and would not let us re-found it.
    ServerBehind,
    /// The server holds the room at a newer epoch than ours, and the
    /// commits between are no longer in its log (lost with a restore, or
    /// past its retention): we cannot follow the room.
    LeftBehind,
    /// The room was created but its password could not be set.
    PasswordNotSet,
    /// Something that is not the user's doing (an encoding, a malformed
    /// answer of the server's).
    Failed,
}

impl RoomRefusal {
    /// The stable word for `--json` errors.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotAdmin => "not_admin",
            Self::NotOwner => "not_owner",
            Self::IsYou => "is_you",
            Self::IsOwner => "is_owner",
            Self::NotMember => "not_member",
            Self::AlreadyMember => "already_member",
            Self::Banned => "banned",
            Self::Unchanged => "unchanged",
            Self::LastAdmin => "last_admin",
            Self::OnlyMember => "only_member",
            Self::OwnerGone => "owner_gone",
            Self::MembersGone => "members_gone",
            Self::BadRoomName => "bad_room_name",
            Self::EmptyPassword => "empty_password",
            Self::Busy => "room_busy",
            Self::ServerBehind => "room_server_behind",
            Self::LeftBehind => "room_left_behind",
            Self::PasswordNotSet => "password_not_set",
            Self::Failed => "room",
        }
    }
}

/// A room command about a user who need not be a member yet (adding and
/// banning reach one the server names; a removal only a pinned member),
/// for the line of [`ClientError::UnknownPeerInRoom`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomUserAction {
    /// `room add`.
    Add,
    /// `room ban`.
    Ban,
    /// `room unban`.
    Unban,
}

impl RoomUserAction {
    /// `cannot add bob to #team`: what could not be done, the room's name
    /// as given (escape before printing).
    pub fn cannot(self, who: &str, room: &str) -> String {
        match self {
            Self::Add => format!("cannot add {who} to #{room}"),
            Self::Ban => format!("cannot ban {who} from #{room}"),
            Self::Unban => format!("cannot unban {who} from #{room}"),
        }
    }
}
