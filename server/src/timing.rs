//! Where a pushed message's time goes inside the server, for the load
//! generator's latency breakdown (`loadgen v3`, BENCHMARKS.md): queued for
//! the writer, the batch's statements, its commit (the fsync), the hand-off
//! from the writer to the recipient's connection, and the write to its
//! socket. Always on, so it must stay cheap: each figure is one relaxed
//! atomic add into a fixed log-linear histogram (no lock, no allocation).
//! Process-wide, so several servers in one process (tests) share it; only
//! the load generator reads it, through the operator's socket.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Exact buckets below this many microseconds; above, 8 per power of two
/// (at most 12.5 % off).
const EXACT: u64 = 16;
const SUB_BITS: u32 = 3;
/// Up to 2^36 µs (19 hours): more than any figure here.
const BUCKETS: usize = EXACT as usize + (36 - 4) * (1 << SUB_BITS);

/// A stage of a message's way through the server.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stage {
    /// From the connection queueing the send to the writer starting its batch.
    Queue = 0,
    /// The batch's statements (per message: its whole batch's).
    Apply = 1,
    /// The batch's commit: the log write and fsync.
    Commit = 2,
    /// From the commit to the recipient's connection taking the event in.
    Notify = 3,
    /// From there to the delivery being flushed to the socket.
    Write = 4,
    /// The whole way: from the send queued for the writer to the delivery
    /// flushed (measured per message, not the sum of the stages' quantiles).
    Server = 5,
}

const STAGES: [(&str, Stage); 5] = [
    ("queue", Stage::Queue),
    ("apply", Stage::Apply),
    ("commit", Stage::Commit),
    ("notify", Stage::Notify),
    ("write", Stage::Write),
];

struct Histogram {
    buckets: [AtomicU64; BUCKETS],
}

impl Histogram {
    const fn new() -> Self {
        Histogram {
            buckets: [const { AtomicU64::new(0) }; BUCKETS],
        }
    }

    fn record(&self, micros: u64, n: u64) {
        self.buckets[bucket(micros)].fetch_add(n, Ordering::Relaxed);
    }

    fn take(&self, reset: bool) -> Vec<u64> {
        self.buckets
            .iter()
            .map(|b| {
                if reset {
                    b.swap(0, Ordering::Relaxed)
                } else {
                    b.load(Ordering::Relaxed)
                }
            })
            .collect()
    }
}

fn bucket(micros: u64) -> usize {
    if micros < EXACT {
        return micros as usize;
    }
    let power = 63 - micros.leading_zeros();
    let sub = (micros >> (power - SUB_BITS)) & ((1 << SUB_BITS) - 1);
    let index = EXACT as usize + (power as usize - 4) * (1 << SUB_BITS) + sub as usize;
    index.min(BUCKETS - 1)
}

/// The largest value a bucket holds (what a quantile reports: never low).
fn upper(index: usize) -> u64 {
    if index < EXACT as usize {
        return index as u64;
    }
    let power = (index - EXACT as usize) as u32 / (1 << SUB_BITS) + 4;
    let sub = (index - EXACT as usize) as u64 % (1 << SUB_BITS);
    (((1 << SUB_BITS) + sub + 1) << (power - SUB_BITS)) - 1
}

struct Timings {
    stages: [Histogram; 6],
    /// Commits of the writer, and operations they carried.
    commits: AtomicU64,
    ops: AtomicU64,
}

static TIMINGS: Timings = Timings {
    stages: [const { Histogram::new() }; 6],
    commits: AtomicU64::new(0),
    ops: AtomicU64::new(0),
};

/// Records `n` messages that spent `spent` in `stage`.
pub(crate) fn record(stage: Stage, spent: Duration, n: u64) {
    let micros = u64::try_from(spent.as_micros()).unwrap_or(u64::MAX);
    TIMINGS.stages[stage as usize].record(micros, n);
}

/// An operation whose own cost the writer measures: a send, or an
/// acknowledgement of `ids` ids.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Applied {
    Send,
    Ack { ids: usize },
}

/// The counters behind [`WriterWork`].
struct WriterCounters {
    sends: AtomicU64,
    send_ns: AtomicU64,
    acks: AtomicU64,
    acked_ids: AtomicU64,
    ack_ns: AtomicU64,
}

static WRITER: WriterCounters = WriterCounters {
    sends: AtomicU64::new(0),
    send_ns: AtomicU64::new(0),
    acks: AtomicU64::new(0),
    acked_ids: AtomicU64::new(0),
    ack_ns: AtomicU64::new(0),
};

