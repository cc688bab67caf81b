//! A room deleted by its owner (or an admin once the owner left; a type-6
//! message in the inbox, PROTOCOL.md "Deleting (145)"): the notice is
//! opened with our own copy of the room, and believed only if MLS says its
//! sender may delete the room by our own roles
//! (`sealpost_rooms::may_delete`), never on the server's word; then the
//! room is forgotten.

use bytes::Bytes;
use protocol::ErrorReason;
use protocol::v3::RoomNotice;
use sealpost_rooms::Incoming;

use super::content::RoomContent;
use super::{engine_room_id, wire_client_id};
use crate::client::Client;
use crate::error::ClientError;

/// What a deletion notice came to.
#[derive(Debug)]
pub enum Deleted {
    /// The owner deleted `room`; we forgot it.
    Deleted {
        /// The room's name.
        room: String,
        /// The room's id, 32 hex digits.
        room_id: String,
        /// The owner (verified by the room's MLS state).
        owner: protocol::ClientId,
    },
    /// A notice of `room` that did not open here (sent in an epoch we never
    /// reached), while the server no longer has us in the room: kept, for
    /// the user to forget.
    Unchecked {
        /// The room's name.
        room: String,
        /// The room's id, 32 hex digits.
        room_id: String,
    },
    /// A room we do not have (never joined, or already forgotten).
    Unknown,
    /// Not a deletion notice of the room's owner: why, in one line.
    Refused(String),
}

impl Client {
    /// Opens a type-6 content and forgets the room if its owner sent it.
    ///
    /// # Errors
    /// The key store or the engine's state file failed.
    pub(crate) async fn room_deleted(&self, content: Bytes) -> Result<Deleted, ClientError> {
        let notice = match RoomNotice::decode(content) {
            Ok(n) => n,
            Err(e) => return Ok(Deleted::Refused(format!("a malformed room notice ({e})"))),
        };
        let _reading = self.inner.rooms.lock.lock().await;
        let room = engine_room_id(notice.room);
        let engine = self.room_engine().await?;
        if !engine
            .run(move |en| en.is_member(room))
            .await
            .unwrap_or(false)
        {
            return Ok(Deleted::Unknown);
        }
        let name = engine
            .run(move |en| en.name(room))
            .await?
            .map(|n| n.as_str().to_string())
            .unwrap_or_else(|| super::hex(&room));
        let bytes = notice.notice;
        let opened = self
            .with_pins(move |en, book| en.process(&bytes, book))
            .await;
        let (sender, plaintext) = match opened {
            Ok(Incoming::Message {
                room: r,
                sender,
                plaintext,
            }) if r == room => (sender, plaintext),
            Ok(_) => {
                return Ok(Deleted::Refused(format!(
                    "a deletion notice for #{name} that is not a message of the room"
                )));
            }
            Err(err) => {
                let err = super::refused(err)?;
                // Behind on the room's epochs, we cannot open the owner's
                // notice (its log is gone with the room); whether the
                // server still has us in it is only worth saying.
                let conn = self.connection().await?;
                if conn
                    .room_state(notice.room)
                    .await
                    .err()
                    .and_then(|e| e.reason())
                    == Some(ErrorReason::UnknownRoom)
                {
                    return Ok(Deleted::Unchecked {
                        room: name,
                        room_id: super::hex(&room),
                    });
                }
                return Ok(Deleted::Refused(format!(
                    "a deletion notice for #{name} that does not open: {}",
                    crate::repl::explain::client_error(&err, &[])
                )));
            }
        };
        if !matches!(RoomContent::decode(&plaintext), Ok(RoomContent::Deleted)) {
            return Ok(Deleted::Refused(format!(
                "a notice for #{name} that is not a deletion"
            )));
        }
        let members = engine.run(move |en| en.members(room)).await?;
        if !sealpost_rooms::may_delete(&members, sender) {
            return Ok(Deleted::Refused(format!(
                "a deletion notice for #{name} from a member who may not delete it"
            )));
        }
        engine.run(move |en| en.forget_room(room)).await?;
        Ok(Deleted::Deleted {
            room: name,
            room_id: super::hex(&room),
            owner: wire_client_id(sender),
        })
    }
}
