//! A room deleted by its owner (type 6) in the inbox: open and check the
//! notice (`crate::rooms`), report it, and record the message as handled.

use protocol::v3::Delivery;

use super::Outcome;
use crate::client::Client;
use crate::error::ClientError;
use crate::event::{RoomChange, What};
use crate::keystore::PeerRecord;
use crate::rooms::Deleted;

impl Client {
    pub(super) async fn on_room_deleted(
        &self,
        d: Delivery,
        peer: PeerRecord,
    ) -> Result<Outcome, ClientError> {
        let what = match self.room_deleted(d.content.clone()).await? {
            // The line names the inbox sender: it must be the owner MLS
            // names, or a server could show someone else as the deleter.
            Deleted::Deleted {
                room,
                room_id,
                owner,
            } if owner == d.sender => Some(What::Room {
                room,
                room_id,
                change: RoomChange::Deleted,
            }),
            Deleted::Deleted { room, .. } => Some(What::Room {
                room: String::new(),
                room_id: String::new(),
                change: RoomChange::DeleteRefused {
                    error: format!(
                        "#{room} was deleted by its owner, but the server names another sender"
                    ),
                },
            }),
            Deleted::Unchecked { room, room_id } => Some(What::Room {
                room,
                room_id,
                change: RoomChange::DeletedUnchecked,
            }),
            Deleted::Unknown => None,
            Deleted::Refused(error) => Some(What::Room {
                room: String::new(),
                room_id: String::new(),
                change: RoomChange::DeleteRefused { error },
            }),
        };
        self.handled(&d, &peer, None, what).await
    }
}
