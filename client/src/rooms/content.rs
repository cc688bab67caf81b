//! What a room's application messages carry (PROTOCOL.md "Room content"):
//! the plaintext MLS encrypts once for the room, typed so that a text and a
//! file announcement cannot be mistaken for each other.
//!
//! ```text
//! room content:  kind u8 | body
//!   kind 1 text:  text [rest]  (UTF-8, at least 1 byte)
//!   kind 2 file:  file key [32] | nonce prefix [19] | size u64 | SHA-256 of the plaintext [32]
//!                 | name len u8 (1..255) | name [name len]  (UTF-8)
//!   kind 3 deleted:  nothing  (the owner's notice of a 145, PROTOCOL.md "Deleting")
//!   kind 4 password changed:  nothing  (an admin's notice; no commit carries it)
//!   kind 5 receipt:  delivered through u64 | read through u64  (watermarks over the log)
//! ```
//!
//! Kinds from 128 up are optional: a client that does not know one skips
//! it (a newer client's signal, such as a receipt, that an older one can
//! do without); an unknown kind below 128 is shown as unreadable.
//!
//! The file's key and nonce prefix are those of the file body's stream
//! ([`crate::crypto::file`]); MLS keeps them confidential to the room's
//! members of that epoch. Left out: MLS itself (`sealpost-rooms`) and the
//! transfer of the body (`files.rs`).

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::crypto::file::{MAX_FILE_NAME_LEN, MAX_PLAINTEXT_LEN, NONCE_PREFIX_LEN};
use crate::crypto::{FileSecret, KEY_LEN};

/// Kind byte of a text.
const KIND_TEXT: u8 = 1;
/// Kind byte of a file announcement.
const KIND_FILE: u8 = 2;
/// Kind byte of the owner's notice that the room is deleted.
const KIND_DELETED: u8 = 3;
/// Kind byte of an admin's notice that the room's password changed.
const KIND_PASSWORD_CHANGED: u8 = 4;
/// Kind byte of a member's receipt.
const KIND_RECEIPT: u8 = 5;
/// The first optional kind: an unknown kind from here up is skipped, not
/// shown (PROTOCOL.md "Room content").
pub const FIRST_OPTIONAL_KIND: u8 = 128;
/// A file announcement's bytes before the name.
const FILE_FIXED_LEN: usize = 1 + KEY_LEN + NONCE_PREFIX_LEN + 8 + 32 + 1;

/// Why a room message's plaintext is not room content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContentError {
    /// The kind byte is none this client knows, below
    /// [`FIRST_OPTIONAL_KIND`]: a newer client's message to show.
    #[error(
        "a message of kind {0}, which this client does not know (a newer client sent it: update to read it)"
    )]
    UnknownKind(u8),
    /// An optional kind this client does not know: skipped.
    #[error("optional room content of kind {0}, which this client does not know")]
    UnknownOptionalKind(u8),
    /// The bytes do not follow the kind's layout.
    #[error("malformed room content: {0}")]
    Malformed(&'static str),
}

/// A file sent to a room: what a member needs to fetch, decrypt and check
/// it. The secret is wiped on drop; `Debug` does not show it.
#[derive(Debug)]
pub struct RoomFile {
    /// The body's key and nonce prefix.
    pub secret: FileSecret,
    /// The file's name as the sender gave it (escape before showing it).
    pub name: String,
    /// The plaintext's size in bytes.
    pub size: u64,
    /// SHA-256 of the plaintext.
    pub sha256: [u8; 32],
}

impl Clone for RoomFile {
    fn clone(&self) -> Self {
        Self {
            secret: FileSecret::from_parts(self.secret.key(), self.secret.nonce_prefix()),
            name: self.name.clone(),
            size: self.size,
            sha256: self.sha256,
        }
    }
}

