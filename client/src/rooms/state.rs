//! What a client keeps for its rooms while it runs: the engine's thread
//! (opened on first use, since most commands never touch a room) and the
//! lock that lets one task at a time read the rooms' logs and commit, and
//! the lookups every room operation starts from: the pins as the engine
//! wants them, a member's name, and a room by its name.

use std::collections::HashSet;

use protocol::ClientId;
use sealpost_rooms::{IdentityError, Role, RoomId, RoomsError};
use tokio::sync::{Mutex as AsyncMutex, OnceCell};

use super::{MeSigner, PinBook, ROOMS_FILE, RoomWorker};
use crate::client::Client;
use crate::error::{ClientError, RoomCandidate};
use crate::keystore::{Conversation, RoomDeparture};

/// The client's rooms while it runs.
#[derive(Default)]
pub struct RoomsState {
    worker: OnceCell<RoomWorker>,
    /// Held while a room's log is read or a commit is in flight: entries
    /// are processed one at a time, in log order.
    pub(crate) lock: AsyncMutex<()>,
    /// Rooms where a member asked to leave since we last committed there.
    leave_requests: std::sync::Mutex<HashSet<RoomId>>,
    /// A live reader's room receipts are to be sent in a moment (see
    /// `rooms::receipts`).
    pub(crate) receipts_scheduled: std::sync::atomic::AtomicBool,
}

impl RoomsState {
    /// A member of `room` asked to leave: one of us commits it.
    pub(crate) fn note_leave_request(&self, room: RoomId) {
        self.leave_requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(room);
    }

    /// Takes the rooms with leave requests to commit.
    pub(crate) fn take_leave_requests(&self) -> Vec<RoomId> {
        self.leave_requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect()
    }
}

/// A room of ours: its id and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalRoom {
    /// The room.
    pub id: RoomId,
    /// Its name (escape before printing).
    pub name: String,
}

impl Client {
    /// The rooms engine of this home folder, opened on first use.
    ///
    /// # Errors
    /// Not registered; the state file cannot be opened or belongs to
    /// another identity.
    pub(crate) async fn room_engine(&self) -> Result<RoomWorker, ClientError> {
        let me = self.require_me()?;
        let path = self.config().home.join(ROOMS_FILE);
        // rooms.db is keyed like store.db (the same passphrase opens both).
        let key = self.store(|s| Ok(s.key().cloned())).await?;
        // A restored home's new state file keeps the backed-up leaf key.
        let leaf = self.store(|s| s.restored_leaf_key()).await?;
        let worker = self
            .inner
            .rooms
            .worker
            .get_or_try_init(|| async move {
                let identity =
                    crate::crypto::Identity::from_secret_bytes(&me.identity.to_secret_bytes());
                let worker =
                    RoomWorker::open(path, MeSigner::new(me.id, identity), key, leaf).await?;
                self.adopt_named_history(&worker).await?;
                Ok::<_, ClientError>(worker)
            })
            .await?;
        Ok(worker.clone())
    }

    /// Moves room history kept by name (before rooms were kept by id) to
    /// the rooms of ours that have those names; the key store does it once
    /// (see `keystore::conversation`), before any room entry is recorded.
    async fn adopt_named_history(&self, worker: &RoomWorker) -> Result<(), ClientError> {
        let rooms: Vec<_> = worker
            .run(member_rooms)
            .await?
            .into_iter()
            .map(|r| (r.id, r.name))
            .collect();
        let moved = self
            .store(move |s| s.adopt_named_room_history(&rooms))
            .await?;
        if moved > 0 {
            tracing::info!(moved, "room history kept by name now kept by room id");
        }
        Ok(())
    }

    /// Our pins (and our own key) as the engine checks members against them.
    pub(crate) async fn pin_book(&self) -> Result<PinBook, ClientError> {
        let me = self.require_me()?;
        let mine = (me.id, me.identity.identity_key());
        let peers = self.store(|s| s.peers()).await?;
        Ok(PinBook::new(mine, &peers))
    }

    /// Pins a room member met for the first time, exactly as a one-to-one
    /// contact is pinned on first use (its key fetched by id, its bundle's
    /// signature checked); a key that differs from an earlier pin stays
    /// refused.
    pub(crate) async fn pin_member(&self, id: sealpost_rooms::ClientId) -> Result<(), ClientError> {
        self.check_contact(&super::wire_client_id(id).to_string())
            .await?;
        Ok(())
    }

    /// Runs an engine call that checks members against our pins; a member
    /// we never met is pinned on first use and the call made again (at most
    /// once per member of the largest room).
    pub(crate) async fn with_pins<T, F>(&self, f: F) -> Result<T, ClientError>
    where
        T: Send + 'static,
        F: Fn(&sealpost_rooms::RoomEngine, &PinBook) -> Result<T, RoomsError>
            + Send
            + Sync
            + Clone
            + 'static,
    {
        let engine = self.room_engine().await?;
        for _ in 0..=sealpost_rooms::MAX_ROOM_MEMBERS {
            let book = self.pin_book().await?;
            let call = f.clone();
            match engine.run(move |e| call(e, &book)).await {
                Err(RoomsError::Identity(IdentityError::Unknown(c))) => self.pin_member(c).await?,
                other => return Ok(other?),
            }
        }
        Err(RoomsError::Limit("too many members to pin").into())
    }

