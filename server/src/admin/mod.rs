//! The operator's channel to a running server: a Unix socket,
//! `<data>/admin.sock`, mode 0600 inside the 0700 data folder, answering
//! only processes of the server's own user (or root), checked by the
//! kernel's peer credentials. Not TCP: a local socket has no port anyone on
//! the LAN could reach, its access is the file system's and the kernel's to
//! decide, and it needs no second set of credentials.
//!
//! One request per connection: a JSON line ([`Request`]), answered by a
//! JSON line, `{"ok": ...}` or `{"error": "..."}`. A backup's answer is
//! followed by the archive itself (see `backup.rs`). The `server` binary's
//! `status`, `user` and `backup` commands are the client (`client.rs`).

mod backup;
pub mod client;
mod serve;

use serde::{Deserialize, Serialize};

pub use backup::{BACKUP_MANIFEST, Manifest, RestoreError, restore};
pub(crate) use serve::AdminSocket;

/// The socket's file name in the data folder.
pub const SOCKET_FILE: &str = "admin.sock";
/// Longest request line.
const MAX_REQUEST: usize = 4096;

/// What the operator asks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Request {
    /// The server's figures.
    Status,
    /// Every account.
    Users,
    /// Removes an account by name.
    RemoveUser {
        /// The name (ASCII case ignored).
        name: String,
    },
    /// A consistent copy of the database and file bodies, as a tar archive
    /// following the answer line.
    Backup,
    /// Where pushed messages spent their time in this server process
    /// (`crate::timing`), since the last reset; `reset` starts anew.
    Latency {
        /// Clear the figures after reading them.
        #[serde(default)]
        reset: bool,
    },
}

/// The answer to [`Request::Status`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    /// The server's version.
    pub version: String,
    /// Its identity fingerprint (what clients pinned).
    pub fingerprint: String,
    /// Seconds since it opened its data folder.
    pub uptime_seconds: u64,
    /// In a cluster, this node's name.
    #[serde(default)]
    pub node: Option<String>,
    /// In a cluster, the nodes heard from within the timeout a silent
    /// node is dropped after (ten seconds), by name.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// Connections open now (to this node).
    pub connections: usize,
    /// Accounts with an authenticated connection now (in a cluster, to
    /// any node, as the others last told: within a heartbeat; with the
    /// database unreachable, to this node only).
    pub users_online: usize,
    /// Whether the database answered (a cluster node's PostgreSQL may be
    /// down while the node still serves). When it did not, the figures
    /// only the database holds are `None` (JSON `null`), and
    /// `database_error` says why.
    #[serde(default = "reachable")]
    pub database_reachable: bool,
    /// Why the database could not be read, in one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_error: Option<String>,
    /// Registered accounts.
    pub users_registered: Option<u64>,
    /// Messages waiting to be fetched (files included).
    pub messages_waiting: Option<u64>,
    /// Their bytes.
    pub bytes_waiting: Option<u64>,
    /// Unfinished uploads.
    pub uploads_in_progress: Option<u64>,
    /// Bytes those uploads have sent so far.
    pub upload_bytes_received: Option<u64>,
    /// Bytes counted against `max_storage`: waiting messages and the full
    /// size of unfinished uploads.
    pub storage_used: Option<u64>,
    /// `--max-storage`.
    pub max_storage: u64,
    /// `--inbox-max-messages`.
    pub inbox_max_messages: u64,
    /// `--inbox-max-bytes`.
    pub inbox_max_bytes: u64,
    /// `--sender-max-bytes`.
    pub sender_max_bytes: u64,
    /// Free bytes on the data folder's disk.
    pub disk_free: u64,
    /// Free bytes kept in reserve for deletes (`--min-free-space`).
    pub disk_reserve: u64,
}

fn reachable() -> bool {
    true
}

/// One account in the answer to [`Request::Users`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    /// Its name.
    pub name: String,
    /// Its client id (32 hex digits).
    pub id: String,
    /// The protocol version it registered through (2 or 3).
    pub protocol: u8,
    /// Whether it has an authenticated connection now (in a cluster, to
    /// any node).
    pub online: bool,
    /// Registration time, ms since the Unix epoch.
    pub registered_at_ms: u64,
    /// When it last authenticated a connection, ms since the Unix epoch.
    /// Version 2 has no sessions: a version-2 account's stays at its
    /// registration (its pulls are not counted: one write each would slow
    /// the protocol the benchmark compares).
    pub last_seen_ms: u64,
    /// Messages waiting for it.
    pub messages_waiting: u64,
    /// Their bytes.
    pub bytes_waiting: u64,
}

/// The answer to [`Request::RemoveUser`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Removed {
    /// The name, now free.
    pub name: String,
    /// Messages that were waiting for it, deleted.
    pub messages_deleted: u64,
    /// Their bytes.
    pub bytes_deleted: u64,
    /// Unfinished uploads from or to it, deleted.
    pub uploads_deleted: u64,
    /// Its connections to this node, closed.
    pub sessions_closed: usize,
    /// In a cluster, the other nodes it was connected to, which close its
    /// sessions there when they hear of the removal.
    #[serde(default)]
    pub closing_on_nodes: Vec<String>,
}

/// The answer line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer<T> {
    /// Done.
    Ok(T),
    /// Refused, in the server's words (one line).
    Error(String),
    /// Failed inside the server (its store: a database out of reach), in
    /// one line: not a refusal of what was asked.
    Failed(String),
}
