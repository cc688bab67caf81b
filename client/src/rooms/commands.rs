//! The room operations a person asks for: create, add, remove, promote,
//! leave, send, list (members: `members`). Each brings our rooms up to date first
//! ([`Client::room_sync`]: a commit or message must be made on the room's
//! current epoch), under the rooms lock, then acts.
//!
//! Users are named as for one-to-one messages and resolved the same way:
//! our pins are the authority, a user never met is pinned on first use, a
//! changed key or a name the server moved blocks adding them. Left out:
//! how results are printed (`crate::room_cli`).

use crate::advice::quote_word;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use protocol::{ClientId, ErrorReason, RoomId, UploadId};
use sealpost_rooms::{Role, RoomsError};
use serde::Serialize;

use super::behind::Attempts;
use super::state::LocalRoom;
use super::{engine_client_id, hex, wire_client_id};
use crate::client::Client;
use crate::error::{ClientError, RoomRefusal};
use crate::keystore::{Body, Conversation, Direction, NewEntry, Status};

/// Most members one commit adds (PROTOCOL.md "Quotas").
pub const MAX_ADDS_PER_COMMIT: usize = 100;

/// A room as `room list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RoomInfo {
    /// The room's name (escape before printing).
    pub name: String,
    /// Its id, 32 hex digits.
    pub id: String,
    /// How many members it has.
    pub members: usize,
    /// Our role: member, admin or owner.
    pub role: String,
    /// Its epoch (moves with every commit).
    pub epoch: u64,
    /// Who may join: invite-only, public or hidden.
    pub rule: String,
    /// The server no longer has us in it (deleted, or we were removed
    /// while away): `room leave` forgets it here.
    pub gone: bool,
    /// The server holds it at an older epoch than ours (restored from a
    /// backup made before it last changed: `super::behind`): our next
    /// message or change re-founds it there, unless it changed there since
    /// the restore; then `room leave` forgets it here.
    pub server_behind: bool,
    /// We asked to leave; another member's client has yet to commit it.
    pub leaving: bool,
}

/// What `room leave` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leaving {
    /// Asked to leave the room of this name; another member's client
    /// commits it.
    Asked(String),
    /// Asked before, and still waiting: nothing was sent again.
    AlreadyAsked(String),
    /// The server no longer had us in the room of this name: forgotten
    /// here.
    Forgotten(String),
    /// The server holds the room of this name at an older epoch than ours
    /// (restored from a backup), where no leave can be made: forgotten
    /// here.
    ServerBehind(String),
}

impl Client {
    /// Runs `f` with our rooms up to date, under the rooms lock.
    pub(super) async fn in_rooms<T>(
        &self,
        f: impl AsyncFnOnce() -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let _reading = self.inner.rooms.lock.lock().await;
        self.room_sync_locked().await?;
        f().await
    }

    /// Removes `user` from the room `name`.
    ///
    /// # Errors
    /// Unknown room, not a member, ours not the needed role, or refused.
    pub async fn room_remove(&self, name: &str, user: &str) -> Result<(), ClientError> {
        self.in_rooms(async || {
            let room = self.find_room(name).await?;
            let id = self.member_of(&room, user).await?;
            self.require_role(&room, Role::Admin, "remove members")
                .await?;
            let room_id = room.id;
            let client = engine_client_id(id);
            self.refuse_owner_target(&room, client, user, "removed")
                .await?;
            self.publish(room.id, move |e, _| {
                e.remove_members(room_id, &[client]).map(Some)
            })
            .await?;
            Ok(())
        })
        .await
    }

