//! Each scenario's figures set beside the limits they are bounded by (and
//! beside the reference), with the verdicts in its summary line.

use super::limits::LimitsFigures;
use crate::report::{Comparison, Outcome};

/// PRODUCT.md: version 2 must reach at least this many times the reference
/// server's messages per second.
pub const REFERENCE_TARGET_RATIO: f64 = 20.0;

/// Sets v3's end-to-end rate beside SQLite's batched insert rate (each
/// message is one insert and one delete there) and its latency beside the
/// target.
pub fn compare_v3(v3: &mut Outcome, limits: Option<&LimitsFigures>) {
    let e2e = figure(v3, "e2e_msgs_per_s");
    let mut notes = vec![format!(
        "target 100,000 msg/s: {}",
        if e2e >= 100_000.0 { "met" } else { "NOT met" }
    )];
    let p99_us = v3
        .figures
        .get("push_latency")
        .and_then(|l| l.get("p99_us"))
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(f64::MAX);
    // The target is judged only at (at least) half the measured maximum;
    // a run at a lower rate chosen with --v3-rate is a point on the curve.
    let offered = figure(v3, "latency_offered_per_s");
    if offered >= e2e / 2.0 * 0.99 {
        notes.push(format!(
            "p99 under 5 ms at half load: {}",
            if p99_us < 5000.0 { "met" } else { "NOT met" }
        ));
    } else {
        notes.push(format!(
            "p99 {} 5 ms at {:.0} % of the maximum (below half load: no verdict)",
            if p99_us < 5000.0 { "under" } else { "over" },
            100.0 * offered / e2e.max(f64::MIN_POSITIVE)
        ));
    }
    if let Some(l) = limits {
        if let Some(rate) = l.sqlite_rate(1024) {
            v3.comparisons.push(Comparison::new(
                "v3 end-to-end msg/s",
                e2e,
                "SQLite WAL+FULL inserts/s at 1024 rows per commit",
                rate,
                "per second",
            ));
            notes.push(format!(
                "{:.2}x SQLite 1024/commit inserts",
                e2e / rate.max(f64::MIN_POSITIVE)
            ));
        }
    }
    v3.summary = format!("{}; {}", v3.summary, notes.join(", "));
}

fn figure(outcome: &Outcome, key: &str) -> f64 {
    outcome
        .figures
        .get(key)
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(0.0)
}

/// Sets v2's figures beside the limits and the reference (its outcome and
/// how to name it), and says so in its summary line.
pub fn compare_v2(
    v2: &mut Outcome,
    limits: Option<&LimitsFigures>,
    reference: Option<(&Outcome, &str)>,
) {
    let send = figure(v2, "send_msgs_per_s");
    let e2e = figure(v2, "e2e_msgs_per_s");
    let mut notes = Vec::new();
    if let Some(l) = limits {
        v2.comparisons.push(Comparison::new(
            "v2 send msg/s (one connection per message)",
            send,
            "loopback connect+request+close per second",
            l.connects_per_s,
            "per second",
        ));
        notes.push(format!(
            "{:.2}x loopback connects/s",
            send / l.connects_per_s.max(f64::MIN_POSITIVE)
        ));
        for per_commit in [1usize, 1024] {
            if let Some(rate) = l.sqlite_rate(per_commit) {
                v2.comparisons.push(Comparison::new(
                    "v2 send msg/s",
                    send,
                    &format!("SQLite WAL+FULL inserts/s at {per_commit} rows per commit"),
                    rate,
                    "per second",
                ));
                notes.push(format!(
                    "{:.2}x SQLite {per_commit}/commit",
                    send / rate.max(f64::MIN_POSITIVE)
                ));
            }
        }
    }
    if let Some((r, label)) = reference {
        let r_send = figure(r, "send_msgs_per_s");
        let r_e2e = figure(r, "e2e_msgs_per_s");
        v2.comparisons.push(Comparison::new(
            "v2 send msg/s",
            send,
            &format!("{label} send msg/s (same workload, same run)"),
            r_send,
            "per second",
        ));
        v2.comparisons.push(Comparison::new(
            "v2 end-to-end msg/s",
            e2e,
            &format!("{label} end-to-end msg/s (same workload, same run)"),
            r_e2e,
            "per second",
        ));
        let ratio = e2e / r_e2e.max(f64::MIN_POSITIVE);
        notes.push(format!(
            "{ratio:.1}x the {label} end to end (send {:.1}x; target {REFERENCE_TARGET_RATIO}x: {})",
            send / r_send.max(f64::MIN_POSITIVE),
            if ratio >= REFERENCE_TARGET_RATIO && send / r_send.max(f64::MIN_POSITIVE) >= REFERENCE_TARGET_RATIO {
                "met"
            } else {
                "NOT met"
            }
        ));
    }
    if !notes.is_empty() {
        v2.summary = format!("{}; send = {}", v2.summary, notes.join(", "));
    }
}

/// Sets the reference's figures beside SQLite with Python's defaults.
pub(super) fn compare_reference(r: &mut Outcome, limits: &LimitsFigures, label: &str) {
    let send = figure(r, "send_msgs_per_s");
    let rate = limits.sqlite_python_defaults.rows_per_s;
    r.comparisons.push(Comparison::new(
        &format!("{label} send msg/s"),
        send,
        "SQLite inserts/s with Python's defaults, 1 row per commit",
        rate,
        "per second",
    ));
    r.summary = format!(
        "{}; send = {:.2}x SQLite python-defaults 1/commit",
        r.summary,
        send / rate.max(f64::MIN_POSITIVE)
    );
}
