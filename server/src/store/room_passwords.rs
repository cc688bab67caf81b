//! What the store keeps for room passwords (PROTOCOL.md "Passwords (146 to
//! 149)"): the server's OPAQUE setup, one per database so that every node
//! of a cluster shares it, and each room's OPAQUE record. On SQLite the
//! writer makes every change; on PostgreSQL one statement each
//! (`pg/room_passwords.rs`). Failed guesses are counted in the database
//! only on PostgreSQL, so that a cluster counts them once (`pg/room_guesses.rs`);
//! one SQLite node counts them in memory (`v3::guesses`).

use std::time::Duration;

use protocol::{ClientId, RoomId};
use rusqlite::{OptionalExtension, params};
use sealpost_rooms::PasswordServer;

use super::handle::Store;
use super::rooms::mismatch;
use super::writer::{RoomDone, RoomWrite, WriteOp};
use crate::error::StoreError;

/// The limits a password guess is counted against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GuessLimits {
    /// Failed guesses one user may make at one room within the window.
    pub(crate) per_user: usize,
    /// Failed guesses a room takes from everyone within the window.
    pub(crate) per_room: usize,
    /// How long a failed guess counts.
    pub(crate) window: Duration,
}

impl Store {
    /// Counts a guess of `user` at `room` for the whole cluster: the
    /// guess's id, or how long until the caller may guess again. `None` on
    /// SQLite, whose one node counts in its memory.
    ///
    /// # Errors
    /// The database failed.
    pub(crate) async fn count_guess(
        &self,
        user: ClientId,
        room: RoomId,
        limits: GuessLimits,
    ) -> Option<Result<Result<i64, Duration>, StoreError>> {
        Some(self.pg()?.count_guess(user, room, limits).await)
    }

    /// The guess `id` (from [`Store::count_guess`]) succeeded.
    ///
    /// # Errors
    /// The database failed.
    pub(crate) async fn forgive_guess(&self, id: i64) -> Result<(), StoreError> {
        match self.pg() {
            Some(pg) => pg.forgive_guess(id).await,
            None => Ok(()),
        }
    }

    /// The server's OPAQUE setup: the one the database keeps, or a new one
    /// kept now (on first start; nodes starting together agree on the
    /// first one kept).
    ///
    /// # Errors
    /// The database failed, or the kept setup is malformed.
    pub async fn password_server(&self) -> Result<PasswordServer, StoreError> {
        let fresh = PasswordServer::generate().to_bytes().to_vec();
        let kept = if let Some(pg) = self.pg() {
            pg.password_setup(fresh).await?
        } else {
            let op = RoomWrite::PasswordSetup { fresh };
            match self
                .write(|reply| WriteOp::Room {
                    caller: ClientId([0; 16]),
                    op,
                    reply,
                })
                .await?
            {
                RoomDone::PasswordSetup(kept) => kept,
                other => return Err(mismatch(&other)),
            }
        };
        PasswordServer::from_bytes(&kept)
            .map_err(|_| StoreError::Corrupt("the kept OPAQUE setup is malformed".into()))
    }

    /// Replaces `room`'s OPAQUE record, for `caller`, an admin or the owner.
    ///
    /// # Errors
    /// [`StoreError::UnknownRoom`] (not a current member),
    /// [`StoreError::RoomRefused`] (a plain member); the database failed.
    pub async fn set_room_password(
        &self,
        caller: ClientId,
        room: RoomId,
        record: Vec<u8>,
    ) -> Result<(), StoreError> {
        self.admit(record.len() as u64 + super::handle::ROW_OVERHEAD)?;
        if let Some(pg) = self.pg() {
            return pg.set_room_password(caller, room, record).await;
        }
        let op = RoomWrite::Password { room, record };
        match self
            .write(|reply| WriteOp::Room { caller, op, reply })
            .await?
        {
            RoomDone::PasswordStored => Ok(()),
            other => Err(mismatch(&other)),
        }
    }

    /// `room`'s OPAQUE record, if it has one.
    ///
    /// # Errors
    /// The database failed.
    pub async fn room_password(&self, room: RoomId) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.room_password(room).await;
        }
        self.read(move |conn| {
            Ok(conn
                .prepare_cached("SELECT record FROM room_passwords WHERE room = ?1")?
                .query_row(params![&room.0[..]], |r| r.get(0))
                .optional()?)
        })
        .await
    }
}
