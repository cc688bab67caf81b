//! Encryption at rest: how a home folder's stores are keyed.
//!
//! Both SQLite files of a home (`store.db`: identity, pins, sessions,
//! history; `rooms.db`: the MLS state) are SQLCipher databases keyed with
//! 32 bytes derived from the user's passphrase by Argon2id (the `argon2`
//! crate's default cost: 19 MiB, 2 passes) and a random 16-byte salt. The
//! salt, and whether the home has a passphrase at all, are in the small
//! plain file `at-rest` beside the stores: neither is secret, and a later
//! run must know both before it can open anything.
//!
//! A home set up with `--no-passphrase` records `none` there, so that every
//! later run knows it is plain (and says so) rather than asking. A home made
//! before encryption at rest (a `store.db` and no `at-rest`) is taken as
//! plain in the same way.

use std::fs;
use std::io::Write;
use std::path::Path;

use rand::RngCore;
use zeroize::Zeroizing;

use super::error::KeyStoreError;
use crate::disk::open_private;

/// Name of the database file in the home folder.
pub const STORE_FILE: &str = "store.db";
/// The record of how a home is keyed.
pub const AT_REST_FILE: &str = "at-rest";
const SALT_LEN: usize = 16;
/// The key handed to SQLCipher.
pub const KEY_LEN: usize = 32;

/// What the user chose for a home: a passphrase, or none (stated loudly).
#[derive(Clone)]
pub enum Protection {
    /// The stores are encrypted with a key derived from this passphrase.
    Passphrase(Zeroizing<String>),
    /// The stores are plain SQLite (unattended scripts that cannot give a
    /// passphrase; the file modes alone protect them).
    NoPassphrase,
}

impl Protection {
    /// A passphrase.
    pub fn passphrase(text: impl Into<String>) -> Self {
        Self::Passphrase(Zeroizing::new(text.into()))
    }
}

impl std::fmt::Debug for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Passphrase(_) => "Passphrase(..)",
            Self::NoPassphrase => "NoPassphrase",
        })
    }
}

/// The raw SQLCipher key of a home.
#[derive(Clone)]
pub struct StoreKey(Zeroizing<[u8; KEY_LEN]>);

impl StoreKey {
    /// The raw bytes (for the rooms engine's store).
    pub fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(..)")
    }
}

/// How a home is recorded as keyed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// Encrypted; the Argon2id salt.
    Passphrase([u8; SALT_LEN]),
    /// Plain, by the user's choice (or made before encryption at rest).
    NoPassphrase,
}

/// Reads the home's record; `None` for a home not set up yet.
///
/// # Errors
/// The file cannot be read, or is not a record.
pub fn read_record(home: &Path) -> Result<Option<Record>, KeyStoreError> {
    let text = match fs::read_to_string(home.join(AT_REST_FILE)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A store made before encryption at rest is plain.
            return Ok(home
                .join(STORE_FILE)
                .exists()
                .then_some(Record::NoPassphrase));
        }
        Err(e) => return Err(e.into()),
    };
    let mut words = text.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some("sealpost-at-rest-1"), Some("none"), None) => Ok(Some(Record::NoPassphrase)),
        (Some("sealpost-at-rest-1"), Some(salt), None) => {
            let mut out = [0u8; SALT_LEN];
            hex::decode_to_slice(salt, &mut out)
                .map_err(|_| KeyStoreError::Corrupt("the at-rest file's salt is not hex"))?;
            Ok(Some(Record::Passphrase(out)))
        }
        _ => Err(KeyStoreError::Corrupt(
            "the at-rest file is not a Sealpost record",
        )),
    }
}

/// Replaces the record atomically (written beside, synced, renamed).
///
/// # Errors
/// The file cannot be written.
pub fn write_record(home: &Path, record: &Record) -> Result<(), KeyStoreError> {
    let text = match record {
        Record::Passphrase(salt) => format!("sealpost-at-rest-1 {}\n", hex::encode(salt)),
        Record::NoPassphrase => "sealpost-at-rest-1 none\n".to_string(),
    };
    let tmp = home.join(format!("{AT_REST_FILE}.new"));
    let mut file = open_private(&tmp, true)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    fs::rename(&tmp, home.join(AT_REST_FILE))?;
    Ok(())
}

/// A new random salt.
pub fn new_salt() -> [u8; SALT_LEN] {
    let mut salt = [0u8; SALT_LEN];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    salt
}