    /// A member as a room event names it: the name it is pinned under
    /// (its id if it has no local name), our own name for us.
    pub(crate) async fn member_named(
        &self,
        id: ClientId,
    ) -> Result<super::event::Named, ClientError> {
        if let Some(me) = self.me().filter(|me| me.id == id) {
            return Ok(super::event::Named {
                name: me.name.as_str().to_string(),
                you: true,
            });
        }
        Ok(super::event::Named::other(self.member_name(id).await?))
    }

    /// The name a member is pinned under ("you" for us; its id if it has
    /// no local name).
    pub(crate) async fn member_name(&self, id: ClientId) -> Result<String, ClientError> {
        if self.me().is_some_and(|me| me.id == id) {
            return Ok("you".into());
        }
        let record = self.store(move |s| s.peer(id)).await?;
        Ok(match record {
            Some(r) if !r.name.is_empty() => r.name,
            _ => id.to_string(),
        })
    }

    /// Every room we are a member of, by name.
    pub(crate) async fn local_rooms(&self) -> Result<Vec<LocalRoom>, ClientError> {
        let engine = self.room_engine().await?;
        Ok(engine.run(member_rooms).await?)
    }

    /// The room we are in that goes by `name` (ignoring ASCII case; a
    /// leading `#` is allowed), or by its id (32 hex digits).
    ///
    /// # Errors
    /// [`ClientError::NoSuchRoom`], [`ClientError::RemovedFromRoom`],
    /// [`ClientError::AmbiguousRoom`].
    pub(crate) async fn find_room(&self, name: &str) -> Result<LocalRoom, ClientError> {
        let name = super::typed_room(name);
        let rooms = self.local_rooms().await?;
        if let Some(r) = rooms
            .iter()
            .find(|r| hex(&r.id) == name.to_ascii_lowercase())
        {
            return Ok(r.clone());
        }
        let mut found: Vec<LocalRoom> = rooms
            .into_iter()
            .filter(|r| r.name.eq_ignore_ascii_case(name))
            .collect();
        match found.len() {
            0 => Err(self.no_room_named(name).await),
            1 => Ok(found.remove(0)),
            _ => {
                let mut candidates = Vec::new();
                for room in &found {
                    candidates.push(self.room_candidate(room).await?);
                }
                Err(ClientError::AmbiguousRoom {
                    name: name.into(),
                    candidates,
                })
            }
        }
    }

    /// Why we are in no room `name` names: a member removed or banned us
    /// from one (its commit was read here), or this home was restored from
    /// a backup made while it was in one, else there is none.
    pub(crate) async fn no_room_named(&self, name: &str) -> ClientError {
        if let Some(d) = self.room_departure(name).await {
            return self.departed(d).await;
        }
        if let Some(r) = self.restored_room(name).await {
            return self.lost_in_restore(r).await;
        }
        // One we left, or that was deleted: its history is still here.
        let typed = name.to_string();
        match self.store(move |s| s.room_in_history(&typed)).await {
            Ok(Some(Conversation::Room { id: Some(id), name })) => ClientError::NoLongerInRoom {
                room: name,
                id: hex(&id),
            },
            _ => ClientError::NoSuchRoom(name.into()),
        }
    }

    /// The latest room we were removed or banned from that `name` names
    /// (or its id); a store that fails to say is taken as none (only the
    /// wording of a refusal depends on it).
    pub(crate) async fn room_departure(&self, name: &str) -> Option<RoomDeparture> {
        let typed = name.to_string();
        self.store(move |s| s.room_departure(&typed))
            .await
            .ok()
            .flatten()
    }

    /// The refusal that says who removed or banned us from `d`'s room, and
    /// when.
    pub(crate) async fn departed(&self, d: RoomDeparture) -> ClientError {
        ClientError::RemovedFromRoom {
            room: d.name,
            by: self
                .member_name(d.by)
                .await
                .unwrap_or_else(|_| d.by.to_string()),
            at_ms: d.at_ms,
            banned: d.banned,
        }
    }

    /// `room` as an ambiguous name's candidate: its id, and its owner (or,
    /// once the owner left, its admins) by the names pinned here.
    pub(crate) async fn room_candidate(
        &self,
        room: &LocalRoom,
    ) -> Result<RoomCandidate, ClientError> {
        let engine = self.room_engine().await?;
        let id = room.id;
        let members = engine.run(move |e| e.members(id)).await?;
        let mut owner = None;
        let mut admins = Vec::new();
        for m in members {
            let name = self.member_name(super::wire_client_id(m.client_id)).await?;
            match m.role {
                Role::Owner => owner = Some(name),
                Role::Admin => admins.push(name),
                Role::Member => {}
            }
        }
        if owner.is_some() {
            admins.clear();
        }
        Ok(RoomCandidate {
            id: hex(&room.id),
            name: room.name.clone(),
            owner,
            admins,
        })
    }
}

/// The rooms the engine `e` has us in, named (by id if unnamed).
fn member_rooms(e: &sealpost_rooms::RoomEngine) -> Result<Vec<LocalRoom>, RoomsError> {
    let mut rooms = Vec::new();
    for id in e.rooms()? {
        if !e.is_member(id)? {
            continue;
        }
        let name = e
            .name(id)?
            .map(|n| n.as_str().to_string())
            .unwrap_or_else(|| hex(&id));
        rooms.push(LocalRoom { id, name });
    }
    Ok(rooms)
}

/// A room id as 32 hex digits.
pub fn hex(id: &RoomId) -> String {
    hex::encode(id.0)
}
