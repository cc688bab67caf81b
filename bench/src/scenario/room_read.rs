//! Scenario `room-read`: what reading one room entry costs a member as the
//! client reads it, against the engine's bare decryption, in one real MLS
//! room, for texts of several sizes.
//!
//! Three engines on state files of their own: an owner, who adds two
//! readers and then sends texts one at a time, and the readers, who read
//! every text:
//! - the *bare* reader calls `RoomEngine::process` (one transaction);
//! - the *client* reader calls `process_entry` (the same, with the read
//!   position and the entry's kept result in that transaction) and
//!   `release_entries` after every `--read-batch` entries (a transaction of
//!   its own), as the client releases after each pulled batch.
//!
//! Each text is read by both in turn, and which goes first alternates, so
//! that the two figures of a pair were taken in the same moment of a shared
//! machine. Each round goes through every size; the spread of a figure is
//! the range of its rounds' medians. Timed: wall clock (the state files
//! sync on every commit) and the thread's CPU time.
//!
//! Left out: the server. The readers get the owner's bytes directly, at
//! made-up log positions 1, 2, 3...

use std::time::Duration;

use anyhow::{Context, ensure};
use clap::Args;
use client::crypto::Identity;
use protocol::ClientId;
use sealpost_rooms::{EntryOutcome, Incoming, RoomEngine, RoomId};
use serde::Serialize;

use super::room_figures::text;
use super::room_member::{self as rm, Book, Took, timed};
use crate::report::Outcome;

/// The workload.
#[derive(Debug, Clone, Args)]
pub struct RoomReadArgs {
    /// Plaintext sizes in bytes (16 to 65,536).
    #[arg(long = "read-sizes", id = "read-sizes", value_delimiter = ',', default_values_t = [100usize, 16_384, 65_536])]
    pub sizes: Vec<usize>,
    /// Texts of each size in each round.
    #[arg(long = "read-texts", id = "read-texts", default_value_t = 40)]
    pub texts: usize,
    /// Rounds.
    #[arg(long = "read-rounds", id = "read-rounds", default_value_t = 5)]
    pub rounds: usize,
    /// Entries the client reader releases at once.
    #[arg(long = "read-batch", id = "read-batch", default_value_t = 1)]
    pub batch: usize,
}

/// Most texts in one run: the owner sends them all in one epoch, and
/// nothing here needs more.
const MAX_TEXTS: usize = 5_000;

/// A figure: its median over every text, and the range of the rounds'
/// medians, µs.
#[derive(Debug, Clone, Serialize)]
pub struct Median {
    /// Over every text.
    pub median_us: f64,
    /// The lowest round's median.
    pub rounds_min_us: f64,
    /// The highest round's median.
    pub rounds_max_us: f64,
}

/// One size.
#[derive(Debug, Clone, Serialize)]
pub struct SizeRead {
    /// Plaintext bytes.
    pub size: usize,
    /// Texts read by each reader.
    pub texts: usize,
    /// `process`, wall clock.
    pub bare_wall: Median,
    /// `process`, CPU time.
    pub bare_cpu: Median,
    /// `process_entry` and this entry's share of a release, wall clock.
    pub client_wall: Median,
    /// The same, CPU time.
    pub client_cpu: Median,
    /// `process_entry` alone, wall clock.
    pub entry_wall: Median,
    /// `process_entry` alone, CPU time.
    pub entry_cpu: Median,
    /// One `release_entries`, wall clock.
    pub release_wall: Median,
    /// One `release_entries`, CPU time.
    pub release_cpu: Median,
    /// Client minus bare, text by text, wall clock.
    pub extra_wall: Median,
    /// Client minus bare, text by text, CPU time.
    pub extra_cpu: Median,
}

/// What was timed for one size, round by round.
#[derive(Default)]
struct Samples {
    bare: Vec<Vec<Took>>,
    entry: Vec<Vec<Took>>,
    release: Vec<Vec<Took>>,
}

