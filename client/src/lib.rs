//! The Sealpost client library: everything the `client` binary, its menu,
//! its self-test and the end-to-end tests share, kept headless so that tests
//! can drive it.
//!
//! - [`crypto`]: identities, key bundles, fingerprints, the key agreement,
//!   sealed texts and chunked file encryption. Pure computation: no network,
//!   no files, no terminal.
//! - [`keystore`]: the client's persistent local store (one SQLite file in
//!   the user's home folder, plus the `me.info` file): identity, pinned
//!   server and peer keys, sessions and their counters, messages waiting for
//!   their session, handled message ids and unfinished uploads.
//! - [`connection`]: one authenticated version-3 connection (pipelined
//!   requests, pushed deliveries).
//! - [`client`]: the client core (one user's key store and connection,
//!   connecting, retrying); the operations a person asks for are `impl
//!   Client` blocks of their own that build on it and that it does not
//!   know: `peers` (keys: pin, compare, verify, accept), `send` (sessions
//!   and texts), [`transfer`] (files: `transfer::{upload, download}`),
//!   [`inbox`] (receiving, one file per kind of message) and `refusal`.
//! - What they return, in leaves that import none of them: [`error`]
//!   ([`ClientError`]), [`event`] (what arrived), [`peer_info`]
//!   ([`PeerInfo`]); [`downloads`] is the policy for which files download
//!   without asking.
//! - `disk`: owner-only files and folders, and the download's writer thread.
//! - [`contacts`]: the local pins are the authority on names; the
//!   server's name-to-id mapping is only compared with them.
//! - [`history`]: reading and forgetting conversations' history, and
//!   how long it is kept; [`conversations`]: all of them as a list, with
//!   unread counts, for [`tui`] (the full-screen client).
//! - [`link`]: whether the connection is up, for `watch` and the menu.
//! - `receipts`: delivered and read receipts sent back to senders.
//! - `refusal`: the notice sent back to a peer whose message was refused.
//! - [`display`]: escaping of everything a peer chose before it is shown.
//! - [`pin`]: what a key lookup found against the pinned key, and its line.
//! - [`advice`]: how advice names a command for the menu or a script.
//! - [`rooms`]: groups on MLS (the engine's thread, reading the rooms' logs,
//!   commits, the room commands, welcomes, key packages); [`room_cli`]
//!   their scripted words.

#![forbid(unsafe_code)]

mod account;
pub mod advice;
pub mod backup;
pub mod backup_fault;
mod backup_stream;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod connection;
pub mod contacts;
pub mod conversations;
pub mod crypto;
mod disk;
pub mod display;
pub mod downloads;
pub mod error;
pub mod event;
mod heal;
pub mod held_text;
pub mod history;
pub mod inbox;
pub mod keystore;
pub mod link;
pub mod local_time;
pub mod notice;
pub mod output;
pub mod partial;
pub mod passphrase;
pub mod peer_info;
mod peers;
pub mod pin;
pub mod presence;
mod receipts;
mod refusal;
pub mod rejections;
pub mod repl;
pub mod room_cli;
pub mod rooms;
mod script;
pub mod selftest;
mod selftest_room;
mod send;
mod send_cli;
pub mod set_up;
pub mod transfer;
pub mod tui;
mod upload_prefix;
mod watch_cli;

pub use client::{Client, ClientConfig, Progress};
pub use crypto::RefusalReason;
pub use downloads::{DownloadPolicy, HeldOffer};
pub use error::{ClientError, NameConflict, RoomRefusal};
pub use event::{Event, GoneBy, Rejection, Waiting, What};
pub use peer_info::PeerInfo;
pub use pin::PinState;
pub use send::SealedText;
