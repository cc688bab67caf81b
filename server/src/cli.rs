//! The command line: flags and signals. Flags are parsed here (units
//! converted, nothing judged); `flags.rs` checks them into the library's
//! options.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use server::{Config, Server};
use tokio::net::TcpListener;

/// Sealpost server: stores end-to-end encrypted messages and files for the
/// clients of a LAN until they fetch them. It never sees a plaintext or a
/// private key.
///
/// The flags that tune serving belong to the serving command itself (no
/// subcommand) and are not `global`: `server user list --help` shows only
/// what `user list` takes. The data folder, files folder, config file and
/// log level are global, as every command needs them.
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
    #[arg(long)]
    pub port: Option<u16>,

    /// Address to listen on (0.0.0.0: every interface of the LAN).
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    pub bind: IpAddr,

    /// Folder for the database (server.db), file bodies (files/) and the
    /// server's identity key (server.key).
    #[arg(long, default_value = "data", global = true)]
    pub data_dir: PathBuf,

    /// Keep all state in this PostgreSQL database (postgres://user@host/db)
    /// instead of SQLite in the data folder, file bodies included unless
    /// --files-dir is given: several servers given the same one (and the
    /// same --files-dir, if any) and the same server.key form a cluster.
    #[arg(long)]
    pub database: Option<String>,

    /// Folder for file bodies (default: files/ in the data folder; with
    /// --database, the database itself). Servers of one cluster given it
    /// share one folder (a network file system between machines).
    #[arg(long, global = true)]
    pub files_dir: Option<PathBuf>,

    /// Serve protocol version 2, the reference protocol. It has no
    /// authentication: anyone on the network can read and delete anyone's
    /// waiting messages. Off unless given.
    #[arg(long)]
    pub legacy_v2: bool,

    /// Log level or tracing filter (error, warn, info, debug, trace).
    #[arg(long, default_value = "info", global = true)]
    pub log_level: String,

    /// Connections served at once; more are refused with an error.
    #[arg(long, default_value_t = 10_240)]
    pub max_connections: usize,

    /// Connections served at once from one IP address.
    #[arg(long, default_value_t = 1024)]
    pub max_connections_per_ip: usize,

    /// Seconds a connection may stay silent before it is closed (1 to a
    /// year).
    #[arg(long, default_value_t = 300)]
    pub idle_timeout: u64,

    /// Seconds a frame may take to arrive, from its first byte, before the
    /// connection is closed (a frame too long for that at 64 KiB/s gets as
    /// long as it takes at that rate; 1 to a year).
    #[arg(long, default_value_t = 30)]
    pub stall_timeout: u64,

    /// Seconds requests in progress get to finish when the server stops (0:
    /// stop at once; at most a year).
    #[arg(long, default_value_t = 10)]
    pub shutdown_grace: u64,

    /// Largest message content of a version-2 send (bytes; kB, MB, GB, TB
    /// suffixes allowed, powers of 1000 as the client's, or KiB, MiB, GiB,
    /// TiB). At most 4GiB, which stands for the protocol's own limit: 4 GiB
    /// less a pulled message's 25-byte header.
    #[arg(long, value_parser = startup::size::parse, default_value = "4GiB")]
    pub v2_max_content: u64,

    /// Largest message content of a version-3 send or room message (1kB to
    /// 256KiB).
    #[arg(long, value_parser = startup::size::parse, default_value = "256KiB")]
    pub max_message: u64,

    /// Largest file.
    #[arg(long, value_parser = startup::size::parse, default_value = "16G")]
    pub max_file_size: u64,

    /// Most messages waiting for one recipient.
    #[arg(long, default_value_t = 100_000)]
    pub inbox_max_messages: u64,

    /// Most bytes waiting for one recipient, files included.
    #[arg(long, value_parser = startup::size::parse, default_value = "8G")]
    pub inbox_max_bytes: u64,

    /// Most bytes one sender may have waiting for recipients: its messages
    /// not yet acknowledged, its room messages and room files not yet read
    /// by every member, and its unfinished uploads.
    #[arg(long, value_parser = startup::size::parse, default_value = "8G")]
    pub sender_max_bytes: u64,

    /// Most bytes stored in all: messages, files and unfinished uploads.
    #[arg(long, value_parser = startup::size::parse, default_value = "64G")]
    pub max_storage: u64,

    /// Requests per second allowed on one connection (0: no limit).
    #[arg(long, default_value_t = 20_000)]
    pub requests_per_second: u32,

    /// Unfinished uploads one client may have.
    #[arg(long, default_value_t = 8)]
    pub max_uploads_per_client: u32,

    /// Hours after which an unfinished upload that made no progress is
    /// deleted (1 to 87840).
    #[arg(long, default_value_t = 24)]
    pub upload_max_age_hours: u64,

    /// Days after which a room's log entries are deleted even if a member
    /// has not read them (0: kept until every member has read them; at most
    /// 36600).
    #[arg(long, default_value_t = 30)]
    pub room_retention_days: u64,

    /// Free disk space kept in reserve so that acknowledgements (deletes)
    /// always work: new messages and uploads are refused with STORAGE_FULL
    /// below it; more than the file system holds is refused. Default: 1% of
    /// the data folder's file system, at most 256MB.
    #[arg(long, value_parser = startup::size::parse)]
    pub min_free_space: Option<u64>,

    /// Commit durability: `full` survives a power cut, `normal` a crash of
    /// the server only.
    #[arg(long, value_enum, default_value_t = DurabilityArg::Full)]
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
        /// The archive to write; `-`: standard output (never a terminal),
        /// checked as it passes, what it holds said on standard error.
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
    /// Every account: name, id, protocol, online, last session (how long
    /// ago; `last_seen_ms` in --json), messages and bytes waiting.
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

/// Binds, opens the data folder and serves until a signal. A start that
/// fails leaves nothing it made: the port is bound before the data folder
/// is touched (a port in use makes nothing), and a data folder this start
/// created is removed again if opening it fails.
pub async fn serve(bind: IpAddr, config: Config, port: u16) -> anyhow::Result<()> {
    let addr = SocketAddr::new(bind, port);
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let data_dir = config.data_dir.clone();
    let fresh = !tokio::fs::try_exists(&data_dir).await.unwrap_or(true);
    let server = match Server::open(config).await {
        Ok(server) => server,
        Err(e) => {
            // Not a folder another server made meanwhile and holds.
            let theirs = matches!(e.downcast_ref(), Some(server::DataDirError::InUse(_)));
            if fresh && !theirs {
                let _ = tokio::fs::remove_dir_all(&data_dir).await;
            }
            return Err(e);
        }
    };
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
    fn cli_definition_is_valid() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
