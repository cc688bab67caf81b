//! The replay window: which counters of one session and direction were
//! already received, so that messages may arrive out of order while a true
//! duplicate is still refused.
//!
//! ```text
//! highest  the highest counter received (0: none yet)
//! seen     WINDOW_LEN bits; bit (c mod WINDOW_LEN) is set when counter c,
//!          highest - WINDOW_LEN < c <= highest, was received
//!          (byte i holds bits 8i .. 8i+7, least significant first)
//! ```
//!
//! A counter is accepted if it is above `highest`, or inside the window and
//! its bit is clear; a counter in the window whose bit is set is a
//! **duplicate**, one at or below `highest - WINDOW_LEN` is **too old** (it
//! may or may not have been received; the window no longer knows). This is
//! the ring-buffer bitmap of RFC 6479, as IPsec and DTLS use it.
//!
//! Why out of order at all: a file's counter is taken when its upload
//! begins, but the server creates its message when the upload completes,
//! so texts sealed meanwhile arrive first; two terminals of one user seal
//! and send concurrently. Why no limit on jumps forward (Signal refuses
//! jumps over 25,000): there it bounds the keys it must derive; here a
//! counter is authenticated by the envelope's tag, so only the sender can
//! move the window, and it costs nothing.
//!
//! This type only decides; the key store persists it (see
//! `KeyStore::mark_handled`), and a counter is recorded only once its
//! message has been handled.

use super::CryptoError;

/// How many counters below the highest one the window remembers.
pub const WINDOW_LEN: u64 = 2048;
/// Size of the stored bitmap.
pub const WINDOW_BYTES: usize = (WINDOW_LEN / 8) as usize;

/// The counters received in one session and direction; see the module docs.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplayWindow {
    highest: u64,
    seen: [u8; WINDOW_BYTES],
}

impl Default for ReplayWindow {
    /// Nothing received yet.
    fn default() -> Self {
        Self {
            highest: 0,
            seen: [0; WINDOW_BYTES],
        }
    }
}

impl std::fmt::Debug for ReplayWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count: u32 = self.seen.iter().map(|b| b.count_ones()).sum();
        f.debug_struct("ReplayWindow")
            .field("highest", &self.highest)
            .field("seen_in_window", &count)
            .finish()
    }
}

impl ReplayWindow {
    /// A stored window. `seen` is `None` for a session stored before windows
    /// existed, when only the highest counter was kept and everything at or
    /// below it counted as received: every bit is set, which keeps that
    /// promise.
    ///
    /// # Errors
    /// [`CryptoError::BadPlaintext`] if `seen` is not [`WINDOW_BYTES`] long.
    pub fn from_stored(highest: u64, seen: Option<&[u8]>) -> Result<Self, CryptoError> {
        let seen = match seen {
            None => [0xff; WINDOW_BYTES],
            Some(bytes) => bytes.try_into().map_err(|_| CryptoError::BadPlaintext)?,
        };
        Ok(Self { highest, seen })
    }

    /// The highest counter received (0: none).
    pub fn highest(&self) -> u64 {
        self.highest
    }

    /// The bitmap, for storage.
    pub fn seen_bytes(&self) -> &[u8; WINDOW_BYTES] {
        &self.seen
    }

    fn slot(counter: u64) -> (usize, u8) {
        // counter % WINDOW_LEN < 2048, so the index fits.
        let bit = (counter % WINDOW_LEN) as usize;
        (bit / 8, 1 << (bit % 8))
    }

    fn is_set(&self, counter: u64) -> bool {
        let (byte, mask) = Self::slot(counter);
        self.seen[byte] & mask != 0
    }

    /// Whether a message with `counter` may be accepted.
    ///
    /// # Errors
    /// [`CryptoError::Replayed`] for a counter already received (counter 0
    /// is never sealed, so it counts as one); [`CryptoError::TooOld`] for a
    /// counter below the window.
    pub fn check(&self, counter: u64) -> Result<(), CryptoError> {
        if counter == 0 {
            return Err(CryptoError::Replayed);
        }
        if counter > self.highest {
            return Ok(());
        }
        if self.highest - counter >= WINDOW_LEN {
            return Err(CryptoError::TooOld);
        }
        if self.is_set(counter) {
            return Err(CryptoError::Replayed);
        }
        Ok(())
    }