/// The plaintext of a room application message.
#[derive(Debug, Clone)]
pub enum RoomContent {
    /// A text.
    Text(String),
    /// A file, whose body waits on the server under the entry's file id.
    File(RoomFile),
    /// The owner deleted the room (the notice of a 145; it comes as a
    /// type-6 message, never in the room's log).
    Deleted,
    /// An admin replaced the room's password (believed only from an admin).
    PasswordChanged,
    /// How far its sender has read the room's log (PROTOCOL.md "Room
    /// receipts"): entries up to `delivered` opened, up to `read` shown (0:
    /// none; never above `delivered`).
    Receipt {
        /// Opened up to this entry.
        delivered: u64,
        /// Shown up to this entry.
        read: u64,
    },
}

impl RoomContent {
    /// The bytes MLS encrypts (wiped on drop: a file's carry its key).
    ///
    /// # Errors
    /// An empty text; a file name empty or over 255 bytes, or a size over
    /// the stream's limit.
    pub fn encode(&self) -> Result<Zeroizing<Vec<u8>>, ContentError> {
        let mut out = Zeroizing::new(Vec::new());
        match self {
            RoomContent::Text(text) => {
                if text.is_empty() {
                    return Err(ContentError::Malformed("empty text"));
                }
                out.push(KIND_TEXT);
                out.extend_from_slice(text.as_bytes());
            }
            RoomContent::File(f) => {
                let name = f.name.as_bytes();
                if name.is_empty() || name.len() > MAX_FILE_NAME_LEN {
                    return Err(ContentError::Malformed("file name of 1 to 255 bytes"));
                }
                if f.size > MAX_PLAINTEXT_LEN {
                    return Err(ContentError::Malformed("file too large"));
                }
                out.reserve(FILE_FIXED_LEN + name.len());
                out.push(KIND_FILE);
                out.extend_from_slice(f.secret.key());
                out.extend_from_slice(f.secret.nonce_prefix());
                out.extend_from_slice(&f.size.to_le_bytes());
                out.extend_from_slice(&f.sha256);
                // Checked above: at most 255.
                out.push(name.len() as u8);
                out.extend_from_slice(name);
            }
            RoomContent::Deleted => out.push(KIND_DELETED),
            RoomContent::PasswordChanged => out.push(KIND_PASSWORD_CHANGED),
            RoomContent::Receipt { delivered, read } => {
                if read > delivered {
                    return Err(ContentError::Malformed("read beyond delivered"));
                }
                out.push(KIND_RECEIPT);
                out.extend_from_slice(&delivered.to_le_bytes());
                out.extend_from_slice(&read.to_le_bytes());
            }
        }
        Ok(out)
    }

    /// Reads room content, exactly (nothing may follow a file's name).
    ///
    /// # Errors
    /// [`ContentError`] for an unknown kind or a broken layout.
    pub fn decode(bytes: &[u8]) -> Result<Self, ContentError> {
        let (&kind, body) = bytes
            .split_first()
            .ok_or(ContentError::Malformed("empty"))?;
        match kind {
            KIND_TEXT => {
                if body.is_empty() {
                    return Err(ContentError::Malformed("empty text"));
                }
                let text = std::str::from_utf8(body)
                    .map_err(|_| ContentError::Malformed("text is not UTF-8"))?;
                Ok(RoomContent::Text(text.to_owned()))
            }
            KIND_FILE => decode_file(body).map(RoomContent::File),
            KIND_DELETED if body.is_empty() => Ok(RoomContent::Deleted),
            KIND_DELETED => Err(ContentError::Malformed("bytes after a deletion notice")),
            KIND_PASSWORD_CHANGED if body.is_empty() => Ok(RoomContent::PasswordChanged),
            KIND_PASSWORD_CHANGED => Err(ContentError::Malformed("bytes after a password notice")),
            KIND_RECEIPT => {
                let marks: &[u8; 16] = body
                    .try_into()
                    .map_err(|_| ContentError::Malformed("a receipt is 16 bytes"))?;
                let (delivered, read) = marks.split_at(8);
                let delivered = u64::from_le_bytes(delivered.try_into().expect("8 bytes"));
                let read = u64::from_le_bytes(read.try_into().expect("8 bytes"));
                if read > delivered {
                    return Err(ContentError::Malformed("read beyond delivered"));
                }
                Ok(RoomContent::Receipt { delivered, read })
            }
            other if other >= FIRST_OPTIONAL_KIND => Err(ContentError::UnknownOptionalKind(other)),
            other => Err(ContentError::UnknownKind(other)),
        }
    }
}

