//! The user's identity in the store: name, client id and the 96 secret
//! bytes, kept in the one-row `identity` table.
//!
//! Saving it also writes `me.info` (see `keystore::me_info`), so the two
//! never start out different.
//!
//! Left out: registering with a server, and generating the keys
//! (`crypto::identity`).

use protocol::{ClientId, Name};
use rusqlite::{OptionalExtension, params};

use super::me_info::write_me_info;
use super::schema::{blob_array, secret_array};
use super::{KeyStore, KeyStoreError};
use crate::crypto::Identity;
use crate::crypto::identity::SECRET_LEN;

/// The user's identity as stored.
#[derive(Debug)]
pub struct StoredIdentity {
    /// The registered name.
    pub name: Name,
    /// The client id the server assigned.
    pub client_id: ClientId,
    /// The secrets.
    pub identity: Identity,
}

impl KeyStore {
    /// Stores the user's identity after registration and writes `me.info`.
    ///
    /// # Errors
    /// [`KeyStoreError::IdentityExists`] if one is stored already; storage
    /// errors.
    pub fn save_identity(
        &mut self,
        name: &Name,
        client_id: ClientId,
        identity: &Identity,
    ) -> Result<(), KeyStoreError> {
        let secret = identity.to_secret_bytes();
        let inserted = self.conn.execute(
            "INSERT OR IGNORE INTO identity (only_row, name, client_id, secret) VALUES (1, ?1, ?2, ?3)",
            params![name.as_str(), &client_id.0[..], &secret[..]],
        )?;
        if inserted == 0 {
            return Err(KeyStoreError::IdentityExists);
        }
        if self.key().is_none() {
            // An encrypted store keeps no clear copy of the secret.
            write_me_info(&self.home, name, &client_id, &secret)?;
        }
        Ok(())
    }

    /// The stored identity, if the user has registered.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn identity(&self) -> Result<Option<StoredIdentity>, KeyStoreError> {
        self.conn
            .query_row(
                "SELECT name, client_id, secret FROM identity WHERE only_row = 1",
                [],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        blob_array::<16>(row, 1)?,
                        secret_array::<SECRET_LEN>(row, 2)?,
                    ))
                },
            )
            .optional()?
            .map(|(name, id, secret)| {
                Ok(StoredIdentity {
                    name: Name::new(name).map_err(|_| KeyStoreError::Corrupt("stored name"))?,
                    client_id: ClientId(id),
                    identity: Identity::from_secret_bytes(&secret),
                })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as BASE64;

    use super::*;
    use crate::keystore::ME_INFO_FILE;
    use crate::keystore::fixtures::{ALICE, BOB, home, with_identity};

    #[test]
    fn identity_survives_reopen_and_matches_me_info() {
        let (_dir, home) = home();
        let (store, identity) = with_identity(&home);
        drop(store);
        let store = KeyStore::open(&home).unwrap();
        let stored = store.identity().unwrap().unwrap();
        assert_eq!(stored.name.as_str(), "alice");
        assert_eq!(stored.client_id, ALICE);
        assert_eq!(stored.identity.bundle(), identity.bundle());

        let text = fs::read_to_string(home.join(ME_INFO_FILE)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], "alice");
        assert_eq!(lines[1], "11111111111111111111111111111111");
        assert_eq!(
            BASE64.decode(lines[2]).unwrap(),
            identity.to_secret_bytes().to_vec()
        );
    }

    #[test]
    fn a_second_identity_is_refused() {
        let (_dir, home) = home();
        let (mut store, _) = with_identity(&home);
        let other = Identity::generate().unwrap();
        assert!(matches!(
            store.save_identity(&Name::new("eve").unwrap(), BOB, &other),
            Err(KeyStoreError::IdentityExists)
        ));
    }
}
