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
//! The idle clock restarts with any event. A frame being read has its own
//! deadline, from its first byte (`frame_clock`), which neither the peer's
//! trickled bytes nor pushes sent to it move; once a check sees a frame
//! under way, the timer fires at that deadline, not a period late.

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
    /// What the last check saw.
    seen_events: u64,
    /// When a check last saw new events.
    active_at: Instant,
    /// The deadline of the frame under way at the last check.
    due: Option<Instant>,
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
            seen_events: 0,
            active_at: now,
            due: None,
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

    /// Fires at the next check; then call [`Watchdog::check`].
    pub(crate) fn fired(&mut self) -> &mut Pin<Box<Sleep>> {
        &mut self.timer
    }

    /// Looks at what happened since the last check: a timeout if one is
    /// due, else gives back a quiet connection's buffers and sets the next
    /// check.
    pub(crate) fn check(&mut self, conn: &mut Conn) -> Option<Next> {
        let now = Instant::now();
        if self.events != self.seen_events {
            self.seen_events = self.events;
            self.active_at = now;
        }
        let deadline = conn.codec().frame_deadline(self.stall);
        if deadline.is_some_and(|d| now >= d) {
            return Some(Next::TimedOut { mid_frame: true });
        }
        let in_frame = deadline.is_some() || !conn.codec().is_idle();
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
        self.due = deadline;
        self.arm(now);
        None
    }

    fn arm(&mut self, now: Instant) {
        let period = if self.quiet {
            self.stall.min(self.idle)
        } else {
            SHRINK_AFTER.min(self.stall).min(self.idle)
        };
        let next = now + period;
        // A frame under way: checked at its deadline, not a period late.
        self.timer
            .as_mut()
            .reset(self.due.map_or(next, |due| due.min(next)));
    }
}
