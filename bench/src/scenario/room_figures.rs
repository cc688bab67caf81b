//! What the room scenario is asked (its arguments) and the figures its
//! phases share: the rows a text leaves on the server, a fan-out's
//! latencies, the texts sent and the server's work per text. Apart from
//! `room.rs` so that the fan-out phase (`room_fanout.rs`) and the scenario
//! can both use them without importing each other.

use clap::Args;
use serde::Serialize;

use super::room_member as rm;
use crate::report::Latency;
use crate::target::{ProcWork, proc_work};

/// The room workload.
#[derive(Debug, Clone, Args)]
pub struct RoomArgs {
    /// Room sizes to measure, members including the owner (at most 1,000).
    #[arg(long = "room-members", id = "room-members", value_delimiter = ',', default_values_t = [100usize, 1000])]
    pub members: Vec<usize>,
    /// Members added per commit (at most 100).
    #[arg(long = "room-batch", id = "room-batch", default_value_t = 100)]
    pub batch: usize,
    /// Texts sent while nobody acknowledges, to count the server's rows.
    #[arg(long = "room-stored", id = "room-stored", default_value_t = 20)]
    pub stored: usize,
    /// Texts of the latency phase (one at a time).
    #[arg(long = "room-messages", id = "room-messages", default_value_t = 100)]
    pub messages: usize,
    /// Texts of the throughput phase.
    #[arg(long = "room-burst", id = "room-burst", default_value_t = 200)]
    pub burst: usize,
    /// Texts in flight in the throughput phase.
    #[arg(long = "room-window", id = "room-window", default_value_t = 32)]
    pub window: usize,
    /// Plaintext bytes per text (at least 16).
    #[arg(long = "room-size", id = "room-size", default_value_t = 100)]
    pub size: usize,
    /// Leave out the fan-out phases (stored, latency, throughput, decrypt).
    #[arg(long = "room-skip-fanout", id = "room-skip-fanout")]
    pub skip_fanout: bool,
    /// Leave out the external join (the room made public, one more user
    /// joins by external commit).
    #[arg(long = "room-skip-join", id = "room-skip-join")]
    pub skip_join: bool,
}

impl Default for RoomArgs {
    fn default() -> Self {
        Self {
            members: vec![100, 1000],
            batch: 100,
            stored: 20,
            messages: 100,
            burst: 200,
            window: 32,
            size: 100,
            skip_fanout: false,
            skip_join: false,
        }
    }
}

/// Rows of the server's database before and after texts nobody read yet.
#[derive(Debug, Clone, Serialize)]
pub struct StoredFigures {
    /// Texts sent.
    pub texts: usize,
    /// Before.
    pub before: rm::ServerRows,
    /// After sending, every member has them (pushed), none acknowledged.
    pub after_send: rm::ServerRows,
    /// After every member acknowledged.
    pub after_acks: rm::ServerRows,
    /// New room log rows per text.
    pub log_rows_per_text: f64,
    /// New one-to-one message rows per text.
    pub message_rows_per_text: f64,
    /// New member rows per text.
    pub member_rows_per_text: f64,
    /// Log bytes per text.
    pub log_bytes_per_text: f64,
}

/// A fan-out phase.
#[derive(Debug, Clone, Serialize)]
pub struct FanOut {
    /// Texts sent.
    pub texts: usize,
    /// Members each text reaches (everyone but the sender).
    pub receivers: usize,
    /// From before encryption (latency phase) or the first send
    /// (throughput phase) to the last member's delivery, per text, µs.
    pub to_last_member: Latency,
    /// The same to every member's delivery, µs.
    pub to_each_member: Latency,
    /// The owner's engine encrypting a text, µs.
    pub encrypt: Latency,
    /// Request 134 to its answer (stored), µs.
    pub stored: Latency,
    /// Wall clock of the phase, until every member acknowledged the last text.
    pub seconds: f64,
    /// Member deliveries per second (texts × receivers / time to the last
    /// delivery).
    pub member_deliveries_per_s: f64,
    /// Acknowledgements (136) the members sent, per text.
    pub acks_per_text: f64,
    /// The server process's CPU seconds per text (child process only).
    pub server_cpu_ms_per_text: Option<f64>,
    /// The server process's bytes written to storage per text.
    pub server_write_bytes_per_text: Option<f64>,
}

/// The text number `k` of `size` bytes.
pub fn text(k: usize, size: usize) -> Vec<u8> {
    let mut t = format!("room text {k:06} ").into_bytes();
    t.resize(size, b'.');
    t
}

/// The server's work between two readings, per text.
pub fn per_text(
    pid: Option<u32>,
    before: Option<ProcWork>,
    texts: usize,
) -> (Option<f64>, Option<f64>) {
    match (pid, before) {
        (Some(pid), Some(b)) => match proc_work(pid) {
            Ok(now) => {
                let d = now.since(&b);
                let t = texts.max(1) as f64;
                (
                    Some(d.cpu_seconds * 1000.0 / t),
                    Some(d.write_bytes as f64 / t),
                )
            }
            Err(_) => (None, None),
        },
        _ => (None, None),
    }
}
