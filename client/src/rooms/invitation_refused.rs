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
use crate::keystore::PeerRecord;

impl Client {
    /// What `peer`'s refusal of our welcome to the room `refusal` names
    /// comes to: the room by name and whether it still lists `peer`; a
    /// room this home does not hold (left, forgotten, or never ours) by
    /// its id alone.
    ///
    /// # Errors
    /// The engine's state file failed.
    pub(crate) async fn invitation_refused(
        &self,
        peer: &PeerRecord,
        refusal: &Refusal,
    ) -> Result<What, ClientError> {
        let room = sealpost_rooms::RoomId(*refusal.sid.as_bytes());
        let member = engine_client_id(peer.client_id);
        let engine = self.room_engine().await?;
        let known = engine
            .run(move |en| {
                if !en.rooms()?.contains(&room) || !en.is_member(room)? {
                    return Ok(None);
                }
                let name = en.name(room)?.map(|n| n.as_str().to_string());
                let listed = en.members(room)?.iter().any(|m| m.client_id == member);
                Ok(Some((name.unwrap_or_else(|| hex(&room)), listed)))
            })
            .await?;
        let id = peer.client_id;
        let member_name = self.member_name(id).await?;
        let (room_name, listed) = known.unwrap_or_default();
        Ok(What::Room {
            room: room_name,
            room_id: hex(&room),
            change: RoomChange::InvitationRefused {
                member: member_name,
                reason: refusal.reason,
                listed,
            },
        })
    }
}
