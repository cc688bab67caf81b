//! A join by name noted before the engine makes it and recorded once after
//! (`keystore::joins`): the engine keeps its own database and merges our
//! external commit before it leaves, so a crash could leave the room held
//! here that the server never took, or taken without its "you joined".
//!
//! The next read of the rooms' logs finishes a join a crash cut short,
//! before anything of the room is read: a note without an epoch never
//! left (the room is forgotten again); with one, the server's word
//! decides. It lists a newcomer only once it took the join; a member
//! taking its own place again (a resync) was listed before, so there the
//! server's epoch decides: still the one our commit was made at, it never
//! took it. Left out: the join itself (`super::joining`).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use protocol::{ErrorReason, RoomId};
use sealpost_rooms::RoomsError;

use super::event::{RoomChange, RoomEvent};
use crate::client::Client;
use crate::disk::lock_if_free;
use crate::error::{ClientError, RoomRefusal};
use crate::keystore::{Body, Conversation, Direction, NewEntry, Status};

/// Held locked by a join by name, and by a room's creation
/// (`super::create`), from before its note to its end, so that another
/// process of this home does not take one in flight for one a crash cut
/// short: the kernel lets go of it when its process dies.
const JOIN_LOCK: &str = "room-join.lock";

fn open_join_lock(home: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(home.join(JOIN_LOCK))
}

/// This home's lock of joins by name and creations if no other process
/// holds it (`None`: one does, and its notes are in flight, not cut
/// short); held until the returned file is dropped.
pub(super) fn try_join_lock(home: &Path) -> Result<Option<File>, ClientError> {
    let lock = open_join_lock(home)?;
    Ok(lock_if_free(&lock)?.then_some(lock))
}

impl Client {
    /// Whether the engine holds `room` with us in it (`false` for a room
    /// it never made, or forgot).
    ///
    /// # Errors
    /// The engine's state file failed.
    pub(super) async fn engine_holds(
        &self,
        room: sealpost_rooms::RoomId,
    ) -> Result<bool, ClientError> {
        let engine = self.room_engine().await?;
        Ok(engine
            .run(move |en| match en.is_member(room) {
                Err(RoomsError::UnknownRoom) => Ok(false),
                held => held,
            })
            .await?)
    }