    /// Records `counter` as received. Recording one twice, or one below the
    /// window, changes nothing.
    pub fn record(&mut self, counter: u64) {
        if counter == 0 {
            return;
        }
        if counter > self.highest {
            // The slots of the counters skipped over now stand for newer
            // counters that have not arrived: clear them.
            let advance = counter - self.highest;
            if advance >= WINDOW_LEN {
                self.seen = [0; WINDOW_BYTES];
            } else {
                for c in self.highest + 1..counter {
                    let (byte, mask) = Self::slot(c);
                    self.seen[byte] &= !mask;
                }
            }
            self.highest = counter;
        } else if self.highest - counter >= WINDOW_LEN {
            return;
        }
        let (byte, mask) = Self::slot(counter);
        self.seen[byte] |= mask;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(w: &ReplayWindow, c: u64) -> bool {
        w.check(c).is_ok()
    }

    #[test]
    fn accepts_out_of_order_and_refuses_true_duplicates() {
        let mut w = ReplayWindow::default();
        assert!(matches!(w.check(0), Err(CryptoError::Replayed)));
        for c in [2, 1, 5, 3] {
            assert!(accepts(&w, c), "{c}");
            w.record(c);
            assert!(matches!(w.check(c), Err(CryptoError::Replayed)), "{c}");
        }
        assert_eq!(w.highest(), 5);
        assert!(accepts(&w, 4));
        assert!(accepts(&w, 6));
        for c in [1, 2, 3, 5] {
            assert!(matches!(w.check(c), Err(CryptoError::Replayed)));
        }
    }

    #[test]
    fn the_window_slides_and_forgets_only_below_it() {
        let mut w = ReplayWindow::default();
        w.record(10);
        // 9 is one slot behind; 10 + WINDOW_LEN moves the window past it.
        w.record(10 + WINDOW_LEN - 1);
        assert!(accepts(&w, 11));
        assert!(matches!(w.check(10), Err(CryptoError::Replayed)));
        w.record(10 + WINDOW_LEN);
        assert!(matches!(w.check(10), Err(CryptoError::TooOld)));
        assert!(accepts(&w, 11), "skipped counters in the window stay open");
        // The slot of 10 now stands for 10 + WINDOW_LEN, which was received.
        assert!(matches!(
            w.check(10 + WINDOW_LEN),
            Err(CryptoError::Replayed)
        ));
        // A jump of more than the window clears it.
        let far = 10 + 5 * WINDOW_LEN;
        w.record(far);
        assert!(accepts(&w, far - 1));
        assert!(matches!(
            w.check(far - WINDOW_LEN),
            Err(CryptoError::TooOld)
        ));
        assert!(accepts(&w, far - WINDOW_LEN + 1));
        // Recording below the window changes nothing.
        let before = w.clone();
        w.record(1);
        assert_eq!(w, before);
    }

    #[test]
    fn a_window_of_an_old_store_counts_everything_below_as_received() {
        let w = ReplayWindow::from_stored(7, None).unwrap();
        for c in 1..=7 {
            assert!(matches!(w.check(c), Err(CryptoError::Replayed)));
        }
        assert!(accepts(&w, 8));
        let mut w = ReplayWindow::from_stored(0, None).unwrap();
        assert!(accepts(&w, 1));
        w.record(3);
        assert!(accepts(&w, 1) && accepts(&w, 2));
    }

    #[test]
    fn stored_windows_round_trip_and_a_bad_length_is_refused() {
        let mut w = ReplayWindow::default();
        for c in [3, 9, 4, 700, 2050] {
            w.record(c);
        }
        let back = ReplayWindow::from_stored(w.highest(), Some(&w.seen_bytes()[..])).unwrap();
        assert_eq!(back, w);
        assert!(ReplayWindow::from_stored(1, Some(&[0; 3])).is_err());
    }
}
