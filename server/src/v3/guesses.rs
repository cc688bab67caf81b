//! Limits on password guesses at rooms (PROTOCOL.md "Passwords (146 to
//! 149)"): every login started (148) counts as a failed guess until it
//! succeeds (149); a user may have [`MAX_USER_GUESSES`] at one room and a
//! room [`MAX_ROOM_GUESSES`] from everyone within [`GUESS_WINDOW`].
//!
//! On SQLite, kept in this node's memory (a std `Mutex` over short
//! sections, never across an await): a restart forgets the counts.
//! Bounded: at most [`MAX_TRACKED`] keys, past which expired ones are
//! swept, and new guesses refused while none has expired. On PostgreSQL,
//! counted in the database (`store::pg::room_guesses`), so that the nodes
//! of a cluster share one count and a restart forgets nothing.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use protocol::{ClientId, RoomId};

use crate::error::StoreError;
use crate::store::{GuessLimits, Store};

/// Failed guesses one user may make at one room within the window.
pub(crate) const MAX_USER_GUESSES: usize = 5;
/// Failed guesses a room takes from everyone within the window.
pub(crate) const MAX_ROOM_GUESSES: usize = 20;
/// How long a failed guess counts.
pub(crate) const GUESS_WINDOW: Duration = Duration::from_secs(60);
/// Most (user, room) and room keys remembered at once.
const MAX_TRACKED: usize = 100_000;

/// One guess under way, forgiven if it succeeds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Guess {
    user: ClientId,
    room: RoomId,
    at: Instant,
}

#[derive(Default)]
struct Tally {
    by_user: HashMap<(ClientId, RoomId), VecDeque<Instant>>,
    by_room: HashMap<RoomId, VecDeque<Instant>>,
}

/// A guess under way, counted in this node's memory or in the cluster's
/// database.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Counted {
    Here(Guess),
    Cluster(i64),
}

const LIMITS: GuessLimits = GuessLimits {
    per_user: MAX_USER_GUESSES,
    per_room: MAX_ROOM_GUESSES,
    window: GUESS_WINDOW,
};

/// The failed guesses of the last [`GUESS_WINDOW`].
#[derive(Default)]
pub(crate) struct Guesses {
    tally: Mutex<Tally>,
}

fn expire(times: &mut VecDeque<Instant>, now: Instant) {
    while times
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= GUESS_WINDOW)
    {
        times.pop_front();
    }
}

/// When the oldest of `times` stops counting.
fn wait(times: &VecDeque<Instant>, now: Instant) -> Duration {
    times.front().map_or(GUESS_WINDOW, |t| {
        GUESS_WINDOW.saturating_sub(now.saturating_duration_since(*t))
    })
}

impl Guesses {
    /// Counts a guess of `user` at `room` where this server counts them:
    /// the cluster's database, else this node's memory.
    ///
    /// # Errors
    /// The database failed; inside, how long until the caller may guess
    /// again.
    pub(crate) async fn count(
        &self,
        store: &Store,
        user: ClientId,
        room: RoomId,
    ) -> Result<Result<Counted, Duration>, StoreError> {
        match store.count_guess(user, room, LIMITS).await {
            Some(counted) => Ok(counted?.map(Counted::Cluster)),
            None => Ok(self.start(user, room, Instant::now()).map(Counted::Here)),
        }
    }

    /// The counted guess succeeded: it no longer counts. Should the
    /// database fail, the guess keeps counting until its window ends.
    pub(crate) async fn forgive_counted(&self, store: &Store, guess: Counted) {
        match guess {
            Counted::Here(guess) => self.forgive(guess),
            Counted::Cluster(id) => {
                if let Err(e) = store.forgive_guess(id).await {
                    tracing::warn!(error = %e, "a successful password guess still counts");
                }
            }
        }
    }

    /// Counts a guess of `user` at `room` now, unless the limits are
    /// reached.
    ///
    /// # Errors
    /// How long until the caller may guess again.
    pub(crate) fn start(
        &self,
        user: ClientId,
        room: RoomId,
        now: Instant,
    ) -> Result<Guess, Duration> {
        let mut tally = self.tally.lock().unwrap_or_else(|e| e.into_inner());
        if tally.by_user.len() + tally.by_room.len() >= MAX_TRACKED {
            tally.by_user.retain(|_, t| {
                expire(t, now);
                !t.is_empty()
            });
            tally.by_room.retain(|_, t| {
                expire(t, now);
                !t.is_empty()
            });
            if tally.by_user.len() + tally.by_room.len() >= MAX_TRACKED {
                return Err(GUESS_WINDOW);
            }
        }
        let mine = tally.by_user.entry((user, room)).or_default();
        expire(mine, now);
        if mine.len() >= MAX_USER_GUESSES {
            return Err(wait(mine, now));
        }
        let theirs = tally.by_room.entry(room).or_default();
        expire(theirs, now);
        if theirs.len() >= MAX_ROOM_GUESSES {
            return Err(wait(theirs, now));
        }
        theirs.push_back(now);
        tally
            .by_user
            .entry((user, room))
            .or_default()
            .push_back(now);
        Ok(Guess {
            user,
            room,
            at: now,
        })
    }

    /// The guess succeeded: it no longer counts.
    pub(crate) fn forgive(&self, guess: Guess) {
        let mut tally = self.tally.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(times) = tally.by_user.get_mut(&(guess.user, guess.room)) {
            if let Some(i) = times.iter().position(|t| *t == guess.at) {
                times.remove(i);
            }
        }
        if let Some(times) = tally.by_room.get_mut(&guess.room) {
            if let Some(i) = times.iter().position(|t| *t == guess.at) {
                times.remove(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOM: RoomId = RoomId([7; 16]);

    fn user(i: u8) -> ClientId {
        ClientId([i; 16])
    }

    #[test]
    fn five_per_user_and_room_then_a_wait_that_ends() {
        let g = Guesses::default();
        let t0 = Instant::now();
        for i in 0..MAX_USER_GUESSES {
            g.start(user(1), ROOM, t0 + Duration::from_secs(i as u64))
                .unwrap();
        }
        let wait = g
            .start(user(1), ROOM, t0 + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        // Another room and another user are not held back.
        g.start(user(1), RoomId([8; 16]), t0).unwrap();
        g.start(user(2), ROOM, t0).unwrap();
        // Once the first guess is a minute old, one more is allowed.
        g.start(user(1), ROOM, t0 + GUESS_WINDOW).unwrap();
    }

    #[test]
    fn twenty_per_room_from_everyone() {
        let g = Guesses::default();
        let t0 = Instant::now();
        for i in 0..MAX_ROOM_GUESSES {
            g.start(user(i as u8), ROOM, t0).unwrap();
        }
        assert!(g.start(user(200), ROOM, t0).is_err());
        assert!(g.start(user(200), RoomId([8; 16]), t0).is_ok());
    }

    #[test]
    fn a_successful_guess_does_not_count() {
        let g = Guesses::default();
        let t0 = Instant::now();
        for i in 0..20 {
            let guess = g
                .start(user(1), ROOM, t0 + Duration::from_millis(i))
                .unwrap();
            g.forgive(guess);
        }
        g.start(user(1), ROOM, t0).unwrap();
    }
}
