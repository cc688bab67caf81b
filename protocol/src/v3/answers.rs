//! The payload structs of version-3 answers that have fields (the
//! [`Response`](super::Response) enum and its layouts are in `response.rs`).
//! Error and closing notices share [`ServerError`]:
//!
//! ```text
//! error (9000) and closing (1105)
//!  +-------------+--------------+-------------
//!  | reason u16  | text len u16 | text (UTF-8)
//!  +-------------+--------------+-------------
//! ```

use bytes::{BufMut, Bytes, BytesMut};

use super::layout::{NONCE_LEN, SIGNATURE_LEN, SIGNING_KEY_LEN, limit};
use crate::MAX_ERROR_TEXT_LEN;
use crate::error::{ErrorReason, PayloadError, ProtocolError};
use crate::types::{ClientId, Name, PublicKey, UploadId};
use crate::wire::{Reader, check_range, put_u16};

/// One entry of a client-list page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientEntry {
    /// The client's id.
    pub id: ClientId,
    /// The client's name.
    pub name: Name,
}

/// Response 1001: one page of clients, ordered by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPage {
    /// Whether more clients follow the last one here.
    pub more: bool,
    /// Up to [`MAX_LIST_PAGE`] clients.
    pub clients: Vec<ClientEntry>,
}

/// Response 1002: a client's key bundle and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerKey {
    /// The client's id.
    pub client_id: ClientId,
    /// The key bundle it registered.
    pub public_key: PublicKey,
    /// The name it registered.
    pub name: Name,
}

/// Response 1003: the message is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageStored {
    /// The recipient, echoed.
    pub destination: ClientId,
    /// The message's id, unique and increasing for the server's lifetime.
    pub message_id: u64,
}

/// Response 1106: the caller's account is deleted, with what waited for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountDeleted {
    /// Messages that were waiting for the account, deleted with it.
    pub messages: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Unfinished uploads from or to the account, deleted with it.
    pub uploads: u32,
}

/// The outcome for one id of an acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckStatus {
    /// 0: the message was waiting for the caller and is now removed.
    Removed,
    /// 1: no such message is waiting for the caller (already removed, never
    /// existed, or another client's); nothing was changed.
    NotWaiting,
}

/// Response 1100: the server's identity, its challenge and its proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge {
    /// The server's Ed25519 identity key.
    pub server_key: [u8; SIGNING_KEY_LEN],
    /// Fresh random bytes the client must sign.
    pub server_nonce: [u8; NONCE_LEN],
    /// The server's signature over the server proof transcript
    /// ([`crate::auth::server_proof_message`]).
    pub signature: [u8; SIGNATURE_LEN],
}

/// Response 1101: authenticated; the limits this server enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Largest content of a sent message.
    pub max_message_len: u32,
    /// Largest upload chunk and download range.
    pub max_chunk_len: u32,
    /// Largest file.
    pub max_file_size: u64,
    /// Most messages in one pull.
    pub max_pull_messages: u16,
    /// Most ids in one acknowledgement.
    pub max_ack_ids: u16,
    /// Most payload bytes in one pull.
    pub max_pull_bytes: u32,
    /// Requests per second allowed on one connection (0: no limit).
    pub requests_per_second: u32,
    /// Seconds of silence after which the server closes a connection.
    pub idle_timeout_secs: u32,
}

/// Response 1200: where an upload stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadStatus {
    /// The upload.
    pub upload_id: UploadId,
    /// Its recipient.
    pub destination: ClientId,
    /// Its announced size.
    pub file_size: u64,
    /// Bytes durably stored: the next chunk goes here.
    pub offset: u64,
}

/// Response 1201: a chunk is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkStored {
    /// The upload.
    pub upload_id: UploadId,
    /// Where the next chunk goes.
    pub next_offset: u64,
}

/// Response 1202: the last chunk arrived; the file is durable and delivered
/// as a type-4 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSent {
    /// The finished upload.
    pub upload_id: UploadId,
    /// The recipient.
    pub destination: ClientId,
    /// The file message's id.
    pub message_id: u64,
}

/// Response 1204: part of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChunk {
    /// The file message.
    pub message_id: u64,
    /// Where `data` starts.
    pub offset: u64,
    /// Up to the requested length; shorter only at the end of the file, empty
    /// at or past it.
    pub data: Bytes,
}

/// The payload of an error (9000) or closing notice (1105).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    /// Why, as a stable code.
    pub reason: ErrorReason,
    /// For a person, at most [`MAX_ERROR_TEXT_LEN`] bytes.
    pub text: String,
}

impl ServerError {
    /// An error with its text cut to [`MAX_ERROR_TEXT_LEN`] bytes at a
    /// character boundary.
    pub fn new(reason: ErrorReason, text: impl Into<String>) -> Self {
        let mut text = text.into();
        if text.len() > MAX_ERROR_TEXT_LEN {
            let mut end = MAX_ERROR_TEXT_LEN;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        Self { reason, text }
    }

    pub(super) fn read(r: &mut Reader) -> Result<Self, PayloadError> {
        let reason = ErrorReason::from_code(r.u16("reason")?);
        let len = r.u16("text length")? as usize;
        check_range("text length", len as u64, 0, MAX_ERROR_TEXT_LEN as u64)?;
        let text = r.bytes("text", len)?;
        let text = String::from_utf8(text.to_vec()).map_err(|_| PayloadError::TextNotUtf8)?;
        Ok(Self { reason, text })
    }

    pub(super) fn write(&self, dst: &mut BytesMut) -> Result<(), ProtocolError> {
        limit("error text", self.text.len(), MAX_ERROR_TEXT_LEN)?;
        put_u16(dst, self.reason.code());
        put_u16(dst, self.text.len() as u16);
        dst.put_slice(self.text.as_bytes());
        Ok(())
    }
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.reason, self.text)
    }
}
