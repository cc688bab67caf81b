//! The command line of `loadgen`: clap types only. Each scenario's options
//! have names of their own, so that `all` and `smoke` can take them together.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::target::DurabilityArg;

/// Sealpost load generator: drives a server over loopback (127.0.0.1 only)
/// and measures the physical limits of this machine in the same run.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,

    /// Also write every figure as JSON to this file.
    #[arg(long, global = true)]
    pub json: Option<PathBuf>,

    /// Log filter for the load generator and an in-process server.
    #[arg(long, default_value = "warn", global = true)]
    pub log_level: String,

    /// Run the load generator on one half of the cores and every server it
    /// starts (`--spawn`, the cluster's nodes) on the other, as separate
    /// machines would; an in-process server shares the generator's half.
    #[arg(long, global = true)]
    pub split_cores: bool,
}

/// The scenarios.
// Parsed once per run: the size of its largest variant (`all`) costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Version 2 as the reference client does it: one request per
    /// connection; register, send, pull, verify every byte.
    V2 {
        /// Workload.
        #[command(flatten)]
        v2: V2Args,
        /// Which server.
        #[command(flatten)]
        target: TargetArgs,
        /// The same workload against the reference stand-in.
        #[command(flatten)]
        reference: ReferenceArgs,
    },
    /// Many idle authenticated version-3 connections: server memory each.
    Idle {
        /// Workload.
        #[command(flatten)]
        idle: IdleArgs,
        /// Which server (default here: the release binary as a child).
        #[command(flatten)]
        target: TargetArgs,
    },
    /// The physical limits: loopback TCP, raw AEAD, raw SQLite inserts,
    /// loopback connections per second.
    Limits {
        /// Sizes.
        #[command(flatten)]
        limits: LimitsArgs,
    },
    /// Every scenario in one run: limits, v2 (with the reference if asked),
    /// idle, v3 and file, each figure beside its limit: the run
    /// BENCHMARKS.md reports.
    All {
        /// Limits.
        #[command(flatten)]
        limits: LimitsArgs,
        /// v2 workload.
        #[command(flatten)]
        v2: V2Args,
        /// Idle workload.
        #[command(flatten)]
        idle: IdleArgs,
        /// Which server for v2 (idle spawns the release binary unless
        /// `--idle-in-process`).
        #[command(flatten)]
        target: TargetArgs,
        /// The reference stand-in.
        #[command(flatten)]
        reference: ReferenceArgs,
        /// Leave out the idle scenario (for repeated v2 comparisons).
        #[arg(long)]
        skip_idle: bool,
        /// v3 workload.
        #[command(flatten)]
        v3: crate::scenario::v3::V3Args,
        /// Leave out the v3 scenario.
        #[arg(long)]
        skip_v3: bool,
        /// File workload.
        #[command(flatten)]
        file: crate::scenario::file::FileArgs,
        /// Leave out the file scenario.
        #[arg(long)]
        skip_file: bool,
    },
    /// A room of 100 and of 1,000 members with real MLS in every simulated
    /// member: adding everyone, commits against the room's size, one text
    /// fanned out to every member, the server's rows per text.
    Room {
        /// Workload.
        #[command(flatten)]
        room: crate::scenario::room::RoomArgs,
        /// Which server.
        #[command(flatten)]
        target: TargetArgs,
    },
    /// What reading a room entry costs as the client reads it (its result
    /// kept until released) against the engine's bare decryption: one real
    /// MLS room, texts of several sizes, no server.
    RoomRead {
        /// Workload.
        #[command(flatten)]
        read: crate::scenario::room_read::RoomReadArgs,
    },
    /// Presence (issue 14): 10,000 connections shown online, watchers of
    /// presence, and users coming and going at a set rate; the server's CPU
    /// and the bytes pushed per change, and each change's delay to a watcher.
    Presence {
        /// Workload.
        #[command(flatten)]
        presence: crate::scenario::presence::PresenceArgs,
        /// Which server (default here: the release binary as a child).
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Everything with tiny sizes, in a few seconds, all in process (what the
    /// integration test runs).
    Smoke {
        /// Also run the tiny v2 workload against the Python reference
        /// stand-in (needs python3).
        #[arg(long)]
        with_reference: bool,
    },
    /// Version 3 end to end with real client crypto: messages per second
    /// (sealed, durable, pushed, opened, acknowledged), then push latency at
    /// half that rate.
    V3 {
        /// Workload.
        #[command(flatten)]
        v3: crate::scenario::v3::V3Args,
        /// Which server.
        #[command(flatten)]
        target: TargetArgs,
    },
    /// A large file through the real binaries: encrypt, upload, store,
    /// download, decrypt; MB/s each way and every process's peak memory.
    File {
        /// Workload.
        #[command(flatten)]
        file: crate::scenario::file::FileArgs,
        /// Which server (default: the release binary as a child).
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Several servers (issue 15): v3 against one SQLite node, one
    /// PostgreSQL node and two PostgreSQL nodes on one database, beside
    /// PostgreSQL's own insert rates in the same run, then a file through a
    /// PostgreSQL-backed node. Starts its own durable throwaway PostgreSQL
    /// (Debian's `postgresql`) and the release binaries.
    Cluster {
        /// The cluster's own options.
        #[command(flatten)]
        cluster: crate::scenario::cluster::ClusterArgs,
        /// v3 workload (each of the three runs).
        #[command(flatten)]
        v3: crate::scenario::v3::V3Args,
        /// File workload.
        #[command(flatten)]
        file: crate::scenario::file::FileArgs,
        /// The server binary and its durability.
        #[command(flatten)]
        target: TargetArgs,
    },
}

/// Which server to drive.
#[derive(Debug, Clone, Args, Default)]
pub struct TargetArgs {
    /// An already running server (loopback only). It must already have the
    /// settings the scenario needs (`--legacy-v2` for v2; high enough
    /// `--max-connections` and `--max-connections-per-ip` for idle).
    #[arg(long, conflicts_with = "spawn")]
    pub server: Option<SocketAddr>,

    /// Run the real `server` binary as a child process on a temporary data
    /// folder (found next to this binary unless `--server-bin`).
    #[arg(long)]
    pub spawn: bool,

    /// Path of the `server` binary for `--spawn` (and idle).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,

    /// Commit durability of a server this run starts.
    #[arg(long, value_enum, default_value_t = DurabilityArg::Full)]
    pub durability: DurabilityArg,
}

/// Where the reference (the stand-in, or the original) is.
#[derive(Debug, Clone, Args, Default)]
pub struct ReferenceArgs {
    /// Start `bench/reference/server.py` (the stand-in for the reference
    /// Python server) with python3 and run the same v2 workload against it.
    #[arg(long, conflicts_with = "reference")]
    pub spawn_reference: bool,

    /// A reference-protocol server already listening (for example the
    /// stand-in started by hand); the same v2 workload runs against it.
    #[arg(long)]
    pub reference: Option<SocketAddr>,

    /// The stand-in's script, for `--spawn-reference`.
    #[arg(long)]
    pub reference_script: Option<PathBuf>,

    /// Start the original reference server (its `server/server_main.py`,
    /// with python3) from a checkout of github.com/rdar-lab/messaging-system
    /// at DIR, and run the same v2 workload against it.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["reference", "spawn_reference"])]
    pub spawn_original_reference: Option<PathBuf>,
}

impl ReferenceArgs {
    /// How reports name the reference these arguments choose.
    pub fn label(&self) -> &'static str {
        if self.spawn_original_reference.is_some() {
            crate::original::ORIGINAL_REFERENCE
        } else {
            "reference stand-in"
        }
    }
}

/// The version-2 workload.
#[derive(Debug, Clone, Args)]
pub struct V2Args {
    /// Users to register.
    #[arg(long, default_value_t = 100)]
    pub users: usize,
    /// Text messages to send (random sender and recipient).
    #[arg(long, default_value_t = 20_000)]
    pub messages: usize,
    /// Bytes of each message's content (at least 16).
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    /// Concurrent workers (each with one connection at a time).
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Seed of the sender/recipient choice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Give up on the whole scenario after this many seconds.
    #[arg(long, default_value_t = 900)]
    pub v2_max_seconds: u64,
}

impl Default for V2Args {
    fn default() -> Self {
        Self {
            users: 100,
            messages: 20_000,
            size: 100,
            concurrency: 32,
            seed: 1,
            v2_max_seconds: 900,
        }
    }
}

/// The idle-connections workload.
#[derive(Debug, Clone, Args)]
pub struct IdleArgs {
    /// Idle authenticated connections to hold open.
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// Users they authenticate as (connection i is user i mod this); 0 means
    /// one user per connection.
    #[arg(long, default_value_t = 0)]
    pub idle_users: usize,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 64)]
    pub open_concurrency: usize,
    /// Each connection also subscribes to pushes.
    #[arg(long)]
    pub subscribe: bool,
    /// Seconds to let the server settle before reading its memory again.
    #[arg(long, default_value_t = 2)]
    pub settle_seconds: u64,
    /// Run the server in this process instead of as a child (then its
    /// memory cannot be told apart from the load generator's: indicative only).
    #[arg(long)]
    pub idle_in_process: bool,
    /// Give up on the whole scenario after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub idle_max_seconds: u64,
}

