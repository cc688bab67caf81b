//! The client's cryptography: who a user is, how two users agree on keys, and
//! how texts and files are sealed between them.
//!
//! This module knows nothing of the network, the terminal or the disk. It
//! turns keys and plaintext into the opaque bytes that the `protocol` crate
//! carries, and back. Persistence (which sessions exist, counters) is the
//! [`keystore`](crate::keystore)'s business.
//!
//! - [`identity`]: a user's long-term secrets and the signed key bundle.
//! - [`bundle`]: checking a peer's bundle before use ([`VerifiedBundle`]).
//! - [`fingerprint`]: digits people compare out of band (safety numbers).
//! - [`session`]: the X3DH-style agreement (message types 1 and 2).
//! - [`envelope`]: sealed texts (type 3) and the common envelope format.
//! - [`sealed`]: the kinds an envelope holds, their sizes, what opening gives.
//! - [`file`](mod@file): chunked file encryption.
//! - [`file_meta`]: the sealed file metadata (type 4).
//! - [`receipt`]: the delivered/read receipt a recipient sends back (a
//!   type-3 content).
//! - [`refusal`]: the refusal notice a recipient sends back (a type-3 content).
//! - [`window`]: which counters were received (out of order, no duplicates).
//!
//! Every byte of the formats is documented in PROTOCOL.md, section
//! "End-to-end formats (version-3 clients)", and next to the code.
//!
//! Rules kept throughout: secrets live in types that zeroize on drop and have
//! no `Debug` that could print them; tags and fingerprints are compared in
//! constant time (`subtle`); a failed check while opening anything a peer
//! sent is the single, deliberately vague [`CryptoError::DecryptFailed`].

pub mod bundle;
pub mod envelope;
pub mod file;
pub mod file_meta;
pub mod fingerprint;
pub mod identity;
pub mod receipt;
pub mod refusal;
pub mod sealed;
pub mod session;
pub mod window;

#[cfg(test)]
mod protocol_md;
#[cfg(test)]
mod untrusted_tests;

pub use bundle::VerifiedBundle;
pub use file::{FileDecryptor, FileEncryptor, FileSecret, ciphertext_len};
pub use file_meta::FileMeta;
pub use fingerprint::{Fingerprint, SafetyNumber};
pub use identity::Identity;
pub use receipt::{Receipt, ReceiptKind};
pub use refusal::{Refusal, RefusalReason};
pub use sealed::{Opened, SealedKind};
pub use session::{Role, Session, SessionId, content_session_id};
pub use window::ReplayWindow;

/// Version byte that starts every type 1, 2, 3 and 4 content (and the
/// sealed file metadata) made by this client, except refusal notices.
pub const FORMAT_VERSION: u8 = 1;
/// First byte of a refusal notice (a type-3 content): in clear, so that a
/// client never answers one with a refusal, even one it cannot open.
pub const REFUSAL_FORMAT: u8 = 2;
/// First byte of a receipt (a type-3 content): in clear, so that a client
/// never answers one, with a receipt or a refusal.
pub const RECEIPT_FORMAT: u8 = 3;

/// Size of an XChaCha20-Poly1305 nonce.
pub const NONCE_LEN: usize = 24;
/// Size of a Poly1305 tag.
pub const TAG_LEN: usize = 16;
/// Size of every symmetric key (session directions, confirmation, files).
pub const KEY_LEN: usize = 32;

/// Why a cryptographic operation failed.
///
/// Opening what a peer sent fails with [`CryptoError::DecryptFailed`] whatever
/// check failed (bad tag, wrong key, malformed bytes, unknown version): the
/// detail would only help an attacker. A stale counter is reported apart as
/// [`CryptoError::Replayed`], because the counter travels in clear anyway.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The content could not be authenticated or decrypted.
    #[error("decryption failed")]
    DecryptFailed,
    /// The content is authentic but its counter was already received (see
    /// [`window`]): a true duplicate.
    #[error("duplicate message")]
    Replayed,
    /// The content is authentic but its counter is below the replay window:
    /// it may have been received before, and the window no longer knows.
    #[error("message older than the replay window")]
    TooOld,
    /// A key bundle's signature or keys are invalid.
    #[error("invalid key bundle")]
    InvalidBundle,
    /// Authentic content whose plaintext does not follow its format (text
    /// that is not UTF-8, file metadata with a bad layout).
    #[error("malformed plaintext from peer")]
    BadPlaintext,
    /// The plaintext is too large for its container (a text over the message
    /// limit, a file name over 255 bytes, a file over the stream's limit).
    #[error("{what} too large: {len} bytes, at most {max}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        len: u64,
        /// The largest allowed.
        max: u64,
    },
    /// A file name is empty.
    #[error("empty file name")]
    EmptyFileName,
    /// A send counter of 0 (counters start at 1).
    #[error("send counter must be at least 1")]
    BadCounter,
    /// The file being encrypted is not the size that was declared: it
    /// changed while it was read.
    #[error("the file changed while it was being encrypted")]
    FileChanged,
    /// The resume offset is past the end of the ciphertext.
    #[error("offset {offset} is past the end of the {len}-byte ciphertext")]
    BadOffset {
        /// The offset asked for.
        offset: u64,
        /// The ciphertext's length.
        len: u64,
    },
    /// The operating system's random generator failed.
    #[error("random generator failed")]
    Randomness,
    /// Reading the plaintext or writing the decrypted file failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Fills `buf` from `rng`, reporting a failing generator as an error rather