    /// Asks to leave the room `name`: another member's client commits it
    /// (MLS forbids committing one's own removal). A room the server no
    /// longer has us in (deleted, or we were removed while away, so no
    /// notice could reach us) is forgotten here instead: nothing is left to
    /// leave, and only the user's own command drops it.
    ///
    /// # Errors
    /// Unknown room, the only member, or the server refused.
    pub async fn room_leave(&self, name: &str) -> Result<Leaving, ClientError> {
        self.in_rooms(async || {
            let room = self.find_room(name).await?;
            let room_id = room.id;
            let engine = self.room_engine().await?;
            let conn = self.connection().await?;
            // Gone from the server, or held there at an older epoch than
            // ours (restored from a backup taken before the room last
            // changed: `super::behind`) and not to be re-founded: no leave
            // can be made there.
            let server_epoch = match conn.room_state(RoomId(room_id.0)).await {
                Err(e) if e.reason() == Some(ErrorReason::UnknownRoom) => None,
                Err(e) => return Err(e.into()),
                Ok(state) => Some(state.epoch),
            };
            let nothing_to_leave = match server_epoch {
                None => true,
                Some(epoch) => {
                    epoch < engine.run(move |en| en.epoch(room_id)).await?
                        && !self.refounded(room_id).await?
                }
            };
            if nothing_to_leave {
                engine.run(move |en| en.forget_room(room_id)).await?;
                return Ok(match server_epoch {
                    None => Leaving::Forgotten(room.name),
                    Some(_) => Leaving::ServerBehind(room.name),
                });
            }
            if engine
                .run(move |e| e.asked_to_leave())
                .await?
                .contains(&room_id)
            {
                return Ok(Leaving::AlreadyAsked(room.name));
            }
            if self.member_ids(&room).await?.len() < 2 {
                return Err(ClientError::room(
                    RoomRefusal::OnlyMember,
                    format!(
                        "you are the only member of #{}: nobody could complete your leave; \
                     delete the room instead (room delete {})",
                        room.name,
                        quote_word(&room.name)
                    ),
                ));
            }
            // The owner or the last admin, leaving no admin behind, would
            // leave a room nobody can moderate, open, add anyone to, or
            // delete.
            let me = engine_client_id(self.require_me()?.id);
            let members = engine.run(move |e| e.members(room_id)).await?;
            let my_role = members
                .iter()
                .find(|m| m.client_id == me)
                .map_or(Role::Member, |m| m.role);
            let admin_behind = members
                .iter()
                .any(|m| m.client_id != me && m.role >= Role::Admin);
            if my_role >= Role::Admin && !admin_behind {
                let why = if my_role == Role::Owner {
                    format!("you own #{} and no other member is an admin", room.name)
                } else {
                    format!("you are the last admin of #{}", room.name)
                };
                let or_delete = if my_role == Role::Owner {
                    format!(
                        ", or delete the room (room delete {})",
                        quote_word(&room.name)
                    )
                } else {
                    String::new()
                };
                return Err(ClientError::room(
                    RoomRefusal::LastAdmin,
                    format!(
                        "{why}, so nobody could manage it after you; \
                     promote one first (room promote {} NAME){or_delete}",
                        quote_word(&room.name)
                    ),
                ));
            }
            self.send_to_room(room.id, None, move |e| e.leave(room_id))
                .await?;
            Ok(Leaving::Asked(room.name))
        })
        .await
    }

    /// Sends `text` to the room `name`, encrypted once for every member;
    /// returns its place in the room's log.
    ///
    /// # Errors
    /// Unknown room, too long, or the server refused.
    pub async fn room_send(&self, name: &str, text: &str) -> Result<u64, ClientError> {
        let max = sealpost_rooms::incoming::MAX_PLAINTEXT_LEN;
        if text.len() > max {
            return Err(ClientError::TextTooLong {
                len: text.len(),
                max,
            });
        }
        self.in_rooms(async || {
            let room = self.find_room(name).await?;
            let room_id = room.id;
            // The typed content of PROTOCOL.md; only an empty text fails it.
            let plaintext = super::RoomContent::Text(text.to_string())
                .encode()
                .map_err(|_| ClientError::EmptyText)?;
            // The server's own limit on a message, checked once encrypted
            // and said in the text's bytes (as for a person's text).
            let limit = self.connection().await?.limits().max_message_len as usize;
            let sealed = Arc::new(AtomicUsize::new(0));
            let seen = sealed.clone();
            let sent = self
                .send_to_room(room.id, None, move |e| {
                    let message = e.send(room_id, &plaintext)?;
                    seen.store(message.len(), Ordering::Relaxed);
                    if message.len() > limit {
                        return Err(RoomsError::Limit("over the server's message limit"));
                    }
                    Ok(message)
                })
                .await;
            let sealed = sealed.load(Ordering::Relaxed);
            let seq = match sent {
                Err(ClientError::Room(RoomsError::Limit(_))) if sealed > limit => {
                    let overhead = sealed.saturating_sub(text.len());
                    return Err(ClientError::TextTooLong {
                        len: text.len(),
                        max: limit.saturating_sub(overhead),
                    });
                }
                other => other?,
            };
            let me = self.require_me()?.id;
            let entry = NewEntry {
                conversation: Conversation::room(room.id, room.name),
                direction: Direction::Out,
                sender: me,
                body: Body::Text { text: text.into() },
                sender_time_ms: None,
                server_time_ms: None,
                message_id: Some(seq),
                status: Status::Stored,
            };
            self.keep_sent_room_entry(room_id, entry).await?;
            Ok(seq)
        })
        .await
    }