/// Argon2id(passphrase, salt) with the crate's recommended parameters.
///
/// # Errors
/// Argon2 refused the input (an empty salt cannot happen here).
pub fn derive(passphrase: &str, salt: &[u8; SALT_LEN]) -> Result<StoreKey, KeyStoreError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    argon2::Argon2::default()
        .hash_password_into(passphrase.as_bytes(), salt, &mut *key)
        .map_err(|_| KeyStoreError::Corrupt("argon2 refused the passphrase"))?;
    Ok(StoreKey(key))
}

/// The key for `home` under `protection`, setting the home up on first
/// use (a new salt, or the record of no passphrase). `None`: plain stores.
///
/// # Errors
/// [`KeyStoreError::PassphraseNeeded`] (an encrypted home and no
/// passphrase), [`KeyStoreError::NoPassphraseHome`] (a passphrase for a
/// plain home), I/O.
pub fn unlock(home: &Path, protection: &Protection) -> Result<Option<StoreKey>, KeyStoreError> {
    crate::disk::create_private_dir(home)?;
    match (read_record(home)?, protection) {
        (Some(Record::Passphrase(salt)), Protection::Passphrase(p)) => Ok(Some(derive(p, &salt)?)),
        (Some(Record::Passphrase(_)), Protection::NoPassphrase) => {
            Err(KeyStoreError::PassphraseNeeded)
        }
        (Some(Record::NoPassphrase), Protection::NoPassphrase) => Ok(None),
        (Some(Record::NoPassphrase), Protection::Passphrase(_)) => {
            Err(KeyStoreError::NoPassphraseHome)
        }
        (None, Protection::Passphrase(p)) => {
            let salt = new_salt();
            let key = derive(p, &salt)?;
            write_record(home, &Record::Passphrase(salt))?;
            Ok(Some(key))
        }
        (None, Protection::NoPassphrase) => {
            write_record(home, &Record::NoPassphrase)?;
            Ok(None)
        }
    }
}

/// `PRAGMA key` (or `rekey`) as SQLCipher reads a raw key: no KDF of its own.
pub fn key_pragma(verb: &str, key: &StoreKey) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "PRAGMA {verb} = \"x'{}'\";",
        hex::encode(key.bytes())
    ))
}

/// Keys `conn` (before any other statement) and checks the key opens it: a
/// wrong key makes SQLCipher fail on the first read.
///
/// # Errors
/// [`KeyStoreError::WrongPassphrase`].
pub fn apply_key(conn: &rusqlite::Connection, key: Option<&StoreKey>) -> Result<(), KeyStoreError> {
    let Some(key) = key else {
        return Ok(());
    };
    conn.execute_batch(&key_pragma("key", key))?;
    // After the key: SQLCipher sets its default log level when the key
    // activates it, and reads no page before the check below.
    quiet(conn)?;
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|_| KeyStoreError::WrongPassphrase)?;
    Ok(())
}

/// Silences SQLCipher's own log, which writes to standard error (a wrong
/// key would print three lines of page errors before our one line). The
/// level is process-wide; setting it on every keyed connection is cheap.
///
/// # Errors
/// Database errors.
pub fn quiet(conn: &rusqlite::Connection) -> Result<(), rusqlite::Error> {
    let mut stmt = conn.prepare("PRAGMA cipher_log_level = NONE")?;
    let mut rows = stmt.query([])?;
    while rows.next()?.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_round_trips_and_decides_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("h");
        let p = Protection::passphrase("correct horse");
        let k1 = unlock(&home, &p).unwrap().unwrap();
        let k2 = unlock(&home, &p).unwrap().unwrap();
        assert_eq!(k1.bytes(), k2.bytes(), "same salt, same key");
        let other = unlock(&home, &Protection::passphrase("wrong"))
            .unwrap()
            .unwrap();
        assert_ne!(k1.bytes(), other.bytes());
        assert!(matches!(
            unlock(&home, &Protection::NoPassphrase),
            Err(KeyStoreError::PassphraseNeeded)
        ));
        let plain = dir.path().join("p");
        assert!(unlock(&plain, &Protection::NoPassphrase).unwrap().is_none());
        assert_eq!(read_record(&plain).unwrap(), Some(Record::NoPassphrase));
        assert!(matches!(
            unlock(&plain, &p),
            Err(KeyStoreError::NoPassphraseHome)
        ));
    }
}
