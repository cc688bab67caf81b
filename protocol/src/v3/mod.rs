//! Version 3: persistent, authenticated sessions with acknowledged delivery,
//! push, chunked files and reasoned errors. Same framing as version 2.
//!
//! Every payload layout is drawn in PROTOCOL.md, the short forms beside the
//! code that parses them.
//!
//! Requests are in `request.rs`, responses in `response.rs` (their payloads
//! in `answers.rs`), the message entry that both pulls and pushes carry (with
//! the file offer inside it) in `delivery.rs`, the type-7 content in
//! `not_delivered.rs`, the sizes of every fixed-size
//! field and payload in `layout.rs`, and rooms' payloads in `rooms/`. This file only names the
//! parts; none of them imports it.

mod answers;
mod delivery;
mod layout;
mod not_delivered;
mod presence;
mod request;
mod response;
mod rooms;

pub use crate::payload::{Register, SendMessage};
pub use answers::{
    AccountDeleted, AckStatus, Challenge, ChunkStored, ClientEntry, ClientPage, FileChunk,
    FileSent, MessageStored, PeerKey, ServerError, ServerLimits, UploadStatus,
};
pub use delivery::{Delivery, FileOffer, MessageBatch};
pub use layout::{
    DELIVERY_HEADER_LEN, LIST_ENTRY_HEADER_LEN, NONCE_LEN, SERVER_LIMITS_LEN, SIGNATURE_LEN,
    SIGNING_KEY_LEN,
};
pub use not_delivered::{
    GoneReason, MAX_NOT_DELIVERED_IDS, MAX_NOT_DELIVERED_LEN, NOT_DELIVERED_HEADER_LEN,
    NotDelivered,
};
pub use presence::{Presence, PresenceChange, PresenceChanges};
pub use request::{
    Download, Hello, PULL_READS_NOT_DELIVERED, Pull, Request, UploadBegin, UploadChunk,
};
pub use response::Response;
pub use rooms::{
    ClaimStatus, ClaimedKeyPackage, CommitAccepted, GroupInfoStored, KeyPackageKind,
    KeyPackageStock, KeyPackagesUpload, ListedRoom, MAX_LISTED_ROOMS, MAX_PAKE_MESSAGE_LEN,
    MAX_ROOM_FILE_HOLDS, MAX_ROOM_NAME_LEN, MAX_ROOM_NOTICE_LEN, MAX_ROOM_WELCOME_LEN,
    ROOM_ENTRY_HEADER_LEN, ROOM_ID_LEN, ROOM_NOTICE_HEADER_LEN, ROOM_WELCOME_HEADER_LEN,
    RoomAckStatus, RoomBatch, RoomCommit, RoomCreate, RoomCreated, RoomCursor, RoomDelete,
    RoomDownload, RoomEntry, RoomEntryKind, RoomFileHold, RoomGroupInfo, RoomLabel, RoomMemberRole,
    RoomMessageStored, RoomNotice, RoomPake, RoomRole, RoomSend, RoomStatus, RoomSummary,
    RoomUploadBegin, RoomWelcome,
};
