//! A room the server holds at an older epoch than ours: what a server
//! restored from a backup taken before the room's last change (a commit:
//! an add, a removal, a rename, a role, a join or a leave) holds. The
//! server only grows a room's epoch, and we reach an epoch only through its
//! log, so ours past its can mean nothing else (or a server that lies).
//!
//! Such a room takes nothing of ours: every message and commit is refused
//! as `STALE_EPOCH`, and reading the log brings nothing that moves either
//! side. So once the retries of a send, a commit or a delete are spent, we
//! look: when the server is behind, we re-found the room there from our own
//! epoch (PROTOCOL.md "Re-founding a restored room") and the caller tries
//! once more. Only then, so that the race with other members, which they
//! settle, costs nothing more.
//!
//! The server takes a re-founding only for a room marked restored that no
//! commit has changed since. When it refuses, the room stays behind and we
//! say so, with the way on (a new room); `room leave` then forgets it here
//! (`super::commands`).
//!
//! The other way round, a server whose room has moved past ours with the
//! commits between gone from its log (a member who had not read them when
//! the server was lost, or one away past the retention) leaves us unable
//! to follow: reading the log brings nothing, and we say so, with the way
//! back, where we used to say to try again: `room join` takes our own place
//! again from the server's group info (a resync, `super::joining`), as an
//! admin removing us and adding us again would.
//!
//! A lying server gains nothing here: the re-founding sends only public
//! state (the group info and tree the server would keep for joiners), and
//! we never take the server's word for who is in the room.

use crate::advice::quote_word;
use bytes::Bytes;
use protocol::{ErrorReason, RoomId};

use crate::client::Client;
use crate::error::{ClientError, RoomRefusal};

/// Attempts at one message or commit while others keep winning the epoch,
/// and as many again after re-founding the room on a server that held it
/// behind.
const MAX_ATTEMPTS: usize = 8;

/// Where the attempts at one message or commit to a room stand
/// ([`Client::again`]): a send, a commit and a delete share them.
pub(super) struct Attempts {
    left: usize,
    refounded: bool,
}

impl Attempts {
    pub(super) fn new() -> Self {
        Self {
            left: MAX_ATTEMPTS,
            refounded: false,
        }
    }
}

impl Client {
    /// Whether to make one more attempt at a message or commit to `room`:
    /// [`MAX_ATTEMPTS`] while other members win the epoch; once those are
    /// spent, as many again if the server held the room behind us and
    /// took it up again from us ([`Client::refounded`]). When this says
    /// no, [`Client::spent_retries`] says why.
    pub(super) async fn again(
        &self,
        room: sealpost_rooms::RoomId,
        attempts: &mut Attempts,
    ) -> Result<bool, ClientError> {
        if attempts.left == 0 && !attempts.refounded && self.refounded(room).await? {
            *attempts = Attempts {
                left: MAX_ATTEMPTS,
                refounded: true,
            };
        }
        if attempts.left == 0 {
            return Ok(false);
        }
        attempts.left -= 1;
        Ok(true)
    }

