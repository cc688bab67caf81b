//! Download (124): a range of a file message waiting for the caller (room
//! files, 140, share [`read_range`]). The connection keeps the last file it
//! read open, so that reading a file range by range opens it once.

use protocol::v3;
use protocol::{ClientId, ErrorReason};

use crate::blobs::BlobReader;
use crate::error::StoreError;
use crate::shared::Shared;
use crate::store::MessageBody;
use crate::v3::reply::{error, store_error};

/// The file a connection read last, kept open for its next range.
pub(crate) struct OpenFile {
    message_id: u64,
    reader: BlobReader,
}

/// Reads the requested range of the caller's waiting file message.
pub(crate) async fn download(
    shared: &Shared,
    me: ClientId,
    d: v3::Download,
    open: &mut Option<OpenFile>,
) -> v3::Response {
    let message = match shared.store.waiting_message(me, d.message_id).await {
        Ok(Some(m)) => m,
        Ok(None) => {
            return error(
                ErrorReason::UnknownMessage,
                format!("message {} is not waiting for you", d.message_id),
            );
        }
        Err(e) => return store_error(&e),
    };
    let MessageBody::File { blob, size, .. } = &message.body else {
        return error(
            ErrorReason::BadMessageType,
            format!("message {} is not a file", d.message_id),
        );
    };
    read_range(shared, d.message_id, blob, *size, d.offset, d.max_len, open).await
}

/// Answers 1204 with up to `max_len` bytes from `offset` of the blob that
/// `id` names (a message id, or a room entry's seq: both come from one
/// counter, so the open file kept for the next range is never confused).
pub(crate) async fn read_range(
    shared: &Shared,
    id: u64,
    blob: &str,
    size: u64,
    offset: u64,
    max_len: u32,
    open: &mut Option<OpenFile>,
) -> v3::Response {
    if offset > size {
        return error(
            ErrorReason::BadOffset,
            format!("offset {offset} is past the end of the {size}-byte file"),
        );
    }
    let len = (size - offset).min(u64::from(max_len)) as usize;
    let reader = match open.take() {
        Some(file) if file.message_id == id => Ok(file.reader),
        _ => shared.blobs.open_blob(blob).await,
    };
    let mut reader = match reader {
        Ok(r) => r,
        Err(e) => return store_error(&e),
    };
    match reader.read_at(offset, len).await {
        Ok(data) if data.len() == len => {
            *open = Some(OpenFile {
                message_id: id,
                reader,
            });
            v3::Response::FileChunk(v3::FileChunk {
                message_id: id,
                offset,
                data,
            })
        }
        Ok(_) => store_error(&StoreError::Corrupt(format!(
            "file of message or entry {id} is shorter than stored"
        ))),
        Err(e) => store_error(&e),
    }
}
