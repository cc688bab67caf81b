//! The small value types every part of the crate names (client ids, room
//! ids, roles), in a leaf of their own so that the error types, the
//! identity checks, the roles table and the store can all use them without
//! importing one another.

use std::fmt;

use openmls::prelude::GroupId;

/// Length of a Sealpost client id.
pub const CLIENT_ID_LEN: usize = 16;
/// A Sealpost client id (the 16 bytes of the wire format).
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct ClientId(pub [u8; CLIENT_ID_LEN]);

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({self})")
    }
}

/// A room's id: the MLS group id, 16 bytes chosen by its creator.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct RoomId(pub [u8; 16]);

impl RoomId {
    pub(crate) fn group_id(&self) -> GroupId {
        GroupId::from_slice(&self.0)
    }

    /// `None` for a group id that is not 16 bytes (not one of ours).
    pub(crate) fn from_group_id(id: &GroupId) -> Option<Self> {
        id.as_slice().try_into().ok().map(Self)
    }
}

/// A member's role in a room.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Role {
    /// Reads and sends; may leave.
    Member,
    /// Also adds and removes members and makes or unmakes admins.
    Admin,
    /// Also makes or unmakes owners and removes admins.
    Owner,
}

impl Role {
    /// True for admins and owners.
    pub fn is_admin(self) -> bool {
        self >= Role::Admin
    }

    /// The role's code on the wire and in the roles extension: 0 member,
    /// 1 admin, 2 owner.
    pub fn code(self) -> u8 {
        match self {
            Role::Member => 0,
            Role::Admin => 1,
            Role::Owner => 2,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Role::Admin),
            2 => Some(Role::Owner),
            // 0 (member) is never listed: members are those not in the table.
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        })
    }
}
