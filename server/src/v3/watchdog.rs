//! A version-3 session's timeouts on one long-lived timer: the idle and
//! stall timeouts of `conn::next_item`, and giving back the buffers of a
//! quiet connection.
//!
//! A timer made for each wait (as `next_item` does) costs an insertion
//! into the runtime's timer wheel and a removal per event, several per
//! message on a busy connection (about 4% of the server's core at half
//! load, BENCHMARKS.md). Here the session counts its events and the timer
//! looks at the count when it fires: once per second while the connection
//! is busy, once per check period (`min(stall, idle)`, as `next_item`'s)
//! once it is quiet. A timeout is therefore noticed up to one period late,
//! as `next_item`'s is.
//!
//! The idle clock restarts with any event; the stall clock only with the
//! peer's own progress (a frame read, or more of one buffered), so that a
//! peer cannot hold half a frame open by having pushes sent to it.

use std::pin::Pin;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use crate::conn::{Conn, Next};

/// Silence after which a connection frees its read and write buffers.
const SHRINK_AFTER: Duration = Duration::from_secs(1);

pub(crate) struct Watchdog {
    timer: Pin<Box<Sleep>>,
    idle: Duration,
    stall: Duration,
    /// Events the session had (frames, answers, pushes).
    events: u64,
    /// Frames read from the peer.
    frames: u64,
    /// What the last check saw.
    seen_events: u64,
    seen_frames: u64,
    seen_buffered: usize,
    /// When a check last saw new events, and last saw a frame progress.
    active_at: Instant,
    progress_at: Instant,
    /// Quiet: buffers given back, checked every `min(stall, idle)`.
    quiet: bool,
}

impl Watchdog {
    pub(crate) fn new(idle: Duration, stall: Duration) -> Self {
        let now = Instant::now();
        let mut watchdog = Watchdog {
            timer: Box::pin(tokio::time::sleep_until(now)),
            idle,
            stall,
            events: 0,
            frames: 0,
            seen_events: 0,
            seen_frames: 0,
            seen_buffered: 0,
            active_at: now,
            progress_at: now,
            quiet: false,
        };
        watchdog.arm(now);
        watchdog
    }

    /// Notes an event; a quiet connection's checks come sooner again.
    pub(crate) fn saw_event(&mut self) {
        self.events += 1;
        if self.quiet {
            self.quiet = false;
            self.arm(Instant::now());
        }
    }

    /// Notes a frame read from the peer: progress for the stall clock.
    pub(crate) fn saw_frame(&mut self) {
        self.frames += 1;
    }

    /// Fires at the next check; then call [`Watchdog::check`].
    pub(crate) fn fired(&mut self) -> &mut Pin<Box<Sleep>> {
        &mut self.timer
    }

    /// Looks at what happened since the last check: a timeout if one is
    /// due, else gives back a quiet connection's buffers and sets the next
    /// check.
    pub(crate) fn check(&mut self, conn: &mut Conn) -> Option<Next> {
        let now = Instant::now();
        let buffered = conn.read_buffer().len();
        if self.events != self.seen_events {
            self.seen_events = self.events;
            self.active_at = now;
        }
        if self.frames != self.seen_frames || buffered != self.seen_buffered {
            self.seen_frames = self.frames;
            self.progress_at = now;
        }
        self.seen_buffered = buffered;
        let in_frame = buffered > 0 || !conn.codec().is_idle();
        if in_frame && now - self.progress_at >= self.stall {
            return Some(Next::TimedOut { mid_frame: true });
        }
        if !in_frame && now - self.active_at >= self.idle {
            return Some(Next::TimedOut { mid_frame: false });
        }
        if !self.quiet && now - self.active_at >= SHRINK_AFTER {
            self.quiet = true;
            // Idle connections then cost a few KiB each.
            if conn.read_buffer().is_empty() {
                *conn.read_buffer_mut() = bytes::BytesMut::new();
            }
            if conn.write_buffer().is_empty() {
                *conn.write_buffer_mut() = bytes::BytesMut::new();
            }
        }
        self.arm(now);
        None
    }

    fn arm(&mut self, now: Instant) {
        let period = if self.quiet {
            self.stall.min(self.idle)
        } else {
            SHRINK_AFTER.min(self.stall).min(self.idle)
        };
        self.timer.as_mut().reset(now + period);
    }
}
