//! Scenario `room`: one room of N members with real MLS (openmls through
//! `sealpost_rooms::RoomEngine`, one state file and one connection per
//! simulated member), for each N asked (100 and 1,000 by default).
//!
//! 1. **setup**: N users register, connect, open their engines and upload a
//!    one-time key package each.
//! 2. **add everyone**: member 0 creates the room and adds the others in
//!    commits of at most 100 (PROTOCOL.md): claim their key packages, make
//!    the commit, the server accepts it (133), the owner reads it back from
//!    the log and merges it; every member already in processes it, every
//!    new member joins from its welcome (a type-5 message). Each commit is
//!    timed (made, accepted, merged, processed by each member, joined) and
//!    measured (commit and welcome bytes) against the room's size.
//! 3. **a commit in the full room**: the owner promotes a member (a group
//!    context change, with a path); every other member processes it.
//! 4. **stored once**: every member subscribed (pushes 1310) and not
//!    acknowledging, the owner sends a few texts; the server's database is
//!    read before and after (room log rows, one-to-one message rows, member
//!    rows), then every member acknowledges and the log must empty.
//! 5. **fan-out latency**: texts one at a time, each after the previous one
//!    reached every member; latency from before encryption to the moment the
//!    last member's connection has it (members acknowledge as they go).
//! 6. **fan-out throughput**: texts encrypted beforehand, sent with a window
//!    in flight; member-deliveries per second to the last delivery.
//! 7. **every member decrypts**: each member reads one of the texts with
//!    its engine as the client does (processed, its result kept, then
//!    released: `room_member::read_entry`), timed, and compares the
//!    plaintext. Commits are read the same way.
//! 8. **a join by external commit** (`room_join.rs`): the room made public,
//!    one more user joins without an invitation; the joiner's steps, the
//!    server's part and each member processing the commit, timed.
//!
//! `--room-skip-fanout` leaves out phases 4 to 7, `--room-skip-join` phase 8.
//!
//! Server cost (CPU seconds and bytes written to storage, from /proc) is
//! read around phases 5 and 6 when the server is a child process.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use protocol::{ClientId, RoomId};
use sealpost_rooms::{Incoming, Role};
use serde::Serialize;

pub use super::room_commit::CommitPoint;
use super::room_commit::commit_round;
pub use super::room_figures::{FanOut, RoomArgs, StoredFigures, per_text, text};
pub use super::room_join::JoinFigures;
use super::room_member::{self as rm, Members, par_map};
use crate::report::{self, Latency, Outcome};

/// Everything about one room size.
#[derive(Debug, Clone, Serialize)]
pub struct SizeFigures {
    /// Members, the owner included.
    pub members: usize,
    /// Register, connect, open engines, upload key packages: seconds.
    pub setup_seconds: f64,
    /// Create the room and add everyone until every member is at the last
    /// epoch: seconds.
    pub add_everyone_seconds: f64,
    /// The owner's part of that (claims, commits made, answered, merged).
    pub owner_seconds: f64,
    /// Each adding commit.
    pub adds: Vec<CommitPoint>,
    /// A commit in the full room (promote: a path, no welcome).
    pub full_room_commit: CommitPoint,
    /// The room's rows in the server's database (when it is reachable).
    pub stored: Option<StoredFigures>,
    /// One text at a time.
    pub latency: Option<FanOut>,
    /// Texts with a window in flight.
    pub throughput: Option<FanOut>,
    /// Each member reading one text with its engine as the client does
    /// (decrypted, its result kept, then released), µs.
    pub member_decrypt: Option<Latency>,
    /// The same, CPU time of the thread, µs.
    pub member_decrypt_cpu: Option<Latency>,
    /// One more user joining by external commit.
    pub join: Option<JoinFigures>,
}

