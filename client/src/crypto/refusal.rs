//! The refusal notice: what a recipient sends back when it refuses a
//! message, so that the sender learns of it instead of seeing "sent" and
//! then silence.
//!
//! A notice is a type-3 content in the envelope layout (see
//! [`super::envelope`]) with format byte `02` and the associated-data label
//! `sealpost/v3/refusal`, sealed in the refusing client's current session
//! with the sender, under its send counter. Its body (34 bytes):
//!
//! ```text
//!  0                  8                24               32         33         34
//!  | message id u64 LE | refused sid [16] | counter u64 LE | type u8 | reason u8 |
//!
//!  message id   the server's id of the refused message (the sender got it from its send)
//!  refused sid  the session id the refused content named (zero if none could be read);
//!               for a room welcome (type 5), the room id
//!  counter      the counter it carried (0 if none could be read, or for types 1 and 2);
//!               for a room welcome, the epoch it joins
//!  type         its message type (1 to 5)
//!  reason       1 duplicate, 2 too old, 3 undecryptable, 4 malformed, 5 file body damaged,
//!               6 no such session, 7 unusable room invitation, 8 room invitation naming
//!               a member whose key differs from the pin
//! ```
//!
//! A welcome's sender (the admin whose commit added us) never learns the
//! welcome's message id, so its refusal names the room instead: the same
//! 34 bytes, which an older client still reads (and shows the new codes as
//! numbers).
//!
//! The format byte is in clear on purpose: a client never answers a content
//! that starts with `02` with a refusal, whether or not it opens, so two
//! clients can never answer each other's refusals forever (for example
//! while a server corrupts everything both ways). A server that flips the
//! byte only turns a message into one that fails to authenticate, which it
//! could do anyway.

use zeroize::Zeroizing;

pub use super::sealed::REFUSAL_BODY_LEN;
use super::sealed::{Opened, SealedKind};
use super::session::SESSION_ID_LEN;
use super::window::ReplayWindow;
use super::{CryptoError, REFUSAL_FORMAT, Session, SessionId};

/// Why a message was refused, as it travels in a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// 1: its counter was already received; the first copy arrived.
    Duplicate,
    /// 2: its counter is below the replay window.
    TooOld,
    /// 3: it does not authenticate (altered, forged, or for another key).
    Undecryptable,
    /// 4: authentic, but its plaintext breaks the format.
    Malformed,
    /// 5: a file whose body does not decrypt (altered or truncated).
    FileDamaged,
    /// 6: sealed in a session the recipient does not have (its home was
    /// restored or copied): the sender starts a new one and sends again.
    NoSession,
    /// 7: a room invitation (type 5) the recipient could not use:
    /// malformed, for a key package it no longer holds, against the room's
    /// rules.
    InvitationUnusable,
    /// 8: a room invitation naming a member whose identity key differs from
    /// the one the recipient pins: a trust warning.
    InvitationKeyDiffers,
    /// A code this client does not know.
    Other(u8),
}

impl RefusalReason {
    /// The code on the wire.
    pub fn code(self) -> u8 {
        match self {
            Self::Duplicate => 1,
            Self::TooOld => 2,
            Self::Undecryptable => 3,
            Self::Malformed => 4,
            Self::FileDamaged => 5,
            Self::NoSession => 6,
            Self::InvitationUnusable => 7,
            Self::InvitationKeyDiffers => 8,
            Self::Other(code) => code,
        }
    }

    /// The reason with this code.
    pub fn from_code(code: u8) -> Self {
        match code {
            1 => Self::Duplicate,
            2 => Self::TooOld,
            3 => Self::Undecryptable,
            4 => Self::Malformed,
            5 => Self::FileDamaged,
            6 => Self::NoSession,
            7 => Self::InvitationUnusable,
            8 => Self::InvitationKeyDiffers,
            other => Self::Other(other),
        }
    }

    /// A few words for a person.
    pub fn explain(self) -> String {
        match self {
            Self::Duplicate => "a duplicate of a message it already received (nothing lost)".into(),
            Self::TooOld => {
                "too old: it arrived after more than 2048 newer messages (send it again)".into()
            }
            Self::Undecryptable => "it could not be decrypted or did not authenticate".into(),
            Self::Malformed => "its content was malformed".into(),
            Self::FileDamaged => "the file's contents were damaged on the way".into(),
            Self::NoSession => {
                "it was sealed in a session that client no longer has (its home was restored or copied)"
                    .into()
            }
            Self::InvitationUnusable => {
                "a room invitation that client could not use (malformed, for a key it no longer holds, or against the room's rules)"
                    .into()
            }
            Self::InvitationKeyDiffers => {
                "a room invitation naming a member whose key differs from the key that client pinned"
                    .into()
            }
            Self::Other(code) => format!("reason {code}"),
        }
    }
}

/// A refusal notice's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    /// The server's id of the refused message.
    pub message_id: u64,
    /// The session id the refused content named (zeros if unreadable).
    pub sid: SessionId,
    /// The counter it carried (0 if unreadable or a key-agreement message).
    pub counter: u64,
    /// Its message type code.
    pub kind: u8,
    /// Why.
    pub reason: RefusalReason,
}

impl Refusal {
    fn encode(&self) -> [u8; REFUSAL_BODY_LEN] {
        let mut out = [0u8; REFUSAL_BODY_LEN];
        out[..8].copy_from_slice(&self.message_id.to_le_bytes());
        out[8..24].copy_from_slice(self.sid.as_bytes());
        out[24..32].copy_from_slice(&self.counter.to_le_bytes());
        out[32] = self.kind;
        out[33] = self.reason.code();
        out
    }

