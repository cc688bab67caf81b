//! The latency side of scenario `v3`: which offered rates to run (the
//! latency-versus-load curve), the pacer that offers them, where each pushed message's time went (the
//! breakdown), and the table printed for them.
//!
//! The breakdown joins two sources. The load generator measures, per
//! message, *send* (from the instant the text was due to the instant it was
//! handed to the connection: the pacer's lateness and the sealing) and the
//! whole way from there to the recipient's opened text. The server measures
//! its own stages (`server::timing`: queue, apply, commit, notify, write),
//! read over its operator socket, so only for a server this run started.
//! *client read* is what is left: the whole way after the send minus the
//! server's stages at the same quantile (the loopback, the client's
//! connection task, the opening); at p99 it is an estimate, since the slow
//! messages of one stage need not be those of another. *through the
//! server* is the server's part measured whole, message by message (from
//! the send queued for the writer to the delivery flushed): unlike the sum
//! of the stages' p99, its p99 is exact.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use server::timing::{Breakdown, WriterWork};

use super::v3_windows::Windows;
use crate::cores::Busy;
use crate::report::{Latency, thousands};

/// One latency phase: a point of the curve.
#[derive(Debug, Clone, Serialize)]
pub struct CurvePoint {
    /// Offered texts per second.
    pub offered_per_s: f64,
    /// The offer as a share of the throughput phase's rate.
    pub share_of_max: f64,
    /// Messages delivered and acknowledged.
    pub messages: u64,
    /// Achieved end-to-end rate.
    pub achieved_per_s: f64,
    /// From the instant each text was due to its recipient having opened it.
    pub push_latency: Latency,
    /// Where that time went, stage by stage.
    pub stages: Vec<StageRow>,
    /// The server's commits during the phase and operations per commit, if
    /// its figures were readable.
    pub commits: Option<u64>,
    /// Operations (sends, acknowledgements) per commit.
    pub ops_per_commit: Option<f64>,
    /// How busy the cores were during the phase.
    pub cpu_busy: Busy,
    /// What storing and acknowledging cost the server's writer.
    pub writer: Option<WriterWork>,
    /// When in the phase the slow messages were due.
    pub windows: Windows,
}

/// One stage of the breakdown, in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct StageRow {
    /// The stage.
    pub stage: String,
    /// `loadgen`, `server`, or `remainder` (see the module's text).
    pub measured_by: String,
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// The slowest message, where the stage was measured message by
    /// message (none for the remainder).
    pub max_us: Option<u64>,
}

/// The latency phases to run after the throughput phase, in texts per
/// second: `rates` (each a number, or a share of the measured maximum such
/// as `0.5x`), else `--v3-rate`, else half the maximum.
///
/// # Errors
/// An entry is neither.
pub fn rates(curve: &str, rate: u64, max: f64) -> anyhow::Result<Vec<f64>> {
    if curve.trim().is_empty() {
        return Ok(vec![if rate > 0 {
            rate as f64
        } else {
            (max / 2.0).max(1.0)
        }]);
    }
    curve
        .split(',')
        .map(|item| {
            let item = item.trim();
            let value = match item.strip_suffix('x') {
                Some(share) => share.parse::<f64>().map(|s| s * max),
                None => item.parse::<f64>(),
            };
            match value {
                Ok(v) if v >= 1.0 && v.is_finite() => Ok(v),
                _ => anyhow::bail!(
                    "--v3-curve: {item:?} is not a rate (a number of texts per second, or a share of the maximum like 0.5x)"
                ),
            }
        })
        .collect()
}

/// The server's stage figures, when the server is one this run started
/// (its operator socket is in its data folder); `reset` starts them anew.
/// `None` for an external server, or a server built before they existed.
pub async fn server_figures(data_dir: Option<&Path>, reset: bool) -> Option<Breakdown> {
    let dir: PathBuf = data_dir?.to_path_buf();
    let request = server::admin::Request::Latency { reset };
    tokio::task::spawn_blocking(move || server::admin::client::request(&dir, &request))
        .await
        .ok()?
        .map_err(|e| tracing::warn!(error = %e, "no latency figures from the server"))
        .ok()
}

/// What one phase measured on the load generator's side.
pub struct Measured<'a> {
    /// Due to opened.
    pub total: &'a Histogram<u64>,
    /// Due to handed to the connection.
    pub send: &'a Histogram<u64>,
    /// Handed to the connection to opened.
    pub after_send: &'a Histogram<u64>,
}