/// Runs the workload in a temporary folder.
///
/// # Errors
/// The arguments are out of range, or an engine failed.
pub fn run(args: &RoomReadArgs) -> anyhow::Result<(Outcome, Vec<SizeRead>)> {
    ensure!(
        args.sizes
            .iter()
            .all(|s| (16..=sealpost_rooms::incoming::MAX_PLAINTEXT_LEN).contains(s)),
        "--read-sizes are 16 to 65,536 bytes"
    );
    ensure!(
        args.texts >= 1 && args.rounds >= 1 && args.batch >= 1,
        "--read-texts, --read-rounds and --read-batch are at least 1"
    );
    ensure!(
        args.sizes.len() * args.texts * args.rounds <= MAX_TEXTS,
        "at most {MAX_TEXTS} texts in all"
    );
    let dir = tempfile::Builder::new()
        .prefix("loadgen-room-read-")
        .tempdir()?;
    let (room, owner, bare, client, book) = setup(dir.path())?;
    let mut samples: Vec<Samples> = args.sizes.iter().map(|_| Samples::default()).collect();
    let mut problems = Vec::new();
    let mut seq = 0u64;
    let mut k = 0usize;
    for _ in 0..args.rounds {
        for (s, &size) in args.sizes.iter().enumerate() {
            let round = &mut samples[s];
            round.bare.push(Vec::new());
            round.entry.push(Vec::new());
            round.release.push(Vec::new());
            for _ in 0..args.texts {
                let plaintext = text(k, size);
                let message = owner.send(room, &plaintext)?;
                seq += 1;
                let read_bare = |problems: &mut Vec<String>| -> anyhow::Result<Took> {
                    let (r, took) = timed(|| bare.process(&message, &book));
                    check(r?, &plaintext, problems, "bare");
                    Ok(took)
                };
                let read_client = |problems: &mut Vec<String>| -> anyhow::Result<Took> {
                    let (r, took) = timed(|| client.process_entry(room, seq, &message, &book));
                    let Some(EntryOutcome::Read(read)) = r? else {
                        anyhow::bail!("entry {seq} was read or refused before");
                    };
                    check(read.incoming, &plaintext, problems, "client");
                    Ok(took)
                };
                let (b, e) = if k % 2 == 0 {
                    let b = read_bare(&mut problems)?;
                    (b, read_client(&mut problems)?)
                } else {
                    let e = read_client(&mut problems)?;
                    (read_bare(&mut problems)?, e)
                };
                push(&mut round.bare, b);
                push(&mut round.entry, e);
                if seq % args.batch as u64 == 0 {
                    let (r, took) = timed(|| client.release_entries(room, seq));
                    r?;
                    push(&mut round.release, took);
                }
                k += 1;
            }
        }
    }
    let sizes: Vec<SizeRead> = args
        .sizes
        .iter()
        .zip(&samples)
        .map(|(&size, s)| figures(size, s, args.batch))
        .collect();
    let parts: Vec<String> = sizes
        .iter()
        .map(|f| {
            format!(
                "{} B: bare {:.2} ms (CPU {:.2}), as the client {:.2} ms (CPU {:.2}), \
                 {:+.2} ms / CPU {:+.2} ms a text (rounds {:+.2} to {:+.2} ms)",
                f.size,
                f.bare_wall.median_us / 1000.0,
                f.bare_cpu.median_us / 1000.0,
                f.client_wall.median_us / 1000.0,
                f.client_cpu.median_us / 1000.0,
                f.extra_wall.median_us / 1000.0,
                f.extra_cpu.median_us / 1000.0,
                f.extra_wall.rounds_min_us / 1000.0,
                f.extra_wall.rounds_max_us / 1000.0,
            )
        })
        .collect();
    let outcome = Outcome {
        name: "room-read".into(),
        target: "engines only, no server".into(),
        passed: problems.is_empty(),
        problems,
        summary: format!(
            "room-read (release every {} entries): {}",
            args.batch,
            parts.join(" | ")
        ),
        figures: serde_json::to_value(&sizes)?,
        comparisons: Vec::new(),
    };
    Ok((outcome, sizes))
}

