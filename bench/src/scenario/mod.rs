//! The scenarios, one module each, and the plan that runs them in order:
//! limits first (so that every later figure can be set beside them), then
//! v2 (and the same workload against the reference stand-in), then idle.
//!
//! Adding a scenario: a module with an `Args` struct (clap, option names of
//! its own), an async `run` returning an [`Outcome`], a [`Scenario`] variant,
//! a field in [`Plan`], and its comparisons in [`compare_v2`]'s manner.

pub mod cluster;
pub mod cluster_files;
mod compare;
pub mod file;
pub mod idle;
pub mod limits;
pub mod presence;
mod presence_churn;
mod register;
pub mod room;
mod room_commit;
mod room_fanout;
mod room_figures;
mod room_join;
mod room_member;
pub mod room_read;
pub mod sqlite_inserts;
pub mod v2;
pub mod v3;
pub mod v3_latency;
mod v3_receive;
mod v3_setup;
pub mod v3_windows;

use std::net::SocketAddr;

use anyhow::bail;
use tokio::runtime::Runtime;

use crate::cli::{IdleArgs, LimitsArgs, ReferenceArgs, TargetArgs, V2Args};
use crate::report::{Comparison, Report};
use crate::target::{
    InProcessServer, Target, durability, server_binary, spawn_reference, spawn_server,
};
use compare::compare_reference;
pub use compare::{REFERENCE_TARGET_RATIO, compare_v2, compare_v3};

/// Every scenario the load generator knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Version 2, one request per connection.
    V2,
    /// Idle authenticated version-3 connections.
    Idle,
    /// The physical limits.
    Limits,
    /// Version 3 end to end with client crypto.
    V3,
    /// A large file end to end through the real binaries.
    File,
    /// A room of many members with real MLS.
    Room,
    /// Presence with many connections coming and going.
    Presence,
}

impl Scenario {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::V2 => "v2",
            Scenario::Idle => "idle",
            Scenario::Limits => "limits",
            Scenario::V3 => "v3",
            Scenario::File => "file",
            Scenario::Room => "room",
            Scenario::Presence => "presence",
        }
    }
}

/// The cluster comparison's workloads.
#[derive(Debug, Clone)]
pub struct ClusterPlan {
    /// Its own options.
    pub cluster: cluster::ClusterArgs,
    /// The v3 workload of each run.
    pub v3: v3::V3Args,
    /// The file workload.
    pub file: file::FileArgs,
}

/// What one invocation runs.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Measure the limits first.
    pub limits: Option<LimitsArgs>,
    /// Run v2.
    pub v2: Option<V2Args>,
    /// Run idle.
    pub idle: Option<IdleArgs>,
    /// Run v3.
    pub v3: Option<v3::V3Args>,
    /// Run file.
    pub file: Option<file::FileArgs>,
    /// Run room.
    pub room: Option<room::RoomArgs>,
    /// Run room-read.
    pub room_read: Option<room_read::RoomReadArgs>,
    /// Run presence.
    pub presence: Option<presence::PresenceArgs>,
    /// Run cluster.
    pub cluster: Option<ClusterPlan>,
    /// Which server.
    pub target: TargetArgs,
    /// The reference (stand-in or original) for v2.
    pub reference: ReferenceArgs,
}

impl Plan {
    /// Everything with tiny sizes, all in process: a few seconds.
    pub fn smoke(with_reference: bool) -> Self {
        Self {
            limits: Some(LimitsArgs {
                tcp_mib: 32,
                aead_mib: 8,
                sqlite_single: 20,
                sqlite_batched: 2048,
                sqlite_row_size: 100,
                sqlite_max_seconds: 5,
                connects: 300,
                connect_concurrency: 8,
            }),
            v2: Some(V2Args {
                users: 5,
                messages: 60,
                size: 64,
                concurrency: 4,
                seed: 1,
                v2_max_seconds: 60,
            }),
            idle: Some(IdleArgs {
                connections: 40,
                idle_users: 8,
                open_concurrency: 8,
                subscribe: true,
                settle_seconds: 0,
                idle_in_process: true,
                idle_max_seconds: 60,
            }),
            v3: Some(v3::V3Args {
                users: 3,
                size: 32,
                seconds: 1,
                window: 16,
                rate: 0,
                ack_batch: 16,
                acks_in_flight: 1,
                curve: String::new(),
            }),
            file: None,
            cluster: None,
            room: Some(room::RoomArgs {
                members: vec![3],
                batch: 1,
                stored: 2,
                messages: 3,
                burst: 4,
                window: 2,
                size: 32,
                skip_fanout: false,
                skip_join: false,
            }),
            room_read: Some(room_read::RoomReadArgs {
                sizes: vec![100, 65_536],
                texts: 2,
                rounds: 2,
                batch: 1,
            }),
            presence: Some(presence::PresenceArgs {
                users: 30,
                spare: 10,
                watchers: 2,
                rate: 20,
                seconds: 1.0,
                open_concurrency: 8,
                in_process: true,
            }),
            target: TargetArgs::default(),
            reference: ReferenceArgs {
                spawn_reference: with_reference,
                ..ReferenceArgs::default()
            },
        }
    }