    /// Takes this home's lock of joins by name and creations, waiting for
    /// another process's to end; held until the returned file is dropped.
    ///
    /// # Errors
    /// The lock file cannot be opened or locked.
    pub(super) async fn lock_name_joins(&self) -> Result<File, ClientError> {
        let home = self.inner.config.home.clone();
        let locked = tokio::task::spawn_blocking(move || {
            let file = open_join_lock(&home)?;
            file.lock()?;
            Ok::<_, std::io::Error>(file)
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??;
        Ok(locked)
    }

    /// Notes the join of `room` by `name`, before the engine makes it.
    ///
    /// # Errors
    /// The key store failed, or another process of this home is joining
    /// the room.
    pub(super) async fn note_name_join(
        &self,
        room: sealpost_rooms::RoomId,
        name: &str,
    ) -> Result<(), ClientError> {
        let named = name.to_string();
        if self.store(move |s| s.begin_name_join(room, &named)).await? {
            return Ok(());
        }
        Err(ClientError::room(
            RoomRefusal::Busy,
            format!("another run of this client is joining #{name}; try again once it is done"),
        ))
    }

    /// Gives up the join of `room` by name: the engine forgets the room
    /// it made (the server never took our commit) and the note goes, with
    /// a notice for the next `inbox` if a crash cut it short (`cut_short`:
    /// the room's name as the join noted it), since no command said so.
    ///
    /// # Errors
    /// The engine's state file or the key store failed.
    pub(super) async fn abandon_name_join(
        &self,
        room: sealpost_rooms::RoomId,
        cut_short: Option<&str>,
    ) -> Result<(), ClientError> {
        let engine = self.room_engine().await?;
        engine.run(move |en| en.forget_room(room)).await?;
        let notice = cut_short
            .map(|name| self.own_room_event(room, name, RoomChange::JoinCutShort))
            .transpose()?;
        self.store(move |s| s.drop_name_join(room, notice.as_ref()))
            .await
    }

    /// An event of ours in `room` (named `name`), now, for the next `inbox`.
    pub(super) fn own_room_event(
        &self,
        room: sealpost_rooms::RoomId,
        name: &str,
        change: RoomChange,
    ) -> Result<RoomEvent, ClientError> {
        Ok(RoomEvent {
            // No entry of the room's log: it gives no member its own join.
            seq: 0,
            room: name.to_string(),
            room_id: super::hex(&room),
            from: self.require_me()?.id.to_string(),
            sent_at_ms: crate::crypto::envelope::now_ms(),
            change,
            quiet: false,
        })
    }

    /// The history entry of a change we made to `room` (`name`), and, if
    /// `announce`, its notice: what no entry of the room's log tells us.
    ///
    /// # Errors
    /// No one is registered in this home.
    pub(super) fn own_event_entry(
        &self,
        room: sealpost_rooms::RoomId,
        name: &str,
        change: RoomChange,
        announce: bool,
    ) -> Result<(NewEntry, Option<RoomEvent>), ClientError> {
        let shown = if announce {
            Some(self.own_room_event(room, name, change.clone())?)
        } else {
            None
        };
        let entry = NewEntry {
            conversation: Conversation::room(room, name.to_string()),
            direction: Direction::Out,
            sender: self.require_me()?.id,
            body: Body::Event { change },
            sender_time_ms: None,
            server_time_ms: None,
            message_id: None,
            status: Status::Read,
        };
        Ok((entry, shown))
    }

    /// Records the join of `room` by `name` (`again`: a resync) that the
    /// server took, once: its entry goes into the room's history with the
    /// note's end, and a removal or ban recorded before no longer explains
    /// anything. The room's own name, as the join gave it.
    ///
    /// # Errors
    /// The key store, the engine's state file or the server (naming us)
    /// failed.
    pub(super) async fn record_name_join(
        &self,
        room: sealpost_rooms::RoomId,
        name: &str,
        again: bool,
        announce: bool,
    ) -> Result<String, ClientError> {
        let owned = name.to_string();
        self.store(move |s| s.forget_room_departure(room, &owned))
            .await?;
        // Its own name (not `#ID` as typed), kept as a welcome's join does.
        let engine = self.room_engine().await?;
        let own = engine
            .run(move |en| en.name(room))
            .await?
            .map_or_else(|| name.to_string(), |n| n.as_str().to_string());
        // Recorded here, once: the log gives no member its own join to
        // read back, and what it holds after it comes after this entry.
        let me = self.member_named(self.require_me()?.id).await?;
        let change = RoomChange::JoinedByName {
            member: me.name,
            you: true,
            again,
        };
        // A join a crash cut short is news: no command said it was made.
        let (entry, shown) = self.own_event_entry(room, &own, change, announce)?;
        self.back_in_restored(room).await;
        self.store(move |s| s.record_name_join(room, &entry, shown.as_ref()))
            .await?;
        Ok(own)
    }

    /// Finishes the joins by name a crash (or a lost connection) cut
    /// short; see the module docs. The caller holds the rooms lock.
    ///
    /// # Errors
    /// The server, the key store or the engine's state file failed.
    pub(super) async fn finish_name_joins(&self) -> Result<(), ClientError> {
        let joins = self.store(|s| s.name_joins()).await?;
        if joins.is_empty() {
            return Ok(());
        }
        // Another process is joining: its notes are in flight, not cut
        // short, and their rooms wait for it.
        let Some(_lock) = try_join_lock(&self.inner.config.home)? else {
            return Ok(());
        };
        for join in joins {
            let room = join.room;
            let held = self.engine_holds(room).await?;
            let Some(epoch) = join.epoch.filter(|_| held) else {
                // The commit leaves only once its epoch is noted.
                tracing::info!("a join by name cut short before it was sent is forgotten");
                self.abandon_name_join(room, Some(&join.name)).await?;
                continue;
            };
            if self.name_join_taken(room, epoch, join.resync).await? {
                self.refresh_group_info(room).await;
                self.record_name_join(room, &join.name, join.resync, true)
                    .await?;
            } else {
                tracing::info!("a join by name the server never took is forgotten");
                self.abandon_name_join(room, Some(&join.name)).await?;
            }
        }
        Ok(())
    }

    /// Whether the server took our join of `room` by name, its commit made
    /// at `epoch` (`resync`: we were listed before it); see the module docs.
    ///
    /// # Errors
    /// The server failed answering.
    pub(super) async fn name_join_taken(
        &self,
        room: sealpost_rooms::RoomId,
        epoch: u64,
        resync: bool,
    ) -> Result<bool, ClientError> {
        let state = self
            .retrying(|c| async move { c.room_state(RoomId(room.0)).await })
            .await;
        match state {
            Ok(s) => Ok(!resync || s.epoch != epoch),
            Err(e) if e.reason() == Some(ErrorReason::UnknownRoom) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
