//! Scenario `idle`: many idle, authenticated version-3 connections, and the
//! server memory each one costs.
//!
//! 1. Make `users` identities (`client::crypto::Identity`) and register them
//!    (their signed bundles are checked by the server).
//! 2. Read the server's resident memory (VmRSS of its process).
//! 3. Open `connections` connections with `client::connection::Connection`,
//!    each authenticated (challenge-response) as user `i mod users`, and
//!    optionally subscribed to pushes. Hold them open and silent.
//! 4. After a short settling time read VmRSS again: the difference divided by
//!    the number of connections is the memory per connection.
//! 5. Ping a sample of the connections to prove they are still authenticated
//!    and served.
//!
//! The figure is only trustworthy when the server is a process of its own
//! (the default: the release `server` binary as a child). In process, the
//! load generator's own connections are counted too.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use client::connection::Connection;
use serde::Serialize;

use crate::cli::IdleArgs;
use crate::pool;
use crate::report::{Comparison, Latency, Outcome, per_second, thousands};
use crate::target::{ProcMemory, proc_memory};

/// The product's target: server memory per idle authenticated connection.
pub const TARGET_BYTES_PER_CONNECTION: f64 = 16.0 * 1024.0;
/// Connections pinged after the measurement.
const LIVENESS_SAMPLE: usize = 100;

/// Whose memory the figures are.
#[derive(Debug, Clone, Copy)]
pub enum Measured {
    /// The server's own process.
    ServerProcess(u32),
    /// This process, which holds the server and the load generator.
    ThisProcess,
}

/// Every figure of an idle run.
#[derive(Debug, Clone, Serialize)]
pub struct IdleFigures {
    /// Connections held open.
    pub connections: usize,
    /// Users they authenticated as.
    pub users: usize,
    /// Whether each also subscribed.
    pub subscribed: bool,
    /// What the memory figures are of.
    pub measured: String,
    /// Memory when the scenario began.
    pub memory_at_start: ProcMemory,
    /// Memory after registering, before opening the connections.
    pub memory_before: ProcMemory,
    /// Memory with every connection open.
    pub memory_after: ProcMemory,
    /// (after - before) / connections, bytes.
    pub bytes_per_connection: f64,
    /// Registrations per second.
    pub register_per_s: f64,
    /// Authenticated connections opened per second.
    pub opens_per_s: f64,
    /// Latency of opening one (connect, hello, authenticate[, subscribe]).
    pub open_latency: Latency,
    /// Connections pinged afterwards.
    pub pinged: usize,
    /// Of those, how many answered.
    pub pings_answered: usize,
}

/// Runs the scenario against `addr`; memory is read from `measured`.
///
/// # Errors
/// Arguments out of range, or the memory cannot be read.
pub async fn run(
    addr: SocketAddr,
    args: &IdleArgs,
    measured: Measured,
    target: &str,
) -> anyhow::Result<Outcome> {
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    let users = match args.idle_users {
        0 => args.connections,
        n => n.min(args.connections),
    };
    let deadline = Instant::now() + Duration::from_secs(args.idle_max_seconds);
    let pid = match measured {
        Measured::ServerProcess(pid) => pid,
        Measured::ThisProcess => std::process::id(),
    };
    let memory_at_start = proc_memory(pid)?;
    let addr_text = addr.to_string();
    let mut problems = Vec::new();

    // 1. Identities and registration.
    let (identities, ids, registering) =
        super::register::register_many(&addr_text, users, "idle", args.open_concurrency, deadline)
            .await?;
    let (identities, ids) = (Arc::new(identities), Arc::new(ids));
    // Let the registration connections close on the server's side.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let memory_before = proc_memory(pid)?;

    // 2. Open and hold.
    let subscribe = args.subscribe;
    let opened = {
        let (identities, ids, addr_text) = (identities.clone(), ids.clone(), addr_text.clone());
        pool::run(
            args.connections,
            args.open_concurrency,
            deadline,
            move |i| {
                let (identities, ids, addr_text) =
                    (identities.clone(), ids.clone(), addr_text.clone());
                async move {
                    let u = i % ids.len();
                    let conn = Connection::connect(
                        &addr_text,
                        ids[u],
                        |_| Ok(()),
                        |m| identities[u].sign(m),
                    )
                    .await?;
                    if subscribe {
                        conn.subscribe().await?;
                    }
                    Ok(conn)
                }
            },
        )
        .await
    };
    if let Some(e) = opened.first_error() {
        problems.push(format!(
            "{} connections failed; first: {e}",
            opened.errors()
        ));
    }
    if opened.not_run() > 0 {
        problems.push(format!(
            "{} connections not opened before the deadline",
            opened.not_run()
        ));
    }
    let connections: Vec<Connection> = opened
        .results
        .into_iter()
        .filter_map(|r| r.and_then(Result::ok))
        .collect();
    tokio::time::sleep(Duration::from_secs(args.settle_seconds)).await;
    let memory_after = proc_memory(pid)?;

    // 3. Still alive?
    let step = (connections.len() / LIVENESS_SAMPLE).max(1);
    let sample: Vec<&Connection> = connections.iter().step_by(step).collect();
    let mut pings_answered = 0;
    for conn in &sample {
        if conn.ping().await.is_ok() {
            pings_answered += 1;
        }
    }
    if pings_answered < sample.len() {
        problems.push(format!(
            "only {pings_answered} of {} sampled connections answered a ping",
            sample.len()
        ));
    }
    let held = connections.len();
    let pinged = sample.len();
    drop(sample);
    drop(connections);

    let bytes_per_connection = if held > 0 {
        (memory_after.rss as f64 - memory_before.rss as f64) / held as f64
    } else {
        0.0
    };
    let figures = IdleFigures {
        connections: held,
        users,
        subscribed: subscribe,
        measured: match measured {
            Measured::ServerProcess(pid) => format!("server process {pid}"),
            Measured::ThisProcess => {
                "this process (in-process server and load generator together)".into()
            }
        },
        memory_at_start,
        memory_before,
        memory_after,
        bytes_per_connection,
        register_per_s: per_second(users as f64, registering),
        opens_per_s: per_second(held as f64, opened.elapsed),
        open_latency: Latency::of(&opened.latency),
        pinged,
        pings_answered,
    };
    let target_ratio = bytes_per_connection / TARGET_BYTES_PER_CONNECTION;
    let summary = format!(
        "idle [{target}]: {} authenticated{} connections: server RSS {:.1} -> {:.1} MiB, \
         {:.1} KiB per connection ({:.2}x the 16 KiB target); opened {} conn/s ({})",
        thousands(held as f64),
        if subscribe { " subscribed" } else { "" },
        memory_before.rss as f64 / 1048576.0,
        memory_after.rss as f64 / 1048576.0,
        bytes_per_connection / 1024.0,
        target_ratio,
        thousands(figures.opens_per_s),
        figures.open_latency.short(),
    );
    Ok(Outcome {
        name: "idle".into(),
        target: target.into(),
        passed: problems.is_empty(),
        problems,
        summary,
        figures: serde_json::to_value(&figures).context("serializing idle figures")?,
        comparisons: vec![Comparison::new(
            "server bytes per idle connection",
            bytes_per_connection,
            "product target (not a physical limit)",
            TARGET_BYTES_PER_CONNECTION,
            "bytes",
        )],
    })
}
