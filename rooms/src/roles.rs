//! Roles (owner, admin, member), kept in the group context.
//!
//! The roles live in an MLS group context extension of a private-use type
//! (RFC 9420, 13.1: 0xF000-0xFFFF), so they are part of what every member
//! agrees on at each epoch, signed into every commit's confirmation, and
//! visible to the server, which follows the room as an MLS `PublicGroup`.
//! Who may change what is [`crate::policy`]'s business; this module only
//! holds the table and its bytes.
//!
//! Only owners and admins are listed; every other member is a plain member.
//! Entries for client ids that are no longer members are ignored (and
//! dropped by the next commit an admin's engine makes: only an admin may
//! change the table).
//!
//! ```text
//! roles extension data:
//!   version (1) = 1 | count (u16 LE) | count x ( client id [16] | role (1) )
//!   entries sorted by client id, no duplicates; role 1 = admin, 2 = owner
//! ```

use std::collections::BTreeMap;

use openmls::prelude::{Extension, ExtensionType, Extensions, UnknownExtension};

use crate::error::PolicyError;
pub use crate::ids::Role;
use crate::ids::{CLIENT_ID_LEN, ClientId};

/// The private-use extension type of the roles table ("Sealpost roles").
pub const ROLES_EXTENSION_TYPE: u16 = 0xF5E0;
/// The roles table's format version.
pub const ROLES_VERSION: u8 = 1;
/// Most entries a roles table may hold (as many as a room has members).
pub const MAX_ROLE_ENTRIES: usize = crate::MAX_ROOM_MEMBERS;

const ENTRY_LEN: usize = CLIENT_ID_LEN + 1;

/// The roles table of one epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles {
    listed: BTreeMap<ClientId, Role>,
}

impl Roles {
    /// A table with one owner (a new room's creator).
    pub fn with_owner(owner: ClientId) -> Self {
        let mut roles = Self::default();
        roles.set(owner, Role::Owner);
        roles
    }

    /// The role of `client` (plain member if not listed).
    pub fn role_of(&self, client: &ClientId) -> Role {
        self.listed.get(client).copied().unwrap_or(Role::Member)
    }

    /// Sets the role of `client`; [`Role::Member`] removes the entry.
    pub fn set(&mut self, client: ClientId, role: Role) {
        if role == Role::Member {
            self.listed.remove(&client);
        } else {
            self.listed.insert(client, role);
        }
    }

    /// Keeps only the entries of clients for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&ClientId) -> bool) {
        self.listed.retain(|c, _| keep(c));
    }

    /// The listed (admin and owner) entries, by client id.
    pub fn listed(&self) -> impl Iterator<Item = (ClientId, Role)> + '_ {
        self.listed.iter().map(|(c, r)| (*c, *r))
    }

    /// The extension bytes (see the module's diagram).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(3 + self.listed.len() * ENTRY_LEN);
        out.push(ROLES_VERSION);
        // The table never exceeds MAX_ROLE_ENTRIES (< 65536) entries when it
        // came from `decode`; a locally built one is checked by the engine
        // against MAX_ROOM_MEMBERS before it is proposed.
        let count = u16::try_from(self.listed.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&count.to_le_bytes());
        for (client, role) in self.listed.iter().take(usize::from(count)) {
            out.extend_from_slice(&client.0);
            out.push(role.code());
        }
        out
    }

    /// Parses the extension bytes, refusing anything not in canonical form.
    ///
    /// # Errors
    /// [`PolicyError::BadRoles`] on a wrong version, length, role code,
    /// order or duplicate.
    pub fn decode(bytes: &[u8]) -> Result<Self, PolicyError> {
        let (&version, rest) = bytes.split_first().ok_or(PolicyError::BadRoles)?;
        if version != ROLES_VERSION || rest.len() < 2 {
            return Err(PolicyError::BadRoles);
        }
        let (count, entries) = rest.split_at(2);
        let count = usize::from(u16::from_le_bytes([count[0], count[1]]));
        if count > MAX_ROLE_ENTRIES || entries.len() != count * ENTRY_LEN {
            return Err(PolicyError::BadRoles);
        }
        let mut listed = BTreeMap::new();
        let mut previous: Option<ClientId> = None;
        for entry in entries.chunks_exact(ENTRY_LEN) {
            let (id, role) = entry.split_at(CLIENT_ID_LEN);
            let id = ClientId(id.try_into().map_err(|_| PolicyError::BadRoles)?);
            let role = Role::from_code(role[0]).ok_or(PolicyError::BadRoles)?;
            if previous.is_some_and(|p| p >= id) {
                return Err(PolicyError::BadRoles);
            }
            previous = Some(id);
            listed.insert(id, role);
        }
        Ok(Self { listed })
    }

    /// The table as a group context extension.
    pub fn to_extension(&self) -> Extension {
        Extension::Unknown(ROLES_EXTENSION_TYPE, UnknownExtension(self.encode()))
    }

    /// Reads the table from a group context's extensions.
    ///
    /// # Errors
    /// [`PolicyError::BadRoles`] if it is missing or malformed.
    pub fn from_extensions<T>(extensions: &Extensions<T>) -> Result<Self, PolicyError> {
        let ext = extensions
            .unknown(ROLES_EXTENSION_TYPE)
            .ok_or(PolicyError::BadRoles)?;
        Self::decode(&ext.0)
    }

    /// The extension type as openmls names it.
    pub fn extension_type() -> ExtensionType {
        ExtensionType::Unknown(ROLES_EXTENSION_TYPE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_known_bytes_and_round_trips() {
        let mut roles = Roles::with_owner(ClientId([2; 16]));
        roles.set(ClientId([1; 16]), Role::Admin);
        roles.set(ClientId([3; 16]), Role::Member);
        let bytes = roles.encode();
        let mut expected = vec![1, 2, 0];
        expected.extend_from_slice(&[1; 16]);
        expected.push(1);
        expected.extend_from_slice(&[2; 16]);
        expected.push(2);
        assert_eq!(bytes, expected);
        assert_eq!(Roles::decode(&bytes).unwrap(), roles);
        assert_eq!(roles.role_of(&ClientId([3; 16])), Role::Member);
    }

    #[test]
    fn rejects_non_canonical_tables() {
        let good = Roles::with_owner(ClientId([2; 16])).encode();
        for bad in [
            vec![],
            vec![2, 0, 0],
            vec![1, 1],
            [&good[..], &[0]].concat(),
            {
                let mut b = good.clone();
                b[19] = 0; // role 0 is never listed
                b
            },
            {
                // two entries out of order
                let mut b = vec![1, 2, 0];
                b.extend_from_slice(&[2; 16]);
                b.push(1);
                b.extend_from_slice(&[1; 16]);
                b.push(1);
                b
            },
        ] {
            assert_eq!(Roles::decode(&bad), Err(PolicyError::BadRoles), "{bad:?}");
        }
    }
}
