//! Moderating a room (admins and the owner): ban and unban, promote and
//! demote, rename. Kick is `room_remove` (`commands`). Each is one
//! commit the engine makes only if our role allows it, and every member's
//! engine and the server check again (`sealpost_rooms::policy`).
//!
//! A user to ban need not be a member (a ban keeps them out before they
//! join): they are named as for one-to-one messages and pinned the same way.

use sealpost_rooms::Role;

use super::commands::role_in;
use super::engine_client_id;
use super::naming::new_room_name;
use super::state::LocalRoom;
use crate::client::Client;
use crate::error::{ClientError, RoomRefusal, RoomUserAction};

impl Client {
    /// Bans (`true`) or unbans `user` in the room `name`; a banned member is
    /// removed in the same commit. Whether `user` was a member: a ban of
    /// one who is not keeps them out, and the line says which it was.
    ///
    /// # Errors
    /// Unknown room or user, ourselves, ours not an admin's role, or
    /// refused.
    pub async fn room_ban(
        &self,
        name: &str,
        user: &str,
        banned: bool,
    ) -> Result<bool, ClientError> {
        // Pins a user met for the first time (before the rooms lock, as
        // `room add` does).
        let record = match self.peer_for_sending(user).await {
            Err(ClientError::SendToSelf(_)) => {
                // Not the one-to-one "no note to self": name the room.
                return self
                    .in_rooms(async || {
                        let room = self.find_room(name).await?;
                        let why = if banned {
                            format!(
                                "you cannot ban yourself from #{} (to leave it, use `room leave`)",
                                room.name
                            )
                        } else {
                            format!("you are in #{0}, so you are not banned from it", room.name)
                        };
                        Err(ClientError::room(
                            RoomRefusal::IsYou,
                            format!("that is you; {why}"),
                        ))
                    })
                    .await;
            }
            Err(e) => {
                let action = if banned {
                    RoomUserAction::Ban
                } else {
                    RoomUserAction::Unban
                };
                return Err(self.in_room_named(e, name, action).await);
            }
            Ok(found) => found,
        };
        let client = engine_client_id(record.client_id);
        self.in_rooms(async || {
            let room = self.find_room(name).await?;
            let was_member = self.member_ids(&room).await?.contains(&record.client_id);
            let action = if banned { "ban users" } else { "lift bans" };
            self.require_role(&room, Role::Admin, action).await?;
            if banned {
                self.refuse_owner_target(&room, client, user, "banned")
                    .await?;
            }
            let room_id = room.id;
            let changed = self
                .publish(room.id, move |e, _| {
                    if e.access(room_id)?.is_banned(&client) == banned {
                        return Ok(None);
                    }
                    e.set_banned(room_id, client, banned).map(Some)
                })
                .await?;
            if changed.is_none() {
                let state = if banned { "already" } else { "not" };
                return Err(ClientError::room(
                    RoomRefusal::Unchanged,
                    format!("{user} is {state} banned from #{}", room.name),
                ));
            }
            Ok(was_member)
        })
        .await
    }

    /// `e`, a failure to find the user a room command on the room `name`
    /// is about, naming the room when the server does not know the user (a
    /// person with several rooms open needs to know which command failed);
    /// the room's own failure when `name` names none of ours.
    pub(super) async fn in_room_named(
        &self,
        e: ClientError,
        name: &str,
        action: RoomUserAction,
    ) -> ClientError {
        let ClientError::UnknownPeer(who) = e else {
            return e;
        };
        match self.find_room(name).await {
            Ok(room) => ClientError::UnknownPeerInRoom {
                who,
                room: room.name,
                action,
            },
            Err(no_room) => no_room,
        }
    }

    /// Makes `user` an admin of the room `name`.
    ///
    /// # Errors
    /// Unknown room, not a member, already an admin, ours not an admin's
    /// role, or refused.
    pub async fn room_promote(&self, name: &str, user: &str) -> Result<(), ClientError> {
        self.set_member_role(name, user, Role::Admin).await
    }