/// The owner's room with both readers in it.
fn setup(
    dir: &std::path::Path,
) -> anyhow::Result<(RoomId, RoomEngine, RoomEngine, RoomEngine, Book)> {
    let mut book = Book::default();
    let mut engines = Vec::new();
    let mut packages = Vec::new();
    for _ in 0..3 {
        let identity = Identity::generate()?;
        let id = ClientId(rand::random());
        book.pin(id, identity.identity_key());
        let (engine, package) = rm::open_engine(dir, &identity, id)?;
        engines.push(engine);
        packages.push(package.to_vec());
    }
    let room = RoomId(rand::random());
    let (client, bare, owner) = (
        engines.pop().context("three engines")?,
        engines.pop().context("three engines")?,
        engines.pop().context("three engines")?,
    );
    owner.create_room(room)?;
    let added = owner.add_members(room, &packages[1..], &book)?;
    owner.process(&added.commit, &book)?;
    let welcome = added.welcome.context("an add made no welcome")?;
    bare.join(&welcome, &book)?;
    client.join(&welcome, &book)?;
    Ok((room, owner, bare, client, book))
}

fn check(incoming: Incoming, sent: &[u8], problems: &mut Vec<String>, who: &str) {
    match incoming {
        Incoming::Message { plaintext, .. } if plaintext == sent => {}
        other => problems.push(format!("the {who} reader read {other:?}")),
    }
}

fn push(rounds: &mut [Vec<Took>], took: Took) {
    if let Some(round) = rounds.last_mut() {
        round.push(took);
    }
}

fn figures(size: usize, s: &Samples, batch: usize) -> SizeRead {
    let wall = |t: &Took| t.wall;
    let cpu = |t: &Took| t.cpu;
    // A release's share of each entry it covers.
    let share = |rounds: &[Vec<Took>], pick: &dyn Fn(&Took) -> Duration| -> Vec<Duration> {
        rounds
            .iter()
            .map(|r| {
                let all: Duration = r.iter().map(pick).sum();
                all / u32::try_from(r.len().max(1) * batch).unwrap_or(u32::MAX)
            })
            .collect()
    };
    let (release_wall_share, release_cpu_share) =
        (share(&s.release, &wall), share(&s.release, &cpu));
    let client = |pick: &dyn Fn(&Took) -> Duration, shares: &[Duration]| -> Vec<Vec<f64>> {
        s.entry
            .iter()
            .zip(shares)
            .map(|(r, share)| r.iter().map(|t| us(pick(t) + *share)).collect())
            .collect()
    };
    let (client_wall, client_cpu) = (
        client(&wall, &release_wall_share),
        client(&cpu, &release_cpu_share),
    );
    let extra = |client: &[Vec<f64>], pick: &dyn Fn(&Took) -> Duration| -> Vec<Vec<f64>> {
        client
            .iter()
            .zip(&s.bare)
            .map(|(c, b)| c.iter().zip(b).map(|(c, b)| c - us(pick(b))).collect())
            .collect()
    };
    let of = |rounds: &[Vec<Took>], pick: &dyn Fn(&Took) -> Duration| -> Vec<Vec<f64>> {
        rounds
            .iter()
            .map(|r| r.iter().map(|t| us(pick(t))).collect())
            .collect()
    };
    SizeRead {
        size,
        texts: s.bare.iter().map(Vec::len).sum(),
        bare_wall: median(&of(&s.bare, &wall)),
        bare_cpu: median(&of(&s.bare, &cpu)),
        extra_wall: median(&extra(&client_wall, &wall)),
        extra_cpu: median(&extra(&client_cpu, &cpu)),
        client_wall: median(&client_wall),
        client_cpu: median(&client_cpu),
        entry_wall: median(&of(&s.entry, &wall)),
        entry_cpu: median(&of(&s.entry, &cpu)),
        release_wall: median(&of(&s.release, &wall)),
        release_cpu: median(&of(&s.release, &cpu)),
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn median(rounds: &[Vec<f64>]) -> Median {
    let mid = |v: &[f64]| -> f64 {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            f64::NAN
        } else {
            v[v.len() / 2]
        }
    };
    let all: Vec<f64> = rounds.iter().flatten().copied().collect();
    let each: Vec<f64> = rounds.iter().map(|r| mid(r)).collect();
    Median {
        median_us: mid(&all),
        rounds_min_us: each.iter().copied().fold(f64::INFINITY, f64::min),
        rounds_max_us: each.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    }
}