impl Default for IdleArgs {
    fn default() -> Self {
        Self {
            connections: 10_000,
            idle_users: 0,
            open_concurrency: 64,
            subscribe: false,
            settle_seconds: 2,
            idle_in_process: false,
            idle_max_seconds: 600,
        }
    }
}

/// Sizes of the physical-limit measurements.
#[derive(Debug, Clone, Args)]
pub struct LimitsArgs {
    /// MiB copied through one loopback TCP connection.
    #[arg(long, default_value_t = 2048)]
    pub tcp_mib: u64,
    /// MiB encrypted by each AEAD (single core).
    #[arg(long, default_value_t = 1024)]
    pub aead_mib: u64,
    /// SQLite: rows inserted one transaction each (stops early after
    /// `--sqlite-max-seconds`).
    #[arg(long, default_value_t = 2_000)]
    pub sqlite_single: usize,
    /// SQLite: rows inserted in batched transactions (64 and 1024 per commit).
    #[arg(long, default_value_t = 200_000)]
    pub sqlite_batched: usize,
    /// Content bytes of each SQLite row (as v2's `--size`).
    #[arg(long, default_value_t = 100)]
    pub sqlite_row_size: usize,
    /// Time cap of each SQLite measurement, in seconds.
    #[arg(long, default_value_t = 10)]
    pub sqlite_max_seconds: u64,
    /// Loopback connections opened, used for one tiny exchange and closed.
    #[arg(long, default_value_t = 20_000)]
    pub connects: usize,
    /// Concurrent connectors for `--connects`.
    #[arg(long, default_value_t = 32)]
    pub connect_concurrency: usize,
}

