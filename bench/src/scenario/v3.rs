//! Scenario `v3` (not built yet): version 3 end to end with real client
//! cryptography.
//!
//! What it will measure, per PRODUCT.md: small messages per second end to
//! end (sealed by the sender's client, sent, durable, pushed, opened by the
//! recipient's client, acknowledged), and push latency p50/p99/p999 at a
//! fixed offered rate (half the measured maximum), each beside the limits
//! (raw SQLite group commit, raw XChaCha20-Poly1305).
//!
//! What it needs, and who builds it: the client application layer (a
//! `Client` that owns a keystore, agrees sessions through message types 1
//! and 2, seals and opens texts, subscribes, and acknowledges), which is
//! being built on main now. With it, this module will:
//! 1. start `users` clients in this process, each with its own home folder;
//! 2. agree a session between every pair that will talk (or a ring);
//! 3. offer texts at `--rate` per second for `--seconds` (open loop, so that
//!    latency includes queueing), each stamped with its send time;
//! 4. on every pushed delivery, open it, record `now - stamp` into an
//!    hdrhistogram, acknowledge in batches;
//! 5. check every message was opened exactly once, and report.
//!
//! Until then, [`run`] refuses with that explanation.

use clap::Args;

/// The version-3 workload (the interface is fixed now; see the module docs).
#[derive(Debug, Clone, Args)]
pub struct V3Args {
    /// Clients.
    #[arg(long, default_value_t = 64)]
    pub users: usize,
    /// Plaintext bytes per text.
    #[arg(long, default_value_t = 100)]
    pub size: usize,
    /// Offered rate, texts per second (0: as fast as possible, for the
    /// throughput figure).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Seconds of offered load.
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
}

/// Why this scenario cannot run yet.
pub const NOT_BUILT: &str = "scenario v3 is not built yet: it needs the client application \
    layer (keystore-backed sessions, sealed texts, subscribe and acknowledge) that is being \
    built on main; see bench/src/scenario/v3.rs";

/// Runs the scenario.
///
/// # Errors
/// Always, for now: see [`NOT_BUILT`].
pub fn run(_args: &V3Args) -> anyhow::Result<crate::report::Outcome> {
    anyhow::bail!(NOT_BUILT)
}