/// Builds a point of the curve.
pub fn point(
    offered: f64,
    max: f64,
    achieved: f64,
    measured: &Measured<'_>,
    server: Option<&Breakdown>,
    cpu_busy: Busy,
    windows: Windows,
) -> CurvePoint {
    let q = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q);
    let mut stages = vec![StageRow {
        stage: "send".into(),
        measured_by: "loadgen".into(),
        p50_us: q(measured.send, 0.5),
        p99_us: q(measured.send, 0.99),
        max_us: Some(measured.send.max()),
    }];
    if let Some(b) = server {
        let (mut sum50, mut sum99) = (0, 0);
        for s in &b.stages {
            sum50 += s.p50_us;
            sum99 += s.p99_us;
            stages.push(StageRow {
                stage: s.stage.clone(),
                measured_by: "server".into(),
                p50_us: s.p50_us,
                p99_us: s.p99_us,
                max_us: Some(s.max_us),
            });
        }
        stages.push(StageRow {
            stage: "client read".into(),
            measured_by: "remainder".into(),
            p50_us: q(measured.after_send, 0.5).saturating_sub(sum50),
            p99_us: q(measured.after_send, 0.99).saturating_sub(sum99),
            max_us: None,
        });
        // Not a stage of the sum: the server's part as a whole, each
        // message measured from its send queued to its delivery flushed.
        stages.push(StageRow {
            stage: "through the server".into(),
            measured_by: "server (whole)".into(),
            p50_us: b.server.p50_us,
            p99_us: b.server.p99_us,
            max_us: Some(b.server.max_us),
        });
    } else {
        stages.push(StageRow {
            stage: "server and client read".into(),
            measured_by: "loadgen".into(),
            p50_us: q(measured.after_send, 0.5),
            p99_us: q(measured.after_send, 0.99),
            max_us: Some(measured.after_send.max()),
        });
    }
    CurvePoint {
        offered_per_s: offered,
        share_of_max: offered / max.max(f64::MIN_POSITIVE),
        messages: measured.total.len(),
        achieved_per_s: achieved,
        push_latency: Latency::of(measured.total),
        stages,
        commits: server.map(|b| b.commits),
        ops_per_commit: server
            .filter(|b| b.commits > 0)
            .map(|b| b.ops_committed as f64 / b.commits as f64),
        cpu_busy,
        writer: server.map(|b| b.writer),
        windows,
    }
}

/// The curve and each point's breakdown, as printed after the summary line.
pub fn table(points: &[CurvePoint]) -> String {
    let ms = |us: u64| format!("{:.2}", us as f64 / 1000.0);
    let mut out = String::from(
        "  offered msg/s  share  achieved   p50 ms   p99 ms  p99.9 ms  ops/commit  cpu busy\n",
    );
    for p in points {
        out.push_str(&format!(
            "  {:>13}  {:>4.0}%  {:>8}  {:>7}  {:>7}  {:>8}  {:>10}  {:>8}\n",
            thousands(p.offered_per_s),
            100.0 * p.share_of_max,
            thousands(p.achieved_per_s),
            ms(p.push_latency.p50_us),
            ms(p.push_latency.p99_us),
            ms(p.push_latency.p999_us),
            p.ops_per_commit
                .map_or_else(|| "-".into(), |o| format!("{o:.1}")),
            p.cpu_busy.short(),
        ));
    }
    for p in points {
        out.push_str(&format!(
            "  where the time went at {} msg/s (p50 / p99 ms):",
            thousands(p.offered_per_s)
        ));
        for s in &p.stages {
            out.push_str(&format!(
                " {} {}/{}{};",
                s.stage,
                ms(s.p50_us),
                ms(s.p99_us),
                match s.measured_by.as_str() {
                    "remainder" => " (remainder)",
                    "server (whole)" => " (each message, not a sum)",
                    _ => "",
                }
            ));
        }
        out.pop();
        out.push('\n');
        if let Some(w) = &p.writer {
            out.push_str(&writer_line(
                &format!("at {}", thousands(p.offered_per_s)),
                w,
            ));
        }
        out.push_str(&format!(
            "  the slowest message of each stage at {} msg/s (ms):{}\n",
            thousands(p.offered_per_s),
            p.stages
                .iter()
                .filter_map(|s| s.max_us.map(|m| format!(" {} {}", s.stage, ms(m))))
                .collect::<Vec<_>>()
                .join(";")
        ));
        out.push_str(&format!(
            "  when at {} msg/s: {}\n",
            thousands(p.offered_per_s),
            p.windows.summary()
        ));
    }
    out
}

/// One line: what a message cost the writer to store and to acknowledge.
pub fn writer_line(when: &str, w: &WriterWork) -> String {
    let us = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:.2} µs"));
    format!(
        "  the writer's own work per message {when} msg/s: store {}, acknowledge {} ({} ids per acknowledgement)\n",
        us(w.us_per_send()),
        us(w.us_per_acked_id()),
        w.ids_per_ack()
            .map_or_else(|| "-".into(), |v| format!("{v:.1}")),
    )
}

/// Hands out send slots at `rate` per second in all, round robin over the
/// senders, each stamped with the instant it was due. Every [`PACER_TICK`]
/// (a timer file, [`crate::ticks`]: tokio's timers resolve to 1 ms) it
/// releases every slot due by then, so the offered load arrives in small
/// groups every 0.2 ms instead of bursts every millisecond; it runs on the
/// generator's runtime, not a thread of its own, which would cost two
/// context switches per tick.
///
/// # Errors
/// The timer failed.
pub async fn pace(
    rate: f64,
    start: Instant,
    duration: Duration,
    slots: Vec<tokio::sync::mpsc::UnboundedSender<Instant>>,
) -> anyhow::Result<()> {
    let ticks = crate::ticks::Ticks::every(PACER_TICK)?;
    let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut due = start;
    let mut k = 0usize;
    while due.duration_since(start) < duration {
        let now = Instant::now();
        while due <= now && due.duration_since(start) < duration {
            if slots[k % slots.len()].send(due).is_err() {
                return Ok(());
            }
            k += 1;
            due += period;
        }
        ticks.next().await?;
    }
    Ok(())
}

/// How often the pacer releases the slots that have come due.
const PACER_TICK: Duration = Duration::from_micros(200);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_numbers_or_shares_of_the_maximum() {
        assert_eq!(rates("", 0, 1000.0).unwrap(), vec![500.0]);
        assert_eq!(rates("", 300, 1000.0).unwrap(), vec![300.0]);
        assert_eq!(
            rates("1000, 0.5x,2000", 0, 10_000.0).unwrap(),
            vec![1000.0, 5000.0, 2000.0]
        );
        assert!(rates("fast", 0, 1000.0).is_err());
        assert!(rates("0", 0, 1000.0).is_err());
    }
}