fn decode_file(body: &[u8]) -> Result<RoomFile, ContentError> {
    let short = ContentError::Malformed("file announcement too short");
    let (key, rest) = body.split_first_chunk::<KEY_LEN>().ok_or(short.clone())?;
    let (prefix, rest) = rest
        .split_first_chunk::<NONCE_PREFIX_LEN>()
        .ok_or(short.clone())?;
    let (size, rest) = rest.split_first_chunk::<8>().ok_or(short.clone())?;
    let (sha256, rest) = rest.split_first_chunk::<32>().ok_or(short.clone())?;
    let (&name_len, name) = rest.split_first().ok_or(short)?;
    if name_len == 0 || name.len() != usize::from(name_len) {
        return Err(ContentError::Malformed("file name length"));
    }
    let name =
        std::str::from_utf8(name).map_err(|_| ContentError::Malformed("file name is not UTF-8"))?;
    let size = u64::from_le_bytes(*size);
    if size > MAX_PLAINTEXT_LEN {
        return Err(ContentError::Malformed("file too large"));
    }
    Ok(RoomFile {
        secret: FileSecret::from_parts(key, prefix),
        name: name.to_owned(),
        size,
        sha256: *sha256,
    })
}

/// SHA-256 of `data` (small inputs: tests and examples).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document_block(name: &str) -> Vec<u8> {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../PROTOCOL.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let blocks = protocol::notation::blocks(&doc, "room-content").unwrap();
        protocol::notation::parse_hex(&blocks[name]).unwrap()
    }

    fn example_file() -> RoomFile {
        RoomFile {
            secret: FileSecret::from_parts(&[0x6b; 32], &[0x70; 19]),
            name: "notes.txt".into(),
            size: 10,
            sha256: sha256(b"hello file"),
        }
    }

    #[test]
    fn the_documented_examples_are_what_the_client_encodes() {
        let text = RoomContent::Text("hi room".into()).encode().unwrap();
        assert_eq!(&text[..], &document_block("room-text")[..]);
        let file = RoomContent::File(example_file()).encode().unwrap();
        assert_eq!(&file[..], &document_block("room-file")[..]);
        let deleted = RoomContent::Deleted.encode().unwrap();
        assert_eq!(&deleted[..], &document_block("room-deleted")[..]);
        assert!(matches!(
            RoomContent::decode(&deleted),
            Ok(RoomContent::Deleted)
        ));
        let changed = RoomContent::PasswordChanged.encode().unwrap();
        assert_eq!(&changed[..], &document_block("room-password-changed")[..]);
        assert!(matches!(
            RoomContent::decode(&changed),
            Ok(RoomContent::PasswordChanged)
        ));
        let receipt = RoomContent::Receipt {
            delivered: 12,
            read: 9,
        }
        .encode()
        .unwrap();
        assert_eq!(&receipt[..], &document_block("room-receipt")[..]);
        assert_eq!(
            RoomContent::decode(&document_block("room-optional")).unwrap_err(),
            ContentError::UnknownOptionalKind(128)
        );
        assert!(matches!(
            RoomContent::decode(&receipt),
            Ok(RoomContent::Receipt {
                delivered: 12,
                read: 9
            })
        ));
        match RoomContent::decode(&file).unwrap() {
            RoomContent::File(f) => {
                assert_eq!((f.name.as_str(), f.size), ("notes.txt", 10));
                assert_eq!(f.sha256, sha256(b"hello file"));
                assert_eq!(f.secret.key(), &[0x6b; 32]);
                assert_eq!(f.secret.nonce_prefix(), &[0x70; 19]);
            }
            other => panic!("decoded {other:?}"),
        }
    }

    #[test]
    fn refuses_what_breaks_the_layout() {
        let file = RoomContent::File(example_file()).encode().unwrap();
        let mut longer = file.to_vec();
        longer.push(0);
        let mut read_beyond = vec![5];
        read_beyond.extend_from_slice(&3u64.to_le_bytes());
        read_beyond.extend_from_slice(&4u64.to_le_bytes());
        let cases: [&[u8]; 11] = [
            &[5, 0],
            &read_beyond,
            &[5; 18],
            &[],
            &[3, 0],
            &[4, 0],
            &[1],
            &[1, 0xff],
            &file[..file.len() - 1],
            &longer,
            &[9, 1, 2],
        ];
        for bad in cases {
            assert!(RoomContent::decode(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            RoomContent::decode(&[9]).unwrap_err(),
            ContentError::UnknownKind(9)
        );
        // From 128 up an unknown kind is optional, whatever its body.
        assert_eq!(
            RoomContent::decode(&[127, 1]).unwrap_err(),
            ContentError::UnknownKind(127)
        );
        for optional in [&[128u8][..], &[128, 1, 2], &[255]] {
            assert_eq!(
                RoomContent::decode(optional).unwrap_err(),
                ContentError::UnknownOptionalKind(optional[0])
            );
        }
        let mut no_name = example_file();
        no_name.name.clear();
        assert!(RoomContent::File(no_name).encode().is_err());
        let backwards = RoomContent::Receipt {
            delivered: 1,
            read: 2,
        };
        assert!(backwards.encode().is_err());
    }

    mod arbitrary {
        use proptest::prelude::*;

        use super::super::{ContentError, FIRST_OPTIONAL_KIND, RoomContent};

        fn plaintext() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                prop::collection::vec(any::<u8>(), 0..200),
                // The kinds this client knows and their neighbours, with
                // bodies around a file announcement's length.
                (0u8..7, prop::collection::vec(any::<u8>(), 0..130)).prop_map(|(kind, body)| [
                    vec![kind],
                    body
                ]
                .concat()),
                file_announcement(),
            ]
        }

        /// A file announcement laid out right but with any size up to twice
        /// the limit, a name length from 0 to 255 and a name one byte short
        /// of it, exact or one over.
        fn file_announcement() -> impl Strategy<Value = Vec<u8>> {
            let limit = crate::crypto::file::MAX_PLAINTEXT_LEN;
            (
                any::<[u8; 32]>(),
                any::<[u8; 19]>(),
                0..2 * limit,
                any::<u8>(),
                -1i32..=1,
                // Printable ASCII: random bytes would rarely be UTF-8, and
                // the first branch covers those.
                prop::collection::vec(0x20u8..0x7f, 0..257),
            )
                .prop_map(|(key, prefix, size, name_len, skew, name)| {
                    let want = (i32::from(name_len) + skew).max(0) as usize;
                    let mut out = vec![2];
                    out.extend_from_slice(&key);
                    out.extend_from_slice(&prefix);
                    out.extend_from_slice(&size.to_le_bytes());
                    out.extend_from_slice(&[0x33; 32]);
                    out.push(name_len);
                    out.extend(
                        name.iter()
                            .copied()
                            .chain(std::iter::repeat(b'a'))
                            .take(want),
                    );
                    out
                })
        }

        proptest! {
            /// A member's client may be broken or hostile: whatever
            /// plaintext it encrypts for the room, reading it never panics,
            /// an unknown kind is optional exactly from 128 up, and what
            /// decodes has one spelling (encoding it again gives the same
            /// bytes).
            #[test]
            fn any_room_plaintext_decodes_to_its_one_spelling_or_is_refused(bytes in plaintext()) {
                match RoomContent::decode(&bytes) {
                    Ok(content) => {
                        let again = content.encode().expect("what decodes encodes");
                        prop_assert_eq!(&again[..], &bytes[..]);
                    }
                    Err(ContentError::UnknownOptionalKind(kind)) => {
                        prop_assert!(kind >= FIRST_OPTIONAL_KIND);
                        prop_assert_eq!(Some(&kind), bytes.first());
                    }
                    Err(ContentError::UnknownKind(kind)) => {
                        prop_assert!(kind < FIRST_OPTIONAL_KIND);
                        prop_assert!(!(1..=5).contains(&kind));
                    }
                    Err(ContentError::Malformed(_)) => {}
                }
            }
        }
    }
}
