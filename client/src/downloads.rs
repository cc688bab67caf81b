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

/// The automatic download limit unless the user sets another: 64 MiB.
pub const DEFAULT_MAX_AUTO_DOWNLOAD: u64 = 64 * 1024 * 1024;
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

/// Parses a size as people write it: `65536`, `64K`, `64M`, `1.5G`, `64MiB`
/// (K, M, G, T are binary multiples, as in "64 MiB").
///
/// # Errors
/// Not a size.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("{text:?} is not a size (try 64M or 1G)")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (try 64M or 1G)"))?;
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("{text:?} is out of range"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_as_people_write_them() {
        assert_eq!(parse_size("65536").unwrap(), 65536);
        assert_eq!(parse_size("64M").unwrap(), 64 << 20);
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("1.5G").unwrap(), 3 << 29);
        assert_eq!(parse_size("0").unwrap(), 0);
        for bad in ["", "M", "-1", "12X", "1e99G"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
