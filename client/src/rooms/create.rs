//! Creating a room, and finishing a creation a crash cut short.
//!
//! A creation is noted in the key store before the engine makes the room
//! (`keystore::creates`), and the note ends in the transaction that
//! records `you created #NAME`, or with the room when the server refused
//! it. Killed in between (Ctrl-C while the server is slow, a kill -9),
//! the next read of the rooms' logs finishes it, before anything else:
//! the server's word decides. If it has the room, the creation is recorded
//! then and the next `inbox` says so once; if not, the engine forgets the
//! room, so that the name is free again here, and the next `inbox` says
//! the creation was cut short. A creation in flight in another process of
//! this home holds the rooms' join lock (`super::name_join`), and is left
//! to it.

use bytes::Bytes;
use protocol::{ErrorReason, RoomId};
use sealpost_rooms::JoinRule;

use super::commands::RoomInfo;
use super::event::RoomChange;
use super::naming::new_room_name;
use super::state::LocalRoom;
use crate::client::Client;
use crate::error::ClientError;
use crate::keystore::RoomCreate;

/// Debug builds only: when this variable names a point of a room's
/// creation, the client aborts there (as a kill -9 would stop it), so that
/// a test can see the creation finished by the next command: `made` (the
/// engine made the room, nothing sent) or `taken` (the server took it,
/// nothing recorded).
pub const CREATE_TEST_CRASH: &str = "SEALPOST_ROOM_CREATE_TEST_CRASH";

impl Client {
    /// Creates an invite-only room named `name` with us as its owner.
    ///
    /// # Errors
    /// A bad name, a room of that name here already, or the server refused.
    pub async fn room_create(&self, name: &str) -> Result<RoomInfo, ClientError> {
        self.room_create_with_rule(name, JoinRule::InviteOnly).await
    }

    /// Creates a room named `name` that one joins by `rule`, with us as its
    /// owner. The server keeps its first group info for joiners.
    ///
    /// # Errors
    /// A bad name, a room of that name here already, another public or
    /// hidden room of that name on the server, or the server refused.
    pub async fn room_create_with_rule(
        &self,
        name: &str,
        rule: JoinRule,
    ) -> Result<RoomInfo, ClientError> {
        let room_name = new_room_name(name)?;
        // `#NAME` is NAME here as in every room command.
        let name = &room_name.as_str().to_owned();
        self.in_rooms(async || {
            if let Ok(held) = self.find_room(name).await {
                return Err(ClientError::RoomNameTaken(held.name));
            }
            // Held to the end, so that another process of this home does
            // not take this creation for one a crash cut short.
            let _creating = self.lock_name_joins().await?;
            let id = sealpost_rooms::RoomId(rand::random());
            let note = RoomCreate {
                room: id,
                name: name.clone(),
                rule: rule.to_string(),
            };
            self.store(move |s| s.begin_room_create(&note)).await?;
            let engine = self.room_engine().await?;
            let created = engine
                .run(move |e| e.create_room_with_rule(id, &room_name, rule))
                .await?;
            super::test_crash(CREATE_TEST_CRASH, "made");
            let sent = self
                .retrying(|c| {
                    let (info, tree) = (created.group_info.clone(), created.ratchet_tree.clone());
                    async move {
                        c.room_create(RoomId(id.0), Bytes::from(info), Bytes::from(tree))
                            .await
                    }
                })
                .await;
            let ours = match &sent {
                Ok(_) => true,
                // The id is random, so a taken id is our own earlier attempt
                // whose answer the lost connection took; but the same
                // refusal means an open room has the name. The server knows
                // us in the room only in the first case.
                Err(e) if e.reason() == Some(ErrorReason::RoomExists) => {
                    let conn = self.connection().await?;
                    conn.room_state(RoomId(id.0)).await.is_ok()
                }
                Err(_) => false,
            };
            if !ours {
                // A room only we know would linger here, refusing every use.
                engine.run(move |en| en.forget_room(id)).await?;
                self.store(move |s| s.drop_room_create(id, None)).await?;
                return Err(sent.err().map_or_else(
                    || ClientError::RoomNameInUse(name.into()),
                    |e| e.name_in_use(name),
                ));
            }
            super::test_crash(CREATE_TEST_CRASH, "taken");
            self.record_creation(id, name, &rule.to_string(), false)
                .await?;
            self.room_info(&LocalRoom {
                id,
                name: name.into(),
            })
            .await
        })
        .await
    }

    /// Records the creation of `room` as `name` with `rule` (in words) as
    /// its history's first entry, with the room's name, and ends its note
    /// (`announce`: a crash cut it short, and the next `inbox` says it).
    /// The entry keeps the name the room was made with, whatever it is
    /// called later, and is never unread nor shown by `inbox` otherwise.
    async fn record_creation(
        &self,
        room: sealpost_rooms::RoomId,
        name: &str,
        rule: &str,
        announce: bool,
    ) -> Result<(), ClientError> {
        let change = RoomChange::Created {
            name: name.to_string(),
            rule: rule.to_string(),
        };
        let (entry, shown) = self.own_event_entry(room, name, change, announce)?;
        self.store(move |s| s.record_room_created(room, &entry, shown.as_ref()))
            .await?;
        Ok(())
    }

    /// Finishes the creations `creates` a crash (or a lost connection) cut
    /// short; see the module docs. The caller holds the rooms lock.
    ///
    /// # Errors
    /// The server, the key store or the engine's state file failed.
    pub(super) async fn finish_room_creates(
        &self,
        creates: Vec<RoomCreate>,
    ) -> Result<(), ClientError> {
        // Another process is creating: its note is in flight.
        let Some(_lock) = super::name_join::try_join_lock(&self.inner.config.home)? else {
            return Ok(());
        };
        for create in creates {
            let room = create.room;
            // The engine makes the room before anything is sent.
            let taken = self.engine_holds(room).await? && self.server_has_room(room).await?;
            if taken {
                tracing::info!("a room creation cut short after the server took it is recorded");
                self.record_creation(room, &create.name, &create.rule, true)
                    .await?;
            } else {
                tracing::info!("a room creation the server never took is forgotten");
                let engine = self.room_engine().await?;
                engine.run(move |en| en.forget_room(room)).await?;
                let notice = self.own_room_event(room, &create.name, RoomChange::CreateCutShort)?;
                self.store(move |s| s.drop_room_create(room, Some(&notice)))
                    .await?;
            }
        }
        Ok(())
    }

    /// Whether the server has `room` (with us in it: we made it).
    async fn server_has_room(&self, room: sealpost_rooms::RoomId) -> Result<bool, ClientError> {
        let state = self
            .retrying(|c| async move { c.room_state(RoomId(room.0)).await })
            .await;
        match state {
            Ok(_) => Ok(true),
            Err(e) if e.reason() == Some(ErrorReason::UnknownRoom) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