    /// Sends a message `make` encrypts (a text, a file's announcement naming
    /// upload `file`, or a leave request) on the room's current epoch, again
    /// after reading the log when commits moved it meanwhile. The caller
    /// holds the rooms lock.
    pub(super) async fn send_to_room<F>(
        &self,
        room: sealpost_rooms::RoomId,
        file: Option<UploadId>,
        make: F,
    ) -> Result<u64, ClientError>
    where
        F: Fn(&sealpost_rooms::RoomEngine) -> Result<Vec<u8>, RoomsError>
            + Send
            + Sync
            + Clone
            + 'static,
    {
        let engine = self.room_engine().await?;
        let mut attempts = Attempts::new();
        while self.again(room, &mut attempts).await? {
            let make = make.clone();
            let (epoch, message) = engine.run(move |e| Ok((e.epoch(room)?, make(e)?))).await?;
            let conn = self.connection().await?;
            let (wire, message) = (RoomId(room.0), Bytes::from(message));
            let sent = match file {
                Some(file) => conn.room_send_file(wire, epoch, file, message).await,
                None => conn.room_send(wire, epoch, message).await,
            };
            match sent {
                Ok(seq) => return Ok(seq),
                Err(e) if e.reason() == Some(ErrorReason::StaleEpoch) => {
                    self.read_room_logs().await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(self.spent_retries(room).await)
    }

    /// Our rooms, by name.
    ///
    /// # Errors
    /// The server, the key store or the engine's state file failed.
    pub async fn room_list(&self) -> Result<Vec<RoomInfo>, ClientError> {
        self.in_rooms(async || {
            let conn = self.connection().await?;
            let on_server: std::collections::HashMap<RoomId, u64> = conn
                .room_list()
                .await?
                .iter()
                .map(|r| (r.room, r.epoch))
                .collect();
            let mut out = Vec::new();
            for room in self.local_rooms().await? {
                let mut info = self.room_info(&room).await?;
                match on_server.get(&RoomId(room.id.0)) {
                    None => info.gone = true,
                    Some(&epoch) => info.server_behind = epoch < info.epoch,
                }
                out.push(info);
            }
            out.sort_by_key(|r| r.name.to_lowercase());
            Ok(out)
        })
        .await
    }

    /// The names of our rooms (for the menu's completion).
    ///
    /// # Errors
    /// The engine's state file failed.
    pub async fn room_names(&self) -> Result<Vec<String>, ClientError> {
        Ok(self
            .local_rooms()
            .await?
            .into_iter()
            .map(|r| r.name)
            .collect())
    }

    pub(super) async fn room_info(&self, room: &LocalRoom) -> Result<RoomInfo, ClientError> {
        let engine = self.room_engine().await?;
        let me = engine_client_id(self.require_me()?.id);
        let id = room.id;
        let (members, epoch, access, leaving) = engine
            .run(move |e| {
                let leaving = e.asked_to_leave()?.contains(&id);
                Ok((e.members(id)?, e.epoch(id)?, e.access(id)?, leaving))
            })
            .await?;
        let role = members
            .iter()
            .find(|m| m.client_id == me)
            .map_or(Role::Member, |m| m.role);
        Ok(RoomInfo {
            name: room.name.clone(),
            id: hex(&room.id),
            members: members.len(),
            role: role.to_string(),
            epoch,
            rule: access.rule.to_string(),
            gone: false,
            server_behind: false,
            leaving,
        })
    }

    pub(super) async fn member_ids(&self, room: &LocalRoom) -> Result<Vec<ClientId>, ClientError> {
        let engine = self.room_engine().await?;
        let id = room.id;
        Ok(engine
            .run(move |e| e.members(id))
            .await?
            .into_iter()
            .map(|m| wire_client_id(m.client_id))
            .collect())
    }

    /// The member of `room` that `user` names: a pinned name or an id
    /// (never the server's word alone: every member is pinned).
    pub(super) async fn member_of(
        &self,
        room: &LocalRoom,
        user: &str,
    ) -> Result<ClientId, ClientError> {
        let who = user.to_string();
        let record = self
            .store(move |s| crate::contacts::find_pinned(s, &who))
            .await?;
        let me = self.require_me()?;
        let id = match record {
            Some(r) => r.client_id,
            None if me.name.as_str().eq_ignore_ascii_case(user) => me.id,
            None => {
                return Err(ClientError::room(
                    RoomRefusal::NotMember,
                    format!(
                        "nobody named {user:?} is pinned here, so nobody of that name is in #{}",
                        room.name
                    ),
                ));
            }
        };
        if id == me.id {
            return Err(ClientError::room(
                RoomRefusal::IsYou,
                format!("that is you; to leave #{}, use `room leave`", room.name),
            ));
        }
        if !self.member_ids(room).await?.contains(&id) {
            return Err(ClientError::room(
                RoomRefusal::NotMember,
                format!("{user} is not a member of #{}", room.name),
            ));
        }
        Ok(id)
    }

    /// Refuses, with a clear line, what our role in `room` does not allow.
    pub(super) async fn require_role(
        &self,
        room: &LocalRoom,
        needed: Role,
        action: &str,
    ) -> Result<(), ClientError> {
        let engine = self.room_engine().await?;
        let me = engine_client_id(self.require_me()?.id);
        let id = room.id;
        let role = engine.run(move |e| role_in(e, id, me)).await?;
        if role < needed {
            let (not, ask, why) = if needed == Role::Owner {
                ("its owner", "ask its owner", RoomRefusal::NotOwner)
            } else {
                (
                    "an admin",
                    "ask an admin or the owner",
                    RoomRefusal::NotAdmin,
                )
            };
            let article = if role == Role::Member { "a" } else { "an" };
            return Err(ClientError::room(
                why,
                format!(
                    "you are {article} {role} of #{}, not {not}, and may not {action}; {ask}",
                    room.name
                ),
            ));
        }
        Ok(())
    }

    /// Refuses, with a clear line, acting on `room`'s owner (`user`, whose
    /// engine id is `client`): nobody removes, bans or demotes an owner, and
    /// only an owner could. Without it the engine's own policy check refuses
    /// the commit in terms of client ids.
    pub(super) async fn refuse_owner_target(
        &self,
        room: &LocalRoom,
        client: sealpost_rooms::ClientId,
        user: &str,
        action: &str,
    ) -> Result<(), ClientError> {
        let engine = self.room_engine().await?;
        let id = room.id;
        if engine.run(move |e| role_in(e, id, client)).await? == Role::Owner {
            return Err(ClientError::room(
                RoomRefusal::IsOwner,
                format!(
                    "{user} is the owner of #{}, and a room's owner cannot be {action}",
                    room.name
                ),
            ));
        }
        Ok(())
    }
}

/// The role of `client` in `room` as our engine holds it (a plain member's
/// for one who is not in it).
pub(super) fn role_in(
    engine: &sealpost_rooms::RoomEngine,
    room: sealpost_rooms::RoomId,
    client: sealpost_rooms::ClientId,
) -> Result<Role, RoomsError> {
    Ok(engine
        .members(room)?
        .into_iter()
        .find(|m| m.client_id == client)
        .map_or(Role::Member, |m| m.role))
}
