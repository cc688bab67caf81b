//! What a run reports: one human line per scenario and a JSON document with
//! every figure, the machine it ran on, and each figure's ratio to its
//! physical limit when the run measured one.
//!
//! Units: throughput in MB/s is 10^6 bytes per second; latencies are
//! microseconds in JSON and milliseconds in the summary lines.

use std::time::Duration;

use anyhow::Context;
use hdrhistogram::Histogram;
use serde::Serialize;

/// The whole run.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The machine and its load.
    pub machine: Machine,
    /// The command line.
    pub command: Vec<String>,
    /// One entry per scenario, in the order they ran.
    pub scenarios: Vec<Outcome>,
}

impl Report {
    /// An empty report for this machine and command line.
    pub fn new() -> Self {
        Self {
            machine: Machine::now(),
            command: std::env::args().collect(),
            scenarios: Vec::new(),
        }
    }

    /// Prints the outcome's line (stdout: exactly one line per scenario) and
    /// its failed checks (stderr), and keeps it.
    pub fn push(&mut self, outcome: Outcome) {
        println!("{}", outcome.summary);
        if !outcome.passed {
            for problem in &outcome.problems {
                eprintln!("  FAILED ({}): {problem}", outcome.name);
            }
        }
        self.scenarios.push(outcome);
    }

    /// The outcome called `name`, if it ran.
    pub fn get(&self, name: &str) -> Option<&Outcome> {
        self.scenarios.iter().find(|o| o.name == name)
    }

    /// Whether every scenario passed its checks.
    pub fn all_passed(&self) -> bool {
        self.scenarios.iter().all(|o| o.passed)
    }

    /// Writes the JSON document.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn write_json(&mut self, path: &std::path::Path) -> anyhow::Result<()> {
        self.machine.load_after = load_average();
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
    }
}

impl Default for Report {
    fn default() -> Self {
        Self::new()
    }
}

/// One scenario's result.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Scenario name (`v2`, `v2-reference`, `idle`, `limits`, ...).
    pub name: String,
    /// What was driven (`in-process`, `child process`, an address).
    pub target: String,
    /// Whether every check passed (all messages exactly once, ...).
    pub passed: bool,
    /// What failed, if anything.
    pub problems: Vec<String>,
    /// The human line.
    pub summary: String,
    /// Every figure, scenario-specific.
    pub figures: serde_json::Value,
    /// Figures beside their physical limits.
    pub comparisons: Vec<Comparison>,
}

/// A figure beside the limit it is bounded by.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// What is compared.
    pub figure: String,
    /// Its value.
    pub value: f64,
    /// The limit's name.
    pub limit: String,
    /// The limit's value.
    pub limit_value: f64,
    /// value / limit_value.
    pub ratio: f64,
    /// Unit of both.
    pub unit: String,
}

impl Comparison {
    /// Compares `value` with `limit_value`.
    pub fn new(figure: &str, value: f64, limit: &str, limit_value: f64, unit: &str) -> Self {
        Self {
            figure: figure.into(),
            value,
            limit: limit.into(),
            limit_value,
            ratio: if limit_value > 0.0 {
                value / limit_value
            } else {
                0.0
            },
            unit: unit.into(),
        }
    }
}

/// The machine a run measured.
#[derive(Debug, Serialize)]
pub struct Machine {
    /// Logical CPUs.
    pub cpus: usize,
    /// Kernel release.
    pub kernel: String,
    /// 1, 5 and 15 minute load averages when the run started.
    pub load_before: String,
    /// The same when the JSON was written.
    pub load_after: String,
    /// Seconds since the epoch at the start.
    pub started_unix: u64,
}

impl Machine {
    fn now() -> Self {
        Self {
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
            load_before: load_average(),
            load_after: String::new(),
            started_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        }
    }
}

/// The first three fields of /proc/loadavg.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Latency percentiles of one kind of request.
#[derive(Debug, Clone, Copy, Serialize, Default)]
pub struct Latency {
    /// Requests measured.
    pub count: u64,
    /// Mean, microseconds.
    pub mean_us: f64,
    /// Median, microseconds.
    pub p50_us: u64,
    /// 99th percentile, microseconds.
    pub p99_us: u64,
    /// 99.9th percentile, microseconds.
    pub p999_us: u64,
    /// Largest, microseconds.
    pub max_us: u64,
}

impl Latency {
    /// Percentiles of a histogram of microseconds.
    pub fn of(h: &Histogram<u64>) -> Self {
        Self {
            count: h.len(),
            mean_us: h.mean(),
            p50_us: h.value_at_quantile(0.50),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }

    /// `p50 0.41 ms, p99 2.10 ms`.
    pub fn short(&self) -> String {
        format!(
            "p50 {:.2} ms, p99 {:.2} ms",
            self.p50_us as f64 / 1000.0,
            self.p99_us as f64 / 1000.0
        )
    }
}

/// A histogram of microseconds from 1 µs to 10 minutes, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    // The bounds are constants that satisfy the constructor's rules
    // (low >= 1, high >= 2 * low, sigfig <= 5), so it cannot fail.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// Records `d` in microseconds, saturating at the histogram's top.
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    h.saturating_record((d.as_micros() as u64).max(1));
}

/// `12,345`: a whole number with thousands separators.
pub fn thousands(x: f64) -> String {
    let n = x.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Rate per second of `n` things in `d`.
pub fn per_second(n: f64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 { n / s } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1_234_567.4), "1,234,567");
        assert_eq!(thousands(-12_345.0), "-12,345");
    }

    #[test]
    fn latency_reads_percentiles() {
        let mut h = histogram();
        for us in 1..=1000 {
            record(&mut h, Duration::from_micros(us));
        }
        let l = Latency::of(&h);
        assert_eq!(l.count, 1000);
        assert!((499..=501).contains(&l.p50_us), "{l:?}");
        assert!((989..=991).contains(&l.p99_us), "{l:?}");
        assert_eq!(l.max_us, 1000);
    }
}
