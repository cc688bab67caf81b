//! Files to a room (PROTOCOL.md "Files to a room"): 139 begins an upload
//! whose destination is the room, then 121 to 123 carry it like any upload
//! (`upload.rs`); 140 reads a range of the file a room entry names (the
//! ranges themselves are `download.rs`'); 150 holds an entry naming a file
//! past the caller's cursor, or releases it. Naming the finished file is
//! 134's business (`rooms.rs` and the store's writer).

use std::collections::HashSet;

use protocol::v3::{self, RoomDownload, RoomFileHold, RoomUploadBegin};
use protocol::{ClientId, ErrorReason, UploadId};

use super::download::{OpenFile, read_range};
use super::upload::begin_to;
use crate::shared::Shared;
use crate::store::{RoomFileRefusal, UploadTo};
use crate::v3::reply::{error, store_error};

/// Answers 139: a member's upload to its room, answered by 1200 with the
/// room id as destination.
pub(crate) async fn begin(
    shared: &Shared,
    me: ClientId,
    u: RoomUploadBegin,
    touched: &mut HashSet<UploadId>,
) -> v3::Response {
    begin_to(
        shared,
        me,
        UploadTo::Room(u.room),
        u.file_size,
        u.meta,
        touched,
    )
    .await
}

/// Answers 140 with a range of the file entry `seq` names, if the caller
/// receives that entry; 1204 carries the seq as its message id.
pub(crate) async fn download(
    shared: &Shared,
    me: ClientId,
    d: RoomDownload,
    open: &mut Option<OpenFile>,
) -> v3::Response {
    let (blob, size) = match shared.store.room_file(me, d.room, d.seq).await {
        Ok(Ok(found)) => found,
        Ok(Err(RoomFileRefusal::NotMember)) => {
            return error(
                ErrorReason::UnknownRoom,
                format!("you are not a member of room {}", d.room),
            );
        }
        Ok(Err(RoomFileRefusal::NoEntry)) => {
            return error(
                ErrorReason::UnknownMessage,
                format!("no room entry {} for you (deleted, or never yours)", d.seq),
            );
        }
        Ok(Err(RoomFileRefusal::NoFile)) => {
            return error(
                ErrorReason::BadMessageType,
                format!("room entry {} names no file", d.seq),
            );
        }
        Err(e) => return store_error(&e),
    };
    read_range(shared, d.seq, &blob, size, d.offset, d.max_len, open).await
}

/// Answers 150 with 1322: holds or releases the entry for the caller. A
/// release that let the entry go deletes its blob once the change is
/// committed.
pub(crate) async fn hold(shared: &Shared, me: ClientId, h: RoomFileHold) -> v3::Response {
    match shared.store.hold_room_file(me, h.room, h.seq, h.hold).await {
        Ok((held, files)) => {
            if !files.is_empty() {
                let blobs = shared.blobs.clone();
                tokio::spawn(async move { blobs.delete(files).await });
            }
            v3::Response::RoomFileHeld(RoomFileHold { hold: held, ..h })
        }
        Err(e) => store_error(&e),
    }
}
