//! Which cores the load generator and the servers it starts run on, and how
//! busy each core was during a phase.
//!
//! On one machine the generator and the server share the cores, and each
//! waits for the other's threads: measured on the two-core machine, half
//! the maximum rate left 3 % of the CPU idle, and the push latency's p99
//! was as much the generator's queueing as the server's. `--split-cores`
//! gives each its own half of the cores, as separate machines would: the
//! generator's threads (it pins itself before its runtime starts, so every
//! thread inherits it) and every server child it starts (the spawning
//! thread takes the servers' half for the instant of the `fork`, so the
//! child and all its threads inherit it, without `unsafe` code).

use std::io::{self, BufRead};
use std::process::{Child, Command};
use std::sync::OnceLock;

use anyhow::{Context, ensure};
use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::unistd::Pid;
use serde::Serialize;

/// The cores of each side, once `--split-cores` has split them.
#[derive(Debug, Clone, Serialize)]
pub struct Split {
    /// The load generator's cores.
    pub generator: Vec<usize>,
    /// The cores of every server child.
    pub server: Vec<usize>,
}

static SPLIT: OnceLock<(Split, CpuSet)> = OnceLock::new();

/// Splits the cores this process may use in two halves, pins the calling
/// thread (call it before any other thread starts) to the first, and keeps
/// the second for the servers started later.
///
/// # Errors
/// Fewer than two cores are available, or the kernel refuses.
pub fn split() -> anyhow::Result<Split> {
    let allowed = sched_getaffinity(Pid::from_raw(0)).context("reading this process's cores")?;
    let cores: Vec<usize> = (0..CpuSet::count())
        .filter(|&c| allowed.is_set(c).unwrap_or(false))
        .collect();
    ensure!(
        cores.len() >= 2,
        "--split-cores needs at least two cores; this process may use {}",
        cores.len()
    );
    let (generator, server) = cores.split_at(cores.len().div_ceil(2));
    let set_of = |list: &[usize]| -> anyhow::Result<CpuSet> {
        let mut set = CpuSet::new();
        for &c in list {
            set.set(c)?;
        }
        Ok(set)
    };
    sched_setaffinity(Pid::from_raw(0), &set_of(generator)?)
        .context("pinning the load generator to its cores")?;
    let split = Split {
        generator: generator.to_vec(),
        server: server.to_vec(),
    };
    let _ = SPLIT.set((split.clone(), set_of(server)?));
    Ok(split)
}

/// The split, if `--split-cores` made one.
pub fn current() -> Option<&'static Split> {
    SPLIT.get().map(|(split, _)| split)
}

/// Spawns `command`, on the servers' cores when the cores are split.
///
/// # Errors
/// The command cannot start, or the kernel refuses the cores.
pub fn spawn(command: &mut Command) -> io::Result<Child> {
    let Some((_, server)) = SPLIT.get() else {
        return command.spawn();
    };
    // Only this thread moves, and only until the child exists: the child
    // inherits the mask it was forked with.
    let mine = sched_getaffinity(Pid::from_raw(0)).map_err(io::Error::from)?;
    sched_setaffinity(Pid::from_raw(0), server).map_err(io::Error::from)?;
    let child = command.spawn();
    sched_setaffinity(Pid::from_raw(0), &mine).map_err(io::Error::from)?;
    child
}

/// Time each core has spent busy and in all, from `/proc/stat` (in clock
/// ticks), indexed by core.
#[derive(Debug, Clone, Default)]
pub struct Ticks(Vec<Option<(u64, u64)>>);

impl Ticks {
    /// Reads them now; empty where `/proc/stat` cannot be read.
    pub fn now() -> Self {
        let Ok(file) = std::fs::File::open("/proc/stat") else {
            return Self::default();
        };
        let mut per_core = Vec::new();
        for line in io::BufReader::new(file).lines().map_while(Result::ok) {
            let mut fields = line.split_whitespace();
            let Some(core) = fields
                .next()
                .and_then(|f| f.strip_prefix("cpu"))
                .and_then(|n| n.parse::<usize>().ok())
            else {
                continue;
            };
            // user nice system idle iowait irq softirq steal: idle and
            // iowait are the idle time.
            let values: Vec<u64> = fields.take(8).filter_map(|v| v.parse().ok()).collect();
            if values.len() < 8 {
                continue;
            }
            let total: u64 = values.iter().sum();
            let idle = values[3] + values[4];
            if per_core.len() <= core {
                per_core.resize(core + 1, None);
            }
            per_core[core] = Some((total - idle, total));
        }
        Self(per_core)
    }

