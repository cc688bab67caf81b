//! A room's display name, kept in the group context next to the roles.
//!
//! The room id is 16 random bytes; people need a name. The name is set by
//! the creator and changed by admins, in a group context extension of the
//! private-use type `0xF5E1`, so every member agrees on it at each epoch and
//! a change is a commit the room's rules check (admins only). The server,
//! which follows the group context, sees it too: a room's name is no secret
//! from the server, exactly as the roles are not.
//!
//! ```text
//! name extension data:  the name in UTF-8, 1 to 64 bytes, no control characters
//! ```

use openmls::prelude::{Extension, ExtensionType, Extensions, UnknownExtension};

use crate::error::PolicyError;

/// The private-use extension type of the room name ("Sealpost room name").
pub const NAME_EXTENSION_TYPE: u16 = 0xF5E1;
/// The longest room name in bytes.
pub const MAX_ROOM_NAME_LEN: usize = 64;

/// A valid room name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoomName(String);

impl RoomName {
    /// Checks `name`: 1 to 64 bytes of UTF-8 without control characters.
    ///
    /// # Errors
    /// [`PolicyError::BadName`].
    pub fn new(name: &str) -> Result<Self, PolicyError> {
        if name.is_empty() || name.len() > MAX_ROOM_NAME_LEN || name.chars().any(char::is_control) {
            return Err(PolicyError::BadName);
        }
        Ok(Self(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as a group context extension.
    pub fn to_extension(&self) -> Extension {
        Extension::Unknown(
            NAME_EXTENSION_TYPE,
            UnknownExtension(self.0.as_bytes().to_vec()),
        )
    }

    /// The name in a group context's extensions, if the room has one.
    ///
    /// # Errors
    /// [`PolicyError::BadName`] if it is there but malformed.
    pub fn from_extensions<T>(extensions: &Extensions<T>) -> Result<Option<Self>, PolicyError> {
        extensions
            .unknown(NAME_EXTENSION_TYPE)
            .map(|ext| {
                let text = std::str::from_utf8(&ext.0).map_err(|_| PolicyError::BadName)?;
                Self::new(text)
            })
            .transpose()
    }

    /// The extension type as openmls names it.
    pub fn extension_type() -> ExtensionType {
        ExtensionType::Unknown(NAME_EXTENSION_TYPE)
    }
}

impl std::fmt::Display for RoomName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_round_trip_through_the_extension() {
        for bad in ["", "a\nb", "\u{7f}", &"x".repeat(65)] {
            assert_eq!(RoomName::new(bad), Err(PolicyError::BadName), "{bad:?}");
        }
        let name = RoomName::new(&"é".repeat(32)).unwrap();
        let ext =
            Extensions::<openmls::prelude::GroupContext>::single(name.to_extension()).unwrap();
        assert_eq!(RoomName::from_extensions(&ext).unwrap(), Some(name));
        let none = Extensions::<openmls::prelude::GroupContext>::empty();
        assert_eq!(RoomName::from_extensions(&none).unwrap(), None);
    }
}
