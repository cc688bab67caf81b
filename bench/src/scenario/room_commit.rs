//! One commit of the `room` scenario's owner, made, accepted by the server,
//! merged by the owner and processed by every member (or joined from its
//! welcome), each timed: shared by the adding commits and the full-room
//! commit (`room.rs`) and the commits that open the room to joiners
//! (`room_join.rs`).

use std::time::{Duration, Instant};

use anyhow::ensure;
use bytes::Bytes;
use protocol::RoomId;
use protocol::v3;
use serde::Serialize;

use super::room_member::{self as rm, Members, par_map, timed};
use crate::report::Latency;

/// One commit, against the room's size.
#[derive(Debug, Clone, Serialize)]
pub struct CommitPoint {
    /// `add` or `promote`.
    pub kind: &'static str,
    /// Members before it.
    pub members_before: usize,
    /// Members after it.
    pub members_after: usize,
    /// Bytes of the commit (an MLS public message).
    pub commit_bytes: usize,
    /// Bytes of the welcome (0: none).
    pub welcome_bytes: usize,
    /// The owner's engine making it, ms.
    pub create_ms: f64,
    /// The same, CPU time of the thread, ms.
    pub create_cpu_ms: f64,
    /// Request 133 to its answer (the server checks and stores it), ms.
    pub server_ms: f64,
    /// The owner's engine merging it when read back, ms.
    pub owner_merge_ms: f64,
    /// Each member already in reading it as the client does (its engine:
    /// `room_member::read_entry`), µs.
    pub process: Latency,
    /// The same, CPU time of the thread, µs.
    pub process_cpu: Latency,
    /// Each new member joining from its welcome, µs.
    pub join: Latency,
    /// The same, CPU time of the thread, µs.
    pub join_cpu: Latency,
    /// Wall clock from making the commit to every member at its epoch, ms.
    pub everyone_ms: f64,
}

/// Makes a commit with the owner's engine, has the server accept it, the
/// owner merge it from the log, every member in `existing` process it and
/// every member in `added` join from its welcome.
pub async fn commit_round(
    members: &Members,
    room: RoomId,
    existing: &[usize],
    added: &[usize],
    make: impl FnOnce(
        &sealpost_rooms::RoomEngine,
        &rm::Book,
    ) -> Result<sealpost_rooms::Outgoing, sealpost_rooms::RoomsError>,
) -> anyhow::Result<CommitPoint> {
    let owner = &members.all[0];
    let before = 1 + existing.len();
    let t0 = Instant::now();
    let (out, create) =
        tokio::task::block_in_place(|| timed(|| owner.with_engine(|e| make(e, &members.book))));
    let out = out?;
    let create: rm::Took = create;
    let (commit_bytes, welcome_bytes) =
        (out.commit.len(), out.welcome.as_ref().map_or(0, Vec::len));
    let t = Instant::now();
    let accepted = owner
        .conn
        .room_commit(
            room,
            out.epoch,
            Bytes::from(out.commit),
            out.welcome.map(Bytes::from).unwrap_or_default(),
        )
        .await?;
    let server = t.elapsed();
    let entry = rm::fetch_commit(owner).await?;
    ensure!(
        entry.seq == accepted.seq,
        "the owner read back another entry"
    );
    let merge = tokio::task::block_in_place(|| rm::process_commit(owner, &entry, &members.book))?;
    rm::ack_room(owner, room, entry.seq).await?;

    let commits = rm::net_map(existing, |i| rm::fetch_commit(&members.all[i])).await;
    let commits: Vec<_> = commits.into_iter().collect::<Result<_, _>>()?;
    let work: Vec<(usize, v3::RoomEntry)> = existing.iter().copied().zip(commits).collect();
    let processed = tokio::task::block_in_place(|| {
        par_map(&work, |(i, e)| {
            rm::process_commit(&members.all[*i], e, &members.book)
        })
    });
    let mut process = rm::TookHistograms::new();
    for p in processed {
        process.record(p?);
    }
    for r in rm::net_map(existing, |i| {
        rm::ack_room(&members.all[i], room, accepted.seq)
    })
    .await
    {
        r?;
    }

    let welcomes = rm::net_map(added, |i| rm::fetch_welcome(&members.all[i])).await;
    let welcomes: Vec<_> = welcomes.into_iter().collect::<Result<_, _>>()?;
    let work: Vec<(usize, v3::RoomWelcome)> = added
        .iter()
        .copied()
        .zip(welcomes.iter().map(|(w, _)| w.clone()))
        .collect();
    let joins = tokio::task::block_in_place(|| {
        par_map(&work, |(i, w)| rm::join(&members.all[*i], w, &members.book))
    });
    let mut join = rm::TookHistograms::new();
    for j in joins {
        join.record(j?);
    }
    let acks = rm::net_map(&(0..added.len()).collect::<Vec<_>>(), |k| {
        let conn = members.all[added[k]].conn.clone();
        let id = welcomes[k].1;
        async move { conn.ack(vec![id]).await }
    })
    .await;
    for a in acks {
        ensure!(a? == [v3::AckStatus::Removed], "a welcome was not removed");
    }
    Ok(CommitPoint {
        kind: if added.is_empty() { "promote" } else { "add" },
        members_before: before,
        members_after: before + added.len(),
        commit_bytes,
        welcome_bytes,
        create_ms: ms(create.wall),
        create_cpu_ms: ms(create.cpu),
        server_ms: ms(server),
        owner_merge_ms: ms(merge.wall),
        process: Latency::of(&process.wall),
        process_cpu: Latency::of(&process.cpu),
        join: Latency::of(&join.wall),
        join_cpu: Latency::of(&join.cpu),
        everyone_ms: ms(t0.elapsed()),
    })
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