/// than a panic.
pub(crate) fn fill_random<R: rand::RngCore + ?Sized>(
    rng: &mut R,
    buf: &mut [u8],
) -> Result<(), CryptoError> {
    rng.try_fill_bytes(buf).map_err(|_| CryptoError::Randomness)
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Fixed inputs for known-answer tests.

    use rand::{CryptoRng, RngCore};

    use super::Identity;

    /// An identity whose 96 secret bytes are `seed, seed + 1, ...` (wrapping).
    pub fn fixed_identity(seed: u8) -> Identity {
        let mut secret = [0u8; super::identity::SECRET_LEN];
        for (i, b) in secret.iter_mut().enumerate() {
            // i < 96, so the cast cannot truncate.
            *b = seed.wrapping_add(i as u8);
        }
        Identity::from_secret_bytes(&secret)
    }

    /// Alice's client id in the examples.
    pub const ALICE: protocol::ClientId = protocol::ClientId([0x11; 16]);
    /// Bob's client id in the examples.
    pub const BOB: protocol::ClientId = protocol::ClientId([0x22; 16]);

    /// The handshake of PROTOCOL.md's examples: Alice's secrets are the bytes
    /// 1, 2, 3, ... and Bob's 101, 102, ...; ephemeral secret `41*32`,
    /// session id `5a*16`, offer nonce `4e*24`, answer nonce `6e*24`.
    /// Returns Alice's session, Bob's, the offer and the answer.
    pub fn kat_handshake() -> (super::Session, super::Session, Vec<u8>, Vec<u8>) {
        let a = fixed_identity(1);
        let b = fixed_identity(101);
        let a_bundle = super::VerifiedBundle::verify(&a.bundle()).unwrap();
        let b_bundle = super::VerifiedBundle::verify(&b.bundle()).unwrap();
        let mut rng = Replay::new(&[&[0x41; 32], &[0x5a; 16], &[0x4e; 24]]);
        let (sa, offer) =
            super::Session::initiate_with_rng(&a, ALICE, BOB, &b_bundle, &mut rng).unwrap();
        assert!(rng.is_spent());
        let mut rng = Replay::new(&[&[0x6e; 24]]);
        let (sb, answer) =
            super::Session::accept_offer_with_rng(&b, BOB, ALICE, &a_bundle, &offer, &mut rng)
                .unwrap();
        assert!(rng.is_spent());
        (sa, sb, offer, answer)
    }

    /// The sender's time of PROTOCOL.md's text: 2026-01-01 00:00:00 UTC.
    pub const KAT_TIME: u64 = 1_767_225_600_000;
    /// The sender's time of PROTOCOL.md's file metadata, a minute later.
    pub const KAT_META_TIME: u64 = KAT_TIME + 60_000;

    /// The sealed text of PROTOCOL.md: "hi bob" from Alice, counter 1,
    /// sent at [`KAT_TIME`], nonce `7a*24`, in the session of [`kat_handshake`].
    pub fn kat_text() -> Vec<u8> {
        let (sa, _, _, _) = kat_handshake();
        let mut rng = Replay::new(&[&[0x7a; 24]]);
        sa.seal_with_rng(super::SealedKind::Text, 1, KAT_TIME, b"hi bob", &mut rng)
            .unwrap()
    }

    /// The file secret of PROTOCOL.md: key `0b*32`, nonce prefix `0c*19`.
    pub fn kat_file_secret() -> super::FileSecret {
        let mut rng = Replay::new(&[&[0x0b; 32], &[0x0c; 19]]);
        super::FileSecret::generate_with_rng(&mut rng).unwrap()
    }

    /// The file metadata of PROTOCOL.md: "notes.txt", 10 bytes, the KAT
    /// file secret, counter 2, sent at [`KAT_META_TIME`], nonce `7b*24`.
    pub fn kat_meta() -> Vec<u8> {
        let (sa, _, _, _) = kat_handshake();
        let meta = super::FileMeta::with_secret("notes.txt", 10, kat_file_secret()).unwrap();
        let mut rng = Replay::new(&[&[0x7b; 24]]);
        sa.seal_file_meta_with_rng(2, &meta, KAT_META_TIME, &mut rng)
            .unwrap()
    }

    /// The sender's time of PROTOCOL.md's refusal notice, two minutes after
    /// the text.
    pub const KAT_REFUSAL_TIME: u64 = KAT_TIME + 120_000;

    /// The refusal notice body of PROTOCOL.md: message 7, the text of
    /// [`kat_text`] (session `5a*16`, counter 1, type 3), a duplicate.
    pub fn kat_refusal_body() -> super::Refusal {
        super::Refusal {
            message_id: 7,
            sid: super::SessionId([0x5a; 16]),
            counter: 1,
            kind: 3,
            reason: super::RefusalReason::Duplicate,
        }
    }

    /// The refusal notice of PROTOCOL.md: Bob tells Alice, in the same
    /// session, with his counter 1, sent at [`KAT_REFUSAL_TIME`], nonce
    /// `7c*24`.
    pub fn kat_refusal() -> Vec<u8> {
        bobs_refusal(1, &kat_refusal_body(), KAT_REFUSAL_TIME, 0x7c)
    }

    /// `body` sealed by Bob in the examples' session with his `counter`,
    /// at `time`, its nonce 24 bytes of `nonce`.
    fn bobs_refusal(counter: u64, body: &super::Refusal, time: u64, nonce: u8) -> Vec<u8> {
        let (_, sb, _, _) = kat_handshake();
        let mut rng = Replay::new(&[&[nonce; 24]]);
        sb.seal_refusal_with_rng(counter, body, time, &mut rng)
            .unwrap()
    }

    /// The sender's time of PROTOCOL.md's no-such-session refusal, four
    /// minutes after the text.
    pub const KAT_NO_SESSION_TIME: u64 = KAT_TIME + 240_000;

    /// The body of PROTOCOL.md's no-such-session refusal: Alice's message
    /// 9, sealed in session `c3*16` (which Bob's restored home lacks) with
    /// her counter 12.
    pub fn kat_no_session_body() -> super::Refusal {
        super::Refusal {
            message_id: 9,
            sid: super::SessionId([0xc3; 16]),
            counter: 12,
            kind: 3,
            reason: super::RefusalReason::NoSession,
        }
    }

    /// PROTOCOL.md's no-such-session refusal: Bob tells Alice in the
    /// examples' session, with his counter 3, nonce `7e*24`.
    pub fn kat_no_session() -> Vec<u8> {
        bobs_refusal(3, &kat_no_session_body(), KAT_NO_SESSION_TIME, 0x7e)
    }

    /// The sender's time of PROTOCOL.md's refused room invitation, five
    /// minutes after the text.
    pub const KAT_WELCOME_REFUSAL_TIME: u64 = KAT_TIME + 300_000;

    /// The body of PROTOCOL.md's refused room invitation: Alice's welcome,
    /// message 11, to room `3b*16` at epoch 2, names a member whose key
    /// differs from Bob's pin.
    pub fn kat_welcome_refusal_body() -> super::Refusal {
        super::Refusal {
            message_id: 11,
            sid: super::SessionId([0x3b; 16]),
            counter: 2,
            kind: 5,
            reason: super::RefusalReason::InvitationKeyDiffers,
        }
    }

    /// PROTOCOL.md's refused room invitation: Bob tells Alice in the
    /// examples' session, with his counter 4, nonce `7f*24`.
    pub fn kat_welcome_refusal() -> Vec<u8> {
        bobs_refusal(
            4,
            &kat_welcome_refusal_body(),
            KAT_WELCOME_REFUSAL_TIME,
            0x7f,
        )
    }

    /// The sender's time of PROTOCOL.md's receipt, three minutes after the
    /// text.
    pub const KAT_RECEIPT_TIME: u64 = KAT_TIME + 180_000;

    /// The receipt of PROTOCOL.md: Bob's client tells Alice that it
    /// delivered her messages 5 and 6, in the same session, with his
    /// counter 2, sent at [`KAT_RECEIPT_TIME`], nonce `7d*24`.
    pub fn kat_receipt() -> Vec<u8> {
        let (_, sb, _, _) = kat_handshake();
        let mut rng = Replay::new(&[&[0x7d; 24]]);
        let receipt = super::Receipt {
            kind: super::ReceiptKind::Delivered,
            message_ids: vec![5, 6],
        };
        sb.seal_receipt_with_rng(2, &receipt, KAT_RECEIPT_TIME, &mut rng)
            .unwrap()
    }

    /// Replays `bytes` in order; panics when they run out, so a test notices
    /// when an operation draws more randomness than documented.
    pub struct Replay {
        bytes: Vec<u8>,
        pos: usize,
    }

    impl Replay {
        pub fn new(parts: &[&[u8]]) -> Self {
            Self {
                bytes: parts.concat(),
                pos: 0,
            }
        }

        pub fn is_spent(&self) -> bool {
            self.pos == self.bytes.len()
        }
    }

    impl RngCore for Replay {
        fn next_u32(&mut self) -> u32 {
            let mut b = [0u8; 4];
            self.fill_bytes(&mut b);
            u32::from_le_bytes(b)
        }
        fn next_u64(&mut self) -> u64 {
            let mut b = [0u8; 8];
            self.fill_bytes(&mut b);
            u64::from_le_bytes(b)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            let end = self.pos + dest.len();
            assert!(end <= self.bytes.len(), "test randomness ran out");
            dest.copy_from_slice(&self.bytes[self.pos..end]);
            self.pos = end;
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    impl CryptoRng for Replay {}
}