    /// Makes the admin `user` a plain member of the room `name`.
    ///
    /// # Errors
    /// Unknown room, not a member, not an admin, ours not the needed role,
    /// or refused.
    pub async fn room_demote(&self, name: &str, user: &str) -> Result<(), ClientError> {
        self.set_member_role(name, user, Role::Member).await
    }

    /// Gives the member `user` of the room `name` the role `to` (admin or
    /// plain member); a role they have already is refused, not committed.
    async fn set_member_role(&self, name: &str, user: &str, to: Role) -> Result<(), ClientError> {
        let (action, already) = if to == Role::Admin {
            ("make admins", "is already an admin of")
        } else {
            ("demote admins", "is not an admin of")
        };
        self.in_rooms(async || {
            let room = self.find_room(name).await?;
            let me = self.require_me()?;
            if me.name.as_str().eq_ignore_ascii_case(user) {
                let engine = self.room_engine().await?;
                let (room_id, client) = (room.id, engine_client_id(me.id));
                let mine = engine.run(move |e| role_in(e, room_id, client)).await?;
                let (you, why) = match mine {
                    Role::Owner => ("the owner", "the owner's role does not change"),
                    Role::Admin => ("an admin", "another admin or the owner changes your role"),
                    Role::Member => ("a member", "an admin or the owner changes your role"),
                };
                return Err(ClientError::room(
                    RoomRefusal::IsYou,
                    format!("that is you, {you} of #{}; {why}", room.name),
                ));
            }
            let id = self.member_of(&room, user).await?;
            self.require_role(&room, Role::Admin, action).await?;
            let room_id = room.id;
            let client = engine_client_id(id);
            let owner_action = if to == Role::Admin {
                "made an admin (the owner has every right an admin has)"
            } else {
                "demoted"
            };
            self.refuse_owner_target(&room, client, user, owner_action)
                .await?;
            let changed = self
                .publish(room.id, move |e, _| {
                    let now = role_in(e, room_id, client)?;
                    if now == to {
                        return Ok(None);
                    }
                    e.set_role(room_id, client, to).map(Some)
                })
                .await?;
            if changed.is_none() {
                return Err(ClientError::room(
                    RoomRefusal::Unchanged,
                    format!("{user} {already} #{}", room.name),
                ));
            }
            Ok(())
        })
        .await
    }

    /// Renames the room `name` to `new`; the room as it was (its id and
    /// old name).
    ///
    /// # Errors
    /// A bad name, unknown room, a room of the new name here already, ours
    /// not an admin's role, or refused (another public or hidden room has
    /// the name: `ROOM_EXISTS`).
    pub async fn room_rename(&self, name: &str, new: &str) -> Result<LocalRoom, ClientError> {
        let new_name = new_room_name(new)?;
        // `#NAME` is NAME here as in every room command.
        let new = &new_name.as_str().to_owned();
        self.in_rooms(async || {
            let room = self.find_room(name).await?;
            // Any other room of ours of that name (one, or several).
            if !new.eq_ignore_ascii_case(&room.name)
                && let Some(held) = self
                    .local_rooms()
                    .await?
                    .into_iter()
                    .find(|r| r.name.eq_ignore_ascii_case(new))
            {
                return Err(ClientError::RoomNameTaken(held.name));
            }
            if *new == room.name {
                return Err(ClientError::room(
                    RoomRefusal::Unchanged,
                    format!("#{} is already named so", room.name),
                ));
            }
            self.require_role(&room, Role::Admin, "rename the room")
                .await?;
            let room_id = room.id;
            self.publish(room.id, move |e, _| e.rename(room_id, &new_name).map(Some))
                .await
                .map_err(|e| e.name_in_use(new))?;
            Ok(room)
        })
        .await
    }
}
