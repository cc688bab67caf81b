//! Server settings in two layers, as ripgrep keeps its low- and high-level
//! arguments apart: [`Options`] holds values as given (the command line in
//! `cli.rs` fills it, tests adjust its defaults), and [`Config::new`] checks
//! them. A [`Config`] therefore always holds settings the server can run
//! with: it reads as its options (through `Deref`) and cannot be changed.

use std::ops::Deref;
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

/// Everything the server needs to know to run, as given: not yet checked
/// (see [`Config::new`]).
#[derive(Debug, Clone)]
pub struct Options {
    /// Folder holding `server.db`, `files/`, `server.key` and `server.lock`.
    pub data_dir: PathBuf,
    /// A PostgreSQL connection string (`postgres://...`): the store's
    /// PostgreSQL engine, shared by every node given the same one. None: the
    /// SQLite database in the data folder.
    pub database: Option<String>,
    /// Folder of file bodies; None: `files/` in the data folder. Nodes on
    /// one PostgreSQL database share one.
    pub files_dir: Option<PathBuf>,
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
    /// A frame not whole this long after its first byte is abandoned, and
    /// its connection closed (slow or stalled peers, half-sent headers,
    /// trickled bytes); a frame longer than this at 64 KiB/s gets as long
    /// as it takes at that rate (`frame_clock`).
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
    /// Room log entries older than this are deleted, read or not (zero:
    /// none are, until read).
    pub room_retention: Duration,
    /// Pushed, unacknowledged messages outstanding on one connection.
    pub push_window: usize,
    /// Free disk space kept for deletes (see `crate::headroom`); None: 1% of
    /// the file system, at most 256 MB.
    pub min_free_space: Option<u64>,
}

impl Options {
    /// The defaults, with data in `data_dir` (the flags' own: sizes in
    /// decimal units, as `startup::size` reads them).
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            database: None,
            files_dir: None,
            legacy_v2: false,
            max_connections: 10_240,
            max_connections_per_ip: 1024,
            v2_max_content: protocol::v2::MAX_CONTENT_LEN,
            idle_timeout: Duration::from_secs(300),
            stall_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            durability: Durability::Full,
            max_message_len: protocol::MAX_MESSAGE_LEN as u32,
            max_file_size: 16_000_000_000,
            inbox_max_messages: 100_000,
            inbox_max_bytes: 8_000_000_000,
            // As much as one inbox: the largest file a default server can
            // deliver still fits, and one account fills at most an eighth of
            // the default storage.
            sender_max_bytes: 8_000_000_000,
            max_storage_bytes: 64_000_000_000,
            requests_per_second: 20_000,
            max_uploads_per_client: 8,
            upload_max_age: Duration::from_secs(24 * 3600),
            room_retention: Duration::from_secs(30 * 24 * 3600),
            push_window: 1024,
            min_free_space: None,
        }
    }
}

/// Options a server cannot run with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A version-3 message limit over what the protocol can carry.
    #[error("--max-message {0} is over the protocol's limit of {max}", max = protocol::MAX_MESSAGE_LEN)]
    MessageLimitOverProtocol(u32),
    /// No connection could ever be served.
    #[error("connection limits must be at least 1")]
    NoConnections,
}

/// Checked settings: [`Options`] that [`Config::new`] accepted.
#[derive(Debug, Clone)]
pub struct Config {
    options: Options,
}

impl Config {
    /// Checks `options`.
    ///
    /// # Errors
    /// A message limit over the protocol's, or a connection limit of zero.
    pub fn new(options: Options) -> Result<Config, ConfigError> {
        if options.max_message_len as usize > protocol::MAX_MESSAGE_LEN {
            return Err(ConfigError::MessageLimitOverProtocol(
                options.max_message_len,
            ));
        }
        if options.max_connections == 0 || options.max_connections_per_ip == 0 {
            return Err(ConfigError::NoConnections);
        }
        Ok(Config { options })
    }

    /// Path of the database.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("server.db")
    }

    /// Folder of file blobs.
    pub fn files_dir(&self) -> PathBuf {
        match &self.options.files_dir {
            Some(dir) => dir.clone(),
            None => self.data_dir.join("files"),
        }
    }

    /// Whether file bodies go in the PostgreSQL database: on `--database`
    /// unless `--files-dir` names a folder.
    pub fn bodies_in_database(&self) -> bool {
        self.options.database.is_some() && self.options.files_dir.is_none()
    }

    /// Path of the server's identity key.
    pub fn key_path(&self) -> PathBuf {
        self.data_dir.join("server.key")
    }
}

impl Deref for Config {
    type Target = Options;

    fn deref(&self) -> &Options {
        &self.options
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_a_valid_config() {
        assert!(Config::new(Options::new("data")).is_ok());
    }

    #[test]
    fn options_a_server_cannot_run_with_are_refused_in_the_command_line_s_words() {
        let mut options = Options::new("data");
        options.max_message_len = protocol::MAX_MESSAGE_LEN as u32 + 1;
        assert_eq!(
            Config::new(options).unwrap_err().to_string(),
            format!(
                "--max-message {} is over the protocol's limit of {}",
                protocol::MAX_MESSAGE_LEN + 1,
                protocol::MAX_MESSAGE_LEN
            )
        );
        for (total, per_ip) in [(0, 1), (1, 0)] {
            let mut options = Options::new("data");
            options.max_connections = total;
            options.max_connections_per_ip = per_ip;
            assert_eq!(
                Config::new(options).unwrap_err().to_string(),
                "connection limits must be at least 1"
            );
        }
    }
}