    /// Runs the plan on `runtime`, pushing each outcome into `report`.
    ///
    /// # Errors
    /// A scenario could not be set up or run at all (failed checks are
    /// recorded in its outcome instead).
    pub fn execute(&self, runtime: &Runtime, report: &mut Report) -> anyhow::Result<()> {
        let mut limits = None;
        if let Some(args) = &self.limits {
            let (outcome, figures) = runtime.block_on(limits::run(args))?;
            report.push(outcome);
            limits = Some(figures);
        }
        if let Some(args) = &self.v2 {
            let target = v2_target(&self.target)?;
            let describe = target.describe();
            let mut outcome = runtime.block_on(v2::run(
                target.addr(),
                args,
                "v2",
                &describe,
                v2::SecondPull::Empty,
            ))?;
            target.stop()?;
            let mut reference = None;
            if let Some(target) = reference_target(&self.reference)? {
                let describe = target.describe();
                let mut r = runtime.block_on(v2::run(
                    target.addr(),
                    args,
                    "v2-reference",
                    &describe,
                    v2::SecondPull::MayRepeat,
                ))?;
                target.stop()?;
                if let Some(l) = &limits {
                    compare_reference(&mut r, l, self.reference.label());
                }
                reference = Some(r.clone());
                report.push(r);
            }
            compare_v2(
                &mut outcome,
                limits.as_ref(),
                reference.as_ref().map(|r| (r, self.reference.label())),
            );
            report.push(outcome);
        }
        if let Some(args) = &self.idle {
            let (target, measured) = idle_target(&self.target, args)?;
            let describe = target.describe();
            let outcome = runtime.block_on(idle::run(target.addr(), args, measured, &describe));
            target.stop()?;
            report.push(outcome?);
        }
        if let Some(args) = &self.v3 {
            let target = v3_target(&self.target)?;
            let describe = target.describe();
            let data_dir = target.data_dir();
            let result = runtime.block_on(v3::run(
                &[target.addr()],
                args,
                &describe,
                data_dir.as_deref(),
            ));
            target.stop()?;
            let (mut outcome, figures) = result?;
            compare_v3(&mut outcome, limits.as_ref());
            // The curve and the breakdown, on standard error: standard
            // output keeps one line per scenario (the JSON has them too).
            let busy = match &figures.cores {
                Some(c) => format!(
                    "cpu busy: the generator's cores {:?} / the server's {:?}",
                    c.generator, c.server
                ),
                None => "cpu busy: every core, generator and server together".into(),
            };
            eprint!(
                "v3 latency curve ({busy}):\n{}",
                v3_latency::table(&figures.curve)
            );
            if let Some(w) = &figures.throughput_writer {
                eprint!(
                    "{}",
                    v3_latency::writer_line(
                        &format!(
                            "at the maximum, {}",
                            crate::report::thousands(figures.e2e_msgs_per_s)
                        ),
                        w
                    )
                );
            }
            report.push(outcome);
        }
        if let Some(args) = &self.file {
            let target = file_target(&self.target)?;
            let describe = target.describe();
            let result = runtime.block_on(file::run(target.addr(), target.pid(), args, &describe));
            target.stop()?;
            let (mut outcome, _) = result?;
            if let Some(l) = &limits {
                for (figure, key) in [
                    ("file upload MB/s", "upload_mb_per_s"),
                    ("file download MB/s", "download_mb_per_s"),
                ] {
                    let value = outcome
                        .figures
                        .get(key)
                        .and_then(serde_json::Value::as_f64)
                        .unwrap_or(0.0);
                    outcome.comparisons.push(Comparison::new(
                        figure,
                        value,
                        "loopback TCP MB/s",
                        l.tcp_mb_per_s,
                        "MB/s",
                    ));
                    outcome.comparisons.push(Comparison::new(
                        figure,
                        value,
                        "raw XChaCha20-Poly1305 MB/s (one core)",
                        l.xchacha20poly1305_mb_per_s,
                        "MB/s",
                    ));
                }
            }
            report.push(outcome);
        }
        if let Some(args) = &self.room {
            let most = args.members.iter().copied().max().unwrap_or(0);
            let target = room_target(&self.target, most)?;
            let describe = target.describe();
            let result = runtime.block_on(room::run(
                target.addr(),
                target.pid(),
                target.data_dir(),
                args,
                &describe,
            ));
            target.stop()?;
            report.push(result?.0);
        }
        if let Some(args) = &self.room_read {
            report.push(room_read::run(args)?.0);
        }
        if let Some(args) = &self.presence {
            let target = presence_target(&self.target, args)?;
            let describe = target.describe();
            let result =
                runtime.block_on(presence::run(target.addr(), target.pid(), args, &describe));
            target.stop()?;
            report.push(result?);
        }
        if let Some(plan) = &self.cluster {
            let outcomes = runtime.block_on(cluster::run(
                &plan.cluster,
                &plan.v3,
                &plan.file,
                self.target.server_bin.as_deref(),
                self.target.durability,
            ))?;
            for outcome in outcomes {
                report.push(outcome);
            }
        }
        Ok(())
    }
}

