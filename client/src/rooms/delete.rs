//! Deleting a room for everyone (its owner; an admin once the owner left;
//! its only member: `sealpost_rooms::may_delete`, PROTOCOL.md "Deleting
//! (145)"): the deletion notice is a private room message of kind 3,
//! encrypted at the room's current epoch, that the server stores for each
//! other member in the same transaction that deletes the room. The members'
//! clients believe it only if their own state lets its sender delete the
//! room (`deleted.rs`); here we check ours before sending anything.

use bytes::Bytes;
use protocol::{ErrorReason, RoomId};
use sealpost_rooms::Role;

use super::behind::Attempts;
use super::content::RoomContent;
use super::event::RoomChange;
use crate::client::Client;
use crate::error::{ClientError, RoomRefusal};

impl Client {
    /// Deletes the room `name` for every member and forgets it here;
    /// returns its name as we knew it and how many other members it had.
    ///
    /// # Errors
    /// Unknown room, not ours to delete, or the server refused.
    pub async fn room_delete(&self, name: &str) -> Result<(String, usize), ClientError> {
        self.in_rooms(async || {
            let room = self.find_room(name).await?;
            let (room_id, engine) = (room.id, self.room_engine().await?);
            let me = super::engine_client_id(self.require_me()?.id);
            let members = engine.run(move |e| e.members(room_id)).await?;
            if !sealpost_rooms::may_delete(&members, me) {
                // The owner, when there is one, else an admin.
                let (who, why) = if members.iter().any(|m| m.role == Role::Owner) {
                    ("its owner", RoomRefusal::NotOwner)
                } else {
                    ("an admin", RoomRefusal::NotAdmin)
                };
                return Err(ClientError::room(
                    why,
                    format!(
                        "only {who} may delete #{} (or its only member); ask {who}",
                        room.name
                    ),
                ));
            }
            let content = RoomContent::Deleted
                .encode()
                .map_err(|_| ClientError::room(RoomRefusal::Failed, "cannot encode a deletion"))?;
            let mut attempts = Attempts::new();
            while self.again(room_id, &mut attempts).await? {
                let content = content.clone();
                let (epoch, notice) = engine
                    .run(move |e| Ok((e.epoch(room_id)?, e.send(room_id, &content)?)))
                    .await?;
                let conn = self.connection().await?;
                match conn
                    .room_delete(RoomId(room_id.0), epoch, Bytes::from(notice))
                    .await
                {
                    Ok(()) => {
                        // Our history says so, as the other members' does
                        // (`— you deleted the room —`), before the engine
                        // forgets the room: killed in between, the room is
                        // found gone on its next use.
                        let (entry, _) =
                            self.own_event_entry(room_id, &room.name, RoomChange::Deleted, false)?;
                        self.store(move |s| s.add_history(&entry)).await?;
                        engine.run(move |e| e.forget_room(room_id)).await?;
                        return Ok((room.name, members.len().saturating_sub(1)));
                    }
                    // A commit moved the room meanwhile: read it, encrypt again.
                    Err(e) if e.reason() == Some(ErrorReason::StaleEpoch) => {
                        self.read_room_logs().await?;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Err(self.spent_retries(room_id).await)
        })
        .await
    }
}
