//! The sealed envelope: a text (type 3), file metadata (type 4) or a
//! refusal notice (type 3, see [`super::refusal`]) encrypted under a
//! session's direction key.
//!
//! ```text
//!  0        1          17               25           49                 49+n      65+n
//!  | format | sid [16] | counter u64 LE | nonce [24] | ciphertext [n]   | tag [16] |
//!
//!  format:    01 a text or file metadata, 02 a refusal notice
//!  AEAD:      XChaCha20-Poly1305, key = the sender's direction key of session sid
//!             (initiator -> responder: k_ab, responder -> initiator: k_ba)
//!  nonce:     24 fresh random bytes per message
//!  AD:        label | sender id [16] | recipient id [16] | type u8 | sid [16] | counter u64 LE
//!             label "sealpost/v3/message" (format 01) or "sealpost/v3/refusal" (format 02)
//!  plaintext: sent at u64 LE (the sender's clock, ms since the Unix epoch) | body
//!             body of type 3: the text as UTF-8; type 4: see the file module;
//!             refusal: see the refusal module
//! ```
//!
//! **Sender's time.** The sender's clock travels inside the AEAD, so the time
//! a recipient shows cannot be changed by the server (it can still be wrong
//! if the sender's clock is).
//!
//! **Counters.** Per session and direction, the sender's counter starts at 1
//! and grows by one for every sealed message (texts, file metadata and
//! refusal notices share it). The receiver accepts a counter it has not
//! received yet within a window of the highest one (see [`super::window`]):
//! messages may arrive out of order, a true duplicate is refused. Opening
//! only checks the window; the caller records the counter once it has
//! handled the message.
//!
//! The random nonce, not the counter, makes each encryption unique: 192-bit
//! random nonces do not collide in practice, so a counter reused after a
//! crash would still not reuse a nonce (it would only be refused as a
//! duplicate by the peer). The keystore makes that case impossible anyway.

use std::time::{SystemTime, UNIX_EPOCH};

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{KeyInit, Tag, XChaCha20Poly1305, XNonce};
use protocol::ClientId;
use rand::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use super::session::SESSION_ID_LEN;
use super::window::ReplayWindow;
use super::{CryptoError, KEY_LEN, NONCE_LEN, Session, SessionId, TAG_LEN, fill_random};

// Defined in the `sealed` leaf (shared with `file` and `refusal`); named
// here too, beside the layout they measure.
pub use super::sealed::{
    HEADER_LEN, MAX_TEXT_LEN, MESSAGE_LABEL, OVERHEAD, Opened, REFUSAL_LABEL, SealedKind, TIME_LEN,
};