impl Default for LimitsArgs {
    fn default() -> Self {
        Self {
            tcp_mib: 2048,
            aead_mib: 1024,
            sqlite_single: 2_000,
            sqlite_batched: 200_000,
            sqlite_row_size: 100,
            sqlite_max_seconds: 10,
            connects: 20_000,
            connect_concurrency: 32,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        // Catches two scenarios' options sharing an id, which clap only
        // reports when `all` is parsed.
        Cli::command().debug_assert();
    }

    #[test]
    fn v3_acknowledges_as_the_client_does_unless_told_otherwise() {
        // The command line's defaults are the documented ones (`Default`):
        // one acknowledgement in flight, as the client's `watch`.
        let cli = Cli::try_parse_from(["loadgen", "all"]).unwrap();
        let Command::All { v3, .. } = cli.command else {
            panic!("not all")
        };
        let documented = crate::scenario::v3::V3Args::default();
        assert_eq!(v3.acks_in_flight, 1);
        assert_eq!(v3.acks_in_flight, documented.acks_in_flight);
        assert_eq!(v3.ack_batch, documented.ack_batch);
        assert_eq!(v3.users, documented.users);
        assert_eq!(v3.window, documented.window);
    }

    #[test]
    fn all_takes_every_default() {
        let cli = Cli::try_parse_from(["loadgen", "all"]).unwrap();
        assert!(matches!(cli.command, Command::All { .. }));
    }
}
