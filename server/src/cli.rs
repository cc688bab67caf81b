//! The command line: flags, `port.info`, signals. Flags are parsed here
//! into the library's [`Options`] (units converted, nothing judged);
//! [`Config::new`] checks them.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use server::{Config, DEFAULT_PORT, Durability, Options, Server};
use tokio::net::TcpListener;

/// Sealpost server: stores end-to-end encrypted messages and files for the
/// clients of a LAN until they fetch them. It never sees a plaintext or a
/// private key.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Configuration file: one key per flag (`max-connections = 512`);
    /// flags given here win over it. Without this flag
    /// /etc/sealpost/server.toml is read if it exists.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// TCP port to listen on. Without it the port is read from `port.info`
    /// in the working directory, and without that file it is 1357.
    #[arg(long, global = true)]
    pub port: Option<u16>,

    /// Address to listen on (0.0.0.0: every interface of the LAN).
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED), global = true)]
    pub bind: IpAddr,

    /// Folder for the database (server.db), file bodies (files/) and the
    /// server's identity key (server.key).
    #[arg(long, default_value = "data", global = true)]
    pub data_dir: PathBuf,

    /// Keep all state in this PostgreSQL database (postgres://user@host/db)
    /// instead of SQLite in the data folder, file bodies included unless
    /// --files-dir is given: several servers given the same one (and the
    /// same --files-dir, if any) and the same server.key form a cluster.
    #[arg(long, global = true)]
    pub database: Option<String>,

    /// Folder for file bodies (default: files/ in the data folder; with
    /// --database, the database itself). Servers of one cluster given it
    /// share one folder (a network file system between machines).
    #[arg(long, global = true)]
    pub files_dir: Option<PathBuf>,

    /// Serve protocol version 2, the reference protocol. It has no
    /// authentication: anyone on the network can read and delete anyone's
    /// waiting messages. Off unless given.
    #[arg(long, global = true)]
    pub legacy_v2: bool,

    /// Log level or tracing filter (error, warn, info, debug, trace).
    #[arg(long, default_value = "info", global = true)]
    pub log_level: String,

    /// Connections served at once; more are refused with an error.
    #[arg(long, default_value_t = 10_240, global = true)]
    pub max_connections: usize,

    /// Connections served at once from one IP address.
    #[arg(long, default_value_t = 1024, global = true)]
    pub max_connections_per_ip: usize,

    /// Seconds a connection may stay silent before it is closed.
    #[arg(long, default_value_t = 300, global = true)]
    pub idle_timeout: u64,

    /// Seconds a frame may take to arrive, from its first byte, before the
    /// connection is closed (a frame too long for that at 64 KiB/s gets as
    /// long as it takes at that rate).
    #[arg(long, default_value_t = 30, global = true)]
    pub stall_timeout: u64,

    /// Seconds requests in progress get to finish when the server stops.
    #[arg(long, default_value_t = 10, global = true)]
    pub shutdown_grace: u64,

    /// Largest message content of a version-2 send (bytes; K, M, G suffixes
    /// allowed, powers of 1024). At most 4G, which stands for the protocol's
    /// own limit: 4 GiB less a pulled message's 25-byte header.
    #[arg(long, value_parser = parse_size, default_value = "4G", global = true)]
    pub v2_max_content: u64,

    /// Largest message content of a version-3 send or room message (1K to
    /// 256K).
    #[arg(long, value_parser = parse_size, default_value = "256K", global = true)]
    pub max_message: u64,

    /// Largest file.
    #[arg(long, value_parser = parse_size, default_value = "16G", global = true)]
    pub max_file_size: u64,

    /// Most messages waiting for one recipient.
    #[arg(long, default_value_t = 100_000, global = true)]
    pub inbox_max_messages: u64,

    /// Most bytes waiting for one recipient, files included.
    #[arg(long, value_parser = parse_size, default_value = "8G", global = true)]
    pub inbox_max_bytes: u64,

    /// Most bytes one sender may have waiting for recipients: its messages
    /// not yet acknowledged, its room messages and room files not yet read
    /// by every member, and its unfinished uploads.
    #[arg(long, value_parser = parse_size, default_value = "8G", global = true)]
    pub sender_max_bytes: u64,

    /// Most bytes stored in all: messages, files and unfinished uploads.
    #[arg(long, value_parser = parse_size, default_value = "64G", global = true)]
    pub max_storage: u64,

    /// Requests per second allowed on one connection (0: no limit).
    #[arg(long, default_value_t = 20_000, global = true)]
    pub requests_per_second: u32,

    /// Unfinished uploads one client may have.
    #[arg(long, default_value_t = 8, global = true)]
    pub max_uploads_per_client: u32,

    /// Hours after which an unfinished upload that made no progress is
    /// deleted (1 to 87840).
    #[arg(long, default_value_t = 24, global = true)]
    pub upload_max_age_hours: u64,

    /// Days after which a room's log entries are deleted even if a member
    /// has not read them (0: kept until every member has read them; at most
    /// 36600).
    #[arg(long, default_value_t = 30, global = true)]
    pub room_retention_days: u64,

    /// Free disk space kept in reserve so that acknowledgements (deletes)
    /// always work: new messages and uploads are refused with STORAGE_FULL
    /// below it. Default: 1% of the data folder's file system, at most 256M.
    #[arg(long, value_parser = parse_size, global = true)]
    pub min_free_space: Option<u64>,

    /// Commit durability: `full` survives a power cut, `normal` a crash of
    /// the server only.
    #[arg(long, value_enum, default_value_t = DurabilityArg::Full, global = true)]
    pub durability: DurabilityArg,

    /// Settings taken from the configuration file, by flag id, with where
    /// they were written ("config file PATH line N").
    #[arg(skip)]
    pub from_file: BTreeMap<&'static str, String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the server's identity fingerprint and exit (a folder without a
    /// key is an error; nothing is created). Clients show the same digits for
    /// the server they pinned.
    Fingerprint,
    /// Print a running server's figures: uptime, connections, users online,
    /// messages and bytes waiting, uploads, storage against its quotas, and
    /// its fingerprint. Asks the server through <data-dir>/admin.sock.
    Status {
        /// One JSON object, for monitoring.
        #[arg(long)]
        json: bool,
    },
    /// List or remove the accounts of a running server.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Write a consistent copy of a running server's database, identity key
    /// and file bodies to FILE (a tar archive, mode 0600) without stopping
    /// it. Unfinished uploads are not included.
    Backup {
        /// The archive to write.
        file: PathBuf,
    },
    /// Unpack an archive of `server backup` into --data-dir, which must be
    /// empty or missing (file bodies into --files-dir if given, empty or
    /// missing too), checking every entry against the archive's
    /// checksums, and exit: it serves nothing. Next, start the server on
    /// that folder (`server --data-dir DIR`, with its usual flags).
    Restore {
        /// The archive `server backup` wrote.
        file: PathBuf,
    },
    /// Write the man pages and shell completions of this command line into
    /// DIR (for the Debian package: deploy/build-deb).
    #[command(hide = true)]
    GenerateAssets {
        /// Output folder (man/ and completions/ are made in it).
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Every account: name, id, protocol, online, messages waiting.
    List {
        /// One JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Remove an account: its name becomes free, what waits for it and its
    /// unfinished uploads are deleted, and its connections are closed.
    Remove {
        /// The account's name (ASCII case ignored).
        name: String,
        /// The outcome as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DurabilityArg {
    Full,
    Normal,
}

/// The smallest `--max-message`: a session's first message (121 bytes)
/// and a short text fit under it.
const MIN_MAX_MESSAGE: u64 = 1024;

/// The longest `--upload-max-age-hours`: ten years. Longer ones overflowed
/// the clock's arithmetic, and a week is already generous.
const MAX_UPLOAD_AGE_HOURS: u64 = 10 * 366 * 24;

/// The longest `--room-retention-days`: a hundred years.
const MAX_RETENTION_DAYS: u64 = 100 * 366;

/// The largest `--v2-max-content`: 4G, the protocol's limit rounded up.
const V2_MAX_CONTENT_FLAG: u64 = 4 << 30;

/// Reads `1357`, `64K`, `16G`, `8GiB`: a whole number with an optional
/// binary suffix.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (try 4096, 64K, 16G)"))?;
    if suffix.starts_with(['.', ',']) {
        // A fraction, not an unknown suffix: the suffixes are powers of 1024.
        return Err(format!(
            "{text:?} has a fraction: a size is a whole number (for 1.5G, write 1536M)"
        ));
    }
    let shift = match suffix.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => {
            return Err(format!(
                "unknown size suffix in {text:?} (use K, M, G or T)"
            ));
        }
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

impl Cli {
    /// The validated configuration and the port.
    pub fn config(&self) -> anyhow::Result<(Config, u16)> {
        let port = match (self.port, &self.command) {
            (Some(p), _) => p,
            // The commands listen on nothing.
            (None, Some(_)) => DEFAULT_PORT,
            (None, None) => read_port_info()?,
        };
        let mut options = Options::new(&self.data_dir);
        options.legacy_v2 = self.legacy_v2;
        options.database.clone_from(&self.database);
        options.files_dir.clone_from(&self.files_dir);
        options.max_connections = self.max_connections;
        options.max_connections_per_ip = self.max_connections_per_ip;
        options.idle_timeout = Duration::from_secs(self.idle_timeout.max(1));
        options.stall_timeout = Duration::from_secs(self.stall_timeout.max(1));
        options.shutdown_grace = Duration::from_secs(self.shutdown_grace);
        if self.v2_max_content > V2_MAX_CONTENT_FLAG {
            return Err(self.refuse(
                "v2_max_content",
                format_args!(
                    "{} is over 4G: a version-2 length is 32 bits",
                    self.v2_max_content
                ),
            ));
        }
        options.v2_max_content = self
            .v2_max_content
            .min(protocol::v2::MAX_CONTENT_LEN.into()) as u32;
        if self.max_message < MIN_MAX_MESSAGE {
            return Err(self.refuse(
                "max_message",
                format_args!(
                    "{} is under {MIN_MAX_MESSAGE} bytes: a session's first message alone is \
                     121, so nothing could be sent",
                    self.max_message
                ),
            ));
        }
        if self.max_message > protocol::MAX_MESSAGE_LEN as u64 {
            return Err(self.refuse(
                "max_message",
                format_args!(
                    "{} is over the protocol's limit of {} (256K)",
                    self.max_message,
                    protocol::MAX_MESSAGE_LEN
                ),
            ));
        }
        options.max_message_len = self.max_message as u32;
        for (id, value) in [
            ("max_connections", self.max_connections),
            ("max_connections_per_ip", self.max_connections_per_ip),
        ] {
            if value == 0 {
                return Err(self.refuse(id, "0 would refuse every connection: at least 1"));
            }
        }
        options.max_file_size = self.max_file_size;
        options.inbox_max_messages = self.inbox_max_messages;
        options.inbox_max_bytes = self.inbox_max_bytes;
        options.sender_max_bytes = self.sender_max_bytes;
        options.max_storage_bytes = self.max_storage;
        options.requests_per_second = self.requests_per_second;
        options.max_uploads_per_client = self.max_uploads_per_client;
        if !(1..=MAX_UPLOAD_AGE_HOURS).contains(&self.upload_max_age_hours) {
            return Err(self.refuse(
                "upload_max_age_hours",
                format_args!(
                    "{} is out of range: 1 to {MAX_UPLOAD_AGE_HOURS} (ten years)",
                    self.upload_max_age_hours
                ),
            ));
        }
        options.upload_max_age = Duration::from_secs(self.upload_max_age_hours * 3600);
        if self.room_retention_days > MAX_RETENTION_DAYS {
            return Err(self.refuse(
                "room_retention_days",
                format_args!(
                    "{} is over {MAX_RETENTION_DAYS} (a hundred years; 0 keeps entries until \
                     every member has read them)",
                    self.room_retention_days
                ),
            ));
        }
        options.room_retention = Duration::from_secs(self.room_retention_days * 24 * 3600);
        options.min_free_space = self.min_free_space;
        options.durability = match self.durability {
            DurabilityArg::Full => Durability::Full,
            DurabilityArg::Normal => Durability::Normal,
        };
        Ok((Config::new(options)?, port))
    }

    /// A refusal of the value of flag `id` (`what`: the value and why),
    /// where it was set: `--max-message 100 is under...` on the command line,
    /// `config file F line 7: max-message 100 is under...` in the file.
    fn refuse(&self, id: &str, what: impl std::fmt::Display) -> anyhow::Error {
        let key = id.replace('_', "-");
        match self.from_file.get(id) {
            Some(place) => anyhow::anyhow!("{place}: {key} {what}"),
            None => anyhow::anyhow!("--{key} {what}"),
        }
    }
}

/// The port from `port.info`: missing means the default (with a warning),
/// malformed is an error.
fn read_port_info() -> anyhow::Result<u16> {
    match std::fs::read_to_string("port.info") {
        Ok(text) => {
            let text = text.trim();
            match text.parse::<u16>() {
                Ok(p) if p > 0 => Ok(p),
                _ => bail!("port.info must hold a port number from 1 to 65535, not {text:?}"),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!("no port.info in the working directory; using port {DEFAULT_PORT}");
            Ok(DEFAULT_PORT)
        }
        Err(e) => Err(e).context("reading port.info"),
    }
}

/// The fingerprint of the key in the data folder. It never creates a
/// key: a new identity here would not be the one clients have pinned.
pub async fn fingerprint(config: Config) -> anyhow::Result<String> {
    let path = config.key_path();
    match server::identity::ServerIdentity::load(&path) {
        Ok(identity) => Ok(identity.fingerprint()),
        Err(server::error::StoreError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "no server key in {}: this folder has no server identity yet (the server creates one when it first starts with --data-dir {})",
            config.data_dir.display(),
            config.data_dir.display()
        ),
        Err(e) => Err(e).with_context(|| format!("loading {}", path.display())),
    }
}

pub async fn serve(bind: IpAddr, config: Config, port: u16) -> anyhow::Result<()> {
    let server = Server::open(config).await?;
    let addr = SocketAddr::new(bind, port);
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    let shutdown = shutdown_signal().context("installing the SIGTERM and SIGINT handlers")?;
    let (engine, node) = server.engine();
    match node {
        Some(node) => tracing::info!(
            address = %local, fingerprint = %server.fingerprint(), engine, node,
            "listening as one node of a cluster"
        ),
        None => {
            tracing::info!(address = %local, fingerprint = %server.fingerprint(), engine, "listening")
        }
    }
    // Serve from a worker thread rather than the thread that blocks on the
    // runtime: a connection task spawned by the accept loop then starts on
    // the same worker, instead of being handed to another thread.
    tokio::spawn(server.serve(listener, shutdown))
        .await
        .context("the server task failed")?
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when
/// this is called, not when the future is first polled: a signal sent the
/// moment after "listening" is logged must not find the default action (or
/// fall into tokio's window between installing a handler and listening to it).
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = term.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_says_it_only_unpacks_and_what_runs_next() {
        use clap::CommandFactory;
        let mut cli = Cli::command();
        let restore = cli.find_subcommand_mut("restore").unwrap();
        let help = restore.render_long_help().to_string();
        assert!(help.contains("and exit: it serves nothing"), "{help}");
        assert!(help.contains("`server --data-dir DIR`"), "{help}");
        assert!(!help.contains("then start the server on it"), "{help}");
    }

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("16G"), Ok(16 << 30));
        assert_eq!(parse_size("8GiB"), Ok(8 << 30));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5Q").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn a_size_with_a_fraction_is_refused_as_one_not_as_an_unknown_suffix() {
        let said = parse_size("1.5G").unwrap_err();
        assert!(said.contains("has a fraction"), "{said}");
        assert!(said.contains("1536M"), "{said}");
        assert!(parse_size("2,5M").unwrap_err().contains("has a fraction"));
    }

    #[test]
    fn a_message_limit_no_session_start_fits_under_is_refused() {
        let cli = |max: &str| {
            Cli::try_parse_from(["server", "--port", "1357", "--max-message", max]).unwrap()
        };
        let said = cli("100").config().unwrap_err().to_string();
        assert!(said.contains("--max-message 100 is under 1024"), "{said}");
        let (config, _) = cli("1K").config().unwrap();
        assert_eq!(config.max_message_len, 1024);
    }

    #[test]
    fn limits_out_of_range_are_refused_naming_the_flag() {
        let refused = |args: &[&str]| {
            let cli = Cli::try_parse_from([&["server", "--port", "1357"], args].concat()).unwrap();
            cli.config().unwrap_err().to_string()
        };
        let said = refused(&["--v2-max-content", "5G"]);
        assert_eq!(
            said,
            "--v2-max-content 5368709120 is over 4G: a version-2 length is 32 bits"
        );
        let said = refused(&["--max-message", "300K"]);
        assert_eq!(
            said,
            "--max-message 307200 is over the protocol's limit of 262144 (256K)"
        );
        let said = refused(&["--room-retention-days", "99065847803255"]);
        assert!(
            said.starts_with("--room-retention-days 99065847803255 is over 36600"),
            "{said}"
        );
        let said = refused(&["--room-retention-days", "18446744073709551615"]);
        assert!(said.starts_with("--room-retention-days 18446744073709551615 is over"));
        for hours in ["0", "297197543409765", "18446744073709551615"] {
            let said = refused(&["--upload-max-age-hours", hours]);
            assert!(
                said.starts_with(&format!(
                    "--upload-max-age-hours {hours} is out of range: 1 to 87840"
                )),
                "{said}"
            );
        }
        let said = refused(&["--max-connections-per-ip", "0"]);
        assert_eq!(
            said,
            "--max-connections-per-ip 0 would refuse every connection: at least 1"
        );
        // 4G, the default, is the protocol's own limit.
        let cli = Cli::try_parse_from(["server", "--port", "1357", "--v2-max-content", "4G"]);
        let (config, _) = cli.unwrap().config().unwrap();
        assert_eq!(config.v2_max_content, protocol::v2::MAX_CONTENT_LEN);
    }

    #[test]
    fn cli_definition_is_valid() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
