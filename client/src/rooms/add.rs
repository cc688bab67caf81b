//! Adding members to a room (`room add`): admins only, at most
//! [`MAX_ADDS_PER_COMMIT`] per commit, each new member's key package
//! claimed from the server and checked against our pins. While the
//! server says members' accounts are gone, it refuses, naming them
//! (`gone_members.rs`), and a banned user is refused by name before
//! anything is claimed.

use crate::advice::quote_word;
use protocol::ClientId;
use protocol::v3::ClaimStatus;
use sealpost_rooms::{MAX_ROOM_MEMBERS, Role, RoomsError};

use super::commands::MAX_ADDS_PER_COMMIT;
use super::engine_client_id;
use crate::client::Client;
use crate::error::{ClientError, RoomRefusal, RoomUserAction};

/// What `room add` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// The users added, as named.
    pub added: Vec<String>,
}

impl Client {
    /// Adds `users` to the room `name`, at most [`MAX_ADDS_PER_COMMIT`] per
    /// commit.
    ///
    /// # Errors
    /// Unknown room or user, a user already in it, ours not an admin's
    /// role, members whose account the server says is gone
    /// (`gone_members.rs`: their leaves would make every invitee refuse the
    /// invitation), no key package for a user, or the server refused.
    pub async fn room_add(&self, name: &str, users: &[String]) -> Result<Added, ClientError> {
        let mut peers = Vec::new();
        for u in users {
            let record = match self.peer_for_sending(u).await {
                Err(ClientError::SendToSelf(_)) => {
                    return Err(ClientError::room(
                        RoomRefusal::IsYou,
                        format!("{u} is you: only others can be added to a room"),
                    ));
                }
                Err(e) => return Err(self.in_room_named(e, name, RoomUserAction::Add).await),
                Ok(found) => found,
            };
            if !peers.iter().any(|(id, _)| *id == record.client_id) {
                peers.push((record.client_id, u.clone()));
            }
        }
        self.in_rooms(async || {
            let room = self.find_room(name).await?;
            let members = self.member_ids(&room).await?;
            self.require_role(&room, Role::Admin, "add members").await?;
            for (id, who) in &peers {
                if members.contains(id) {
                    // Listed yet maybe unable to read: a restored home
                    // (which joins again by itself), or an invitation its
                    // client refused. Adding again takes a removal first.
                    let r = &room.name;
                    let (qr, qwho) = (quote_word(r), quote_word(who));
                    return Err(ClientError::room(
                        RoomRefusal::AlreadyMember,
                        format!(
                            "{who} is already a member of #{r}; a home of {who}'s restored from \
                             a backup gets back in with `room join {qr}`; if {who}'s client \
                             cannot read it otherwise (it refused the invitation, or the backup \
                             predates the room key), remove and add {who} again: \
                             client room remove {qr} {qwho}"
                        ),
                    ));
                }
            }
            if members.len() + peers.len() > MAX_ROOM_MEMBERS {
                return Err(RoomsError::Limit("a room holds at most 1,000 members").into());
            }
            // A banned user's key package would be refused by the room's
            // rules, naming an id: said here by name, with the way out.
            let room_id = room.id;
            let engine = self.room_engine().await?;
            let access = engine.run(move |e| e.access(room_id)).await?;
            if let Some((_, who)) = peers
                .iter()
                .find(|(id, _)| access.is_banned(&engine_client_id(*id)))
            {
                return Err(ClientError::room(
                    RoomRefusal::Banned,
                    format!(
                        "{who} is banned from #{}; lift the ban first (room unban {} {})",
                        room.name,
                        quote_word(&room.name),
                        quote_word(who)
                    ),
                ));
            }
            self.refuse_gone_members(&room).await?;
            let mut added = Vec::new();
            for chunk in peers.chunks(MAX_ADDS_PER_COMMIT) {
                let ids: Vec<ClientId> = chunk.iter().map(|(id, _)| *id).collect();
                let claimed = self
                    .retrying(|c| {
                        let ids = ids.clone();
                        async move { c.claim_key_packages(ids).await }
                    })
                    .await?;
                let mut packages = Vec::new();
                for ((_, who), k) in chunk.iter().zip(&claimed) {
                    if k.status == ClaimStatus::None || k.key_package.is_empty() {
                        return Err(ClientError::NoKeyPackage(who.clone()));
                    }
                    packages.push(k.key_package.to_vec());
                }
                let room_id = room.id;
                self.publish(room.id, move |e, book| {
                    e.add_members(room_id, &packages, book).map(Some)
                })
                .await?;
                added.extend(chunk.iter().map(|(_, who)| who.clone()));
            }
            Ok(Added { added })
        })
        .await
    }
}
