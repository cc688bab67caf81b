//! The per-connection request rate limit of version 3 (`--requests-per-second`):
//! a token bucket that holds at most a second's worth of requests.

use std::time::Instant;

/// A token bucket refilled at `per_second` tokens a second.
pub(crate) struct RateLimiter {
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    /// A full bucket; `None` when the limit is off (0).
    pub(crate) fn new(per_second: u32) -> Option<Self> {
        (per_second > 0).then(|| Self {
            per_second: f64::from(per_second),
            tokens: f64::from(per_second),
            last: Instant::now(),
        })
    }

    /// Takes a token if one is there; a second's worth may accumulate.
    pub(crate) fn allow(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + refill).min(self.per_second);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