/// The local clock in ms since the Unix epoch (0 if it is before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn associated_data(
    sender: &ClientId,
    recipient: &ClientId,
    kind: SealedKind,
    sid: &SessionId,
    counter: u64,
) -> Vec<u8> {
    let label = kind.label();
    let mut ad = Vec::with_capacity(label.len() + 16 + 16 + 1 + SESSION_ID_LEN + 8);
    ad.extend_from_slice(label);
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
    /// Seals `body` to the peer with send counter `counter` (from
    /// `KeyStore::next_send_counter`), the local clock and a fresh random
    /// nonce.
    ///
    /// # Errors
    /// [`CryptoError::BadCounter`] for counter 0, [`CryptoError::TooLarge`]
    /// over [`SealedKind::max_body_len`], [`CryptoError::Randomness`].
    pub fn seal(
        &self,
        kind: SealedKind,
        counter: u64,
        body: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        // A fresh random nonce per message from the thread's CSPRNG (seeded
        // and periodically reseeded from the OS): the same quality as OsRng
        // without a system call per message.
        self.seal_with_rng(kind, counter, now_ms(), body, &mut rand::thread_rng())
    }

    /// [`Session::seal`] with the sender's time given and the nonce (24
    /// bytes) drawn from `rng`.
    ///
    /// # Errors
    /// As [`Session::seal`].
    pub fn seal_with_rng<R: RngCore + CryptoRng>(
        &self,
        kind: SealedKind,
        counter: u64,
        sent_at_ms: u64,
        body: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, CryptoError> {
        if counter == 0 {
            return Err(CryptoError::BadCounter);
        }
        let max = kind.max_body_len();
        if body.len() > max {
            return Err(CryptoError::TooLarge {
                what: "sealed plaintext",
                len: body.len() as u64,
                max: max as u64,
            });
        }
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(rng, &mut nonce)?;
        let sid = self.sid();
        let mut out = Vec::with_capacity(OVERHEAD + body.len());
        out.push(kind.format());
        out.extend_from_slice(sid.as_bytes());
        out.extend_from_slice(&counter.to_le_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sent_at_ms.to_le_bytes());
        out.extend_from_slice(body);
        let ad = associated_data(&self.local(), &self.peer(), kind, &sid, counter);
        let tag = cipher(self.send_key())
            .encrypt_in_place_detached(XNonce::from_slice(&nonce), &ad, &mut out[HEADER_LEN..])
            // Fails only over the cipher's 256 GiB limit; the length is
            // bounded by max_body_len above.
            .expect("plaintext within the AEAD's length limit");
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Opens an envelope of `kind` that the peer sealed in this session.
    /// `window` holds the counters already received from the peer in this
    /// session. Record the returned counter only once the message is
    /// handled.
    ///
    /// # Errors
    /// [`CryptoError::DecryptFailed`] if anything does not verify (length,
    /// format byte, session id, tag under this session's key and the
    /// expected sender, recipient and type); [`CryptoError::Replayed`] or
    /// [`CryptoError::TooOld`] if it verifies but the window refuses its
    /// counter.
    pub fn open(
        &self,
        kind: SealedKind,
        content: &[u8],
        window: &ReplayWindow,
    ) -> Result<Opened<Zeroizing<Vec<u8>>>, CryptoError> {
        if content.len() < OVERHEAD {
            return Err(CryptoError::DecryptFailed);
        }
        let (header, body) = content.split_at(HEADER_LEN);
        let (ciphertext, tag) = body.split_at(body.len() - TAG_LEN);
        let (format, rest) = header.split_at(1);
        let (sid, rest) = rest.split_at(SESSION_ID_LEN);
        let (counter, nonce) = rest.split_at(8);
        // The session id is public; a mismatch means the caller picked
        // another session, which the tag would refuse anyway.
        if format[0] != kind.format() || sid != self.sid().as_bytes() {
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
        window.check(counter)?;
        // OVERHEAD includes TIME_LEN, so the plaintext has the time.
        let mut time = [0u8; TIME_LEN];
        time.copy_from_slice(&plaintext[..TIME_LEN]);
        let body = Zeroizing::new(plaintext[TIME_LEN..].to_vec());
        Ok(Opened {
            counter,
            sent_at_ms: u64::from_le_bytes(time),
            plaintext: body,
        })
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
        window: &ReplayWindow,
    ) -> Result<Opened<Zeroizing<String>>, CryptoError> {
        let opened = self.open(SealedKind::Text, content, window)?;
        let text = std::str::from_utf8(&opened.plaintext).map_err(|_| CryptoError::BadPlaintext)?;
        Ok(Opened {
            counter: opened.counter,
            sent_at_ms: opened.sent_at_ms,
            plaintext: Zeroizing::new(text.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use protocol::MAX_MESSAGE_LEN;

    use super::*;
    use crate::crypto::test_support::{kat_handshake, kat_text};
    use crate::crypto::{FORMAT_VERSION, Identity, REFUSAL_FORMAT, VerifiedBundle};

    fn none() -> ReplayWindow {
        ReplayWindow::default()
    }

    fn after(counters: &[u64]) -> ReplayWindow {
        let mut w = ReplayWindow::default();
        for c in counters {
            w.record(*c);
        }
        w
    }

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
        let opened = sb.open_text(&c, &none()).unwrap();
        assert_eq!(opened.counter, 1);
        assert_eq!(opened.plaintext.as_str(), "hello bob");
        let c = sb.seal_text(1, "hi alice, ünïcödé").unwrap();
        assert_eq!(
            sa.open_text(&c, &none()).unwrap().plaintext.as_str(),
            "hi alice, ünïcödé"
        );
        let c = sa.seal_text(2, "").unwrap();
        assert_eq!(
            sb.open_text(&c, &after(&[1])).unwrap().plaintext.as_str(),
            ""
        );
    }

    #[test]
    fn a_sender_cannot_open_its_own_messages() {
        // The directions use different keys, so a message reflected back to
        // its sender does not open.
        let (sa, _) = pair();
        let c = sa.seal_text(1, "x").unwrap();
        assert!(matches!(
            sa.open_text(&c, &none()),
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
                matches!(sb.open_text(&bad, &none()), Err(CryptoError::DecryptFailed)),
                "byte {i} flipped was accepted"
            );
        }
        for len in [0, 1, OVERHEAD - 1, c.len() - 1] {
            assert!(matches!(
                sb.open_text(&c[..len], &none()),
                Err(CryptoError::DecryptFailed)
            ));
        }
    }

    #[test]
    fn the_type_is_bound() {
        let (sa, sb) = pair();
        let c = sa.seal(SealedKind::FileMeta, 1, b"meta").unwrap();
        assert!(matches!(
            sb.open(SealedKind::Text, &c, &none()),
            Err(CryptoError::DecryptFailed)
        ));
        assert_eq!(
            &sb.open(SealedKind::FileMeta, &c, &none())
                .unwrap()
                .plaintext[..],
            b"meta"
        );
    }

    #[test]
    fn wrong_recipient_or_session_fails() {
        let (sa, _) = pair();
        let (_, other_b) = pair();
        let c = sa.seal_text(1, "for bob only").unwrap();
        assert!(matches!(
            other_b.open_text(&c, &none()),
            Err(CryptoError::DecryptFailed)
        ));
    }

    #[test]
    fn duplicates_are_refused_and_reordering_is_accepted() {
        let (sa, sb) = pair();
        let c5 = sa.seal_text(5, "five").unwrap();
        let c3 = sa.seal_text(3, "three").unwrap();
        let c9 = sa.seal_text(9, "nine").unwrap();
        let mut window = none();
        let opened = sb.open_text(&c5, &window).unwrap();
        window.record(opened.counter);
        assert!(matches!(
            sb.open_text(&c5, &window),
            Err(CryptoError::Replayed)
        ));
        // An older counter not seen yet is fine (out of order), once.
        window.record(sb.open_text(&c3, &window).unwrap().counter);
        assert!(matches!(
            sb.open_text(&c3, &window),
            Err(CryptoError::Replayed)
        ));
        // A gap is fine.
        assert_eq!(sb.open_text(&c9, &window).unwrap().counter, 9);
        // Below the window: too old.
        let far = after(&[3 + crate::crypto::window::WINDOW_LEN]);
        assert!(matches!(sb.open_text(&c3, &far), Err(CryptoError::TooOld)));
        // A forged message with a fresh counter is still a decryption failure.
        let mut forged = c9.clone();
        forged[17..25].copy_from_slice(&100u64.to_le_bytes());
        assert!(matches!(
            sb.open_text(&forged, &window),
            Err(CryptoError::DecryptFailed)
        ));
    }

    #[test]
    fn the_senders_time_is_inside_the_tag() {
        let (sa, sb) = pair();
        let mut rng = rand::thread_rng();
        let c = sa
            .seal_with_rng(SealedKind::Text, 1, 1_767_225_600_000, b"when", &mut rng)
            .unwrap();
        let opened = sb.open_text(&c, &none()).unwrap();
        assert_eq!(opened.sent_at_ms, 1_767_225_600_000);
        assert_eq!(opened.plaintext.as_str(), "when");
        // The time is ciphertext: changing any of its bytes breaks the tag.
        for i in HEADER_LEN..HEADER_LEN + TIME_LEN {
            let mut bad = c.clone();
            bad[i] ^= 1;
            assert!(matches!(
                sb.open_text(&bad, &none()),
                Err(CryptoError::DecryptFailed)
            ));
        }
        // seal() stamps the local clock.
        let before = now_ms();
        let c = sa.seal_text(2, "now").unwrap();
        let at = sb.open_text(&c, &none()).unwrap().sent_at_ms;
        assert!(at >= before && at <= now_ms());
    }

    #[test]
    fn a_text_and_a_refusal_cannot_pass_for_each_other() {
        let (sa, sb) = pair();
        let text = sa.seal(SealedKind::Text, 1, &[0; 34]).unwrap();
        let refusal = sa.seal(SealedKind::Refusal, 2, &[0; 34]).unwrap();
        assert_eq!(text[0], FORMAT_VERSION);
        assert_eq!(refusal[0], REFUSAL_FORMAT);
        assert!(sb.open(SealedKind::Refusal, &text, &none()).is_err());
        assert!(sb.open(SealedKind::Text, &refusal, &none()).is_err());
        // Relabelled in clear, the tag still refuses them.
        let mut relabelled = text.clone();
        relabelled[0] = REFUSAL_FORMAT;
        assert!(sb.open(SealedKind::Refusal, &relabelled, &none()).is_err());
        let mut relabelled = refusal.clone();
        relabelled[0] = FORMAT_VERSION;
        assert!(sb.open(SealedKind::Text, &relabelled, &none()).is_err());
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
            sb.open_text(&c, &none()),
            Err(CryptoError::BadPlaintext)
        ));
    }

    #[test]
    fn known_answer_sealed_text() {
        let c = kat_text();
        assert_eq!(hex::encode(&c), KAT_TEXT);
        let (_, sb, _, _) = kat_handshake();
        let opened = sb.open_text(&c, &none()).unwrap();
        assert_eq!(opened.plaintext.as_str(), "hi bob");
        assert_eq!(opened.sent_at_ms, crate::crypto::test_support::KAT_TIME);
    }

    const KAT_TEXT: &str = "015a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a01000000000000007a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a5cede29c3675b68917ea093c26834741b60d58f2632cb6f9b64118c703ca";
}
