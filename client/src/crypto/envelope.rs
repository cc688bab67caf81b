//! The sealed envelope: a text (type 3) or file metadata (type 4) encrypted
//! under a session's direction key.
//!
//! ```text
//!  0    1          17               25           49                 49+n      65+n
//!  | 01 | sid [16] | counter u64 LE | nonce [24] | ciphertext [n]   | tag [16] |
//!
//!  AEAD:      XChaCha20-Poly1305, key = the sender's direction key of session sid
//!             (initiator -> responder: k_ab, responder -> initiator: k_ba)
//!  nonce:     24 fresh random bytes per message
//!  AD:        "sealpost/v3/message" | sender id [16] | recipient id [16] | type u8 |
//!             sid [16] | counter u64 LE
//!  plaintext: type 3: the text as UTF-8; type 4: see the file module
//! ```
//!
//! **Counters.** Per session and direction, the sender's counter starts at 1
//! and grows by one for every sealed message (texts and file metadata share
//! it). The receiver accepts a counter only if it is strictly greater than
//! the highest it has accepted in that session and direction, so a replayed
//! or reordered message is refused (a gap, from a lost message, is fine).
//! The keystore keeps both counters; opening only compares, and the caller
//! records the new highest counter once it has handled the message.
//!
//! The random nonce, not the counter, makes each encryption unique: 192-bit
//! random nonces do not collide in practice, so a counter reused after a
//! crash would still not reuse a nonce (it would only be refused as a
//! replay by the peer). The keystore makes that case impossible anyway.

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{KeyInit, Tag, XChaCha20Poly1305, XNonce};
use protocol::{ClientId, MAX_FILE_META_LEN, MAX_MESSAGE_LEN, MessageKind};
use rand::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use super::session::SESSION_ID_LEN;
use super::{
    CryptoError, FORMAT_VERSION, KEY_LEN, NONCE_LEN, Session, SessionId, TAG_LEN, fill_random,
};

/// Associated-data label of every envelope.
pub const MESSAGE_LABEL: &[u8] = b"sealpost/v3/message";
/// Bytes before the ciphertext.
pub const HEADER_LEN: usize = 1 + SESSION_ID_LEN + 8 + NONCE_LEN;
/// Bytes an envelope adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// Longest text plaintext: a sealed text must fit a version-3 message.
pub const MAX_TEXT_LEN: usize = MAX_MESSAGE_LEN - OVERHEAD;

/// What an envelope holds; its wire value is the message type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealedKind {
    /// Type 3: a text.
    Text,
    /// Type 4: a file's metadata (in the file offer's meta).
    FileMeta,
}

impl SealedKind {
    /// The message type byte bound into the associated data.
    pub fn type_byte(self) -> u8 {
        MessageKind::from(self).code()
    }

    /// Longest plaintext of this kind.
    pub fn max_plaintext_len(self) -> usize {
        match self {
            Self::Text => MAX_TEXT_LEN,
            Self::FileMeta => MAX_FILE_META_LEN - OVERHEAD,
        }
    }
}

impl From<SealedKind> for MessageKind {
    fn from(kind: SealedKind) -> Self {
        match kind {
            SealedKind::Text => MessageKind::Text,
            SealedKind::FileMeta => MessageKind::File,
        }
    }
}

/// An opened envelope: its counter (to record once handled) and plaintext.
#[derive(Debug)]
pub struct Opened<T> {
    /// The sender's counter.
    pub counter: u64,
    /// The plaintext.
    pub plaintext: T,
}

fn associated_data(
    sender: &ClientId,
    recipient: &ClientId,
    kind: SealedKind,
    sid: &SessionId,
    counter: u64,
) -> Vec<u8> {
    let mut ad = Vec::with_capacity(MESSAGE_LABEL.len() + 16 + 16 + 1 + SESSION_ID_LEN + 8);
    ad.extend_from_slice(MESSAGE_LABEL);
    ad.extend_from_slice(sender.as_bytes());
    ad.extend_from_slice(recipient.as_bytes());
    ad.push(kind.type_byte());
    ad.extend_from_slice(sid.as_bytes());
    ad.extend_from_slice(&counter.to_le_bytes());
    ad
}

fn cipher(key: &[u8; KEY_LEN]) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(key.into())
}

impl Session {
    /// Seals `plaintext` to the peer with send counter `counter` (from
    /// `KeyStore::next_send_counter`) and a fresh random nonce.
    ///
    /// # Errors
    /// [`CryptoError::BadCounter`] for counter 0, [`CryptoError::TooLarge`]
    /// over [`SealedKind::max_plaintext_len`], [`CryptoError::Randomness`].
    pub fn seal(
        &self,
        kind: SealedKind,
        counter: u64,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        // A fresh random nonce per message from the thread's CSPRNG (seeded
        // and periodically reseeded from the OS): the same quality as OsRng
        // without a system call per message.
        self.seal_with_rng(kind, counter, plaintext, &mut rand::thread_rng())
    }

