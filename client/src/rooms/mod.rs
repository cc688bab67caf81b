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
//! ([`files`]).
//!
//! Left out here: the wire (the room requests are `connection::requests`'
//! business) and what a person sees.

pub mod content;
pub mod files;
mod trust;
mod worker;

pub use content::{ContentError, RoomContent, RoomFile};
pub use files::{
    FinishedUpload, RoomFileError, RoomFileSent, RoomUpload, announce_room_file,
    download_room_file, resume_room_upload, send_room_file, upload_room_file,
};
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

/// The engine's room id of a wire room id.
pub fn engine_room_id(id: protocol::RoomId) -> sealpost_rooms::RoomId {
    sealpost_rooms::RoomId(id.0)
}

#[cfg(test)]
mod tests;