/// Records the writer's own work for one operation: its statements inside
/// the batch's transaction (not the commit, which the batch shares).
pub(crate) fn applied(op: Applied, spent: Duration) {
    let nanos = u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
    match op {
        Applied::Send => {
            WRITER.sends.fetch_add(1, Ordering::Relaxed);
            WRITER.send_ns.fetch_add(nanos, Ordering::Relaxed);
        }
        Applied::Ack { ids } => {
            WRITER.acks.fetch_add(1, Ordering::Relaxed);
            WRITER.acked_ids.fetch_add(ids as u64, Ordering::Relaxed);
            WRITER.ack_ns.fetch_add(nanos, Ordering::Relaxed);
        }
    }
}

/// Records one commit of `ops` operations.
pub(crate) fn commit(ops: usize) {
    TIMINGS.commits.fetch_add(1, Ordering::Relaxed);
    TIMINGS.ops.fetch_add(ops as u64, Ordering::Relaxed);
}

/// One stage's figures, in microseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageFigures {
    /// `queue`, `apply`, `commit`, `notify` or `write` (see BENCHMARKS.md).
    pub stage: String,
    /// Messages recorded.
    pub count: u64,
    /// The median (each quantile is its bucket's upper bound: at most
    /// 12.5 % above the true value).
    pub p50_us: u64,
    /// The 99th percentile.
    pub p99_us: u64,
    /// The 99.9th percentile.
    pub p999_us: u64,
    /// The largest.
    pub max_us: u64,
}

/// The answer to the operator's `latency` request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Breakdown {
    /// Each stage, in the order a message passes them.
    pub stages: Vec<StageFigures>,
    /// The whole way through the server, each message measured from its
    /// send queued for the writer to its delivery flushed.
    pub server: StageFigures,
    /// The writer's commits since the last reset.
    pub commits: u64,
    /// Operations those commits carried (sends, acknowledgements, ...).
    pub ops_committed: u64,
    /// What storing and acknowledging cost the writer.
    pub writer: WriterWork,
}

/// The writer's own work for sends and acknowledgements since the last
/// reset: each operation's statements inside its batch's transaction. The
/// commit (log write, fsync) is the batch's and not divided among them.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct WriterWork {
    /// Sends applied.
    pub sends: u64,
    /// Their nanoseconds in all.
    pub send_ns: u64,
    /// Acknowledgements applied.
    pub acks: u64,
    /// The ids they named.
    pub acked_ids: u64,
    /// Their nanoseconds in all.
    pub ack_ns: u64,
}

impl WriterWork {
    /// Microseconds per message stored.
    pub fn us_per_send(&self) -> Option<f64> {
        (self.sends > 0).then(|| self.send_ns as f64 / 1000.0 / self.sends as f64)
    }

    /// Microseconds per message acknowledged (per id, whatever the batch).
    pub fn us_per_acked_id(&self) -> Option<f64> {
        (self.acked_ids > 0).then(|| self.ack_ns as f64 / 1000.0 / self.acked_ids as f64)
    }

    /// Ids per acknowledgement.
    pub fn ids_per_ack(&self) -> Option<f64> {
        (self.acks > 0).then(|| self.acked_ids as f64 / self.acks as f64)
    }
}

/// The figures since the last reset (and resets them, if asked).
pub(crate) fn breakdown(reset: bool) -> Breakdown {
    let figures = |name: &str, stage: Stage| {
        let counts = TIMINGS.stages[stage as usize].take(reset);
        let count: u64 = counts.iter().sum();
        let quantile = |q: f64| {
            let rank = ((count as f64) * q).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return upper(i);
                }
            }
            0
        };
        StageFigures {
            stage: name.into(),
            count,
            p50_us: quantile(0.5),
            p99_us: quantile(0.99),
            p999_us: quantile(0.999),
            max_us: quantile(1.0),
        }
    };
    let stages = STAGES
        .iter()
        .map(|(name, stage)| figures(name, *stage))
        .collect();
    let take = |a: &AtomicU64| {
        if reset {
            a.swap(0, Ordering::Relaxed)
        } else {
            a.load(Ordering::Relaxed)
        }
    };
    Breakdown {
        stages,
        server: figures("server", Stage::Server),
        commits: take(&TIMINGS.commits),
        ops_committed: take(&TIMINGS.ops),
        writer: WriterWork {
            sends: take(&WRITER.sends),
            send_ns: take(&WRITER.send_ns),
            acks: take(&WRITER.acks),
            acked_ids: take(&WRITER.acked_ids),
            ack_ns: take(&WRITER.ack_ns),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_falls_in_a_bucket_whose_upper_bound_is_at_most_an_eighth_above() {
        for v in (0..100_000u64).chain([1 << 30, (1 << 35) + 12345]) {
            let b = bucket(v);
            assert!(upper(b) >= v, "{v} in bucket {b} up to {}", upper(b));
            assert!(
                upper(b) <= v + v / 8 + 1,
                "{v} in bucket {b} up to {}",
                upper(b)
            );
            if b > 0 {
                assert!(upper(b - 1) < v, "{v} also fits bucket {}", b - 1);
            }
        }
    }
}
