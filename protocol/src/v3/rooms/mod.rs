//! Version 3's rooms (PROTOCOL.md "Rooms"): the payloads of requests 130 to
//! 151, of answers 1300 to 1308 and 1314 to 1323 (joining: `joining.rs`, deleting: `delete.rs`,
//! passwords: `password.rs`, holding a room file: `hold.rs`) and notices 1310 and 1311, and the contents of
//! type-5 (room welcome) and type-6 (room deleted) messages. The MLS messages inside are opaque here;
//! the `sealpost-rooms` crate reads them.
//!
//! `request.rs` holds the request payloads, `response.rs` the answers,
//! `entry.rs` the room entry (pulled and pushed) and the welcome content;
//! this file names the parts and the sizes they share.

mod delete;
mod entry;
mod hold;
mod joining;
mod password;
mod request;
mod response;

pub use delete::{MAX_ROOM_NOTICE_LEN, ROOM_NOTICE_HEADER_LEN, RoomDelete, RoomNotice};
pub use entry::{RoomEntry, RoomEntryKind, RoomWelcome};
pub(super) use hold::ROOM_FILE_HOLD_LEN;
pub use hold::{MAX_ROOM_FILE_HOLDS, RoomFileHold};
pub(super) use joining::{FIND_ROOM_MAX_LEN, GROUP_INFO_STORED_LEN, read_find, write_find};
pub use joining::{
    GroupInfoStored, ListedRoom, MAX_LISTED_ROOMS, MAX_ROOM_NAME_LEN, RoomGroupInfo, RoomLabel,
};
pub use password::{MAX_PAKE_MESSAGE_LEN, RoomPake};
pub(super) use request::claim;
pub use request::{
    KeyPackageKind, KeyPackagesUpload, RoomCommit, RoomCreate, RoomCursor, RoomDownload, RoomSend,
    RoomUploadBegin,
};
pub use response::{
    ClaimStatus, ClaimedKeyPackage, CommitAccepted, KeyPackageStock, RoomAckStatus, RoomBatch,
    RoomCreated, RoomMemberRole, RoomMessageStored, RoomRole, RoomStatus, RoomSummary,
};

use super::layout::{COUNT_LEN, KIND_LEN, OFFSET_LEN, SIZE_LEN, TIME_LEN};
use crate::{CLIENT_ID_LEN, MAX_ROOM_MESSAGE_LEN};

/// Size of a room id.
pub const ROOM_ID_LEN: usize = 16;
/// Size of an epoch (u64).
pub(super) const EPOCH_LEN: usize = 8;
/// Size of a room log position (u64).
pub(super) const SEQ_LEN: usize = 8;
/// Size of a file id: the upload id of the finished room upload.
pub(super) const FILE_ID_LEN: usize = 16;
/// Size of a role (u8).
pub(super) const ROLE_LEN: usize = 1;

/// Size of a room entry's fixed part, before its bytes: room id, seq,
/// sender, kind, epoch, sent at, file id, length.
pub const ROOM_ENTRY_HEADER_LEN: usize = ROOM_ID_LEN
    + SEQ_LEN
    + CLIENT_ID_LEN
    + KIND_LEN
    + EPOCH_LEN
    + TIME_LEN
    + FILE_ID_LEN
    + SIZE_LEN;
/// Size of a type-5 content's fixed part, before the welcome: room id, epoch.
pub const ROOM_WELCOME_HEADER_LEN: usize = ROOM_ID_LEN + EPOCH_LEN;
/// Largest content of a type-5 message.
pub const MAX_ROOM_WELCOME_LEN: usize = ROOM_WELCOME_HEADER_LEN + MAX_ROOM_MESSAGE_LEN;
/// Size of a room id and an epoch: 1302.
pub(super) const ROOM_EPOCH_LEN: usize = ROOM_ID_LEN + EPOCH_LEN;
/// Size of a 1303 payload: room id, epoch, seq.
pub(super) const COMMIT_ACCEPTED_LEN: usize = ROOM_ID_LEN + EPOCH_LEN + SEQ_LEN;
/// Size of a 1304 payload: room id, seq.
pub(super) const ROOM_MESSAGE_STORED_LEN: usize = ROOM_ID_LEN + SEQ_LEN;
/// Size of a 1300 payload: stock u32, has last resort u8.
pub(super) const KEY_PACKAGE_STOCK_LEN: usize = SIZE_LEN + 1;
/// Size of a 1311 payload: stock u32.
pub(super) const KEY_PACKAGES_LOW_LEN: usize = SIZE_LEN;
/// Size of one cursor of a 136 request: room id, seq.
pub(super) const ROOM_CURSOR_LEN: usize = ROOM_ID_LEN + SEQ_LEN;
/// Size of a 140 payload: room id, seq, offset, max length u32.
pub(super) const ROOM_DOWNLOAD_LEN: usize = ROOM_ID_LEN + SEQ_LEN + OFFSET_LEN + SIZE_LEN;
/// Size of a 139 payload before its meta: room id, file size, meta length.
pub(super) const ROOM_UPLOAD_BEGIN_HEADER_LEN: usize = ROOM_ID_LEN + 8 + COUNT_LEN;
/// Size of a 132 payload's fixed part: room id, two lengths u32.
pub(super) const ROOM_CREATE_HEADER_LEN: usize = ROOM_ID_LEN + 2 * SIZE_LEN;
/// Size of a 133 payload's fixed part: room id, epoch, two lengths u32.
pub(super) const ROOM_COMMIT_HEADER_LEN: usize = ROOM_ID_LEN + EPOCH_LEN + 2 * SIZE_LEN;
/// Size of a 134 payload's fixed part: room id, epoch, file id, length u32.
pub(super) const ROOM_SEND_HEADER_LEN: usize = ROOM_ID_LEN + EPOCH_LEN + FILE_ID_LEN + SIZE_LEN;
/// Size of a 130 payload's fixed part: kind u8, count u16.
pub(super) const KEY_PACKAGES_UPLOAD_HEADER_LEN: usize = 1 + COUNT_LEN;
/// Size of one claimed key package's fixed part: client id, status, length u16.
pub(super) const CLAIMED_HEADER_LEN: usize = CLIENT_ID_LEN + 1 + COUNT_LEN;
/// Size of one member of a 1307 answer: client id, role.
pub(super) const MEMBER_ROLE_LEN: usize = CLIENT_ID_LEN + ROLE_LEN;
/// Size of a 1307 payload's fixed part: room id, epoch, last seq, count.
pub(super) const ROOM_STATUS_HEADER_LEN: usize = ROOM_ID_LEN + EPOCH_LEN + SEQ_LEN + COUNT_LEN;
/// Size of one room of a 1308 answer: room id, epoch, members u16, role.
pub(super) const ROOM_SUMMARY_LEN: usize = ROOM_ID_LEN + EPOCH_LEN + COUNT_LEN + ROLE_LEN;