/// Room for every member's connection plus the registrations beside them.
fn room_target(t: &TargetArgs, members: usize) -> anyhow::Result<Target> {
    let room = members + 128;
    if let Some(addr) = t.server {
        return Ok(Target::External(loopback_only(addr)?));
    }
    if t.spawn {
        let binary = server_binary(t.server_bin.as_deref())?;
        return Ok(Target::Child(spawn_server(
            &binary,
            t.durability,
            &[
                "--max-connections-per-ip".into(),
                room.to_string(),
                "--max-connections".into(),
                room.max(10_240).to_string(),
                // Members wait silent while the others are added.
                "--idle-timeout".into(),
                "7200".into(),
            ],
        )?));
    }
    let d = durability(t.durability);
    Ok(Target::InProcess(InProcessServer::start(|c| {
        c.durability = d;
        c.max_connections_per_ip = room;
        c.max_connections = c.max_connections.max(room);
        c.idle_timeout = std::time::Duration::from_secs(7200);
    })?))
}

/// Room for every connection of the presence run beside registrations.
fn presence_target(t: &TargetArgs, args: &presence::PresenceArgs) -> anyhow::Result<Target> {
    let room = args.users + args.spare + args.watchers + 512;
    if let Some(addr) = t.server {
        return Ok(Target::External(loopback_only(addr)?));
    }
    if args.in_process {
        let d = durability(t.durability);
        return Ok(Target::InProcess(InProcessServer::start(|c| {
            c.durability = d;
            c.max_connections = room;
            c.max_connections_per_ip = room;
            c.idle_timeout = std::time::Duration::from_secs(3600);
        })?));
    }
    // The server's CPU time is a figure: a process of its own.
    let binary = server_binary(t.server_bin.as_deref())?;
    Ok(Target::Child(spawn_server(
        &binary,
        t.durability,
        &[
            "--max-connections".into(),
            room.to_string(),
            "--max-connections-per-ip".into(),
            room.to_string(),
            "--idle-timeout".into(),
            "3600".into(),
        ],
    )?))
}

fn loopback_only(addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    if !addr.ip().is_loopback() {
        bail!(
            "{addr} is not a loopback address: the load generator only drives 127.0.0.0/8 or ::1"
        );
    }
    Ok(addr)
}

fn v2_target(t: &TargetArgs) -> anyhow::Result<Target> {
    if let Some(addr) = t.server {
        return Ok(Target::External(loopback_only(addr)?));
    }
    if t.spawn {
        let binary = server_binary(t.server_bin.as_deref())?;
        return Ok(Target::Child(spawn_server(
            &binary,
            t.durability,
            &["--legacy-v2".into()],
        )?));
    }
    let d = durability(t.durability);
    Ok(Target::InProcess(InProcessServer::start(|c| {
        c.legacy_v2 = true;
        c.durability = d;
    })?))
}

