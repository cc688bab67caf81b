//! Failed password guesses at rooms on PostgreSQL: the limits of
//! `v3::guesses` counted in the database, so that every node of a cluster
//! sees every guess (a cluster of N nodes does not allow N times as many).
//! One row per guess, deleted when the guess succeeds or when it stops
//! counting; the database's clock is the one clock of the cluster.

use std::time::Duration;

use protocol::{ClientId, RoomId};

use super::Pg;
use crate::error::StoreError;
use crate::store::GuessLimits;

/// The class of the advisory locks that make one room's guesses counted
/// one at a time ("gues" in ASCII); the two-key form, apart from the
/// migration's one-key lock.
const GUESS_LOCK_CLASS: i32 = 0x6775_6573;

impl Pg {
    /// Counts a guess of `user` at `room` now, unless a limit is reached:
    /// the guess's id, or how long until the caller may guess again.
    pub(crate) async fn count_guess(
        &self,
        user: ClientId,
        room: RoomId,
        limits: GuessLimits,
    ) -> Result<Result<i64, Duration>, StoreError> {
        let window = limits.window.as_secs_f64();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let [a, b, c, d, ..] = room.0;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, $2)",
            &[&GUESS_LOCK_CLASS, &i32::from_be_bytes([a, b, c, d])],
        )
        .await?;
        // Every room's expired guesses, so that the table holds only what
        // counts (at most a minute of guesses).
        tx.execute(
            "DELETE FROM room_guesses WHERE at <= now() - make_interval(secs => $1)",
            &[&window],
        )
        .await?;
        let row = tx
            .query_one(
                "SELECT count(*) FILTER (WHERE client = $2),
                        EXTRACT(EPOCH FROM min(at) FILTER (WHERE client = $2)
                            + make_interval(secs => $3) - now())::float8,
                        count(*),
                        EXTRACT(EPOCH FROM min(at) + make_interval(secs => $3) - now())::float8
                 FROM room_guesses WHERE room = $1",
                &[&&room.0[..], &&user.0[..], &window],
            )
            .await?;
        let wait = |secs: Option<f64>| {
            Duration::try_from_secs_f64(secs.unwrap_or(window).max(0.0)).unwrap_or(limits.window)
        };
        let (mine, theirs): (i64, i64) = (row.get(0), row.get(2));
        if mine >= limits.per_user as i64 {
            return Ok(Err(wait(row.get(1))));
        }
        if theirs >= limits.per_room as i64 {
            return Ok(Err(wait(row.get(3))));
        }
        let id: i64 = tx
            .query_one(
                "INSERT INTO room_guesses (room, client) VALUES ($1, $2) RETURNING id",
                &[&&room.0[..], &&user.0[..]],
            )
            .await?
            .get(0);
        tx.commit().await?;
        Ok(Ok(id))
    }

    /// The guess `id` succeeded: it no longer counts.
    pub(crate) async fn forgive_guess(&self, id: i64) -> Result<(), StoreError> {
        self.conn()
            .await?
            .execute("DELETE FROM room_guesses WHERE id = $1", &[&id])
            .await?;
        Ok(())
    }
}
