//! The external-join phase of the `room` scenario (issue 14): once the room
//! is built, the owner names it and makes it public (two commits every
//! member processes; a room at the 1,000-member cap first loses its last
//! member, removed by the owner, so that the join makes it 1,000 again), stores its group info (142), and one more user, set
//! up beside the members and never added, joins by external commit as the
//! client's `room join` does (PROTOCOL.md "Joining (142 to 144)"): finds the
//! room by name with its group info (144), makes the commit with its own
//! `sealpost_rooms::RoomEngine` (`join_external`, which checks every member
//! against its pins) and sends it (133). Every member is subscribed to room
//! pushes; a task per member waits for the commit's push (1310), then each
//! member processes it with its engine (on the scenario's 2 threads, in the
//! order the pushes arrived) and acknowledges it.
//!
//! Timed: the joiner's three steps; the server's round trip of the commit
//! and its process's CPU time during it and during the pushes that follow
//! (every thread's on-CPU nanoseconds from `/proc/PID/task/*/schedstat`);
//! for each member, the push's arrival after the commit was accepted, its
//! engine processing the commit (wall and the thread's CPU time), and the
//! moment it had merged the commit.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use bytes::Bytes;
use client::connection::{PushQueue, Pushed, RoomPush};
use protocol::RoomId;
use protocol::v3::{RoomEntry, RoomEntryKind, RoomLabel};
use sealpost_rooms::{JoinRule, RoomName};
use serde::Serialize;

use super::room_commit::{CommitPoint, commit_round, ms};
use super::room_member::{self as rm, Members, par_map, timed};
use crate::report::{self, Latency};
use crate::target::proc_work;

/// How long the commit may take to reach every member.
const ARRIVAL_TIMEOUT: Duration = Duration::from_secs(120);

/// The external join into a room of `members_before`.
#[derive(Debug, Clone, Serialize)]
pub struct JoinFigures {
    /// Members before the join (the joiner makes one more).
    pub members_before: usize,
    /// The owner's commit removing the last member of a full room first.
    pub make_room: Option<CommitPoint>,
    /// The owner's commit naming the room (every member processes it).
    pub rename: CommitPoint,
    /// The owner's commit making it public.
    pub open: CommitPoint,
    /// Bytes of the group info (with the ratchet tree) the owner stores.
    pub group_info_bytes: usize,
    /// The owner's engine exporting it, ms.
    pub group_info_export_ms: f64,
    /// Request 142 to its answer, ms.
    pub group_info_store_ms: f64,
    /// The joiner: request 144 (find the room, with its group info) to
    /// its answer, ms.
    pub find_ms: f64,
    /// The joiner's engine making the external commit (checks included), ms.
    pub build_ms: f64,
    /// The same, CPU time of its thread, ms.
    pub build_cpu_ms: f64,
    /// Bytes of the external commit.
    pub commit_bytes: usize,
    /// Request 133 to its answer (the server checks, stores, answers), ms.
    pub send_ms: f64,
    /// find + build + send, ms.
    pub joiner_ms: f64,
    /// The server process's CPU time from sending 133 to its answer, ms.
    pub server_cpu_commit_ms: Option<f64>,
    /// The same from the answer to the last member's push, ms.
    pub server_cpu_push_ms: Option<f64>,
    /// The same from /proc/PID/stat (10 ms ticks), send to last push, ms.
    pub server_cpu_ticks_ms: Option<f64>,
    /// Per member: from the answer to 133 to the push reaching it, µs.
    pub delivery: Latency,
    /// Per member: its engine processing the commit (wall), µs.
    pub process: Latency,
    /// The same, CPU time of the thread, µs.
    pub process_cpu: Latency,
    /// Per member: from the answer to 133 to it having merged the commit,
    /// as simulated here (all members' engines share 2 threads, so this
    /// holds the queue of members before it), µs.
    pub merged_simulated: Latency,
    /// Per member: delivery + its own processing (wall): the time to merge
    /// on a device of its own, µs.
    pub merged_own_device: Latency,
    /// Members the server lists afterwards.
    pub members_after: usize,
}