    /// Re-founds `room` on the server if it holds the room at an older
    /// epoch than ours; whether it did (the caller then tries again). A
    /// refusal of the server (the room changed there since its restore, or
    /// it is not behind after all) is `false`.
    ///
    /// # Errors
    /// The connection, or the engine, failed.
    pub(super) async fn refounded(
        &self,
        room: sealpost_rooms::RoomId,
    ) -> Result<bool, ClientError> {
        let Some((ours, server)) = self.behind(room).await? else {
            return Ok(false);
        };
        let engine = self.room_engine().await?;
        let founding = engine.run(move |en| en.founding(room)).await?;
        let info = Bytes::from(founding.group_info);
        let tree = Bytes::from(founding.ratchet_tree);
        let refounded = self
            .retrying(|c| {
                let (info, tree) = (info.clone(), tree.clone());
                async move { c.room_refound(RoomId(room.0), info, tree).await }
            })
            .await;
        match refounded {
            Ok(epoch) => {
                tracing::info!(
                    ours,
                    server,
                    epoch,
                    "re-founded a room the server held behind"
                );
                Ok(true)
            }
            Err(e)
                if matches!(
                    e.reason(),
                    Some(ErrorReason::RoomRefused | ErrorReason::StaleEpoch)
                ) =>
            {
                tracing::info!(ours, server, error = %e, "the server refused to re-found a room");
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Why the retries of a message or commit to `room` were spent: the
    /// server holds the room at an older epoch than ours and would not take
    /// it up again (see the module docs), or other members kept changing
    /// it; or what asking the server or the engine which of the two failed
    /// with.
    pub(super) async fn spent_retries(&self, room: sealpost_rooms::RoomId) -> ClientError {
        match self.why_spent(room).await {
            Ok(e) | Err(e) => e,
        }
    }

    async fn why_spent(&self, room: sealpost_rooms::RoomId) -> Result<ClientError, ClientError> {
        let engine = self.room_engine().await?;
        let name = engine.run(move |en| en.name(room)).await?;
        let name = name.map_or_else(|| super::hex(&room), |n| n.as_str().to_string());
        let (ours, server) = self.epochs(room).await?;
        if server < ours {
            return Ok(server_behind(&name, ours, server));
        }
        if let Some(ours) = self.still_short(room, ours, server).await? {
            return Ok(ClientError::room(
                RoomRefusal::LeftBehind,
                format!(
                    "the server holds #{name} at epoch {server} and this client is at {ours}, and \
                     the changes between are no longer on the server (it was restored from an \
                     older backup, or they passed its retention while you were away): this client \
                     cannot follow the room any more; `room join {}` takes your place in it \
                     again (what was said in it meanwhile stays unreadable here)",
                    quote_word(&name)
                ),
            ));
        }
        Ok(ClientError::room(
            RoomRefusal::Busy,
            "other members kept changing the room at the same time; try again",
        ))
    }

    /// Our epoch of `room` and the server's, when the server's is later
    /// and reading the room's log brings us no closer: the commits between
    /// are gone from it (see the module docs). A room the server no longer
    /// lists us in is not one we are behind in.
    pub(super) async fn left_behind(
        &self,
        room: sealpost_rooms::RoomId,
    ) -> Result<Option<(u64, u64)>, ClientError> {
        let (ours, server) = match self.epochs(room).await {
            Ok(epochs) => epochs,
            Err(e) if e.reason() == Some(ErrorReason::UnknownRoom) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(self
            .still_short(room, ours, server)
            .await?
            .map(|ours| (ours, server)))
    }

    /// Our epoch of `room` once its log is read, if `ours` is short of the
    /// server's epoch `server` and stays so.
    async fn still_short(
        &self,
        room: sealpost_rooms::RoomId,
        ours: u64,
        server: u64,
    ) -> Result<Option<u64>, ClientError> {
        if ours >= server {
            return Ok(None);
        }
        // Every commit up to the server's epoch is in its log now, or never
        // will be: after reading the log, ours still short of it means they
        // are gone (in a race we would have caught up).
        self.read_room_logs().await?;
        let engine = self.room_engine().await?;
        let ours = engine.run(move |en| en.epoch(room)).await?;
        Ok((ours < server).then_some(ours))
    }

    /// Our epoch of `room` and the server's, when the server's is older.
    async fn behind(
        &self,
        room: sealpost_rooms::RoomId,
    ) -> Result<Option<(u64, u64)>, ClientError> {
        let (ours, server) = self.epochs(room).await?;
        Ok((server < ours).then_some((ours, server)))
    }

    /// Our epoch of `room` and the server's.
    async fn epochs(&self, room: sealpost_rooms::RoomId) -> Result<(u64, u64), ClientError> {
        let engine = self.room_engine().await?;
        let ours = engine.run(move |en| en.epoch(room)).await?;
        Ok((ours, self.server_epoch(room).await?))
    }

    /// The epoch the server holds `room` at.
    async fn server_epoch(&self, room: sealpost_rooms::RoomId) -> Result<u64, ClientError> {
        Ok(self
            .retrying(|c| async move { c.room_state(RoomId(room.0)).await })
            .await?
            .epoch)
    }
}

/// The refusal for a room the server holds behind us and would not take up
/// again.
fn server_behind(name: &str, ours: u64, server: u64) -> ClientError {
    ClientError::room(
        RoomRefusal::ServerBehind,
        format!(
            "the server holds #{name} at epoch {server}, behind this client's {ours}: it was most \
             likely restored from a backup made before the room last changed, and would not take \
             the room up again from this client (someone changed it there since the restore); \
             make a new room (`room create`) to go on, and `room leave {}` forgets this one \
             here (its history is kept)",
            quote_word(name)
        ),
    )
}
