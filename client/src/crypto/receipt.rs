//! The delivery receipt: what a recipient sends back, sealed end to end, to
//! say that its client opened (delivered) or showed (read) some of the
//! sender's messages, so that the sender's history can say so.
//!
//! A receipt is a type-3 content in the envelope layout (see
//! [`super::envelope`]) with format byte `03` and the associated-data label
//! `sealpost/v3/receipt`, sealed in the recipient's current session with
//! the sender, under its send counter. Its body:
//!
//! ```text
//!  0        1              3                              3 + 8n
//!  | what u8 | count u16 LE | message id u64 LE [count] ... |
//!
//!  what        1 delivered (the client opened them), 2 read (shown to the person),
//!              3 declined (file offers the person declined: deleted unread)
//!  count       1 to 1024
//!  message id  the server's ids of the sender's messages (what its sends returned)
//! ```
//!
//! Like a refusal notice, the format byte is in clear on purpose: a receipt
//! is never answered, neither with a receipt nor with a refusal, whether or
//! not it opens, so receipts cannot echo between two clients. It is never
//! kept as a text either. The server learns which type-3 contents are
//! receipts (their size and timing would tell it anyway).

use super::sealed::{MAX_RECEIPT_IDS, Opened, SealedKind};
use super::window::ReplayWindow;
use super::{CryptoError, RECEIPT_FORMAT, Session};

/// What a receipt says about its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    /// 1: the recipient's client opened them.
    Delivered,
    /// 2: they were shown to the recipient.
    Read,
    /// 3: file offers the recipient declined (never downloaded; the server
    /// deleted them).
    Declined,
}

/// A receipt's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Delivered or read.
    pub kind: ReceiptKind,
    /// The server's ids of the messages (1 to [`MAX_RECEIPT_IDS`]).
    pub message_ids: Vec<u64>,
}

impl Receipt {
    fn encode(&self) -> Result<Vec<u8>, CryptoError> {
        let count = self.message_ids.len();
        if count == 0 || count > MAX_RECEIPT_IDS {
            return Err(CryptoError::TooLarge {
                what: "receipt",
                len: count as u64,
                max: MAX_RECEIPT_IDS as u64,
            });
        }
        let mut out = Vec::with_capacity(3 + 8 * count);
        out.push(match self.kind {
            ReceiptKind::Delivered => 1,
            ReceiptKind::Read => 2,
            ReceiptKind::Declined => 3,
        });
        // At most MAX_RECEIPT_IDS (1024), checked above.
        out.extend_from_slice(&(count as u16).to_le_bytes());
        for id in &self.message_ids {
            out.extend_from_slice(&id.to_le_bytes());
        }
        Ok(out)
    }

    fn decode(body: &[u8]) -> Result<Self, CryptoError> {
        let (&what, rest) = body.split_first().ok_or(CryptoError::BadPlaintext)?;
        let kind = match what {
            1 => ReceiptKind::Delivered,
            2 => ReceiptKind::Read,
            3 => ReceiptKind::Declined,
            _ => return Err(CryptoError::BadPlaintext),
        };
        let (count, ids) = rest.split_at_checked(2).ok_or(CryptoError::BadPlaintext)?;
        let count = usize::from(u16::from_le_bytes([count[0], count[1]]));
        if count == 0 || count > MAX_RECEIPT_IDS || ids.len() != 8 * count {
            return Err(CryptoError::BadPlaintext);
        }
        let message_ids = ids
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                u64::from_le_bytes(b)
            })
            .collect();
        Ok(Self { kind, message_ids })
    }
}

/// Whether a type-3 content claims to be a receipt (its first byte, in
/// clear). Such a content is never answered.
pub fn is_receipt(content: &[u8]) -> bool {
    content.first() == Some(&RECEIPT_FORMAT)
}

impl Session {
    /// Seals a receipt to the peer with send counter `counter`.
    ///
    /// # Errors
    /// As [`Session::seal`]; [`CryptoError::TooLarge`] for no ids or more
    /// than [`MAX_RECEIPT_IDS`].
    pub fn seal_receipt(&self, counter: u64, receipt: &Receipt) -> Result<Vec<u8>, CryptoError> {
        self.seal(SealedKind::Receipt, counter, &receipt.encode()?)
    }

    /// [`Session::seal_receipt`] with the sender's time given and the nonce
    /// drawn from `rng`.
    ///
    /// # Errors
    /// As [`Session::seal_receipt`].
    pub fn seal_receipt_with_rng<R: rand::RngCore + rand::CryptoRng>(
        &self,
        counter: u64,
        receipt: &Receipt,
        sent_at_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<u8>, CryptoError> {
        self.seal_with_rng(
            SealedKind::Receipt,
            counter,
            sent_at_ms,
            &receipt.encode()?,
            rng,
        )
    }

    /// Opens a receipt from the peer.
    ///
    /// # Errors
    /// As [`Session::open`]; [`CryptoError::BadPlaintext`] for a body that
    /// breaks the layout.
    pub fn open_receipt(
        &self,
        content: &[u8],
        window: &ReplayWindow,
    ) -> Result<Opened<Receipt>, CryptoError> {
        let opened = self.open(SealedKind::Receipt, content, window)?;
        Ok(Opened {
            counter: opened.counter,
            sent_at_ms: opened.sent_at_ms,
            plaintext: Receipt::decode(&opened.plaintext)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_support::kat_handshake;

    #[test]
    fn a_receipt_round_trips_and_bad_bodies_are_refused() {
        let (sa, sb, _, _) = kat_handshake();
        let receipt = Receipt {
            kind: ReceiptKind::Read,
            message_ids: vec![7, u64::MAX, 9],
        };
        let sealed = sb.seal_receipt(3, &receipt).unwrap();
        assert!(is_receipt(&sealed));
        let opened = sa.open_receipt(&sealed, &ReplayWindow::default()).unwrap();
        assert_eq!(opened.plaintext, receipt);
        assert_eq!(opened.counter, 3);
        // A receipt is not a text, nor a text a receipt.
        assert!(sa.open_text(&sealed, &ReplayWindow::default()).is_err());
        let text = sb.seal_text(4, "hi").unwrap();
        assert!(!is_receipt(&text));
        assert!(sa.open_receipt(&text, &ReplayWindow::default()).is_err());
        // Empty and oversized lists are never sealed; malformed bodies
        // never decode.
        let none = Receipt {
            kind: ReceiptKind::Delivered,
            message_ids: Vec::new(),
        };
        assert!(sb.seal_receipt(5, &none).is_err());
        let many = Receipt {
            kind: ReceiptKind::Delivered,
            message_ids: vec![1; MAX_RECEIPT_IDS + 1],
        };
        assert!(sb.seal_receipt(5, &many).is_err());
        let declined = Receipt {
            kind: ReceiptKind::Declined,
            message_ids: vec![42],
        };
        assert_eq!(
            declined.encode().unwrap(),
            [3, 1, 0, 42, 0, 0, 0, 0, 0, 0, 0]
        );
        let sealed = sb.seal_receipt(6, &declined).unwrap();
        let opened = sa.open_receipt(&sealed, &ReplayWindow::default()).unwrap();
        assert_eq!(opened.plaintext, declined);
        for bad in [
            &[][..],
            &[4, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0],
            &[0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0],
            &[1, 0, 0],
            &[1, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0],
            &[1, 1, 0, 1, 0, 0],
        ] {
            assert!(Receipt::decode(bad).is_err(), "{bad:?}");
        }
    }
}
