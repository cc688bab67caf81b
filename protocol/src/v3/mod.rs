//! Version 3: persistent, authenticated sessions with acknowledged delivery,
//! push, chunked files and reasoned errors. Same framing as version 2.
//!
//! Every payload layout is drawn in PROTOCOL.md, the short forms beside the
//! code that parses them.
//!
//! Requests are in `request.rs`, responses in `response.rs`, and the message
//! entry that both pulls and pushes carry (with the file offer inside it) in
//! `delivery.rs`; this file names the sizes of every fixed-size field and
//! payload, so that no layout is written as a bare number.

mod delivery;
mod request;
mod response;

use crate::error::{PayloadError, ProtocolError};
use crate::{CLIENT_ID_LEN, MAX_FILE_META_LEN};

pub use crate::payload::{Register, SendMessage};
pub use delivery::{Delivery, FileOffer, MessageBatch};
pub use request::{Download, Hello, Pull, Request, UploadBegin, UploadChunk};
pub use response::{
    AckStatus, Challenge, ChunkStored, ClientEntry, ClientPage, FileChunk, FileSent, MessageStored,
    PeerKey, Response, ServerError, ServerLimits, UploadStatus,
};

/// Size of an upload id.
const UPLOAD_ID_LEN: usize = 16;
/// Size of a message id (u64).
const MESSAGE_ID_LEN: usize = 8;
/// Size of a byte offset into a file (u64).
const OFFSET_LEN: usize = 8;
/// Size of a file size (u64).
const FILE_SIZE_LEN: usize = 8;
/// Size of a ping token (u64), in request 109 and response 1009.
const TOKEN_LEN: usize = 8;
/// Size of a count or length field (u16) before the items it counts.
const COUNT_LEN: usize = 2;
/// Size of a message type (u8).
const KIND_LEN: usize = 1;
/// Size of a timestamp in milliseconds (u64).
const TIME_LEN: usize = 8;
/// Size of a content or byte-count field (u32).
const SIZE_LEN: usize = 4;

/// Size of the [`Pull`] payload: max messages u16, max bytes u32.
const PULL_LEN: usize = COUNT_LEN + SIZE_LEN;
/// Size of the [`Download`] payload: message id, offset, max length u32.
const DOWNLOAD_LEN: usize = MESSAGE_ID_LEN + OFFSET_LEN + SIZE_LEN;
/// Size of an [`UploadBegin`] payload before its meta: destination, file
/// size, meta length.
const UPLOAD_BEGIN_HEADER_LEN: usize = CLIENT_ID_LEN + FILE_SIZE_LEN + COUNT_LEN;
/// Size of an [`UploadChunk`] payload before its data: upload id, offset.
const UPLOAD_CHUNK_HEADER_LEN: usize = UPLOAD_ID_LEN + OFFSET_LEN;
/// Size of a [`FileChunk`] payload before its data: message id, offset.
const FILE_CHUNK_HEADER_LEN: usize = MESSAGE_ID_LEN + OFFSET_LEN;
/// Size of a [`FileOffer`] before its meta: the file size.
const FILE_OFFER_HEADER_LEN: usize = FILE_SIZE_LEN;
/// Size of the [`MessageStored`] payload: destination, message id.
const MESSAGE_STORED_LEN: usize = CLIENT_ID_LEN + MESSAGE_ID_LEN;
/// Size of the [`UploadStatus`] payload: upload id, destination, file size, offset.
const UPLOAD_STATUS_LEN: usize = UPLOAD_ID_LEN + CLIENT_ID_LEN + FILE_SIZE_LEN + OFFSET_LEN;
/// Size of the [`ChunkStored`] payload: upload id, next offset.
const CHUNK_STORED_LEN: usize = UPLOAD_ID_LEN + OFFSET_LEN;
/// Size of the [`FileSent`] payload: upload id, destination, message id.
const FILE_SENT_LEN: usize = UPLOAD_ID_LEN + CLIENT_ID_LEN + MESSAGE_ID_LEN;
/// Size of the `Subscribed` payload: messages waiting (u32).
const SUBSCRIBED_LEN: usize = SIZE_LEN;
/// Size of a client list's or message batch's head: more flag, count.
const PAGE_HEADER_LEN: usize = 1 + COUNT_LEN;
/// Size of a [`ServerError`] before its text: reason u16, text length u16.
const ERROR_HEADER_LEN: usize = 2 + COUNT_LEN;

/// Size of the fixed part of a delivery entry, before its content: sender,
/// message id, type, sent at, content size.
pub const DELIVERY_HEADER_LEN: usize =
    CLIENT_ID_LEN + MESSAGE_ID_LEN + KIND_LEN + TIME_LEN + SIZE_LEN;
/// Size of a client-list entry's fixed part (id and name length).
pub const LIST_ENTRY_HEADER_LEN: usize = CLIENT_ID_LEN + 1;
/// Size of the shortest client-list entry (a one-byte name).
const SHORTEST_LIST_ENTRY_LEN: usize = LIST_ENTRY_HEADER_LEN + 1;
/// Size of one status in the `Acked` payload (u8).
const ACK_STATUS_LEN: usize = 1;
/// Size of the [`ServerLimits`] payload.
pub const SERVER_LIMITS_LEN: usize = 32;
/// Size of a nonce in the handshake.
pub const NONCE_LEN: usize = 32;
/// Size of an Ed25519 public key.
pub const SIGNING_KEY_LEN: usize = 32;
/// Size of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

fn exact(len: usize, expected: usize) -> Result<(), PayloadError> {
    if len != expected {
        return Err(PayloadError::WrongSize {
            expected,
            actual: len,
        });
    }
    Ok(())
}

fn limit(what: &'static str, len: usize, max: usize) -> Result<(), ProtocolError> {
    if len > max {
        return Err(ProtocolError::ValueTooLarge {
            what,
            len: len as u64,
            max: max as u64,
        });
    }
    Ok(())
}
