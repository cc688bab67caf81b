//! A refusal notice for one of our room welcomes (type 5, PROTOCOL.md "A
//! refused room invitation"): the added member's client could not use the
//! invitation our commit made, so the room lists them while they read
//! nothing of it. The notice names the room (we never learn a welcome's
//! message id); the refuser is whoever sealed it.

use super::event::RoomChange;
use super::{engine_client_id, hex};
use crate::client::Client;
use crate::crypto::Refusal;
use crate::error::ClientError;
use crate::event::What;
use crate::keystore::{Conversation, PeerRecord};

impl Client {
    /// What `peer`'s refusal of our welcome to the room `refusal` names
    /// comes to: the room by name, whether we are still in it and whether
    /// it still lists `peer`. A room we are no longer in (left, deleted,
    /// or removed from) is named as its history last knew it, else by its
    /// id.
    ///
    /// # Errors
    /// The engine's state file or the key store failed.
    pub(crate) async fn invitation_refused(
        &self,
        peer: &PeerRecord,
        refusal: &Refusal,
    ) -> Result<What, ClientError> {
        let room = sealpost_rooms::RoomId(*refusal.sid.as_bytes());
        let member = engine_client_id(peer.client_id);
        let engine = self.room_engine().await?;
        let (name, in_room, listed) = engine
            .run(move |en| {
                if !en.rooms()?.contains(&room) {
                    return Ok((None, false, false));
                }
                let name = en.name(room)?.map(|n| n.as_str().to_string());
                if !en.is_member(room)? {
                    // Removed: the group's last state is not the room's now.
                    return Ok((name, false, false));
                }
                let listed = en.members(room)?.iter().any(|m| m.client_id == member);
                Ok((name, true, listed))
            })
            .await?;
        let name = match name {
            Some(name) => name,
            None => {
                let id = hex(&room);
                match self.store(move |s| s.room_in_history(&id)).await? {
                    Some(Conversation::Room { name, .. }) => name,
                    _ => hex(&room),
                }
            }
        };
        let member_name = self.member_name(peer.client_id).await?;
        Ok(What::Room {
            room: name,
            room_id: hex(&room),
            change: RoomChange::InvitationRefused {
                member: member_name,
                reason: refusal.reason,
                listed,
                in_room,
            },
        })
    }
}
