//! Who may join a room, kept in the group context next to the roles: the
//! join rule and the banned client ids.
//!
//! Like the roles and the name, the rule lives in a group context extension
//! of a private-use type (`0xF5E2`), so every member agrees on it at each
//! epoch, only an admin's commit changes it ([`crate::policy`]), and every
//! member as well as the server checks each join against it: an external
//! commit (a join without an invitation) is accepted only in an open room
//! (public or hidden, either possibly with a password, which only the server
//! can check: `crate::password`), and nobody banned is ever added, by an
//! admin or by joining.
//!
//! ```text
//! access extension data:  version u8 = 1 | rule u8 | count u16 | count × banned client id [16]
//!                         rule 0 invite-only, 1 public, 2 hidden, 3 password (listed
//!                         with a lock), 4 hidden with a password; ids sorted, no duplicates
//! ```
//!
//! A room without the extension (made before it existed) is invite-only
//! with nobody banned.

use std::collections::BTreeSet;

use openmls::prelude::{Extension, ExtensionType, Extensions, UnknownExtension};

use crate::error::PolicyError;
use crate::ids::{CLIENT_ID_LEN, ClientId};

/// The private-use extension type of the access rules ("Sealpost access").
pub const ACCESS_EXTENSION_TYPE: u16 = 0xF5E2;
/// The access extension's format version.
pub const ACCESS_VERSION: u8 = 1;
/// Most banned ids a room keeps.
pub const MAX_BANNED: usize = 1000;

/// How one joins a room.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub enum JoinRule {
    /// Only an admin adds members (a welcome).
    #[default]
    InviteOnly,
    /// Listed by the server; any registered user joins by external commit.
    Public,
    /// Not listed; anyone who knows its exact name joins by external commit.
    Hidden,
    /// Listed with a lock; a registered user who proves the password to the
    /// server joins by external commit.
    Password,
    /// Not listed; one who knows its exact name and proves the password to
    /// the server joins by external commit.
    HiddenPassword,
}

impl JoinRule {
    /// The wire value.
    pub fn code(self) -> u8 {
        match self {
            Self::InviteOnly => 0,
            Self::Public => 1,
            Self::Hidden => 2,
            Self::Password => 3,
            Self::HiddenPassword => 4,
        }
    }

    /// The rule of a wire value.
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::InviteOnly),
            1 => Some(Self::Public),
            2 => Some(Self::Hidden),
            3 => Some(Self::Password),
            4 => Some(Self::HiddenPassword),
            _ => None,
        }
    }

    /// Whether one may join without an invitation.
    pub fn open(self) -> bool {
        self != Self::InviteOnly
    }

    /// Whether the server lists it (public, or with a lock).
    pub fn listed(self) -> bool {
        matches!(self, Self::Public | Self::Password)
    }

    /// Whether joining needs the password (the server checks it).
    pub fn needs_password(self) -> bool {
        matches!(self, Self::Password | Self::HiddenPassword)
    }

    /// The rule of the words `--public`, `--hidden`, `--password` (none of
    /// the three: invite-only; `--password` alone: listed with a lock).
    pub fn of_flags(public: bool, hidden: bool, password: bool) -> Self {
        match (hidden, public || password, password) {
            (true, _, true) => Self::HiddenPassword,
            (true, _, false) => Self::Hidden,
            (false, _, true) => Self::Password,
            (false, true, false) => Self::Public,
            (false, false, false) => Self::InviteOnly,
        }
    }
}

impl std::fmt::Display for JoinRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::InviteOnly => "invite-only",
            Self::Public => "public",
            Self::Hidden => "hidden",
            Self::Password => "public+password",
            Self::HiddenPassword => "hidden+password",
        })
    }
}

/// A room's access rules at one epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Access {
    /// How one joins.
    pub rule: JoinRule,
    banned: BTreeSet<ClientId>,
}

impl Access {
    /// Rules with nobody banned.
    pub fn new(rule: JoinRule) -> Self {
        Self {
            rule,
            banned: BTreeSet::new(),
        }
    }

    /// Whether `client` is banned.
    pub fn is_banned(&self, client: &ClientId) -> bool {
        self.banned.contains(client)
    }

    /// Bans (`true`) or unbans `client`.
    ///
    /// # Errors
    /// [`PolicyError::BadAccess`] past [`MAX_BANNED`] ids.
    pub fn set_banned(&mut self, client: ClientId, banned: bool) -> Result<(), PolicyError> {
        if banned {
            if self.banned.len() >= MAX_BANNED && !self.banned.contains(&client) {
                return Err(PolicyError::BadAccess);
            }
            self.banned.insert(client);
        } else {
            self.banned.remove(&client);
        }
        Ok(())
    }

