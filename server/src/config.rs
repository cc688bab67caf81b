//! Validated server settings. The command line (`main.rs`) builds a
//! [`Config`]; tests build one with [`Config::new`] and adjust fields.

use std::path::PathBuf;
use std::time::Duration;

/// Default TCP port, as in the reference system.
pub const DEFAULT_PORT: u16 = 1357;

/// How hard SQLite works to make a commit durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync the write-ahead log on every commit: an answered message
    /// survives a power cut as well as a crash.
    Full,
    /// Let the OS write the log: an answered message survives a crash of the
    /// server (kill -9) but not of the machine.
    Normal,
}

/// Everything the server needs to know to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Folder holding `server.db`, `files/`, `server.key` and `server.lock`.
    pub data_dir: PathBuf,
    /// Serve version-2 requests (no authentication: off unless asked for).
    pub legacy_v2: bool,
    /// Connections served at once; more are refused.
    pub max_connections: usize,
    /// Connections served at once from one IP address.
    pub max_connections_per_ip: usize,
    /// Largest content of a version-2 send.
    pub v2_max_content: u32,
    /// A connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// A frame that stops arriving for this long is abandoned (slow or
    /// stalled peers, half-sent headers).
    pub stall_timeout: Duration,
    /// On shutdown, requests in progress get this long to finish.
    pub shutdown_grace: Duration,
    /// Commit durability.
    pub durability: Durability,
    /// Largest content of a version-3 send.
    pub max_message_len: u32,
    /// Largest file.
    pub max_file_size: u64,
    /// Most messages waiting for one recipient.
    pub inbox_max_messages: u64,
    /// Most bytes waiting for one recipient (files included).
    pub inbox_max_bytes: u64,
    /// Most bytes one sender may have waiting for recipients (messages not
    /// yet acknowledged, and unfinished uploads).
    pub sender_max_bytes: u64,
    /// Most bytes stored in all (messages, files and unfinished uploads).
    pub max_storage_bytes: u64,
    /// Requests per second on one connection (0: no limit).
    pub requests_per_second: u32,
    /// Unfinished uploads one client may have.
    pub max_uploads_per_client: u32,
    /// Unfinished uploads older than this are deleted.
    pub upload_max_age: Duration,
    /// Pushed, unacknowledged messages outstanding on one connection.
    pub push_window: usize,
    /// Free disk space kept for deletes (see `crate::headroom`); None: 1% of
    /// the file system, at most 256 MiB.
    pub min_free_space: Option<u64>,
}

impl Config {
    /// The defaults, with data in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            legacy_v2: false,
            max_connections: 10_240,
            max_connections_per_ip: 1024,
            v2_max_content: protocol::v2::MAX_CONTENT_LEN,
            idle_timeout: Duration::from_secs(300),
            stall_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            durability: Durability::Full,
            max_message_len: protocol::MAX_MESSAGE_LEN as u32,
            max_file_size: 16 << 30,
            inbox_max_messages: 100_000,
            inbox_max_bytes: 8 << 30,
            // As much as one inbox: the largest file a default server can
            // deliver still fits, and one account fills at most an eighth of
            // the default storage.
            sender_max_bytes: 8 << 30,
            max_storage_bytes: 64 << 30,
            requests_per_second: 20_000,
            max_uploads_per_client: 8,
            upload_max_age: Duration::from_secs(24 * 3600),
            push_window: 1024,
            min_free_space: None,
        }
    }

    /// Path of the database.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("server.db")
    }

    /// Folder of file blobs.
    pub fn files_dir(&self) -> PathBuf {
        self.data_dir.join("files")
    }

    /// Path of the server's identity key.
    pub fn key_path(&self) -> PathBuf {
        self.data_dir.join("server.key")
    }
}
