//! File uploads: begin (120, and to a room for 139), resume (121), chunk
//! (122), cancel (123). The steps themselves (database record and part file
//! together) are `crate::uploads`'; these only check the request and turn
//! what a step reports into an answer.
//!
//! `touched` is the connection's set of uploads it wrote to or resumed:
//! they are synced when the connection closes.

use std::collections::HashSet;
use std::net::SocketAddr;

use protocol::v3;
use protocol::{ClientId, ErrorReason, UploadId};

use crate::shared::Shared;
use crate::store::{Protocol, UploadTo};
use crate::uploads::{ChunkError, ChunkOutcome};
use crate::v3::reply::{error, store_error};

/// Begins an upload of a file within the size limit to a registered client.
pub(crate) async fn begin(
    shared: &Shared,
    me: ClientId,
    u: v3::UploadBegin,
    touched: &mut HashSet<UploadId>,
) -> v3::Response {
    if !shared
        .store
        .directory()
        .contains(Protocol::V3, &u.destination)
    {
        return error(
            ErrorReason::UnknownClient,
            format!("no client {}", u.destination),
        );
    }
    begin_to(
        shared,
        me,
        UploadTo::Client(u.destination),
        u.file_size,
        u.meta,
        touched,
    )
    .await
}

/// Begins an upload to a client (120) or a room (139): the size limit, then
/// the store's checks (membership, quotas); answers 1200.
pub(crate) async fn begin_to(
    shared: &Shared,
    me: ClientId,
    to: UploadTo,
    file_size: u64,
    meta: bytes::Bytes,
    touched: &mut HashSet<UploadId>,
) -> v3::Response {
    let max = shared.config.max_file_size;
    if file_size > max {
        return error(
            ErrorReason::FileTooLarge,
            format!(
                "the file is {}; this server takes at most {}",
                startup::size::human(file_size),
                startup::size::human(max)
            ),
        );
    }
    let record = match shared.uploads.begin(me, to, file_size, meta).await {
        Ok(r) => r,
        Err(e) => return store_error(&e),
    };
    let status = v3::UploadStatus {
        upload_id: record.id,
        destination: record.destination,
        file_size: record.file_size,
        offset: 0,
    };
    touched.insert(status.upload_id);
    v3::Response::UploadStatus(status)
}

/// Reports where the caller's upload stands (its durable offset).
pub(crate) async fn resume(
    shared: &Shared,
    me: ClientId,
    id: UploadId,
    touched: &mut HashSet<UploadId>,
) -> v3::Response {
    touched.insert(id);
    match shared.uploads.resume(&id, me).await {
        Ok(record) => v3::Response::UploadStatus(v3::UploadStatus {
            upload_id: id,
            destination: record.destination,
            file_size: record.file_size,
            offset: record.durable_offset,
        }),
        Err(e) => store_error(&e),
    }
}

/// Stores a chunk; the last one turns the upload into a file message.
pub(crate) async fn chunk(
    shared: &Shared,
    peer: SocketAddr,
    me: ClientId,
    c: v3::UploadChunk,
    touched: &mut HashSet<UploadId>,
) -> v3::Response {
    touched.insert(c.upload_id);
    let outcome = shared
        .uploads
        .chunk(&c.upload_id, me, c.offset, c.data)
        .await;
    match outcome {
        Ok(ChunkOutcome::Stored(next_offset)) => v3::Response::ChunkStored(v3::ChunkStored {
            upload_id: c.upload_id,
            next_offset,
        }),
        Ok(ChunkOutcome::Completed(record, stored)) => {
            touched.remove(&c.upload_id);
            tracing::info!(%peer, id = stored.id, bytes = record.file_size, "file received");
            v3::Response::FileSent(v3::FileSent {
                upload_id: c.upload_id,
                destination: record.destination,
                message_id: stored.id,
            })
        }
        Err(ChunkError::BadOffset { expected }) => error(
            ErrorReason::BadOffset,
            format!("the upload stands at offset {expected}, not {}", c.offset),
        ),
        Err(ChunkError::PastEnd { file_size }) => error(
            ErrorReason::BadOffset,
            format!("the chunk goes past the file size of {file_size} bytes"),
        ),
        Err(ChunkError::Store(e)) => store_error(&e),
    }
}

/// Abandons the caller's upload.
pub(crate) async fn cancel(shared: &Shared, me: ClientId, id: UploadId) -> v3::Response {
    match shared.uploads.cancel(&id, me).await {
        Ok(()) => v3::Response::UploadCancelled(id),
        Err(e) => store_error(&e),
    }
}
