//! Holding room files as callers see it (PROTOCOL.md "Holding a room file
//! (150)"): one change, made by the writer (`writer/room_holds.rs`) or, on
//! PostgreSQL, by the engine (`pg/room_holds.rs`).

use protocol::{ClientId, RoomId};

use super::handle::Store;
use super::rooms::mismatch;
use super::writer::{RoomDone, RoomWrite, WriteOp};
use crate::error::StoreError;

impl Store {
    /// Holds (`hold`) or releases entry `seq` of `room` for `caller`.
    /// Returns whether the caller holds it now, and the blobs to delete of
    /// a file its release let go (every cursor was past it, nobody else
    /// held it).
    ///
    /// # Errors
    /// [`StoreError::UnknownRoom`] (not a member), [`StoreError::NoRoomEntry`]
    /// (not received, or gone), [`StoreError::NoRoomFile`],
    /// [`StoreError::TooManyHolds`]; the database failed.
    pub async fn hold_room_file(
        &self,
        caller: ClientId,
        room: RoomId,
        seq: u64,
        hold: bool,
    ) -> Result<(bool, Vec<String>), StoreError> {
        if let Some(pg) = self.pg() {
            return pg.hold_room_file(caller, room, seq, hold).await;
        }
        let op = RoomWrite::Hold { room, seq, hold };
        match self
            .write(|reply| WriteOp::Room { caller, op, reply })
            .await?
        {
            RoomDone::Held(held, blobs) => Ok((held, blobs)),
            other => Err(mismatch(&other)),
        }
    }
}