/// Runs every size against `addr`.
///
/// # Errors
/// Setup failed or a phase could not run.
pub async fn run(
    addr: std::net::SocketAddr,
    server_pid: Option<u32>,
    data_dir: Option<std::path::PathBuf>,
    args: &RoomArgs,
    target: &str,
) -> anyhow::Result<(Outcome, Vec<SizeFigures>)> {
    ensure!(args.size >= 16, "room texts are at least 16 bytes");
    ensure!(
        (1..=sealpost_rooms::commits::MAX_MEMBERS_PER_COMMIT).contains(&args.batch),
        "--room-batch is 1 to 100"
    );
    ensure!(
        args.stored + args.messages + args.burst <= 900,
        "at most 900 texts in all (MLS keeps a receiver's key chain at most 1,000 steps ahead)"
    );
    let mut problems = Vec::new();
    let mut sizes = Vec::new();
    for &n in &args.members {
        ensure!(
            (3..=sealpost_rooms::MAX_ROOM_MEMBERS).contains(&n),
            "room sizes are 3 to 1,000"
        );
        let db = data_dir.as_ref().map(|d| d.join("server.db"));
        let f = one_size(addr, server_pid, db.as_deref(), args, n, &mut problems)
            .await
            .with_context(|| format!("room of {n}"))?;
        sizes.push(f);
    }
    let parts: Vec<String> = sizes
        .iter()
        .map(|f| {
            let mut line = format!(
                "{} members: added in {:.1} s, full-room commit {} B made in {:.1} ms, processed {:.1} ms p50 / {:.1} ms p99 per member",
                f.members,
                f.add_everyone_seconds,
                report::thousands(f.full_room_commit.commit_bytes as f64),
                f.full_room_commit.create_ms,
                f.full_room_commit.process.p50_us as f64 / 1000.0,
                f.full_room_commit.process.p99_us as f64 / 1000.0,
            );
            if let (Some(l), Some(t)) = (&f.latency, &f.throughput) {
                line += &format!(
                    "; text to the last member {}; {:.2} log rows per text; {} member-deliveries/s",
                    l.to_last_member.short(),
                    f.stored.as_ref().map_or(f64::NAN, |s| s.log_rows_per_text),
                    report::thousands(t.member_deliveries_per_s),
                );
            }
            if let Some(j) = &f.join {
                line += &format!(
                    "; external join into {}: joiner {:.1} ms (find {:.1}, build {:.1}, send {:.1}), \
                     each member merged it {:.1} ms p50 / {:.1} ms p99 on a device of its own",
                    j.members_before,
                    j.joiner_ms,
                    j.find_ms,
                    j.build_ms,
                    j.send_ms,
                    j.merged_own_device.p50_us as f64 / 1000.0,
                    j.merged_own_device.p99_us as f64 / 1000.0,
                );
            }
            line
        })
        .collect();
    let summary = format!("room ({target}, real MLS): {}", parts.join(" | "));
    let outcome = Outcome {
        name: "room".into(),
        target: target.into(),
        passed: problems.is_empty(),
        problems,
        summary,
        figures: serde_json::to_value(&sizes)?,
        comparisons: Vec::new(),
    };
    Ok((outcome, sizes))
}

async fn one_size(
    addr: std::net::SocketAddr,
    pid: Option<u32>,
    db: Option<&std::path::Path>,
    args: &RoomArgs,
    n: usize,
    problems: &mut Vec<String>,
) -> anyhow::Result<SizeFigures> {
    let t = Instant::now();
    let spare = usize::from(!args.skip_join);
    let members = rm::setup(addr, n, spare)
        .await
        .context("setting up members")?;
    let setup_seconds = t.elapsed().as_secs_f64();
    tracing::info!(n, setup_seconds, "members ready");

    let t = Instant::now();
    let owner = &members.all[0];
    let room = RoomId(rand::random());
    let created = owner.with_engine(|e| e.create_room(sealpost_rooms::RoomId(room.0)))?;
    owner
        .conn
        .room_create(room, created.group_info.into(), created.ratchet_tree.into())
        .await?;
    let mut joined: Vec<usize> = Vec::new();
    let mut adds = Vec::new();
    let mut owner_time = t.elapsed();
    let everyone: Vec<usize> = (1..n).collect();
    for batch in everyone.chunks(args.batch) {
        let ids: Vec<ClientId> = batch.iter().map(|&i| members.all[i].id).collect();
        let t_claim = Instant::now();
        let packages = rm::claim(&owner.conn, ids).await?;
        owner_time += t_claim.elapsed();
        let point = commit_round(&members, room, &joined, batch, |e, pins| {
            e.add_members(sealpost_rooms::RoomId(room.0), &packages, pins)
        })
        .await?;
        owner_time += Duration::from_secs_f64(
            (point.create_ms + point.server_ms + point.owner_merge_ms) / 1000.0,
        );
        tracing::info!(?point, "added");
        adds.push(point);
        joined.extend_from_slice(batch);
    }
    let add_everyone_seconds = t.elapsed().as_secs_f64();
    check_room(&members, room, n, problems).await?;

    let promoted = sealpost_rooms::ClientId(members.all[1].id.0);
    let full_room_commit = commit_round(&members, room, &joined, &[], |e, _| {
        e.set_role(sealpost_rooms::RoomId(room.0), promoted, Role::Admin)
    })
    .await?;
    tracing::info!(?full_room_commit, "full-room commit");

    let (mut stored, mut latency, mut throughput) = (None, None, None);
    let (mut member_decrypt, mut member_decrypt_cpu) = (None, None);
    let mut pushes = Vec::new();
    if !args.skip_fanout {
        let fan = super::room_fanout::FanOutRoom::start(&members, room, problems).await?;
        if let Some(db) = db {
            stored = Some(fan.stored_phase(&members, db, args, problems).await?);
        }
        latency = Some(fan.latency_phase(&members, pid, args, problems).await?);
        throughput = Some(fan.throughput_phase(&members, pid, args, problems).await?);
        let mut kept = fan.stop(problems).await?;
        let (d, c) = decrypt_check(&members, room, &kept, args, problems)?;
        (member_decrypt, member_decrypt_cpu) = (Some(d), Some(c));
        pushes = std::mem::take(&mut kept.pushes);
    }
    let join = if args.skip_join {
        None
    } else {
        let j = super::room_join::run(&members, room, pid, pushes, problems).await?;
        tracing::info!(?j, "external join");
        Some(j)
    };
    Ok(SizeFigures {
        members: n,
        setup_seconds,
        add_everyone_seconds,
        owner_seconds: owner_time.as_secs_f64(),
        adds,
        full_room_commit,
        stored,
        latency,
        throughput,
        member_decrypt,
        member_decrypt_cpu,
        join,
    })
}

