//! What a sealed envelope can hold ([`SealedKind`]: a text, file metadata,
//! a refusal notice or a receipt) with each kind's wire bytes and sizes, and what
//! opening one gives ([`Opened`]).
//!
//! A leaf of its own because the envelope (which seals and opens every
//! kind) and the file metadata and refusal notice (which are kinds of it)
//! all need this vocabulary, and the envelope needs each body's longest
//! length: kept in `envelope` or `refusal`, it tied the two into a ring.
//! The layout these sizes measure is drawn in [`super::envelope`], the
//! refusal body in [`super::refusal`].

use protocol::{MAX_FILE_META_LEN, MAX_MESSAGE_LEN, MessageKind};

use super::session::SESSION_ID_LEN;
use super::{FORMAT_VERSION, NONCE_LEN, RECEIPT_FORMAT, REFUSAL_FORMAT, TAG_LEN};

/// Associated-data label of every text and file metadata envelope.
pub const MESSAGE_LABEL: &[u8] = b"sealpost/v3/message";
/// Associated-data label of a refusal notice.
pub const REFUSAL_LABEL: &[u8] = b"sealpost/v3/refusal";
/// Associated-data label of a receipt.
pub const RECEIPT_LABEL: &[u8] = b"sealpost/v3/receipt";
/// Most message ids one receipt names.
pub const MAX_RECEIPT_IDS: usize = 1024;
/// Bytes before the ciphertext.
pub const HEADER_LEN: usize = 1 + SESSION_ID_LEN + 8 + NONCE_LEN;
/// Bytes of the sender's time at the start of every plaintext.
pub const TIME_LEN: usize = 8;
/// Bytes an envelope adds to its body.
pub const OVERHEAD: usize = HEADER_LEN + TIME_LEN + TAG_LEN;
/// Longest text: a sealed text must fit a version-3 message.
pub const MAX_TEXT_LEN: usize = MAX_MESSAGE_LEN - OVERHEAD;

/// What an envelope holds; its wire value is the message type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealedKind {
    /// Type 3: a text.
    Text,
    /// Type 4: a file's metadata (in the file offer's meta).
    FileMeta,
    /// Type 3 with format 02: a refusal notice.
    Refusal,
    /// Type 3 with format 03: a receipt.
    Receipt,
}

impl SealedKind {
    /// The message type byte bound into the associated data.
    pub fn type_byte(self) -> u8 {
        MessageKind::from(self).code()
    }

    /// Longest body of this kind.
    pub fn max_body_len(self) -> usize {
        match self {
            Self::Text => MAX_TEXT_LEN,
            Self::FileMeta => MAX_FILE_META_LEN - OVERHEAD,
            Self::Refusal => REFUSAL_BODY_LEN,
            Self::Receipt => 3 + 8 * MAX_RECEIPT_IDS,
        }
    }

    pub(super) fn format(self) -> u8 {
        match self {
            Self::Text | Self::FileMeta => FORMAT_VERSION,
            Self::Refusal => REFUSAL_FORMAT,
            Self::Receipt => RECEIPT_FORMAT,
        }
    }

    pub(super) fn label(self) -> &'static [u8] {
        match self {
            Self::Text | Self::FileMeta => MESSAGE_LABEL,
            Self::Refusal => REFUSAL_LABEL,
            Self::Receipt => RECEIPT_LABEL,
        }
    }
}

impl From<SealedKind> for MessageKind {
    fn from(kind: SealedKind) -> Self {
        match kind {
            SealedKind::Text | SealedKind::Refusal | SealedKind::Receipt => MessageKind::Text,
            SealedKind::FileMeta => MessageKind::File,
        }
    }
}

/// Size of a refusal notice's body.
pub const REFUSAL_BODY_LEN: usize = 8 + SESSION_ID_LEN + 8 + 1 + 1;

/// An opened envelope: its counter (to record once handled), the sender's
/// time and the body.
#[derive(Debug)]
pub struct Opened<T> {
    /// The sender's counter.
    pub counter: u64,
    /// The sender's clock when it sealed the message (ms since the Unix
    /// epoch), authenticated.
    pub sent_at_ms: u64,
    /// The body.
    pub plaintext: T,
}
