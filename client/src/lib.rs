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
//! - [`client`]: the operations a person asks for, over all of the above;
//!   [`inbox`] is the receiving half and [`transfer`] moves files;
//!   [`downloads`] decides which files download without asking.
//! - [`contacts`]: the local pins are the authority on names; the
//!   server's name-to-id mapping is only compared with them.
//! - [`link`]: whether the connection is up, for `watch` and the menu.
//! - [`pin`]: what a key lookup found against the pinned key, and its line.
//! - [`advice`]: how advice names a command for the menu or a script.
//! - `refusal`: the notice sent back to a peer whose message was refused.
//! - [`display`]: escaping of everything a peer chose before it is shown.

#![forbid(unsafe_code)]

pub mod advice;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod connection;
pub mod contacts;
pub mod crypto;
pub mod display;
pub mod downloads;
pub mod inbox;
pub mod keystore;
pub mod link;
pub mod output;
pub mod partial;
pub mod pin;
mod refusal;
pub mod repl;
pub mod selftest;
pub mod transfer;
mod upload_prefix;

pub use client::{Client, ClientConfig, ClientError, PeerInfo, Progress};
pub use crypto::RefusalReason;
pub use downloads::{DownloadPolicy, HeldOffer};
pub use inbox::{Event, Rejection, Waiting, What};
pub use pin::PinState;
