//! Members whose account the server no longer has: an operator removed it
//! (`server user remove`; an account deleted by its owner left every room
//! first). Its leaf stays in the room until an admin removes it, and every
//! invitation meanwhile names it: the invitee cannot pin a member the
//! server does not know, and refuses the whole welcome, while the room
//! counts it as a member. So `room add` refuses while the server says such
//! members are in the room, naming them, and `room members` marks them. It
//! removes no one itself: "gone" is only the server's word, and a server
//! that left someone out of its list would otherwise have an admin's
//! client remove them from the room under the admin's name.

use crate::advice::quote_word;
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

    /// Refuses to go on while the server says members of `room` have no
    /// account: an invitation naming them would be refused, and only the
    /// admin, not the server, decides that they are gone.
    ///
    /// # Errors
    /// [`RoomRefusal::MembersGone`] naming them (with the command that
    /// removes each), [`RoomRefusal::OwnerGone`] if the owner is among them
    /// (only an owner removes an owner, so nobody new can join), or the
    /// server failed.
    pub(crate) async fn refuse_gone_members(&self, room: &LocalRoom) -> Result<(), ClientError> {
        let accounts = self.account_ids().await?;
        let engine = self.room_engine().await?;
        let room_id = room.id;
        let members = engine.run(move |e| e.members(room_id)).await?;
        let gone: Vec<_> = members
            .into_iter()
            .filter(|m| !accounts.contains(&wire_client_id(m.client_id)))
            .collect();
        if gone.is_empty() {
            return Ok(());
        }
        let mut names = Vec::with_capacity(gone.len());
        for m in &gone {
            names.push(self.member_name(wire_client_id(m.client_id)).await?);
        }
        let r = &room.name;
        if let Some(owner) = gone.iter().position(|m| m.role == Role::Owner) {
            return Err(ClientError::room(
                RoomRefusal::OwnerGone,
                format!(
                    "the account of #{r}'s owner, {}, is gone from this server, and only an owner \
                 may remove an owner: nobody new could read the room; create another",
                    names[owner]
                ),
            ));
        }
        let removes: Vec<String> = names
            .iter()
            .map(|n| format!("client room remove {} {}", quote_word(r), quote_word(n)))
            .collect();
        let said = match names.as_slice() {
            [one] => format!(
                "the account of {one}, a member, is gone, and a new member's client refuses an \
                 invitation naming a member the server does not know; if it is gone, remove \
                 {one} first"
            ),
            many => format!(
                "the accounts of {}, members, are gone, and a new member's client refuses an \
                 invitation naming members the server does not know; if they are gone, remove \
                 each first",
                many.join(", ")
            ),
        };
        Err(ClientError::room(
            RoomRefusal::MembersGone,
            format!(
                "cannot add to #{r} yet: the server says {said} ({}), then add again",
                removes.join("; ")
            ),
        ))
    }
}
