//! A room welcome (type 5) in the inbox: join the room it invites us to
//! (`crate::rooms`), report it, and record the message as handled.

use protocol::v3::Delivery;

use super::Outcome;
use crate::client::Client;
use crate::error::ClientError;
use crate::event::{RoomChange, What};
use crate::keystore::PeerRecord;
use crate::rooms::Welcomed;

impl Client {
    pub(super) async fn on_welcome(
        &self,
        d: Delivery,
        peer: PeerRecord,
    ) -> Result<Outcome, ClientError> {
        let what = match self.join_room(d.content.clone()).await? {
            Welcomed::Joined { room, change } => Some(What::Room { room, change }),
            Welcomed::Already => None,
            Welcomed::Refused(error) => Some(What::Room {
                room: String::new(),
                change: RoomChange::Unreadable { error },
            }),
        };
        self.handled(&d, &peer, None, what).await
    }
}
