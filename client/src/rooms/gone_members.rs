//! Members whose account the server no longer has: an operator removed it
//! (`server user remove`; an account deleted by its owner left every room
//! first). Its leaf stays in the room until an admin removes it, and every
//! invitation meanwhile names it: the invitee cannot pin a member the
//! server does not know, and refuses the whole welcome, while the room
//! counts it as a member. So `room add` removes such members first, in one
//! commit, and says so; `room members` marks them.

use std::collections::HashSet;

use protocol::ClientId;
use sealpost_rooms::Role;

use super::state::LocalRoom;
use super::wire_client_id;
use crate::client::Client;
use crate::error::{ClientError, RoomRefusal};

impl Client {
    /// The ids of the server's accounts, ours among them.
    ///
    /// # Errors
    /// The server failed.
    pub(crate) async fn account_ids(&self) -> Result<HashSet<ClientId>, ClientError> {
        let mut ids: HashSet<ClientId> = self.list().await?.into_iter().map(|(id, _)| id).collect();
        ids.insert(self.require_me()?.id);
        Ok(ids)
    }

    /// Removes the members of `room` whose account is gone from the server,
    /// in one commit (the caller is an admin and holds the rooms lock);
    /// their names, as pinned.
    ///
    /// # Errors
    /// The owner's account is gone (only an owner removes an owner, so
    /// nobody new can join), or the server refused.
    pub(crate) async fn remove_gone_members(
        &self,
        room: &LocalRoom,
    ) -> Result<Vec<String>, ClientError> {
        let accounts = self.account_ids().await?;
        let engine = self.room_engine().await?;
        let room_id = room.id;
        let members = engine.run(move |e| e.members(room_id)).await?;
        let gone: Vec<_> = members
            .into_iter()
            .filter(|m| !accounts.contains(&wire_client_id(m.client_id)))
            .collect();
        if gone.is_empty() {
            return Ok(Vec::new());
        }
        let mut names = Vec::with_capacity(gone.len());
        for m in &gone {
            names.push(self.member_name(wire_client_id(m.client_id)).await?);
        }
        if let Some(owner) = gone.iter().position(|m| m.role == Role::Owner) {
            return Err(ClientError::room(
                RoomRefusal::OwnerGone,
                format!(
                    "the account of #{}'s owner, {}, is gone from this server, and only an owner \
                 may remove an owner: nobody new could read the room; create another",
                    room.name, names[owner]
                ),
            ));
        }
        let clients: Vec<_> = gone.iter().map(|m| m.client_id).collect();
        self.publish(room_id, move |e, _| {
            e.remove_members(room_id, &clients).map(Some)
        })
        .await?;
        Ok(names)
    }
}