fn file_target(t: &TargetArgs) -> anyhow::Result<Target> {
    if let Some(addr) = t.server {
        return Ok(Target::External(loopback_only(addr)?));
    }
    // The server's memory is a figure: it runs as a process of its own.
    let binary = server_binary(t.server_bin.as_deref())?;
    Ok(Target::Child(spawn_server(&binary, t.durability, &[])?))
}

fn v3_target(t: &TargetArgs) -> anyhow::Result<Target> {
    if let Some(addr) = t.server {
        return Ok(Target::External(loopback_only(addr)?));
    }
    if t.spawn {
        let binary = server_binary(t.server_bin.as_deref())?;
        return Ok(Target::Child(spawn_server(&binary, t.durability, &[])?));
    }
    let d = durability(t.durability);
    Ok(Target::InProcess(InProcessServer::start(|c| {
        c.durability = d
    })?))
}

fn reference_target(r: &ReferenceArgs) -> anyhow::Result<Option<Target>> {
    if let Some(addr) = r.reference {
        return Ok(Some(Target::External(loopback_only(addr)?)));
    }
    if let Some(checkout) = &r.spawn_original_reference {
        return Ok(Some(Target::Child(
            crate::original::spawn_original_reference(checkout)?,
        )));
    }
    if r.spawn_reference {
        return Ok(Some(Target::Child(spawn_reference(
            r.reference_script.as_deref(),
        )?)));
    }
    Ok(None)
}

fn idle_target(t: &TargetArgs, args: &IdleArgs) -> anyhow::Result<(Target, idle::Measured)> {
    // Room for the registrations and the liveness pings beside the idle ones.
    let room = args.connections + 256;
    if let Some(addr) = t.server {
        bail!(
            "idle needs the server's process to read its memory: let it spawn the server \
             (default) or use --idle-in-process (with `all`: --skip-idle), not --server {addr}"
        );
    }
    if args.idle_in_process {
        let d = durability(t.durability);
        let server = InProcessServer::start(|c| {
            c.durability = d;
            c.max_connections = room;
            c.max_connections_per_ip = room;
            c.idle_timeout = std::time::Duration::from_secs(3600);
        })?;
        return Ok((Target::InProcess(server), idle::Measured::ThisProcess));
    }
    let binary = server_binary(t.server_bin.as_deref())?;
    let child = spawn_server(
        &binary,
        t.durability,
        &[
            "--max-connections".into(),
            room.to_string(),
            "--max-connections-per-ip".into(),
            room.to_string(),
            "--idle-timeout".into(),
            "3600".into(),
        ],
    )?;
    let pid = child.pid();
    Ok((Target::Child(child), idle::Measured::ServerProcess(pid)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Outcome;

    #[test]
    fn refuses_addresses_off_loopback() {
        assert!(loopback_only("127.0.0.1:1357".parse().unwrap()).is_ok());
        assert!(loopback_only("[::1]:1357".parse().unwrap()).is_ok());
        assert!(loopback_only("192.168.1.10:1357".parse().unwrap()).is_err());
        assert!(loopback_only("10.0.0.1:1357".parse().unwrap()).is_err());
    }

    fn v3_outcome(e2e: f64, offered: f64, p99_us: u64) -> Outcome {
        Outcome {
            name: "v3".into(),
            target: "test".into(),
            passed: true,
            problems: vec![],
            summary: "v3".into(),
            figures: serde_json::json!({
                "e2e_msgs_per_s": e2e,
                "latency_offered_per_s": offered,
                "push_latency": { "p99_us": p99_us },
            }),
            comparisons: vec![],
        }
    }

    #[test]
    fn latency_is_judged_only_at_half_load() {
        let mut half = v3_outcome(100_000.0, 50_000.0, 4_000);
        compare_v3(&mut half, None);
        assert!(
            half.summary.contains("p99 under 5 ms at half load: met"),
            "{}",
            half.summary
        );

        let mut slow = v3_outcome(100_000.0, 50_000.0, 6_000);
        compare_v3(&mut slow, None);
        assert!(
            slow.summary.contains("half load: NOT met"),
            "{}",
            slow.summary
        );

        let mut low = v3_outcome(100_000.0, 10_000.0, 1_000);
        compare_v3(&mut low, None);
        assert!(low.summary.contains("no verdict"), "{}", low.summary);
        assert!(!low.summary.contains("half load: met"), "{}", low.summary);
    }
}
