//! Rooms on the client's side: the MLS engine of the `sealpost-rooms` crate
//! over `rooms.db` in the home folder, bound to this user's identity key
//! and checked against this user's pins.
//!
//! The engine's storage is synchronous SQLite, so it lives on a thread of
//! its own ([`worker`]) and the async code sends it jobs; it never runs on
//! the async workers. The identity and pins it needs are in [`trust`].
//!
//! What a room message carries is typed ([`content`]: a text or a file's
//! announcement); files are sent once and fetched by each member
//! ([`files`]); what is announced is downloaded before it is acknowledged
//! (`receive`).
//!
//! On top of the engine, `impl Client` blocks of their own: `state` (the
//! engine's thread, pins, rooms by name), `sync` (reading the rooms' logs
//! in order, exactly once), `publish` (a commit, retried on a stale epoch,
//! and settling one a lost connection left pending), `commands` (create,
//! add, remove, promote, leave, send, list), `members` (who is in a room,
//! beside the server's word on them), `join` (welcomes),
//! `joining` (public and hidden rooms: list, join by name, the join rule),
//! `name_join` (a join by name noted first, finished after a crash),
//! `moderation` (ban, unban, demote, rename), `password` (room passwords)
//! `stock` (key packages on the server) and `receipts` (how far members
//! read our messages, and telling a room how far we read it).
//!
//! Left out here: the wire (the room requests are `connection::rooms`'
//! business) and what a person sees (`crate::output`).

mod add;
mod behind;
mod commands;
pub mod content;
mod create;
mod delete;
mod deleted;
pub mod event;
pub mod files;
mod gone_members;
mod invitation_refused;
mod join;
mod joining;
mod log_record;
mod members;
mod moderation;
mod name_join;
mod naming;
mod offers;
mod password;
mod publish;
mod receipts;
mod receive;
pub(crate) mod restored;
mod send_file;
mod state;
mod staying;
mod stock;
mod sync;
mod trust;
mod worker;

pub use add::Added;
pub use commands::{Leaving, RoomInfo};
pub use content::{ContentError, RoomContent, RoomFile};
pub use create::CREATE_TEST_CRASH;
pub use deleted::Deleted;
pub use files::{
    FinishedUpload, RoomFileError, RoomFileSent, RoomUpload, announce_room_file,
    download_room_file, resume_room_upload, send_room_file, upload_room_file,
};
pub use join::{TEST_CRASH, Welcomed};
pub use joining::{ListedRoomInfo, rule_of};
pub use log_record::READ_TEST_CRASH;
pub use members::RoomMemberInfo;
pub use naming::typed_room;
pub use password::RoomPassword;
pub use receipts::MAX_RECEIPT_MEMBERS;
pub(crate) use receipts::furthest;
pub(crate) use send_file::ResumeNotes;
pub use send_file::{ResumedUploads, RoomFileReport};
pub use state::{LocalRoom, RoomsState, hex};
pub use trust::{MeSigner, PinBook};
pub use worker::RoomWorker;

/// The state file of the rooms engine, in the home folder.
pub const ROOMS_FILE: &str = "rooms.db";

/// Converts between the wire's ids and the engine's (both 16 bytes).
pub fn engine_client_id(id: protocol::ClientId) -> sealpost_rooms::ClientId {
    sealpost_rooms::ClientId(*id.as_bytes())
}

/// The wire's client id of an engine's client id.
pub fn wire_client_id(id: sealpost_rooms::ClientId) -> protocol::ClientId {
    protocol::ClientId(id.0)
}

/// Sorts a failure to take in something from the room (an entry, a
/// welcome): `Ok` with the error when the content was refused (by the
/// room's rules, our pins, or MLS), to be reported and passed over;
/// `Err` when it is ours to fail on (the state file, the key store, the
/// connection).
pub(crate) fn refused(
    err: crate::error::ClientError,
) -> Result<crate::error::ClientError, crate::error::ClientError> {
    use crate::error::ClientError;
    use sealpost_rooms::RoomsError;
    match err {
        ClientError::Room(RoomsError::Database(_) | RoomsError::Migration(_)) => Err(err),
        ClientError::Room(_)
        | ClientError::UnknownPeer(_)
        | ClientError::NoValidKey(_)
        | ClientError::NameConflict(_) => Ok(err),
        other => Err(other),
    }
}

/// Debug builds only: aborts, as a kill -9 would stop the client, when the
/// variable `var` names the point `at` (the crash tests' points of a join,
/// a creation or a read of the rooms' logs).
pub(super) fn test_crash(var: &str, at: &str) {
    if cfg!(debug_assertions) && std::env::var_os(var).is_some_and(|v| v == at) {
        std::process::abort();
    }
}

/// The engine's room id of a wire room id.
pub fn engine_room_id(id: protocol::RoomId) -> sealpost_rooms::RoomId {
    sealpost_rooms::RoomId(id.0)
}

#[cfg(test)]
mod tests;
