//! The server's Ed25519 identity: created on first start, kept in
//! `<data>/server.key` (owner-only), proven to clients in every version-3
//! handshake so that they can pin it.

use std::fs;
use std::io::Write;
use std::path::Path;

use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::StoreError;

/// Label hashed with the key for its fingerprint (PROTOCOL.md, Server identity).
pub const FINGERPRINT_LABEL: &[u8] = b"sealpost/v3/server-fingerprint";

/// The server's signing key.
pub struct ServerIdentity {
    key: SigningKey,
}

impl std::fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerIdentity({})", self.fingerprint())
    }
}

impl ServerIdentity {
    /// Loads the key at `path`, creating it (mode 0600) if there is none.
    /// Returns whether it was created.
    ///
    /// # Errors
    /// The file exists but is not a key, or cannot be read or written.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), StoreError> {
        match Self::load(path) {
            Ok(identity) => Ok((identity, false)),
            Err(StoreError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = SigningKey::generate(&mut rand::rngs::OsRng);
                write_private(path, &key.to_bytes())?;
                Ok((Self { key }, true))
            }
            Err(e) => Err(e),
        }
    }

    /// Loads the key at `path`; never creates one.
    ///
    /// # Errors
    /// [`StoreError::Io`] of kind `NotFound` if there is no key; the file is
    /// not a key or cannot be read.
    pub fn load(path: &Path) -> Result<Self, StoreError> {
        let bytes = fs::read(path)?;
        let seed: Zeroizing<[u8; 32]> =
            Zeroizing::new(bytes.as_slice().try_into().map_err(|_| {
                StoreError::Corrupt(format!(
                    "{} is {} bytes, not a 32-byte Ed25519 key",
                    path.display(),
                    bytes.len()
                ))
            })?);
        let mut bytes = bytes;
        zeroize::Zeroize::zeroize(&mut bytes);
        warn_if_readable_by_others(path);
        Ok(Self {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// The public key clients pin.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// The fingerprint people compare with what their client pinned.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.public_key())
    }
}

/// Thirty digits in six groups of five: each group is five bytes of
/// SHA-256(label ‖ key), read big-endian, modulo 100000.
pub fn fingerprint(key: &[u8; 32]) -> String {
    let digest = Sha256::new()
        .chain_update(FINGERPRINT_LABEL)
        .chain_update(key)
        .finalize();
    digest[..30]
        .chunks_exact(5)
        .map(|c| {
            let n = c.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            format!("{:05}", n % 100_000)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes a secret file readable by its owner only, atomically.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_extension("tmp");
    let mut options = crate::datadir::private_file_options();
    options.write(true).create_new(true);
    let _ = fs::remove_file(&tmp);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    "the server key is readable by other users; run chmod 600 on it"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_then_loads_the_same_key_with_owner_only_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.key");
        let (a, created) = ServerIdentity::load_or_create(&path).unwrap();
        assert!(created);
        let (b, created) = ServerIdentity::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(a.public_key(), b.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn refuses_a_file_that_is_not_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.key");
        fs::write(&path, b"not a key").unwrap();
        assert!(matches!(
            ServerIdentity::load_or_create(&path),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn fingerprint_is_six_groups_of_five_digits() {
        let f = fingerprint(&[7; 32]);
        assert_eq!(f.len(), 35);
        assert!(
            f.split(' ')
                .all(|g| g.len() == 5 && g.bytes().all(|b| b.is_ascii_digit()))
        );
        assert_ne!(f, fingerprint(&[8; 32]));
        // Known answer, computed independently (Python hashlib) so that other
        // clients can check their implementation against it.
        assert_eq!(f, "39415 55971 82371 46011 55991 16940");
    }
}
