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

/// Parses a size as people write it, in the decimal units every size is
/// shown in: `65536` (bytes), `500kB`, `64MB`, `1.5GB`, `2TB` (a bare `K`,
/// `M`, `G`, `T` means the same). The binary `KiB`, `MiB`, `GiB`, `TiB` are
/// accepted too, for the scripts written when the limit took only those.
/// Case does not matter; a fraction of a byte is dropped.
///
/// # Errors
/// Not a size, or more bytes than a `u64` holds; the text says which.
pub fn parse_size(text: &str) -> Result<u64, String> {
    const NOT_A_SIZE: &str = "not a size: write bytes, or a number with kB, MB, GB or TB \
                              (or KiB, MiB, GiB, TiB), e.g. 64MB or 1.5GB";
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let unit: u128 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return Err(NOT_A_SIZE.into()),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    // Integers, not floats: 1.1MB is exactly 1,100,000 bytes. At most 18
    // decimals keep the arithmetic within u128.
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits_only(fraction) || fraction.len() > 18 {
        return Err(NOT_A_SIZE.into());
    }
    if unit == 1 && !fraction.trim_end_matches('0').is_empty() {
        return Err("not a whole number of bytes".into());
    }
    let too_large = || format!("too large (at most {} bytes)", u64::MAX);
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse::<u64>().map_err(|_| too_large())?.into()
    };
    let scale = 10u128.pow(fraction.len() as u32);
    let fraction: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| NOT_A_SIZE.to_string())?
    };
    let bytes = whole * unit + fraction * unit / scale;
    u64::try_from(bytes).map_err(|_| too_large())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_units_are_the_ones_sizes_are_shown_in() {
        for (text, bytes) in [
            ("65536", 65_536),
            ("0", 0),
            ("500kB", 500_000),
            ("500KB", 500_000),
            ("64MB", 64_000_000),
            ("64 MB", 64_000_000),
            ("64mb", 64_000_000),
            ("64M", 64_000_000),
            ("1.5GB", 1_500_000_000),
            ("1.1MB", 1_100_000),
            ("0.5kB", 500),
            (".5kB", 500),
            ("2TB", 2_000_000_000_000),
            ("10B", 10),
            ("3.0", 3),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn binary_units_still_mean_what_they_meant() {
        for (text, bytes) in [
            ("64MiB", 64 << 20),
            ("100KiB", 100 << 10),
            ("1.5GiB", 3 << 29),
            ("1TiB", 1 << 40),
            // A fraction of a byte is dropped, not rounded up.
            ("0.1KiB", 102),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn the_default_shows_as_64_mb() {
        assert_eq!(
            parse_size("64MB"),
            Ok(DownloadPolicy::default().max_auto_download)
        );
        assert_eq!(crate::output::size(DEFAULT_MAX_AUTO_DOWNLOAD), "64.00 MB");
    }

    #[test]
    fn what_is_not_a_size_says_why_in_one_line() {
        for bad in [
            "", "M", "-1", "12X", "1e9", "1.2.3MB", "64 M B", "1,5GB", "..", "MB64",
        ] {
            let why = parse_size(bad).expect_err(bad);
            assert!(
                why.starts_with("not a size") && why.contains("64MB"),
                "{bad}: {why}"
            );
            assert!(!why.contains('\n'), "{bad}: {why}");
        }
        assert_eq!(
            parse_size("1.5").unwrap_err(),
            "not a whole number of bytes"
        );
        for huge in [
            "18446744073709551616",
            "20000000TB",
            "99999999999999999999999",
        ] {
            assert!(
                parse_size(huge).unwrap_err().starts_with("too large"),
                "{huge}"
            );
        }
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
    }
}
