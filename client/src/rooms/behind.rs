//! A room the server holds at an older epoch than ours: what a server
//! restored from a backup taken before the room's last change (a commit:
//! an add, a removal, a rename, a role, a join or a leave) holds. The
//! server only grows a room's epoch, and we reach an epoch only through its
//! log, so ours past its can mean nothing else (or a server that lies).
//!
//! Such a room takes nothing of ours again: every message and commit is
//! refused as `STALE_EPOCH`, and reading the log brings nothing that moves
//! either side. Without this check the command said that other members kept
//! changing the room, and to try again. Told only once the retries are
//! spent, so that the race with other members, which they settle, costs
//! nothing more.
//!
//! `room leave` of such a room forgets it here (`super::commands`): no
//! leave can be made on the server either.
//!
//! Left out: moving the server's room forward. The server checks every
//! commit against its own copy of the room's public state, which the
//! restore took back too, and taking a member's word for a newer one is a
//! protocol change of its own.

use protocol::RoomId;

use crate::client::Client;
use crate::error::{ClientError, RoomRefusal};

impl Client {
    /// Why the retries of a message or commit to `room` were spent: the
    /// server holds the room at an older epoch than ours (see the module
    /// docs), or other members kept changing it; or what asking the server
    /// or the engine which of the two failed with.
    pub(super) async fn spent_retries(&self, room: sealpost_rooms::RoomId) -> ClientError {
        match self.server_behind(room).await {
            Ok(Some(refusal)) => refusal,
            Ok(None) => ClientError::room(
                RoomRefusal::Busy,
                "other members kept changing the room at the same time; try again",
            ),
            Err(e) => e,
        }
    }

    /// The refusal to give when the server holds `room` at an older epoch
    /// than ours.
    async fn server_behind(
        &self,
        room: sealpost_rooms::RoomId,
    ) -> Result<Option<ClientError>, ClientError> {
        let engine = self.room_engine().await?;
        let (ours, name) = engine
            .run(move |en| Ok((en.epoch(room)?, en.name(room)?)))
            .await?;
        let server = self
            .retrying(|c| async move { c.room_state(RoomId(room.0)).await })
            .await?
            .epoch;
        if server >= ours {
            return Ok(None);
        }
        let name = name.map_or_else(|| super::hex(&room), |n| n.as_str().to_string());
        Ok(Some(ClientError::room(
            RoomRefusal::ServerBehind,
            format!(
                "the server holds #{name} at epoch {server}, behind this client's {ours}: it was \
                 most likely restored from a backup made before the room last changed, and takes \
                 nothing more in the room; make a new room (`room create`) to go on, and `room \
                 leave {name}` forgets this one here (its history is kept)"
            ),
        )))
    }
}
