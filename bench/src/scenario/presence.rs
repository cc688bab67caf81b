//! Scenario `presence` (issue 14): many authenticated connections shown
//! online, a few watchers of presence (141 with the watch bit), and users
//! coming and going at a set rate (PROTOCOL.md "141 presence").
//!
//! 1. Register `users + spare + watchers` users.
//! 2. Connect the watchers (not shown, watching), then `users` connections
//!    each shown (141 with the show bit): the online set.
//! 3. **quiet** phase: for `seconds`, `rate` times a second one of the
//!    spare users connects and sends 141 *without* the show bit, and one
//!    connection of this phase closes: the cost of the connections alone.
//! 4. **presence** phase: the same churn with the show bit, and the closing
//!    connection a random shown one: every open and close is a presence
//!    change.
//!
//! Each phase reads the server process's CPU time (utime + stime from
//! `/proc/PID/stat`) before the churn and after a grace of 1.5 s (past the
//! 250 ms push interval) and counts the 1313 frames the watchers received
//! with their bytes (7-byte header, resync and count, 17 bytes a change);
//! each change a watcher reads is matched to the moment it was made (the
//! 141 sent, the connection dropped) for the delay.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::ensure;
use clap::Args;
use client::crypto::Identity;
use protocol::ClientId;
use serde::Serialize;

use super::presence_churn::{Churned, Ctx};
use crate::pool;
use crate::report::{self, Latency, Outcome, per_second, thousands};
use crate::target::proc_work;

/// After the churn, until the last pushes and closes are done.
const GRACE: Duration = Duration::from_millis(1500);
/// The spec: a change reaches watchers within a second.
const WITHIN: Duration = Duration::from_secs(1);

/// The presence workload.
#[derive(Debug, Clone, Args)]
pub struct PresenceArgs {
    /// Connections shown online throughout (one user each).
    #[arg(
        long = "presence-users",
        id = "presence-users",
        default_value_t = 10_000
    )]
    pub users: usize,
    /// Further users the churn brings online (offline at first).
    #[arg(
        long = "presence-spare",
        id = "presence-spare",
        default_value_t = 1_000
    )]
    pub spare: usize,
    /// Connections watching presence (not shown themselves).
    #[arg(
        long = "presence-watchers",
        id = "presence-watchers",
        default_value_t = 100
    )]
    pub watchers: usize,
    /// Connections opened, and closed, per second each during the churn.
    #[arg(long = "presence-rate", id = "presence-rate", default_value_t = 100)]
    pub rate: u32,
    /// Seconds of churn in each phase.
    #[arg(
        long = "presence-seconds",
        id = "presence-seconds",
        default_value_t = 20.0
    )]
    pub seconds: f64,
    /// Connections opened at once while setting up.
    #[arg(
        long = "presence-open-concurrency",
        id = "presence-open-concurrency",
        default_value_t = 64
    )]
    pub open_concurrency: usize,
    /// Run the server in this process (its CPU time is then not read).
    #[arg(long = "presence-in-process", id = "presence-in-process")]
    pub in_process: bool,
}

impl Default for PresenceArgs {
    fn default() -> Self {
        Self {
            users: 10_000,
            spare: 1_000,
            watchers: 100,
            rate: 100,
            seconds: 20.0,
            open_concurrency: 64,
            in_process: false,
        }
    }
}

/// One churn phase.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseFigures {
    /// Whether the churning connections were shown (presence changes).
    pub shown: bool,
    /// Seconds of churn.
    pub churn_seconds: f64,
    /// Churn plus grace: the window the CPU and the frames are counted in.
    pub window_seconds: f64,
    /// Connections opened (141 answered).
    pub connects: u64,
    /// Connections closed.
    pub disconnects: u64,
    /// Opens that failed.
    pub failed: u64,
    /// Ticks that opened nothing (too many opening).
    pub skipped: u64,
    /// Opens plus closes (in the presence phase, each a presence change).
    pub events: u64,
    /// Load averages at the phase's start and end.
    pub load_before: String,
    /// At the end.
    pub load_after: String,
    /// The server process's CPU time in the window, ms.
    pub server_cpu_ms: Option<f64>,
    /// The same per event, µs.
    pub server_cpu_us_per_event: Option<f64>,
    /// 1313 frames the watchers received, all of them.
    pub frames: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Changes in them.
    pub changes_pushed: u64,
    /// Frames with resync set (a watcher fell behind).
    pub resyncs: u64,
    /// Changes that matched no event of the run.
    pub unmatched: u64,
    /// Frames per watcher per second of the window.
    pub frames_per_watcher_per_s: f64,
    /// Bytes pushed per event, all watchers together.
    pub bytes_per_event: f64,
    /// The same for one watcher.
    pub bytes_per_event_per_watcher: f64,
    /// Changes one watcher received per event (below 1: coalesced).
    pub changes_per_event_per_watcher: f64,
    /// From a change made to its arrival at a watcher, every (change,
    /// watcher), µs.
    pub delay: Latency,
}

