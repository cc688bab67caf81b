//! `me.info`, the reference client's identity file, kept in step with the
//! identity in the database.
//!
//! The database is the source of truth. `me.info` (mode 0600) is written
//! from it, in the reference layout: line 1 the name, line 2 the client id
//! as 32 hex digits, line 3 the 96 secret bytes in standard base64 (Ed25519
//! seed, X25519 identity secret, X25519 prekey secret). On open, a store
//! without an identity imports a valid `me.info`; a store with one rewrites
//! a missing `me.info`; if both exist and differ, opening fails with
//! [`KeyStoreError::IdentityMismatch`] rather than guess which one is right.
//!
//! A file of its own because it is the one piece of the store outside
//! SQLite: parsing a text file and replacing it atomically.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use protocol::{ClientId, Name};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{KeyStore, KeyStoreError, ME_INFO_FILE};
use crate::crypto::Identity;
use crate::crypto::identity::SECRET_LEN;
use crate::disk::open_private;

impl KeyStore {
    pub(super) fn reconcile_me_info(&mut self) -> Result<(), KeyStoreError> {
        let file = read_me_info(&self.home)?;
        let stored = self.identity()?;
        let had_file = file.is_some();
        match (stored, file) {
            (None, None) => Ok(()),
            (None, Some(info)) => {
                let identity = Identity::from_secret_bytes(&info.secret);
                self.save_identity(&info.name, info.client_id, &identity)
            }
            // An encrypted store keeps its secret to itself.
            (Some(_), None) if self.key().is_some() => Ok(()),
            (Some(s), None) => write_me_info(
                &self.home,
                &s.name,
                &s.client_id,
                &s.identity.to_secret_bytes(),
            ),
            (Some(s), Some(info)) => {
                let same_secret: bool = s.identity.to_secret_bytes()[..]
                    .ct_eq(&info.secret[..])
                    .into();
                if same_secret && s.name == info.name && s.client_id == info.client_id {
                    Ok(())
                } else {
                    Err(KeyStoreError::IdentityMismatch)
                }
            }
        }?;
        if had_file && self.key().is_some() {
            // Now in the encrypted store: the clear copy goes.
            fs::remove_file(self.home.join(ME_INFO_FILE))?;
        }
        Ok(())
    }
}

/// `me.info` as read from disk.
struct MeInfo {
    name: Name,
    client_id: ClientId,
    secret: Zeroizing<[u8; SECRET_LEN]>,
}

fn read_me_info(home: &Path) -> Result<Option<MeInfo>, KeyStoreError> {
    let path = home.join(ME_INFO_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => Zeroizing::new(bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| KeyStoreError::BadMeInfo("not UTF-8"))?;
    let mut lines = text.lines();
    let (Some(name), Some(id), Some(secret)) = (lines.next(), lines.next(), lines.next()) else {
        return Err(KeyStoreError::BadMeInfo("expected three lines"));
    };
    if lines.any(|l| !l.trim().is_empty()) {
        return Err(KeyStoreError::BadMeInfo("more than three lines"));
    }
    let name =
        Name::new(name).map_err(|_| KeyStoreError::BadMeInfo("line 1 is not a valid name"))?;
    let id = id.trim();
    if id.len() != 32 {
        return Err(KeyStoreError::BadMeInfo("line 2 is not 32 hex digits"));
    }
    let client_id: ClientId = id
        .parse()
        .map_err(|_| KeyStoreError::BadMeInfo("line 2 is not 32 hex digits"))?;
    let decoded = Zeroizing::new(
        BASE64
            .decode(secret.trim())
            .map_err(|_| KeyStoreError::BadMeInfo("line 3 is not base64"))?,
    );
    let secret: Zeroizing<[u8; SECRET_LEN]> = Zeroizing::new(
        decoded[..]
            .try_into()
            .map_err(|_| KeyStoreError::BadMeInfo("line 3 is not 96 bytes"))?,
    );
    Ok(Some(MeInfo {
        name,
        client_id,
        secret,
    }))
}

/// Writes `me.info` atomically: a 0600 temporary file, synced, renamed over
/// the old one, then the folder synced.
pub(super) fn write_me_info(
    home: &Path,
    name: &Name,
    client_id: &ClientId,
    secret: &[u8; SECRET_LEN],
) -> Result<(), KeyStoreError> {
    // Sized up front so that the string never reallocates and leaves a copy
    // of the secret behind: name, newline, 32 hex digits, newline, 128
    // base64 characters, newline.
    let mut text = Zeroizing::new(String::with_capacity(name.as_str().len() + 163));
    text.push_str(name.as_str());
    text.push('\n');
    text.push_str(&client_id.to_string());
    text.push('\n');
    BASE64.encode_string(secret, &mut text);
    text.push('\n');
    let tmp = home.join(format!("{ME_INFO_FILE}.tmp"));
    let mut file = open_private(&tmp, true)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, home.join(ME_INFO_FILE))?;
    #[cfg(unix)]
    File::open(home)?.sync_all()?;
    Ok(())
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::fixtures::{ALICE, home, with_identity};

    #[test]
    fn me_info_is_imported_or_rewritten_and_a_mismatch_refused() {
        let (_dir, home) = home();
        let (store, identity) = with_identity(&home);
        drop(store);
        let me_info = fs::read(home.join(ME_INFO_FILE)).unwrap();

        // A missing me.info is written again from the store.
        fs::remove_file(home.join(ME_INFO_FILE)).unwrap();
        drop(KeyStore::open(&home).unwrap());
        assert_eq!(fs::read(home.join(ME_INFO_FILE)).unwrap(), me_info);

        // A home with only me.info (as the reference client leaves it) is imported.
        let (_dir2, home2) = self::home();
        fs::create_dir_all(&home2).unwrap();
        fs::write(home2.join(ME_INFO_FILE), &me_info).unwrap();
        let store2 = KeyStore::open(&home2).unwrap();
        let stored = store2.identity().unwrap().unwrap();
        assert_eq!(stored.identity.bundle(), identity.bundle());
        assert_eq!(stored.client_id, ALICE);

        // Another identity in me.info than in the store: refuse to guess.
        let other = Identity::generate().unwrap();
        write_me_info(
            &home,
            &Name::new("alice").unwrap(),
            &ALICE,
            &other.to_secret_bytes(),
        )
        .unwrap();
        assert!(matches!(
            KeyStore::open(&home),
            Err(KeyStoreError::IdentityMismatch)
        ));
    }

    #[test]
    fn malformed_me_info_is_reported() {
        let cases = [
            "alice\n",
            "alice\nnot-hex\nAAAA\n",
            "alice\n11111111111111111111111111111111\n!!!\n",
            "alice\n11111111111111111111111111111111\nAAAA\n",
            "\n11111111111111111111111111111111\nAAAA\n",
        ];
        for text in cases {
            let (_dir, home) = home();
            fs::create_dir_all(&home).unwrap();
            fs::write(home.join(ME_INFO_FILE), text).unwrap();
            assert!(
                matches!(KeyStore::open(&home), Err(KeyStoreError::BadMeInfo(_))),
                "{text:?}"
            );
        }
    }
}
