//! A fine clock for the runtime's own threads: a Linux timer file that fires
//! every period, awaited like a socket. Tokio's timers resolve to 1 ms, and a
//! thread of its own that sleeps between ticks costs two context switches per
//! tick, which on a generator with one core were the largest single item of
//! its profile (`finish_task_switch`, 15% of its samples at half load).

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Duration;

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::unix::AsyncFd;

/// Fires every period from its creation; ticks missed while the task was
/// busy are not made up (the next wait returns at once, then the period
/// resumes).
pub struct Ticks {
    timer: AsyncFd<Timer>,
}

struct Timer(TimerFd);

impl AsRawFd for Timer {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl Ticks {
    /// A timer firing every `period`, on the current runtime.
    ///
    /// # Errors
    /// The timer file could not be made or registered.
    pub fn every(period: Duration) -> std::io::Result<Self> {
        let timer = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        timer.set(
            Expiration::Interval(TimeSpec::from_duration(period)),
            TimerSetTimeFlags::empty(),
        )?;
        // `AsyncFd::new` is deprecated because a type that only lends its
        // descriptor could close it while registered; `Timer` owns its
        // descriptor (an `OwnedFd` inside `TimerFd`) and never gives it up,
        // and the safe-to-call replacement, `register`, is `unsafe`.
        #[allow(deprecated)]
        let timer = AsyncFd::new(Timer(timer))?;
        Ok(Self { timer })
    }

    /// Waits for the next tick (returns at once if one passed unseen).
    ///
    /// # Errors
    /// Reading the timer failed.
    pub async fn next(&self) -> std::io::Result<()> {
        loop {
            let mut ready = self.timer.readable().await?;
            match ready.try_io(|t| t.get_ref().0.wait().map_err(std::io::Error::from)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn ticks_come_at_the_period_not_the_runtimes_millisecond() {
        let ticks = Ticks::every(Duration::from_micros(200)).unwrap();
        let start = Instant::now();
        let mut last = start;
        let mut short = 0;
        for _ in 0..100 {
            ticks.next().await.unwrap();
            let now = Instant::now();
            if now - last < Duration::from_micros(600) {
                short += 1;
            }
            last = now;
        }
        // Each wait consumes at least one expiry: 100 of 0.2 ms.
        assert!(
            start.elapsed() >= Duration::from_millis(19),
            "{:?}",
            start.elapsed()
        );
        // Millisecond timers would space every tick 1 ms or more apart; a
        // busy machine only delays ticks, and the missed ones then come at
        // once.
        assert!(short >= 50, "only {short} of 100 ticks came within 0.6 ms");
    }
}