    fn decode(body: &[u8]) -> Result<Self, CryptoError> {
        let body: &[u8; REFUSAL_BODY_LEN] =
            body.try_into().map_err(|_| CryptoError::BadPlaintext)?;
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&body[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let mut sid = [0u8; SESSION_ID_LEN];
        sid.copy_from_slice(&body[8..24]);
        Ok(Self {
            message_id: u64_at(0),
            sid: SessionId(sid),
            counter: u64_at(24),
            kind: body[32],
            reason: RefusalReason::from_code(body[33]),
        })
    }
}

/// Whether a type-3 content claims to be a refusal notice (its first byte,
/// in clear). Such a content is never answered with a refusal.
pub fn is_refusal(content: &[u8]) -> bool {
    content.first() == Some(&REFUSAL_FORMAT)
}

/// The session id and counter a sealed content shows in clear, as far as
/// they can be read (zeros otherwise): what a refusal of it names.
pub fn clear_sid_and_counter(content: &[u8]) -> (SessionId, u64) {
    let sid = super::content_session_id(content).unwrap_or(SessionId([0; SESSION_ID_LEN]));
    let counter = content
        .get(1 + SESSION_ID_LEN..1 + SESSION_ID_LEN + 8)
        .map(|b| {
            let mut c = [0u8; 8];
            c.copy_from_slice(b);
            u64::from_le_bytes(c)
        })
        .unwrap_or(0);
    (sid, counter)
}

impl Session {
    /// Seals a refusal notice to the peer with send counter `counter`.
    ///
    /// # Errors
    /// As [`Session::seal`].
    pub fn seal_refusal(&self, counter: u64, refusal: &Refusal) -> Result<Vec<u8>, CryptoError> {
        self.seal(SealedKind::Refusal, counter, &refusal.encode())
    }

    /// [`Session::seal_refusal`] with the sender's time given and the nonce
    /// drawn from `rng`.
    ///
    /// # Errors
    /// As [`Session::seal`].
    pub fn seal_refusal_with_rng<R: rand::RngCore + rand::CryptoRng>(
        &self,
        counter: u64,
        refusal: &Refusal,
        sent_at_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<u8>, CryptoError> {
        self.seal_with_rng(
            SealedKind::Refusal,
            counter,
            sent_at_ms,
            &refusal.encode(),
            rng,
        )
    }

    /// Opens a refusal notice from the peer.
    ///
    /// # Errors
    /// As [`Session::open`]; [`CryptoError::BadPlaintext`] for a body that
    /// is not 34 bytes.
    pub fn open_refusal(
        &self,
        content: &[u8],
        window: &ReplayWindow,
    ) -> Result<Opened<Refusal>, CryptoError> {
        let opened = self.open(SealedKind::Refusal, content, window)?;
        let body: Zeroizing<Vec<u8>> = opened.plaintext;
        Ok(Opened {
            counter: opened.counter,
            sent_at_ms: opened.sent_at_ms,
            plaintext: Refusal::decode(&body)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Identity, VerifiedBundle};

    #[test]
    fn a_refusal_round_trips_and_is_recognised_in_clear() {
        let a = Identity::generate().unwrap();
        let b = Identity::generate().unwrap();
        let (alice, bob) = (protocol::ClientId([1; 16]), protocol::ClientId([2; 16]));
        let (sa, offer) = Session::initiate(
            &a,
            alice,
            bob,
            &VerifiedBundle::verify(&b.bundle()).unwrap(),
        )
        .unwrap();
        let (sb, _) = Session::accept_offer(
            &b,
            bob,
            alice,
            &VerifiedBundle::verify(&a.bundle()).unwrap(),
            &offer,
        )
        .unwrap();
        let text = sa.seal_text(17, "refuse me").unwrap();
        assert!(!is_refusal(&text));
        assert_eq!(clear_sid_and_counter(&text), (sa.sid(), 17));
        let refusal = Refusal {
            message_id: 99,
            sid: sa.sid(),
            counter: 17,
            kind: 3,
            reason: RefusalReason::Duplicate,
        };
        let sealed = sb.seal_refusal(1, &refusal).unwrap();
        assert!(is_refusal(&sealed));
        let opened = sa.open_refusal(&sealed, &ReplayWindow::default()).unwrap();
        assert_eq!(opened.plaintext, refusal);
        assert_eq!(opened.counter, 1);
        // A refused room welcome names the room and the epoch in place of
        // the session and counter; its reasons 7 and 8 survive the trip.
        for reason in [
            RefusalReason::InvitationUnusable,
            RefusalReason::InvitationKeyDiffers,
        ] {
            let welcome = Refusal {
                message_id: 41,
                sid: SessionId([0x3b; SESSION_ID_LEN]),
                counter: 2,
                kind: 5,
                reason,
            };
            let body = welcome.encode();
            assert_eq!(body.len(), REFUSAL_BODY_LEN);
            assert_eq!(&body[8..24], &[0x3b; 16]);
            assert_eq!((body[32], body[33]), (5, reason.code()));
            assert_eq!(Refusal::decode(&body).unwrap(), welcome);
            let sealed = sb.seal_refusal(2, &welcome).unwrap();
            let mut window = ReplayWindow::default();
            window.record(1);
            assert_eq!(
                sa.open_refusal(&sealed, &window).unwrap().plaintext,
                welcome
            );
        }
        assert_eq!(
            RefusalReason::from_code(7),
            RefusalReason::InvitationUnusable
        );
        assert_eq!(
            RefusalReason::from_code(8),
            RefusalReason::InvitationKeyDiffers
        );
        // Unknown reasons survive; short contents name nothing.
        assert_eq!(RefusalReason::from_code(77).code(), 77);
        assert_eq!(
            clear_sid_and_counter(&[1, 2]),
            (SessionId([0; SESSION_ID_LEN]), 0)
        );
    }
}
