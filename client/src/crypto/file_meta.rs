//! The sealed file metadata (type 4): the file offer's meta is an
//! envelope (see [`envelope`](super::envelope)) of type 4 whose plaintext is
//!
//! ```text
//!  name len u16 | name [name len] (UTF-8, 1..255 bytes) | plaintext size u64 | file key [32] | nonce prefix [19]
//! ```
//!
//! at most 49 + 2 + 255 + 8 + 32 + 19 + 16 = 381 bytes, well under
//! `protocol::MAX_FILE_META_LEN`. The name is the sender's choice: a receiver
//! must make it safe before using it as a path or printing it.
//!
//! Apart from [`super::file`] (the body's chunked encryption), which it
//! only takes the key and the size limits from.

use std::fmt;

use rand::rngs::OsRng;
use rand::{CryptoRng, RngCore};
use zeroize::{Zeroize, Zeroizing};

use super::file::{FileSecret, MAX_FILE_NAME_LEN, NONCE_PREFIX_LEN, check_size, ciphertext_len};
use super::sealed::{Opened, SealedKind};
use super::window::ReplayWindow;
use super::{CryptoError, KEY_LEN, Session};

/// What the sender tells the recipient about a file, sealed into the offer's
/// meta: its name, plaintext size, and the key to its body.
pub struct FileMeta {
    /// The file's name as the sender gave it (1 to 255 bytes of UTF-8,
    /// not yet safe to use as a path).
    pub name: String,
    /// The plaintext size.
    pub size: u64,
    /// The body's key and nonce prefix.
    pub secret: FileSecret,
}

impl FileMeta {
    /// Metadata for a new file, with a fresh secret.
    ///
    /// # Errors
    /// [`CryptoError::EmptyFileName`], [`CryptoError::TooLarge`] for a name
    /// over 255 bytes or a file over [`MAX_PLAINTEXT_LEN`](super::file::MAX_PLAINTEXT_LEN),
    /// [`CryptoError::Randomness`].
    pub fn new(name: impl Into<String>, size: u64) -> Result<Self, CryptoError> {
        Self::with_secret(name, size, FileSecret::generate()?)
    }

    /// Metadata with a given secret.
    ///
    /// # Errors
    /// As [`FileMeta::new`], except randomness.
    pub fn with_secret(
        name: impl Into<String>,
        size: u64,
        secret: FileSecret,
    ) -> Result<Self, CryptoError> {
        let name = name.into();
        check_name(&name)?;
        check_size(size)?;
        Ok(Self { name, size, secret })
    }

    /// Exact size of the body's ciphertext: what the file offer's size must
    /// be.
    pub fn ciphertext_len(&self) -> u64 {
        ciphertext_len(self.size)
    }

    fn encode(&self) -> Zeroizing<Vec<u8>> {
        let name = self.name.as_bytes();
        let mut out = Zeroizing::new(Vec::with_capacity(
            2 + name.len() + 8 + KEY_LEN + NONCE_PREFIX_LEN,
        ));
        // check_name keeps the name at most 255 bytes, so it fits a u16.
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(self.secret.key());
        out.extend_from_slice(self.secret.nonce_prefix());
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, CryptoError> {
        let bad = || CryptoError::BadPlaintext;
        let (len, rest) = bytes.split_at_checked(2).ok_or_else(bad)?;
        let name_len = usize::from(u16::from_le_bytes([len[0], len[1]]));
        let (name, rest) = rest.split_at_checked(name_len).ok_or_else(bad)?;
        if rest.len() != 8 + KEY_LEN + NONCE_PREFIX_LEN {
            return Err(bad());
        }
        let (size, rest) = rest.split_at(8);
        let (key, prefix) = rest.split_at(KEY_LEN);
        let name = std::str::from_utf8(name).map_err(|_| bad())?.to_owned();
        let mut size_bytes = [0u8; 8];
        size_bytes.copy_from_slice(size);
        let mut key_bytes = Zeroizing::new([0u8; KEY_LEN]);
        key_bytes.copy_from_slice(key);
        let mut prefix_bytes = [0u8; NONCE_PREFIX_LEN];
        prefix_bytes.copy_from_slice(prefix);
        let secret = FileSecret::from_parts(&key_bytes, &prefix_bytes);
        prefix_bytes.zeroize();
        Self::with_secret(name, u64::from_le_bytes(size_bytes), secret).map_err(|_| bad())
    }
}

fn check_name(name: &str) -> Result<(), CryptoError> {
    if name.is_empty() {
        return Err(CryptoError::EmptyFileName);
    }
    if name.len() > MAX_FILE_NAME_LEN {
        return Err(CryptoError::TooLarge {
            what: "file name",
            len: name.len() as u64,
            max: MAX_FILE_NAME_LEN as u64,
        });
    }
    Ok(())
}

impl fmt::Debug for FileMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileMeta")
            .field("name", &self.name)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Seals file metadata for the file offer's meta (type 4), with send
    /// counter `counter`.
    ///
    /// # Errors
    /// As [`Session::seal`].
    pub fn seal_file_meta(&self, counter: u64, meta: &FileMeta) -> Result<Vec<u8>, CryptoError> {
        self.seal_file_meta_with_rng(counter, meta, super::envelope::now_ms(), &mut OsRng)
    }

