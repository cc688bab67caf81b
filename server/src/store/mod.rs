//! Persistence: one SQLite database in WAL mode, never touched from the async
//! workers.
//!
//! - Writes go to the single writer thread ([`writer`]) through a queue and
//!   are committed in groups; each caller awaits its own answer, which comes
//!   only after the commit.
//! - Reads of messages and uploads run on a small pool of read-only
//!   connections inside `spawn_blocking` ([`readers`]).
//! - Registered clients are also kept in memory ([`Directory`]), so lookups
//!   and lists cost no database access.
//!
//! This file only names the parts and what the rest of the server may use;
//! none of the parts imports it. The handle is in `handle.rs`, what callers
//! ask of it in one file per kind of row (`clients.rs`, `messages.rs`,
//! `uploads.rs`), the values they exchange in `values.rs`.
//!
//! File bodies are not stored here: a message row refers to its blob by name
//! (see `crate::blobs`).

mod admin;
mod checkpoint;
mod clients;
mod directory;
mod handle;
mod messages;
mod not_delivered;
mod pg;
mod quota;
mod readers;
pub mod restored;
mod room_access;
mod room_holds;
mod room_passwords;
mod rooms;
mod rows;
pub mod schema;
mod uploads;
mod values;
mod writer;

pub use admin::Totals;
pub use directory::{Protocol, name_key};
pub use handle::Store;
pub use pg::BodyPlace;
pub(crate) use pg::Told;
pub use quota::Limits;
pub(crate) use room_passwords::GuessLimits;
pub use rooms::RoomFileRefusal;
pub use values::{
    MessageBody, NewMessage, PresenceUpdate, StoreEvent, Stored, UploadRecord, UploadTo,
    WaitingMessage, ms_ago, now_ms,
};