    /// [`Session::seal`] with the nonce (24 bytes) drawn from `rng`.
    ///
    /// # Errors
    /// As [`Session::seal`].
    pub fn seal_with_rng<R: RngCore + CryptoRng>(
        &self,
        kind: SealedKind,
        counter: u64,
        plaintext: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, CryptoError> {
        if counter == 0 {
            return Err(CryptoError::BadCounter);
        }
        let max = kind.max_plaintext_len();
        if plaintext.len() > max {
            return Err(CryptoError::TooLarge {
                what: "sealed plaintext",
                len: plaintext.len() as u64,
                max: max as u64,
            });
        }
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(rng, &mut nonce)?;
        let sid = self.sid();
        let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
        out.push(FORMAT_VERSION);
        out.extend_from_slice(sid.as_bytes());
        out.extend_from_slice(&counter.to_le_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let ad = associated_data(&self.local(), &self.peer(), kind, &sid, counter);
        let tag = cipher(self.send_key())
            .encrypt_in_place_detached(XNonce::from_slice(&nonce), &ad, &mut out[HEADER_LEN..])
            // Fails only over the cipher's 256 GiB limit; the length is
            // bounded by max_plaintext_len above.
            .expect("plaintext within the AEAD's length limit");
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Opens an envelope of `kind` that the peer sealed in this session.
    /// `highest_received` is the highest counter already accepted from the
    /// peer in this session (0 if none). Record the returned counter only
    /// once the message is handled.
    ///
    /// # Errors
    /// [`CryptoError::DecryptFailed`] if anything does not verify (length,
    /// version, session id, tag under this session's key and the expected
    /// sender, recipient and type); [`CryptoError::Replayed`] if it verifies
    /// but its counter is not above `highest_received`.
    pub fn open(
        &self,
        kind: SealedKind,
        content: &[u8],
        highest_received: u64,
    ) -> Result<Opened<Zeroizing<Vec<u8>>>, CryptoError> {
        if content.len() < OVERHEAD {
            return Err(CryptoError::DecryptFailed);
        }
        let (header, body) = content.split_at(HEADER_LEN);
        let (ciphertext, tag) = body.split_at(body.len() - TAG_LEN);
        let (version, rest) = header.split_at(1);
        let (sid, rest) = rest.split_at(SESSION_ID_LEN);
        let (counter, nonce) = rest.split_at(8);
        // The session id is public; a mismatch means the caller picked
        // another session, which the tag would refuse anyway.
        if version[0] != FORMAT_VERSION || sid != self.sid().as_bytes() {
            return Err(CryptoError::DecryptFailed);
        }
        let mut counter_bytes = [0u8; 8];
        counter_bytes.copy_from_slice(counter);
        let counter = u64::from_le_bytes(counter_bytes);
        let ad = associated_data(&self.peer(), &self.local(), kind, &self.sid(), counter);
        let mut plaintext = Zeroizing::new(ciphertext.to_vec());
        cipher(self.receive_key())
            .decrypt_in_place_detached(
                XNonce::from_slice(nonce),
                &ad,
                &mut plaintext,
                Tag::from_slice(tag),
            )
            .map_err(|_| CryptoError::DecryptFailed)?;
        if counter <= highest_received {
            return Err(CryptoError::Replayed);
        }
        Ok(Opened { counter, plaintext })
    }

    /// Seals a text (type 3).
    ///
    /// # Errors
    /// As [`Session::seal`]; a text over [`MAX_TEXT_LEN`] bytes is too large.
    pub fn seal_text(&self, counter: u64, text: &str) -> Result<Vec<u8>, CryptoError> {
        self.seal(SealedKind::Text, counter, text.as_bytes())
    }

    /// Opens a text (type 3).
    ///
    /// # Errors
    /// As [`Session::open`], and [`CryptoError::BadPlaintext`] if the
    /// authentic plaintext is not UTF-8.
    pub fn open_text(
        &self,
        content: &[u8],
        highest_received: u64,
    ) -> Result<Opened<Zeroizing<String>>, CryptoError> {
        let opened = self.open(SealedKind::Text, content, highest_received)?;
        let text = std::str::from_utf8(&opened.plaintext).map_err(|_| CryptoError::BadPlaintext)?;
        Ok(Opened {
            counter: opened.counter,
            plaintext: Zeroizing::new(text.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_support::{kat_handshake, kat_text};
    use crate::crypto::{Identity, VerifiedBundle};

    fn pair() -> (Session, Session) {
        let a = Identity::generate().unwrap();
        let b = Identity::generate().unwrap();
        let ba = VerifiedBundle::verify(&a.bundle()).unwrap();
        let bb = VerifiedBundle::verify(&b.bundle()).unwrap();
        let alice = protocol::ClientId([1; 16]);
        let bob = protocol::ClientId([2; 16]);
        let (sa, offer) = Session::initiate(&a, alice, bob, &bb).unwrap();
        let (sb, _) = Session::accept_offer(&b, bob, alice, &ba, &offer).unwrap();
        (sa, sb)
    }

    #[test]
    fn round_trips_both_directions() {
        let (sa, sb) = pair();
        let c = sa.seal_text(1, "hello bob").unwrap();
        assert_eq!(c.len(), OVERHEAD + 9);
        let opened = sb.open_text(&c, 0).unwrap();
        assert_eq!(opened.counter, 1);
        assert_eq!(opened.plaintext.as_str(), "hello bob");
        let c = sb.seal_text(1, "hi alice, ünïcödé").unwrap();
        assert_eq!(
            sa.open_text(&c, 0).unwrap().plaintext.as_str(),
            "hi alice, ünïcödé"
        );
        let c = sa.seal_text(2, "").unwrap();
        assert_eq!(sb.open_text(&c, 1).unwrap().plaintext.as_str(), "");
    }

    #[test]
    fn a_sender_cannot_open_its_own_messages() {
        // The directions use different keys, so a message reflected back to
        // its sender does not open.
        let (sa, _) = pair();
        let c = sa.seal_text(1, "x").unwrap();
        assert!(matches!(
            sa.open_text(&c, 0),
            Err(CryptoError::DecryptFailed)
        ));
    }

    #[test]
    fn rejects_any_flipped_byte() {
        let (sa, sb) = pair();
        let c = sa.seal_text(5, "tamper with me").unwrap();
        for i in 0..c.len() {
            let mut bad = c.clone();
            bad[i] ^= 0x04;
            assert!(
                matches!(sb.open_text(&bad, 0), Err(CryptoError::DecryptFailed)),
                "byte {i} flipped was accepted"
            );
        }
        for len in [0, 1, OVERHEAD - 1, c.len() - 1] {
            assert!(matches!(
                sb.open_text(&c[..len], 0),
                Err(CryptoError::DecryptFailed)
            ));
        }
    }

    #[test]
    fn the_type_is_bound() {
        let (sa, sb) = pair();
        let c = sa.seal(SealedKind::FileMeta, 1, b"meta").unwrap();
        assert!(matches!(
            sb.open(SealedKind::Text, &c, 0),
            Err(CryptoError::DecryptFailed)
        ));
        assert_eq!(
            &sb.open(SealedKind::FileMeta, &c, 0).unwrap().plaintext[..],
            b"meta"
        );
    }

    #[test]
    fn wrong_recipient_or_session_fails() {
        let (sa, _) = pair();
        let (_, other_b) = pair();
        let c = sa.seal_text(1, "for bob only").unwrap();
        assert!(matches!(
            other_b.open_text(&c, 0),
            Err(CryptoError::DecryptFailed)
        ));
    }

    #[test]
    fn replayed_and_older_counters_are_refused() {
        let (sa, sb) = pair();
        let c5 = sa.seal_text(5, "five").unwrap();
        let c3 = sa.seal_text(3, "three").unwrap();
        let c9 = sa.seal_text(9, "nine").unwrap();
        let opened = sb.open_text(&c5, 0).unwrap();
        let highest = opened.counter;
        assert!(matches!(
            sb.open_text(&c5, highest),
            Err(CryptoError::Replayed)
        ));
        assert!(matches!(
            sb.open_text(&c3, highest),
            Err(CryptoError::Replayed)
        ));
        // A gap is fine.
        assert_eq!(sb.open_text(&c9, highest).unwrap().counter, 9);
        // A forged message with a fresh counter is still a decryption failure.
        let mut forged = c9.clone();
        forged[17..25].copy_from_slice(&100u64.to_le_bytes());
        assert!(matches!(
            sb.open_text(&forged, 9),
            Err(CryptoError::DecryptFailed)
        ));
    }

    #[test]
    fn refuses_counter_zero_and_oversize_text() {
        let (sa, _) = pair();
        assert!(matches!(sa.seal_text(0, "x"), Err(CryptoError::BadCounter)));
        let big = "x".repeat(MAX_TEXT_LEN + 1);
        assert!(matches!(
            sa.seal_text(1, &big),
            Err(CryptoError::TooLarge { .. })
        ));
        let max = "x".repeat(MAX_TEXT_LEN);
        assert_eq!(sa.seal_text(1, &max).unwrap().len(), MAX_MESSAGE_LEN);
    }

    #[test]
    fn refuses_authentic_non_utf8_text() {
        let (sa, sb) = pair();
        let c = sa.seal(SealedKind::Text, 1, &[0xff, 0xfe]).unwrap();
        assert!(matches!(
            sb.open_text(&c, 0),
            Err(CryptoError::BadPlaintext)
        ));
    }

    #[test]
    fn known_answer_sealed_text() {
        let c = kat_text();
        assert_eq!(hex::encode(&c), KAT_TEXT);
        let (_, sb, _, _) = kat_handshake();
        assert_eq!(sb.open_text(&c, 0).unwrap().plaintext.as_str(), "hi bob");
    }

    const KAT_TEXT: &str = "015a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a01000000000000007a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a342c1888c216ef11e07c0fe02a8bef7afed0960eaa4a";
}