/// Runs the phase. `pushes[i]` is member i's room pushes when a fan-out
/// receiver already subscribed it; the others are subscribed here.
///
/// # Errors
/// A request, an engine operation or a check failed.
pub async fn run(
    members: &Members,
    room: RoomId,
    pid: Option<u32>,
    mut pushes: Vec<Option<PushQueue<RoomPush>>>,
    problems: &mut Vec<String>,
) -> anyhow::Result<JoinFigures> {
    let built = members.all.len();
    let joiner = members.spare.first().context("no spare user to join")?;
    let r = sealpost_rooms::RoomId(room.0);
    // A full room cannot take a joiner (ROOM_FULL): the owner removes the
    // last member first, who then takes no further part.
    let n = built.min(sealpost_rooms::MAX_ROOM_MEMBERS - 1);
    let make_room = if n < built {
        let gone: Vec<_> = members.all[n..]
            .iter()
            .map(|m| sealpost_rooms::ClientId(m.id.0))
            .collect();
        let mut p = commit_round(members, room, &(1..n).collect::<Vec<_>>(), &[], |e, _| {
            e.remove_members(r, &gone)
        })
        .await?;
        p.kind = "remove";
        Some(p)
    } else {
        None
    };
    pushes.resize_with(built, || None);
    pushes.truncate(n);
    for (i, slot) in pushes.iter_mut().enumerate() {
        if slot.is_none() {
            let conn = &members.all[i].conn;
            *slot = Some(conn.take_room_pushes().context("room pushes taken")?);
            conn.subscribe().await?;
        }
    }
    let existing: Vec<usize> = (1..n).collect();
    let name = format!("loadgen-{n}-{:08x}", rand::random::<u32>());
    let room_name = RoomName::new(&name)?;
    let mut rename = commit_round(members, room, &existing, &[], |e, _| {
        e.rename(r, &room_name)
    })
    .await?;
    rename.kind = "rename";
    let mut open = commit_round(members, room, &existing, &[], |e, _| {
        e.set_join_rule(r, JoinRule::Public)
    })
    .await?;
    open.kind = "open";

    let owner = &members.all[0];
    let (info, export) = tokio::task::block_in_place(|| {
        timed(|| owner.with_engine(|e| Ok::<_, anyhow::Error>((e.epoch(r)?, e.group_info(r)?))))
    });
    let (epoch, info) = info?;
    let group_info_bytes = info.len();
    let t = Instant::now();
    owner
        .conn
        .room_group_info(room, epoch, Bytes::from(info))
        .await?;
    let group_info_store = t.elapsed();

    // Every member waits for the join commit's push from now on.
    let waiters: Vec<_> = pushes
        .into_iter()
        .map(|rx| tokio::spawn(wait_commit(rx, epoch)))
        .collect();

    let t = Instant::now();
    let found = joiner.conn.find_room(RoomLabel::new(&name)?).await?;
    let find = t.elapsed();
    ensure!(found.room == room, "144 answered another room");
    let (out, build) = tokio::task::block_in_place(|| {
        timed(|| joiner.with_engine(|e| e.join_external(&found.group_info, &*members.book)))
    });
    let out = out?;
    let commit_bytes = out.commit.len();
    let (cpu0, work0) = (server_cpu(pid), pid.and_then(|p| proc_work(p).ok()));
    let t = Instant::now();
    let accepted = joiner
        .conn
        .room_commit(room, out.epoch, Bytes::from(out.commit), Bytes::new())
        .await?;
    let accepted_at = Instant::now();
    let send = accepted_at - t;
    let cpu1 = server_cpu(pid);

    let mut arrived = Vec::with_capacity(n);
    for (i, w) in waiters.into_iter().enumerate() {
        let (entry, at) = w.await?.with_context(|| format!("member {i}"))?;
        ensure!(
            entry.seq == accepted.seq,
            "member {i} got entry {} for the join commit {}",
            entry.seq,
            accepted.seq
        );
        arrived.push((i, entry, at));
    }
    let (cpu2, work2) = (server_cpu(pid), pid.and_then(|p| proc_work(p).ok()));
    arrived.sort_by_key(|(_, _, at)| *at);
    let processed = tokio::task::block_in_place(|| {
        par_map(&arrived, |(i, e, _)| {
            let took = rm::process_commit(&members.all[*i], e, &members.book);
            (took, Instant::now())
        })
    });
    let (mut delivery, mut merged_sim, mut merged_own) = (
        report::histogram(),
        report::histogram(),
        report::histogram(),
    );
    let mut process = rm::TookHistograms::new();
    for ((_, _, at), (took, done)) in arrived.iter().zip(processed) {
        let took = took?;
        let d = at.saturating_duration_since(accepted_at);
        report::record(&mut delivery, d);
        report::record(&mut merged_sim, done.saturating_duration_since(accepted_at));
        report::record(&mut merged_own, d + took.wall);
        process.record(took);
    }
    let everyone: Vec<usize> = (0..n).collect();
    for a in rm::net_map(&everyone, |i| {
        rm::ack_room(&members.all[i], room, accepted.seq)
    })
    .await
    {
        a?;
    }
    let members_after = check_joined(&members.all[..n], joiner, room, problems).await?;
    let cpu_ms = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) => Some(ms(b.saturating_sub(a))),
        _ => None,
    };
    Ok(JoinFigures {
        members_before: n,
        make_room,
        rename,
        open,
        group_info_bytes,
        group_info_export_ms: ms(export.wall),
        group_info_store_ms: ms(group_info_store),
        find_ms: ms(find),
        build_ms: ms(build.wall),
        build_cpu_ms: ms(build.cpu),
        commit_bytes,
        send_ms: ms(send),
        joiner_ms: ms(find + build.wall + send),
        server_cpu_commit_ms: cpu_ms(cpu0, cpu1),
        server_cpu_push_ms: cpu_ms(cpu1, cpu2),
        server_cpu_ticks_ms: match (work0, work2) {
            (Some(a), Some(b)) => Some(b.since(&a).cpu_seconds * 1000.0),
            _ => None,
        },
        delivery: Latency::of(&delivery),
        process: Latency::of(&process.wall),
        process_cpu: Latency::of(&process.cpu),
        merged_simulated: Latency::of(&merged_sim),
        merged_own_device: Latency::of(&merged_own),
        members_after,
    })
}