    /// The banned ids, sorted.
    pub fn banned(&self) -> impl Iterator<Item = ClientId> + '_ {
        self.banned.iter().copied()
    }

    /// The extension bytes (see the module's diagram).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.banned.len() * CLIENT_ID_LEN);
        out.push(ACCESS_VERSION);
        out.push(self.rule.code());
        // `set_banned` and `decode` keep the set within MAX_BANNED (< 65536).
        out.extend_from_slice(&(self.banned.len() as u16).to_le_bytes());
        for id in &self.banned {
            out.extend_from_slice(&id.0);
        }
        out
    }

    /// Parses the extension bytes, refusing anything not in canonical form.
    ///
    /// # Errors
    /// [`PolicyError::BadAccess`].
    pub fn decode(bytes: &[u8]) -> Result<Self, PolicyError> {
        let [version, rule, c0, c1, ids @ ..] = bytes else {
            return Err(PolicyError::BadAccess);
        };
        let rule = JoinRule::from_code(*rule).ok_or(PolicyError::BadAccess)?;
        let count = usize::from(u16::from_le_bytes([*c0, *c1]));
        if *version != ACCESS_VERSION || count > MAX_BANNED || ids.len() != count * CLIENT_ID_LEN {
            return Err(PolicyError::BadAccess);
        }
        let mut banned = BTreeSet::new();
        let mut previous: Option<ClientId> = None;
        for chunk in ids.chunks_exact(CLIENT_ID_LEN) {
            let id = ClientId(chunk.try_into().map_err(|_| PolicyError::BadAccess)?);
            if previous.is_some_and(|p| p >= id) {
                return Err(PolicyError::BadAccess);
            }
            previous = Some(id);
            banned.insert(id);
        }
        Ok(Self { rule, banned })
    }

    /// The rules as a group context extension.
    pub fn to_extension(&self) -> Extension {
        Extension::Unknown(ACCESS_EXTENSION_TYPE, UnknownExtension(self.encode()))
    }

    /// The rules in a group context's extensions (invite-only with nobody
    /// banned when a room has none).
    ///
    /// # Errors
    /// [`PolicyError::BadAccess`] if they are there but malformed.
    pub fn from_extensions<T>(extensions: &Extensions<T>) -> Result<Self, PolicyError> {
        match extensions.unknown(ACCESS_EXTENSION_TYPE) {
            Some(ext) => Self::decode(&ext.0),
            None => Ok(Self::default()),
        }
    }

    /// The extension type as openmls names it.
    pub fn extension_type() -> ExtensionType {
        ExtensionType::Unknown(ACCESS_EXTENSION_TYPE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_known_bytes_and_round_trips() {
        let mut access = Access::new(JoinRule::Hidden);
        access.set_banned(ClientId([9; 16]), true).unwrap();
        access.set_banned(ClientId([3; 16]), true).unwrap();
        let bytes = access.encode();
        let mut expected = vec![1, 2, 2, 0];
        expected.extend_from_slice(&[3; 16]);
        expected.extend_from_slice(&[9; 16]);
        assert_eq!(bytes, expected);
        assert_eq!(Access::decode(&bytes).unwrap(), access);
        assert!(access.is_banned(&ClientId([3; 16])));
        access.set_banned(ClientId([3; 16]), false).unwrap();
        assert!(!access.is_banned(&ClientId([3; 16])));
        let none = Extensions::<openmls::prelude::GroupContext>::empty();
        assert_eq!(Access::from_extensions(&none).unwrap(), Access::default());
    }

    #[test]
    fn password_rules_have_their_codes_and_flags() {
        for rule in [JoinRule::Password, JoinRule::HiddenPassword] {
            assert_eq!(JoinRule::from_code(rule.code()), Some(rule));
            assert!(rule.open() && rule.needs_password());
            let access = Access::new(rule);
            assert_eq!(Access::decode(&access.encode()).unwrap(), access);
        }
        assert_eq!(JoinRule::Password.code(), 3);
        assert_eq!(JoinRule::HiddenPassword.code(), 4);
        assert!(JoinRule::Password.listed() && !JoinRule::HiddenPassword.listed());
        let of = JoinRule::of_flags;
        assert_eq!(of(false, false, false), JoinRule::InviteOnly);
        assert_eq!(of(true, false, false), JoinRule::Public);
        assert_eq!(of(false, true, false), JoinRule::Hidden);
        assert_eq!(of(false, false, true), JoinRule::Password);
        assert_eq!(of(true, false, true), JoinRule::Password);
        assert_eq!(of(false, true, true), JoinRule::HiddenPassword);
    }

    #[test]
    fn rejects_non_canonical_rules() {
        let good = Access::new(JoinRule::Public).encode();
        let two = {
            let mut b = vec![1, 1, 2, 0];
            b.extend_from_slice(&[9; 16]);
            b.extend_from_slice(&[3; 16]);
            b
        };
        for bad in [
            vec![],
            vec![2, 1, 0, 0],
            vec![1, 5, 0, 0],
            [&good[..], &[0]].concat(),
            vec![1, 1, 1, 0],
            two,
        ] {
            assert_eq!(Access::decode(&bad), Err(PolicyError::BadAccess), "{bad:?}");
        }
    }
}
