//! Committing to a room (PROTOCOL.md "Rooms", "Commit"): a commit made on
//! the room's current epoch is sent; once the log has it, the log is read
//! up to it and it is merged there, after the entries before it. The loser
//! of a race (`STALE_EPOCH`) forgets its commit, reads the winner's from
//! the log and makes its own again on the new epoch, a bounded number of
//! times, so the room never forks.
//!
//! A commit whose answer was lost with the connection stays pending in the
//! engine; [`Client::room_sync`] settles it: read back from the log it is
//! merged (it won); with the room still at our epoch on the server (137) it
//! never made it and is forgotten.
//!
//! The caller holds the rooms lock, except for [`Client::room_sync`], which
//! takes it.

use protocol::{ErrorReason, RoomId};
use sealpost_rooms::{CommitSummary, Outgoing, RoomEngine, RoomsError};

use super::PinBook;
use super::behind::Attempts;
use crate::client::Client;
use crate::error::ClientError;

/// Rounds of committing leave requests in one sync (each can reveal more).
const MAX_LEAVE_ROUNDS: usize = 4;

impl Client {
    /// Makes a commit with `make` and publishes it; see the module docs.
    /// `make` returning `None` means there is nothing left to commit (a
    /// winner's commit did it already): `Ok(None)`.
    ///
    /// # Errors
    /// The server refused it (other than a stale epoch), others kept
    /// winning, the engine refused to make it, or the connection was lost
    /// (the commit is then settled by the next [`Client::room_sync`]).
    pub(crate) async fn publish<F>(
        &self,
        room: sealpost_rooms::RoomId,
        make: F,
    ) -> Result<Option<CommitSummary>, ClientError>
    where
        F: Fn(&RoomEngine, &PinBook) -> Result<Option<Outgoing>, RoomsError>
            + Send
            + Sync
            + Clone
            + 'static,
    {
        let engine = self.room_engine().await?;
        let mut attempts = Attempts::new();
        while self.again(room, &mut attempts).await? {
            let Some(out) = self.with_pins(make.clone()).await? else {
                return Ok(None);
            };
            let conn = self.connection().await?;
            let sent = conn
                .room_commit(
                    RoomId(room.0),
                    out.epoch,
                    out.commit.into(),
                    out.welcome.map(Into::into).unwrap_or_default(),
                )
                .await;
            match sent {
                Ok(_) => {
                    // Merged when read back, in order.
                    self.read_room_logs().await?;
                    return Ok(Some(out.summary));
                }
                Err(e) if e.reason() == Some(ErrorReason::StaleEpoch) => {
                    engine.run(move |en| en.discard_commit(room)).await?;
                    self.read_room_logs().await?;
                }
                Err(e) if e.is_disconnect() => {
                    // Its fate is unknown: try to settle it at once.
                    if self.settle(room).await.is_ok()
                        && engine.run(move |en| en.epoch(room)).await? > out.epoch
                        && !engine.run(move |en| en.has_pending_commit(room)).await?
                    {
                        return Ok(Some(out.summary));
                    }
                    return Err(e.into());
                }
                Err(e) => {
                    engine.run(move |en| en.discard_commit(room)).await?;
                    return Err(e.into());
                }
            }
        }
        Err(self.spent_retries(room).await)
    }

    /// Settles a commit of ours in `room` left pending: reads the logs (our
    /// commit there is merged on the way); if the room is still at our
    /// epoch on the server, the commit never made it and is forgotten.
    async fn settle(&self, room: sealpost_rooms::RoomId) -> Result<(), ClientError> {
        let engine = self.room_engine().await?;
        self.read_room_logs().await?;
        if !engine.run(move |en| en.has_pending_commit(room)).await? {
            return Ok(());
        }
        let ours = engine.run(move |en| en.epoch(room)).await?;
        let state = self
            .retrying(|c| async move { c.room_state(RoomId(room.0)).await })
            .await?;
        if state.epoch == ours {
            engine.run(move |en| en.discard_commit(room)).await?;
        }
        Ok(())
    }

    /// Brings our rooms up to date: reads their logs, settles commits a lost
    /// connection left pending, and commits members' requests to leave.
    ///
    /// # Errors
    /// The server, the key store or the engine's state file failed.
    pub async fn room_sync(&self) -> Result<(), ClientError> {
        let _reading = self.inner.rooms.lock.lock().await;
        self.room_sync_locked().await
    }

    /// [`Client::room_sync`] for a caller holding the rooms lock.
    pub(crate) async fn room_sync_locked(&self) -> Result<(), ClientError> {
        self.read_room_logs().await?;
        let engine = self.room_engine().await?;
        let pending = engine
            .run(|en| {
                let mut pending = Vec::new();
                for room in en.rooms()? {
                    if en.is_member(room)? && en.has_pending_commit(room)? {
                        pending.push(room);
                    }
                }
                Ok(pending)
            })
            .await?;
        for room in pending {
            self.settle(room).await?;
        }
        for _ in 0..MAX_LEAVE_ROUNDS {
            let rooms = self.inner.rooms.take_leave_requests();
            if rooms.is_empty() {
                break;
            }
            for room in rooms {
                if let Err(e) = self.commit_leaves(room).await {
                    tracing::warn!(error = %e, "committing a member's leave failed");
                }
            }
        }
        for room in engine.run(|en| en.rooms_with_lapsed_leaves()).await? {
            if let Err(e) = self.remove_lapsed_leavers(room).await {
                tracing::warn!(error = %e, "removing members whose leave lapsed failed");
            }
        }
        // Our own leave request lives one epoch: a commit that came first
        // without it leaves us in the room, so ask again.
        for room in engine.run(|en| en.lapsed_leaves()).await? {
            tracing::info!("our request to leave a room lapsed; asking again");
            // Not fatal for the sync: the request is asked again next time.
            if let Err(e) = self.send_to_room(room, None, move |e| e.leave(room)).await {
                tracing::warn!(error = %e, "asking again to leave a room failed");
            }
        }
        Ok(())
    }

    /// Removes the members of `room` whose leave request we saw lapse, if
    /// we are an admin: a leaver whose account is gone never asks again.
    async fn remove_lapsed_leavers(&self, room: sealpost_rooms::RoomId) -> Result<(), ClientError> {
        // Nothing to remove makes no commit and sends nothing.
        self.publish(room, move |en, _| {
            // Asked at each attempt: a winner's commit may have taken them.
            let now = en.lapsed_leavers(room)?;
            if now.is_empty() {
                return Ok(None);
            }
            tracing::info!(
                count = now.len(),
                "removing members whose leave request lapsed"
            );
            en.remove_members(room, &now).map(Some)
        })
        .await?;
        Ok(())
    }

    /// Commits the leave requests waiting in `room`, unless a commit of
    /// another member did already.
    async fn commit_leaves(&self, room: sealpost_rooms::RoomId) -> Result<(), ClientError> {
        let engine = self.room_engine().await?;
        if !engine.run(move |en| en.is_member(room)).await? {
            return Ok(());
        }
        let before = engine.run(move |en| en.members(room)).await?.len();
        self.publish(room, move |en, _| {
            let now = en.members(room)?;
            if now.len() < before {
                // Someone's commit removed the leavers meanwhile.
                return Ok(None);
            }
            match en.commit_pending_proposals(room) {
                // Our own leave waits too: the others commit it with theirs.
                Err(RoomsError::Leaving) => Ok(None),
                done => done.map(Some),
            }
        })
        .await?;
        Ok(())
    }
}
