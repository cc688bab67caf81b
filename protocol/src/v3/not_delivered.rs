//! The content of a type-7 message (PROTOCOL.md "Type 7: not delivered"):
//! the server tells a sender which of its messages it deleted, unread,
//! with the account they were waiting for. Left out: who may believe it
//! and what it changes (the client's business; it is only the server's
//! word).
//!
//! ```text
//! type-7 content, 5 + 8 × count bytes
//!  +----------+-----------+------------------------------
//!  | reason u8| count u32 | count × message id u64 (1..4096)
//!  +----------+-----------+------------------------------
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use super::layout::{MESSAGE_ID_LEN, SIZE_LEN, limit};
use crate::error::{PayloadError, ProtocolError};
use crate::wire::{Reader, check_range, put_u32, put_u64};

/// The most message ids one type-7 message names; more take more messages.
pub const MAX_NOT_DELIVERED_IDS: usize = 4096;
/// Size of a type-7 content before its ids: reason u8, count u32.
pub const NOT_DELIVERED_HEADER_LEN: usize = 1 + SIZE_LEN;
/// The largest type-7 content.
pub const MAX_NOT_DELIVERED_LEN: usize =
    NOT_DELIVERED_HEADER_LEN + MESSAGE_ID_LEN * MAX_NOT_DELIVERED_IDS;

/// Why the account's waiting messages were deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GoneReason {
    /// 1: its owner deleted it (114).
    DeletedByOwner,
    /// 2: the server's operator removed it.
    RemovedByOperator,
    /// A reason this version does not know (kept, so that a client can
    /// still say what it was told).
    Other(u8),
}

impl GoneReason {
    /// The wire value.
    pub fn code(self) -> u8 {
        match self {
            Self::DeletedByOwner => 1,
            Self::RemovedByOperator => 2,
            Self::Other(code) => code,
        }
    }

    /// The reason for a wire value; any value is accepted.
    pub fn from_code(code: u8) -> Self {
        match code {
            1 => Self::DeletedByOwner,
            2 => Self::RemovedByOperator,
            other => Self::Other(other),
        }
    }
}

/// The content of a type-7 message: the ids of the recipient's messages to
/// the sender's (deleted) account that were deleted unread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotDelivered {
    /// Why the account is gone.
    pub reason: GoneReason,
    /// Ids of the recipient's own messages, 1 to [`MAX_NOT_DELIVERED_IDS`].
    pub message_ids: Vec<u64>,
}

impl NotDelivered {
    /// Parses a type-7 content.
    ///
    /// # Errors
    /// No ids or more than [`MAX_NOT_DELIVERED_IDS`], or a size other than
    /// the count says.
    pub fn decode(content: Bytes) -> Result<Self, PayloadError> {
        let mut r = Reader::new(content);
        let reason = GoneReason::from_code(r.u8("reason")?);
        let count = r.u32("count")?;
        check_range("count", count.into(), 1, MAX_NOT_DELIVERED_IDS as u64)?;
        let count = count as usize;
        if r.remaining() != count * MESSAGE_ID_LEN {
            return Err(PayloadError::WrongSize {
                expected: NOT_DELIVERED_HEADER_LEN + count * MESSAGE_ID_LEN,
                actual: NOT_DELIVERED_HEADER_LEN + r.remaining(),
            });
        }
        let mut message_ids = Vec::with_capacity(count);
        for _ in 0..count {
            message_ids.push(r.u64("message id")?);
        }
        Ok(Self {
            reason,
            message_ids,
        })
    }

    /// The content bytes.
    ///
    /// # Errors
    /// No ids, or more than [`MAX_NOT_DELIVERED_IDS`].
    pub fn encode(&self) -> Result<Bytes, ProtocolError> {
        if self.message_ids.is_empty() {
            return Err(ProtocolError::EmptyValue {
                what: "not-delivered ids",
            });
        }
        limit(
            "not-delivered ids",
            self.message_ids.len(),
            MAX_NOT_DELIVERED_IDS,
        )?;
        let mut out =
            BytesMut::with_capacity(NOT_DELIVERED_HEADER_LEN + 8 * self.message_ids.len());
        out.put_u8(self.reason.code());
        // At most 4096, checked above.
        put_u32(&mut out, self.message_ids.len() as u32);
        for id in &self.message_ids {
            put_u64(&mut out, *id);
        }
        Ok(out.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_exact_bytes() {
        let n = NotDelivered {
            reason: GoneReason::DeletedByOwner,
            message_ids: vec![42, 43],
        };
        let bytes = n.encode().unwrap();
        assert_eq!(
            &bytes[..],
            &[
                1, 2, 0, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0, 43, 0, 0, 0, 0, 0, 0, 0
            ][..]
        );
        assert_eq!(NotDelivered::decode(bytes).unwrap(), n);
    }

    #[test]
    fn keeps_a_reason_it_does_not_know() {
        let bytes = Bytes::from_static(&[9, 1, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0]);
        let n = NotDelivered::decode(bytes).unwrap();
        assert_eq!(n.reason, GoneReason::Other(9));
        assert_eq!(n.reason.code(), 9);
        assert_eq!(n.encode().unwrap()[0], 9);
    }

    #[test]
    fn rejects_no_ids_too_many_ids_and_a_wrong_size() {
        assert!(NotDelivered::decode(Bytes::from_static(&[1, 0, 0, 0, 0])).is_err());
        // Count 4097: refused before anything is read or reserved.
        assert!(NotDelivered::decode(Bytes::from_static(&[1, 0x01, 0x10, 0, 0])).is_err());
        // Count 2, one id.
        assert!(
            NotDelivered::decode(Bytes::from_static(&[1, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]))
                .is_err()
        );
        // Count 1, a byte too many.
        assert!(
            NotDelivered::decode(Bytes::from_static(&[
                1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0
            ]))
            .is_err()
        );
        assert!(NotDelivered::decode(Bytes::from_static(&[1, 1, 0])).is_err());
        let empty = NotDelivered {
            reason: GoneReason::RemovedByOperator,
            message_ids: Vec::new(),
        };
        assert!(empty.encode().is_err());
        let many = NotDelivered {
            reason: GoneReason::RemovedByOperator,
            message_ids: vec![1; MAX_NOT_DELIVERED_IDS + 1],
        };
        assert!(many.encode().is_err());
        let most = NotDelivered {
            reason: GoneReason::RemovedByOperator,
            message_ids: vec![1; MAX_NOT_DELIVERED_IDS],
        };
        assert_eq!(most.encode().unwrap().len(), MAX_NOT_DELIVERED_LEN);
    }
}
