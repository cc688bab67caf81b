//! Which received files download by themselves, and the user's decision on
//! the others.
//!
//! A file downloads at once only if its sender is a **contact** (a peer the
//! user sent something to, or looked up or verified on purpose: see
//! [`crate::keystore`]) and it is at most [`DownloadPolicy::max_auto_download`]
//! bytes (default [`DEFAULT_MAX_AUTO_DOWNLOAD`]). Any other file offer is
//! authenticated, its counter used and its metadata kept in the key store,
//! and it is **held**: the file stays on the server, unacknowledged, until
//! the user accepts it ([`crate::Client::accept_file`]: downloaded then) or
//! declines it ([`crate::Client::decline_file`]: acknowledged, so the server
//! deletes it). Scripts that want every file say so
//! ([`DownloadPolicy::accept_all`], `--accept-files`).
//!
//! Here are the policy and what the user is shown of a held offer, plain
//! values the client core holds and the front ends read; applying them
//! (holding, accepting, declining) is `crate::inbox::files`, and the
//! housekeeping that bounds the downloads folder runs with each read of
//! the inbox. Left out: the transfer itself ([`crate::transfer`]).

use std::time::Duration;

use protocol::ClientId;
use serde::Serialize;

use crate::keystore::HoldReason;
use crate::peer_info::hex_id;

/// The automatic download limit unless the user sets another: 64 MB, as
/// sizes are shown (decimal).
pub const DEFAULT_MAX_AUTO_DOWNLOAD: u64 = 64_000_000;
/// How long an interrupted download's part is kept without being resumed.
pub const PARTIAL_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Which files download without asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadPolicy {
    /// Largest file (plaintext bytes) downloaded from a contact without
    /// asking.
    pub max_auto_download: u64,
    /// Download every file, from anyone, of any size (`--accept-files`).
    pub accept_all: bool,
}

impl Default for DownloadPolicy {
    fn default() -> Self {
        Self {
            max_auto_download: DEFAULT_MAX_AUTO_DOWNLOAD,
            accept_all: false,
        }
    }
}

/// A held file offer, as the user sees it.
#[derive(Debug, Clone, Serialize)]
pub struct HeldOffer {
    /// The server's message id: `accept-file N`, `decline-file N`.
    pub message_id: u64,
    /// The sender's client id.
    #[serde(serialize_with = "hex_id")]
    pub from: ClientId,
    /// The sender's name as pinned, if known (escape before printing).
    pub from_name: Option<String>,
    /// The file's name as the sender gave it (escape before printing).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Why it waits.
    pub reason: HoldReason,
    /// When the server stored it (ms since the Unix epoch).
    pub sent_at_ms: u64,
    /// The sender's sealed clock when it sent it (ms since the Unix
    /// epoch), the time shown; `None` if not known (a room's offer, or one
    /// held by an older version).
    pub sender_time_ms: Option<u64>,
    /// The room it was sent to (escape before printing); `None` for a file
    /// sent to us alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
}

/// What became of a message that is no file offer waiting, for the
/// error that says so ([`crate::ClientError::NoHeldFile`]).
#[derive(Debug, Clone)]
pub struct Decided {
    /// Its history entry (received here).
    pub entry: crate::keystore::HistoryEntry,
    /// The sender's name as pinned, if known (escape before printing).
    pub from_name: Option<String>,
}

/// A file offer's number (as `files` and `inbox` show it, `#` allowed
/// before it), for the command line and the menu alike.
///
/// # Errors
/// Not a number: the line to show.
pub fn offer_number(text: &str) -> Result<u64, String> {
    let t = text.trim();
    t.strip_prefix('#')
        .unwrap_or(t)
        .parse()
        .map_err(|_| not_an_offer_number(t))
}

/// What a word that is not a file offer's number gets.
pub fn not_an_offer_number(text: &str) -> String {
    format!("\"{text}\" is not a file offer's number; `files` lists them with their numbers")
}

/// Sizes as people write them, in the decimal units every size is shown in
/// (shared with the server: `startup::size`).
pub use startup::size::parse as parse_size;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_shows_as_64_mb() {
        assert_eq!(
            parse_size("64MB"),
            Ok(DownloadPolicy::default().max_auto_download)
        );
        assert_eq!(crate::output::size(DEFAULT_MAX_AUTO_DOWNLOAD), "64.00 MB");
    }
}
