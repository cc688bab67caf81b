//! The version-3 operations, one file per request kind or tight family, in
//! the way mini-redis gives every command its own file. Each is a function
//! of the shared state, the caller and the request that returns the answer
//! (or, for the pipelined send and acknowledge, a future of it); the
//! session's dispatch (`v3::session`) calls them, so a new operation is one
//! new file here and one line there.
//!
//! Hello, authenticate and subscribe change the connection's own state and
//! live with it, in `v3::auth` and `v3::push`.

pub(crate) mod account;
pub(crate) mod directory;
pub(crate) mod download;
pub(crate) mod key_packages;
pub(crate) mod pull;
pub(crate) mod register;
pub(crate) mod room_files;
pub(crate) mod room_password;
pub(crate) mod rooms;
pub(crate) mod send;
pub(crate) mod upload;
