//! When in a latency phase the slow messages were due: the phase cut into
//! windows of [`WINDOW`], each counting its messages, those slower than
//! [`SLOW`] (the half-load target) and its slowest. Tells a p99 made by a
//! few stalls (a handful of windows hold the slow messages) from one made
//! by steady queueing (they are spread over the phase).

use std::time::Duration;

use serde::Serialize;

/// The width of a window.
pub const WINDOW: Duration = Duration::from_millis(100);
/// A message slower than this counts as slow.
pub const SLOW: Duration = Duration::from_millis(5);

/// Per window of the phase, by the instant its messages were due.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Windows {
    /// Messages due in each window.
    pub messages: Vec<u32>,
    /// Of them, slower than [`SLOW`].
    pub slow: Vec<u32>,
    /// The slowest of each window, in microseconds.
    pub slowest_us: Vec<u64>,
    /// When window 0 began, in µs since the Unix epoch, so that the
    /// windows can be laid beside another clock's record of the same run
    /// (the VM's stolen time, the disk's counters).
    pub started_unix_us: u64,
}

impl Windows {
    /// Windows for a phase of `seconds`, made ahead (a later message still
    /// gets its window).
    pub fn for_seconds(seconds: u64) -> Self {
        let mut windows = Windows::default();
        windows.grow((Duration::from_secs(seconds).as_nanos() / WINDOW.as_nanos()) as usize);
        windows
    }

    /// At least `n` windows.
    fn grow(&mut self, n: usize) {
        if self.messages.len() < n {
            self.messages.resize(n, 0);
            self.slow.resize(n, 0);
            self.slowest_us.resize(n, 0);
        }
    }

    /// Counts one message due `due` after the phase began that took `took`.
    pub fn record(&mut self, due: Duration, took: Duration) {
        let i = (due.as_nanos() / WINDOW.as_nanos()) as usize;
        // The phase is seconds long; a stamp far beyond it is not ours to
        // allocate for.
        if i > 100_000 {
            return;
        }
        self.grow(i + 1);
        self.messages[i] += 1;
        if took > SLOW {
            self.slow[i] += 1;
        }
        self.slowest_us[i] = self.slowest_us[i].max(took.as_micros() as u64);
    }

    /// Adds another receiver's windows.
    pub fn add(&mut self, other: &Windows) {
        self.grow(other.messages.len());
        for (i, ((&m, &s), &w)) in other
            .messages
            .iter()
            .zip(&other.slow)
            .zip(&other.slowest_us)
            .enumerate()
        {
            self.messages[i] += m;
            self.slow[i] += s;
            self.slowest_us[i] = self.slowest_us[i].max(w);
        }
    }

    /// One line: how the slow messages were spread over the windows.
    pub fn summary(&self) -> String {
        let total: u64 = self.messages.iter().map(|&m| u64::from(m)).sum();
        let slow: u64 = self.slow.iter().map(|&s| u64::from(s)).sum();
        if slow == 0 {
            return format!(
                "none of {total} messages slower than {} ms",
                SLOW.as_millis()
            );
        }
        // Only the windows the phase sent in (the last may be partly empty).
        let used = self.messages.iter().filter(|&&m| m > 0).count();
        let mut by_slow: Vec<u32> = self.slow.clone();
        by_slow.sort_unstable_by(|a, b| b.cmp(a));
        let worst = used.div_ceil(10).max(1);
        let in_worst: u64 = by_slow[..worst].iter().map(|&s| u64::from(s)).sum();
        let with_slow = self.slow.iter().filter(|&&s| s > 0).count();
        format!(
            "{slow} of {total} messages slower than {} ms ({:.2}%); {with_slow} of {} windows of {} ms had one; the worst tenth ({worst}) held {:.0}% of them",
            SLOW.as_millis(),
            100.0 * slow as f64 / total.max(1) as f64,
            used,
            WINDOW.as_millis(),
            100.0 * in_worst as f64 / slow as f64,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_messages_are_counted_in_the_window_they_were_due() {
        let ms = Duration::from_millis;
        let mut a = Windows::default();
        a.record(ms(10), ms(1));
        a.record(ms(150), ms(9));
        let mut b = Windows::default();
        b.record(ms(120), ms(6));
        b.record(ms(320), ms(2));
        a.add(&b);
        // The empty window (200 to 300 ms) is not one the phase sent in.
        assert_eq!(a.messages, vec![1, 2, 0, 1]);
        assert_eq!(a.slow, vec![0, 2, 0, 0]);
        assert_eq!(a.slowest_us, vec![1000, 9000, 0, 2000]);
        assert_eq!(
            a.summary(),
            "2 of 4 messages slower than 5 ms (50.00%); 1 of 3 windows of 100 ms had one; the worst tenth (1) held 100% of them"
        );
    }

    #[test]
    fn windows_made_ahead_cover_the_phase_and_grow_for_a_late_message() {
        let mut w = Windows::for_seconds(1);
        assert_eq!(w.messages.len(), 10);
        w.record(Duration::from_millis(1250), Duration::from_millis(1));
        assert_eq!(w.messages.len(), 13);
        assert_eq!(w.summary(), "none of 1 messages slower than 5 ms");
    }
}