    /// The share of the time the cores in `cores` were busy between `self`
    /// and `later`, in percent; None when nothing was measured.
    pub fn busy_percent(&self, later: &Self, cores: &[usize]) -> Option<f64> {
        let (mut busy, mut total) = (0u64, 0u64);
        for &c in cores {
            let (Some(Some((b0, t0))), Some(Some((b1, t1)))) = (self.0.get(c), later.0.get(c))
            else {
                continue;
            };
            busy += b1.saturating_sub(*b0);
            total += t1.saturating_sub(*t0);
        }
        (total > 0).then(|| 100.0 * busy as f64 / total as f64)
    }

    /// Every core that was read.
    pub fn cores(&self) -> Vec<usize> {
        (0..self.0.len()).filter(|&c| self.0[c].is_some()).collect()
    }
}

/// How busy the cores were during one phase, in percent.
#[derive(Debug, Clone, Serialize)]
pub struct Busy {
    /// Every core of the machine.
    pub all: Option<f64>,
    /// The generator's cores, when split.
    pub generator: Option<f64>,
    /// The servers' cores, when split.
    pub server: Option<f64>,
}

impl Busy {
    /// Between two readings.
    pub fn between(before: &Ticks, after: &Ticks) -> Self {
        let split = current();
        Self {
            all: before.busy_percent(after, &after.cores()),
            generator: split.and_then(|s| before.busy_percent(after, &s.generator)),
            server: split.and_then(|s| before.busy_percent(after, &s.server)),
        }
    }

    /// `97%`, or `80/79%` (generator / server) when split.
    pub fn short(&self) -> String {
        match (self.generator, self.server, self.all) {
            (Some(g), Some(s), _) => format!("{g:.0}/{s:.0}%"),
            (_, _, Some(a)) => format!("{a:.0}%"),
            _ => "-".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cores_of(set: &CpuSet) -> Vec<usize> {
        (0..CpuSet::count())
            .filter(|&c| set.is_set(c).unwrap_or(false))
            .collect()
    }

    /// The split pins the calling thread to the generator's half, and a
    /// child started through `spawn` runs on the other half only, while
    /// the thread that started it stays on its own.
    #[test]
    fn a_spawned_server_runs_on_the_other_half_of_the_cores() {
        // On its own thread: the pin must not leak into other tests' threads.
        std::thread::spawn(|| {
            let split = split().expect("this test needs a machine with two cores or more");
            assert!(!split.generator.is_empty() && !split.server.is_empty());
            assert!(split.generator.iter().all(|c| !split.server.contains(c)));
            let mine = sched_getaffinity(Pid::from_raw(0)).unwrap();
            assert_eq!(cores_of(&mine), split.generator);

            let child = spawn(
                Command::new("grep")
                    .args(["Cpus_allowed_list", "/proc/self/status"])
                    .stdout(std::process::Stdio::piped()),
            )
            .expect("grep runs");
            let out = child.wait_with_output().unwrap();
            let listed = String::from_utf8(out.stdout).unwrap();
            let server: Vec<String> = split.server.iter().map(ToString::to_string).collect();
            // The kernel lists single cores and ranges: "1", "2-3".
            let expected = match server.as_slice() {
                [one] => one.clone(),
                [first, .., last] => format!("{first}-{last}"),
                [] => unreachable!(),
            };
            assert_eq!(listed.split_whitespace().nth(1), Some(expected.as_str()));
            let after = sched_getaffinity(Pid::from_raw(0)).unwrap();
            assert_eq!(
                cores_of(&after),
                split.generator,
                "the spawning thread moved"
            );
        })
        .join()
        .unwrap();
    }

    /// The machine's cores are read, and a busy loop on this thread shows
    /// as busy time on the cores as a whole.
    #[test]
    fn a_busy_thread_shows_as_busy_cores() {
        let before = Ticks::now();
        assert!(!before.cores().is_empty(), "/proc/stat lists no core");
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let after = Ticks::now();
        let busy = before
            .busy_percent(&after, &after.cores())
            .expect("no ticks passed");
        // One core of n spun the whole time.
        let floor = 100.0 / after.cores().len() as f64 * 0.6;
        assert!(busy >= floor, "busy {busy:.0}% with one core spinning");
    }
}
