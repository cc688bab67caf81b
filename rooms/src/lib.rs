//! Sealpost rooms: end-to-end encrypted groups on MLS (RFC 9420), with
//! openmls doing every MLS mechanism.
//!
//! This crate is the engine both sides of a room use, without any network:
//! - a member's [`RoomEngine`]: our MLS identity bound to the Sealpost
//!   identity key ([`identity`]), key packages ([`keys`]), creating rooms,
//!   committing adds, removals and role changes ([`commits`]), encrypting
//!   once for the room and processing what the room's log delivers
//!   ([`incoming`]), all persisted in one SQLite file ([`store`]);
//! - the server's [`RoomObserver`]: an MLS `PublicGroup` per room that
//!   follows the public handshake messages and refuses a commit before it is
//!   fanned out ([`observer`]);
//! - the rules both apply to every commit ([`policy`]) over the roles kept
//!   in the group context ([`roles`]), next to the room's name ([`name`])
//!   and its access rules (join rule, bans: [`access`]).
//!
//! Ciphersuite `MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519` only.
//! Handshake messages (commits, proposals) are MLS public messages so the
//! server can follow membership and roles; application messages are private.
//!
//! Deliberately left out: the wire format and the delivery service (the
//! server's log, epoch compare-and-set, cursors; PROTOCOL.md "Rooms"), pin
//! storage (the client's, behind [`Pins`]), files (a file key travels inside
//! an application message), and anything async: openmls's storage is
//! synchronous, so callers run this crate off their async workers.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod access;
mod cache;
pub mod commits;
pub mod engine;
pub mod entries;
pub mod error;
pub mod identity;
pub mod ids;
pub mod incoming;
pub mod join;
mod kept;
mod kept_table;
pub mod keys;
mod lapsed;
pub mod name;
pub mod observer;
pub mod password;
pub mod policy;
pub mod roles;
pub mod snapshot;
pub mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod tests;

pub use access::{Access, JoinRule};
pub use commits::Outgoing;
pub use engine::{LeafKey, RoomCreated, RoomEngine, RoomId, RoomMember};
pub use error::{IdentityError, PolicyError, RoomsError};
pub use identity::{ClientId, IdentitySigner, Pins};
pub use incoming::{Header, Incoming, Joined, peek_header};
pub use kept::{EntryOutcome, EntryRead};
pub use keys::{CIPHERSUITE, KeyPackageOut, check_upload};
pub use name::RoomName;
pub use observer::{Observed, ObserverTx, RoomObserver, RoomState, check_group_info};
pub use password::{
    PasswordError, PasswordLogin, PasswordRegistration, PasswordServer, PendingLogin,
};
pub use policy::{CommitSummary, may_delete};
pub use roles::Role;
pub use snapshot::{Changes, RoomSnapshot};
pub use store::migrate;

/// Most members a room may have (the benchmark size).
pub const MAX_ROOM_MEMBERS: usize = 1000;