    /// [`Session::seal_file_meta`] with the sender's time given and the
    /// nonce drawn from `rng`.
    ///
    /// # Errors
    /// As [`Session::seal`].
    pub fn seal_file_meta_with_rng<R: RngCore + CryptoRng>(
        &self,
        counter: u64,
        meta: &FileMeta,
        sent_at_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<u8>, CryptoError> {
        self.seal_with_rng(
            SealedKind::FileMeta,
            counter,
            sent_at_ms,
            &meta.encode(),
            rng,
        )
    }

    /// Opens a file offer's meta.
    ///
    /// # Errors
    /// As [`Session::open`]; [`CryptoError::BadPlaintext`] if the authentic
    /// plaintext does not follow the metadata layout.
    pub fn open_file_meta(
        &self,
        meta: &[u8],
        window: &ReplayWindow,
    ) -> Result<Opened<FileMeta>, CryptoError> {
        let opened = self.open(SealedKind::FileMeta, meta, window)?;
        Ok(Opened {
            counter: opened.counter,
            sent_at_ms: opened.sent_at_ms,
            plaintext: FileMeta::decode(&opened.plaintext)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::file::MAX_PLAINTEXT_LEN;
    use crate::crypto::test_support::{kat_handshake, kat_meta};

    fn window_after(counter: u64) -> ReplayWindow {
        let mut w = ReplayWindow::default();
        w.record(counter);
        w
    }

    #[test]
    fn meta_round_trips_and_fits_the_offer() {
        let (sa, sb, _, _) = kat_handshake();
        let name = "ä".repeat(127) + "x"; // 255 bytes
        let meta = FileMeta::new(name.clone(), 12345).unwrap();
        let sealed = sa.seal_file_meta(7, &meta).unwrap();
        assert!(sealed.len() <= protocol::MAX_FILE_META_LEN);
        assert_eq!(sealed.len(), 389);
        let opened = sb.open_file_meta(&sealed, &window_after(6)).unwrap();
        assert_eq!(opened.counter, 7);
        assert_eq!(opened.plaintext.name, name);
        assert_eq!(opened.plaintext.size, 12345);
        assert_eq!(opened.plaintext.secret.key(), meta.secret.key());
        assert_eq!(
            opened.plaintext.secret.nonce_prefix(),
            meta.secret.nonce_prefix()
        );
        assert!(matches!(
            sb.open_file_meta(&sealed, &window_after(7)),
            Err(CryptoError::Replayed)
        ));
        // A meta sealed as a text does not open as a meta.
        let as_text = sa.seal(SealedKind::Text, 8, &meta.encode()).unwrap();
        assert!(matches!(
            sb.open_file_meta(&as_text, &ReplayWindow::default()),
            Err(CryptoError::DecryptFailed)
        ));
        let debug = format!("{meta:?}");
        assert!(!debug.contains(&hex::encode(meta.secret.key())[..8]));
    }

    #[test]
    fn meta_refuses_bad_names_and_layouts() {
        assert!(matches!(
            FileMeta::new("", 1),
            Err(CryptoError::EmptyFileName)
        ));
        assert!(matches!(
            FileMeta::new("x".repeat(256), 1),
            Err(CryptoError::TooLarge { .. })
        ));
        assert!(FileMeta::new("x", MAX_PLAINTEXT_LEN + 1).is_err());
        let (sa, sb, _, _) = kat_handshake();
        let good = FileMeta::new("a.txt", 3).unwrap().encode();
        let mut cases: Vec<Vec<u8>> = vec![
            vec![],
            good[..good.len() - 1].to_vec(),
            [&good[..], &[0]].concat(),
        ];
        let mut bad_utf8 = good.to_vec();
        bad_utf8[2] = 0xff;
        cases.push(bad_utf8);
        let mut empty_name = vec![0, 0];
        empty_name.extend_from_slice(&good[2 + 5..]);
        cases.push(empty_name);
        for (i, plaintext) in cases.iter().enumerate() {
            let sealed = sa.seal(SealedKind::FileMeta, 1, plaintext).unwrap();
            assert!(
                matches!(
                    sb.open_file_meta(&sealed, &ReplayWindow::default()),
                    Err(CryptoError::BadPlaintext)
                ),
                "case {i}"
            );
        }
    }

    #[test]
    fn known_answer_file_meta() {
        assert_eq!(hex::encode(kat_meta()), KAT_META);
    }

    const KAT_META: &str = "015a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a02000000000000007b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b7b78ec6eb3cb04cc4b8ffb0df1869d0859a061bc097c54356e202e907f18d24f3276694c37aae4a6cbcdbbf3472a57d9b148e9185cba2d6e42453d798cf830e119e1efe99cbdcd2f0dbfad1f42cfd600f35fadde53e1ed19ac66dc8107f9fd";
}