/// Every figure of a presence run.
#[derive(Debug, Clone, Serialize)]
pub struct PresenceFigures {
    /// Connections shown before the churn.
    pub shown: usize,
    /// Users the churn brings online.
    pub spare: usize,
    /// Watchers.
    pub watchers: usize,
    /// Opens and closes per second each.
    pub rate: u32,
    /// Registrations per second.
    pub register_per_s: f64,
    /// Shown connections opened per second (connect, authenticate, 141).
    pub opens_per_s: f64,
    /// Latency of one.
    pub open_latency: Latency,
    /// The churn without presence changes.
    pub quiet: PhaseFigures,
    /// The churn with them.
    pub presence: PhaseFigures,
    /// Server CPU per presence change beyond the connection's own work
    /// (presence phase per event minus quiet phase per event), µs.
    pub presence_cpu_us_per_change: Option<f64>,
}

/// Runs the scenario against `addr`; `pid` is the server's process when
/// it is a child.
///
/// # Errors
/// Arguments out of range, registration or setup failed.
pub async fn run(
    addr: std::net::SocketAddr,
    pid: Option<u32>,
    args: &PresenceArgs,
    target: &str,
) -> anyhow::Result<Outcome> {
    ensure!(
        args.users > 0 && args.spare > 0,
        "--presence-users and --presence-spare are at least 1"
    );
    ensure!(
        args.rate > 0 && args.seconds > 0.0,
        "--presence-rate and --presence-seconds are above 0"
    );
    let total = args.users + args.spare + args.watchers;
    let deadline = Instant::now() + Duration::from_secs(1800);
    let addr_text = addr.to_string();
    let mut problems = Vec::new();

    let (mut identities, ids, registering) =
        super::register::register_many(&addr_text, total, "pres", args.open_concurrency, deadline)
            .await?;
    let churners = args.users + args.spare;
    let watcher_keys: Vec<(Identity, ClientId)> = identities
        .split_off(churners)
        .into_iter()
        .zip(ids[churners..].iter().copied())
        .collect();
    let ctx = Ctx::new(
        addr_text.clone(),
        identities,
        ids[..churners].to_vec(),
        args.users,
    );
    let (watcher_conns, watcher_tasks) = ctx.watchers(&addr_text, &watcher_keys).await?;

    let opened = {
        let ctx = ctx.clone();
        pool::run(args.users, args.open_concurrency, deadline, move |i| {
            ctx.clone().connect(i, true)
        })
        .await
    };
    if let Some(e) = opened.first_error() {
        problems.push(format!(
            "{} shown connections failed; first: {e}",
            opened.errors()
        ));
    }
    let shown = ctx.shown();
    // The watchers take in the ramp's changes before anything is counted.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let quiet = phase(&ctx, pid, args, false, &mut problems).await;
    ctx.close_quiet();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let presence = phase(&ctx, pid, args, true, &mut problems).await;
    ctx.close_all();
    drop(watcher_conns);
    for t in watcher_tasks {
        t.abort();
    }
    if presence.changes_pushed == 0 {
        problems.push("the watchers received no presence change".into());
    }
    let presence_cpu_us_per_change = match (
        presence.server_cpu_us_per_event,
        quiet.server_cpu_us_per_event,
    ) {
        (Some(p), Some(q)) => Some(p - q),
        _ => None,
    };
    let figures = PresenceFigures {
        shown,
        spare: args.spare,
        watchers: args.watchers,
        rate: args.rate,
        register_per_s: per_second(total as f64, registering),
        opens_per_s: per_second(shown as f64, opened.elapsed),
        open_latency: Latency::of(&opened.latency),
        quiet,
        presence,
        presence_cpu_us_per_change,
    };
    let p = &figures.presence;
    let within = p.delay.count > 0 && p.delay.p99_us <= WITHIN.as_micros() as u64;
    let summary = format!(
        "presence [{target}]: {} shown, {} watchers, {} opens and closes/s for {:.0} s: \
         server CPU {} µs per change ({} beyond the connection's own), {:.1} B pushed per change per watcher \
         ({:.2} changes per event), {:.2} frames/s per watcher, delay {} (within a second: {})",
        thousands(shown as f64),
        args.watchers,
        args.rate,
        args.seconds,
        p.server_cpu_us_per_event
            .map_or("-".into(), |c| format!("{c:.0}")),
        figures
            .presence_cpu_us_per_change
            .map_or("-".into(), |c| format!("{c:.0}")),
        p.bytes_per_event_per_watcher,
        p.changes_per_event_per_watcher,
        p.frames_per_watcher_per_s,
        p.delay.short(),
        if within { "met" } else { "NOT met" },
    );
    Ok(Outcome {
        name: "presence".into(),
        target: target.into(),
        passed: problems.is_empty(),
        problems,
        summary,
        figures: serde_json::to_value(&figures)?,
        comparisons: Vec::new(),
    })
}