/// The push of the commit made at `epoch`, and when it came.
async fn wait_commit(
    rx: Option<PushQueue<RoomPush>>,
    epoch: u64,
) -> anyhow::Result<(RoomEntry, Instant)> {
    let mut rx = rx.context("no room pushes")?;
    let deadline = tokio::time::Instant::now() + ARRIVAL_TIMEOUT;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(Pushed::Item(RoomPush::Entry(e))))
                if e.kind == RoomEntryKind::Commit && e.epoch == epoch =>
            {
                return Ok((e, Instant::now()));
            }
            Ok(Some(Pushed::Lagged)) => bail!("the push queue dropped entries: it fell behind"),
            // Pushes of the commits before, texts, presence: not this one.
            Ok(Some(Pushed::Item(_))) => {}
            Ok(None) => bail!("the connection closed"),
            Err(_) => bail!("the join commit did not arrive within {ARRIVAL_TIMEOUT:?}"),
        }
    }
}

/// The server lists everyone and the joiner; every engine is at the
/// joiner's epoch. Returns the members the server lists.
async fn check_joined(
    members: &[rm::Member],
    joiner: &rm::Member,
    room: RoomId,
    problems: &mut Vec<String>,
) -> anyhow::Result<usize> {
    let status = joiner.conn.room_state(room).await?;
    let n = members.len() + 1;
    if status.members.len() != n {
        problems.push(format!(
            "after the join the server lists {} members, not {n}",
            status.members.len()
        ));
    }
    let r = sealpost_rooms::RoomId(room.0);
    let epochs =
        tokio::task::block_in_place(|| par_map(members, |m| m.with_engine(|e| e.epoch(r))));
    let joined = joiner.with_engine(|e| e.epoch(r))?;
    let behind = epochs
        .into_iter()
        .filter(|e| e.as_ref().ok() != Some(&joined))
        .count();
    if joined != status.epoch || behind > 0 {
        problems.push(format!(
            "after the join: the joiner at epoch {joined}, the server at {}, {behind} members elsewhere",
            status.epoch
        ));
    }
    Ok(status.members.len())
}

/// Every thread's on-CPU time of process `pid` so far (threads that ended
/// are not counted: the difference of two readings is a lower bound).
fn server_cpu(pid: Option<u32>) -> Option<Duration> {
    let tasks = std::fs::read_dir(format!("/proc/{}/task", pid?)).ok()?;
    let mut total = 0u64;
    for t in tasks.flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
            total += s.split_whitespace().next()?.parse::<u64>().ok()?;
        }
    }
    Some(Duration::from_nanos(total))
}