/// Every member's engine at the server's epoch, the server listing all of them.
async fn check_room(
    members: &Members,
    room: RoomId,
    n: usize,
    problems: &mut Vec<String>,
) -> anyhow::Result<()> {
    let status = members.all[0].conn.room_state(room).await?;
    if status.members.len() != n {
        problems.push(format!(
            "the server lists {} members, not {n}",
            status.members.len()
        ));
    }
    let epochs = tokio::task::block_in_place(|| {
        par_map(&members.all, |m| {
            m.with_engine(|e| e.epoch(sealpost_rooms::RoomId(room.0)))
        })
    });
    let behind = epochs
        .into_iter()
        .filter(|e| e.as_ref().ok() != Some(&status.epoch))
        .count();
    if behind > 0 {
        problems.push(format!(
            "{behind} members are not at the room's epoch {}",
            status.epoch
        ));
    }
    Ok(())
}

/// Each receiving member reads one text it kept (member i the text
/// `i mod texts`) as the client does (`rm::read_entry`), timed, and
/// compares it with what was sent.
fn decrypt_check(
    members: &Members,
    room: RoomId,
    kept: &super::room_fanout::Kept,
    args: &RoomArgs,
    problems: &mut Vec<String>,
) -> anyhow::Result<(Latency, Latency)> {
    let texts = kept.sent.len();
    ensure!(texts > 0, "no texts were sent");
    let work: Vec<(usize, u64, usize)> = (1..members.all.len())
        .map(|i| {
            let k = (i - 1) % texts;
            (i, kept.sent[k], k)
        })
        .collect();
    let owner = sealpost_rooms::ClientId(members.all[0].id.0);
    let results = tokio::task::block_in_place(|| {
        par_map(&work, |&(i, seq, k)| -> anyhow::Result<rm::Took> {
            let m = &members.all[i];
            let bytes = kept.entries[i]
                .get(&seq)
                .with_context(|| format!("member {} has no entry {seq}", m.id))?;
            let (incoming, took) = rm::read_entry(m, room, seq, bytes, &members.book)?;
            match incoming {
                Incoming::Message {
                    sender, plaintext, ..
                } if sender == owner && plaintext == text(k, args.size) => Ok(took),
                other => bail!("member {} decrypted {other:?}", m.id),
            }
        })
    });
    let mut h = rm::TookHistograms::new();
    let mut failed = 0;
    for r in results {
        match r {
            Ok(d) => h.record(d),
            Err(e) => {
                if failed == 0 {
                    problems.push(format!("decrypt: {e:#}"));
                }
                failed += 1;
            }
        }
    }
    if failed > 0 {
        problems.push(format!("{failed} members could not decrypt their text"));
    }
    Ok((Latency::of(&h.wall), Latency::of(&h.cpu)))
}
