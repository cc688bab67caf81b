//! How a moment is written for a person, in one leaf so that errors and
//! output word times alike without importing each other.

use chrono::{Local, TimeZone};

/// `2026-11-23 10:15:02`, local time.
pub fn time(ms: u64) -> String {
    Local
        .timestamp_millis_opt(ms as i64)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "????-??-?? ??:??:??".into())
}
