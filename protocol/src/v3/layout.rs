//! The sizes of version 3's fixed-size fields and payloads, named so that no
//! layout is written as a bare number, and the two length checks every
//! decoder and encoder uses. A leaf: requests, responses and the delivery
//! entry all read from here.

use crate::CLIENT_ID_LEN;
use crate::error::{PayloadError, ProtocolError};

/// Size of an upload id.
pub(super) const UPLOAD_ID_LEN: usize = 16;
/// Size of a message id (u64).
pub(super) const MESSAGE_ID_LEN: usize = 8;
/// Size of a byte offset into a file (u64).
pub(super) const OFFSET_LEN: usize = 8;
/// Size of a file size (u64).
pub(super) const FILE_SIZE_LEN: usize = 8;
/// Size of a ping token (u64), in request 109 and response 1009.
pub(super) const TOKEN_LEN: usize = 8;
/// Size of a count or length field (u16) before the items it counts.
pub(super) const COUNT_LEN: usize = 2;
/// Size of a message type (u8).
pub(super) const KIND_LEN: usize = 1;
/// Size of a timestamp in milliseconds (u64).
pub(super) const TIME_LEN: usize = 8;
/// Size of a content or byte-count field (u32).
pub(super) const SIZE_LEN: usize = 4;

/// Size of the [`Pull`] payload: max messages u16, max bytes u32.
pub(super) const PULL_LEN: usize = COUNT_LEN + SIZE_LEN;
/// Size of the [`Download`] payload: message id, offset, max length u32.
pub(super) const DOWNLOAD_LEN: usize = MESSAGE_ID_LEN + OFFSET_LEN + SIZE_LEN;
/// Size of an [`UploadBegin`] payload before its meta: destination, file
/// size, meta length.
pub(super) const UPLOAD_BEGIN_HEADER_LEN: usize = CLIENT_ID_LEN + FILE_SIZE_LEN + COUNT_LEN;
/// Size of an [`UploadChunk`] payload before its data: upload id, offset.
pub(super) const UPLOAD_CHUNK_HEADER_LEN: usize = UPLOAD_ID_LEN + OFFSET_LEN;
/// Size of a [`FileChunk`] payload before its data: message id, offset.
pub(super) const FILE_CHUNK_HEADER_LEN: usize = MESSAGE_ID_LEN + OFFSET_LEN;
/// Size of a [`FileOffer`] before its meta: the file size.
pub(super) const FILE_OFFER_HEADER_LEN: usize = FILE_SIZE_LEN;
/// Size of the [`MessageStored`] payload: destination, message id.
pub(super) const MESSAGE_STORED_LEN: usize = CLIENT_ID_LEN + MESSAGE_ID_LEN;
/// Size of the [`UploadStatus`] payload: upload id, destination, file size, offset.
pub(super) const UPLOAD_STATUS_LEN: usize =
    UPLOAD_ID_LEN + CLIENT_ID_LEN + FILE_SIZE_LEN + OFFSET_LEN;
/// Size of the [`ChunkStored`] payload: upload id, next offset.
pub(super) const CHUNK_STORED_LEN: usize = UPLOAD_ID_LEN + OFFSET_LEN;
/// Size of the [`FileSent`] payload: upload id, destination, message id.
pub(super) const FILE_SENT_LEN: usize = UPLOAD_ID_LEN + CLIENT_ID_LEN + MESSAGE_ID_LEN;
/// Size of the `Subscribed` payload: messages waiting (u32).
pub(super) const SUBSCRIBED_LEN: usize = SIZE_LEN;
/// Size of the [`AccountDeleted`] payload: messages, bytes, uploads.
pub(super) const ACCOUNT_DELETED_LEN: usize = 8 + 8 + SIZE_LEN;
/// Size of a client list's or message batch's head: more flag, count.
pub(super) const PAGE_HEADER_LEN: usize = 1 + COUNT_LEN;
/// Size of a [`ServerError`] before its text: reason u16, text length u16.
pub(super) const ERROR_HEADER_LEN: usize = 2 + COUNT_LEN;

/// Size of the fixed part of a delivery entry, before its content: sender,
/// message id, type, sent at, content size.
pub const DELIVERY_HEADER_LEN: usize =
    CLIENT_ID_LEN + MESSAGE_ID_LEN + KIND_LEN + TIME_LEN + SIZE_LEN;
/// Size of a client-list entry's fixed part (id and name length).
pub const LIST_ENTRY_HEADER_LEN: usize = CLIENT_ID_LEN + 1;
/// Size of the shortest client-list entry (a one-byte name).
pub(super) const SHORTEST_LIST_ENTRY_LEN: usize = LIST_ENTRY_HEADER_LEN + 1;
/// Size of one status in the `Acked` payload (u8).
pub(super) const ACK_STATUS_LEN: usize = 1;
/// Size of the [`ServerLimits`] payload.
pub const SERVER_LIMITS_LEN: usize = 32;
/// Size of a nonce in the handshake.
pub const NONCE_LEN: usize = 32;
/// Size of an Ed25519 public key.
pub const SIGNING_KEY_LEN: usize = 32;
/// Size of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

pub(super) fn exact(len: usize, expected: usize) -> Result<(), PayloadError> {
    if len != expected {
        return Err(PayloadError::WrongSize {
            expected,
            actual: len,
        });
    }
    Ok(())
}

pub(super) fn limit(what: &'static str, len: usize, max: usize) -> Result<(), ProtocolError> {
    if len > max {
        return Err(ProtocolError::ValueTooLarge {
            what,
            len: len as u64,
            max: max as u64,
        });
    }
    Ok(())
}