/// One churn phase, measured.
async fn phase(
    ctx: &Arc<Ctx>,
    pid: Option<u32>,
    args: &PresenceArgs,
    show: bool,
    problems: &mut Vec<String>,
) -> PhaseFigures {
    let k = &ctx.counts;
    for c in [&k.frames, &k.bytes, &k.changes, &k.resyncs, &k.unmatched] {
        c.store(0, Ordering::SeqCst);
    }
    ctx.delay.lock().unwrap_or_else(|e| e.into_inner()).reset();
    let load_before = report::load_average();
    let before = pid.and_then(|p| proc_work(p).ok());
    ctx.measuring.store(true, Ordering::SeqCst);
    let t = Instant::now();
    let churned: Churned = ctx.churn(show, args.rate, args.seconds).await;
    let churn_seconds = t.elapsed().as_secs_f64();
    tokio::time::sleep(GRACE).await;
    ctx.measuring.store(false, Ordering::SeqCst);
    let window_seconds = t.elapsed().as_secs_f64();
    let after = pid.and_then(|p| proc_work(p).ok());
    let server_cpu_ms = match (before, after) {
        (Some(b), Some(a)) => Some(a.since(&b).cpu_seconds * 1000.0),
        _ => None,
    };
    let name = if show { "presence" } else { "quiet" };
    if churned.failed > 0 {
        problems.push(format!(
            "{name}: {} churn connections failed",
            churned.failed
        ));
    }
    let (frames, bytes, changes_pushed, resyncs, unmatched) = (
        k.frames.load(Ordering::SeqCst),
        k.bytes.load(Ordering::SeqCst),
        k.changes.load(Ordering::SeqCst),
        k.resyncs.load(Ordering::SeqCst),
        k.unmatched.load(Ordering::SeqCst),
    );
    if resyncs > 0 {
        problems.push(format!(
            "{name}: {resyncs} pushes said resync (a watcher fell behind)"
        ));
    }
    if unmatched > 0 {
        problems.push(format!(
            "{name}: {unmatched} pushed changes matched no change made"
        ));
    }
    let events = churned.connects + churned.disconnects;
    let w = args.watchers.max(1) as f64;
    let e = events.max(1) as f64;
    let delay = Latency::of(&ctx.delay.lock().unwrap_or_else(|e| e.into_inner()));
    PhaseFigures {
        shown: show,
        churn_seconds,
        window_seconds,
        connects: churned.connects,
        disconnects: churned.disconnects,
        failed: churned.failed,
        skipped: churned.skipped,
        events,
        load_before,
        load_after: report::load_average(),
        server_cpu_ms,
        server_cpu_us_per_event: server_cpu_ms.map(|c| c * 1000.0 / e),
        frames,
        bytes,
        changes_pushed,
        resyncs,
        unmatched,
        frames_per_watcher_per_s: frames as f64 / w / window_seconds,
        bytes_per_event: bytes as f64 / e,
        bytes_per_event_per_watcher: bytes as f64 / w / e,
        changes_per_event_per_watcher: changes_pushed as f64 / w / e,
        delay,
    }
}
