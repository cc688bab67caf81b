//! The Sealpost load generator and benchmark harness (`loadgen`).
//!
//! It drives a server over loopback only — one in this process on its own
//! runtime (the default), the real `server` binary as a child process, or
//! one already running on a loopback address — and measures, in the same
//! run, the physical limits each figure is set beside: loopback TCP, raw
//! AEAD, raw SQLite inserts at the server's durability, loopback connections
//! per second. See BENCHMARKS.md at the repository root for the commands and
//! the figures of this machine.
//!
//! - [`cli`]: the command line (clap types only).
//! - [`scenario`]: one module per scenario and the [`scenario::Plan`] that
//!   runs them.
//! - [`target`]: starting, reaching and stopping servers; process memory.
//!   [`original`]: the original reference server, from a checkout of it.
//! - [`cores`]: the generator and its servers on separate cores
//!   (`--split-cores`), and how busy the cores were.
//! - [`pool`]: bounded, timed workers. [`wire`]: raw protocol exchanges.
//! - [`report`]: summary lines, JSON, latency percentiles.
//!
//! Left out on purpose: anything off loopback, unbounded loops, and the
//! micro-benchmarks (those are criterion benches in `benches/`).

#![forbid(unsafe_code)]

pub mod cli;
pub mod cores;
pub mod original;
pub mod pool;
pub mod report;
pub mod scenario;
pub mod target;
pub mod ticks;
pub mod wire;

use cli::{Cli, Command};
use report::Report;
use scenario::Plan;

/// Worker threads of the load generator's runtime (the machine has two cores).
pub const LOADGEN_THREADS: usize = 2;

/// Runs what the command line asks for; prints one line per scenario and
/// writes the JSON file if asked, also when a scenario could not run.
///
/// # Errors
/// A scenario could not be set up or run at all, or the JSON cannot be
/// written.
pub fn run(cli: &Cli) -> anyhow::Result<Report> {
    if cli.split_cores {
        // Before the runtime: its threads inherit the generator's cores.
        let split = cores::split()?;
        eprintln!(
            "load generator on cores {:?}, servers it starts on cores {:?}",
            split.generator, split.server
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(LOADGEN_THREADS)
        .thread_name("loadgen")
        .enable_all()
        .build()?;
    let mut report = Report::new();
    let plan = match &cli.command {
        Command::V2 {
            v2,
            target,
            reference,
        } => Ok(Plan {
            v2: Some(v2.clone()),
            target: target.clone(),
            reference: reference.clone(),
            ..Plan::default()
        }),
        Command::Idle { idle, target } => Ok(Plan {
            idle: Some(idle.clone()),
            target: target.clone(),
            ..Plan::default()
        }),
        Command::Limits { limits } => Ok(Plan {
            limits: Some(limits.clone()),
            ..Plan::default()
        }),
        Command::All {
            limits,
            v2,
            idle,
            target,
            reference,
            skip_idle,
            v3,
            skip_v3,
            file,
            skip_file,
        } => Ok(Plan {
            limits: Some(limits.clone()),
            v2: Some(v2.clone()),
            idle: (!skip_idle).then(|| idle.clone()),
            v3: (!skip_v3).then(|| v3.clone()),
            file: (!skip_file).then(|| file.clone()),
            room: None,
            room_read: None,
            presence: None,
            cluster: None,
            target: target.clone(),
            reference: reference.clone(),
        }),
        Command::Smoke { with_reference } => Ok(Plan::smoke(*with_reference)),
        Command::V3 { v3, target } => Ok(Plan {
            v3: Some(v3.clone()),
            target: target.clone(),
            ..Plan::default()
        }),
        Command::Room { room, target } => Ok(Plan {
            room: Some(room.clone()),
            target: target.clone(),
            ..Plan::default()
        }),
        Command::RoomRead { read } => Ok(Plan {
            room_read: Some(read.clone()),
            ..Plan::default()
        }),
        Command::Presence { presence, target } => Ok(Plan {
            presence: Some(presence.clone()),
            target: target.clone(),
            ..Plan::default()
        }),
        Command::File { file, target } => Ok(Plan {
            file: Some(file.clone()),
            target: target.clone(),
            ..Plan::default()
        }),
        Command::Cluster {
            cluster,
            v3,
            file,
            target,
        } => Ok(Plan {
            cluster: Some(scenario::ClusterPlan {
                cluster: cluster.clone(),
                v3: v3.clone(),
                file: file.clone(),
            }),
            target: target.clone(),
            ..Plan::default()
        }),
    };
    let result = plan.and_then(|plan| plan.execute(&runtime, &mut report));
    if let Some(path) = &cli.json {
        report.write_json(path)?;
    }
    // Connections the scenarios left to close must not hold up the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    result.map(|()| report)
}
