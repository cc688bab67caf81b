//! A room welcome (type 5) in the inbox: join the room it invites us to
//! (`crate::rooms`), report it, and record the message as handled; one we
//! cannot use is reported and its sender told (a refusal notice). A room
//! command naming a room we are not in yet joins the rooms whose welcomes
//! wait, leaving the rest of the inbox for `inbox`.

use protocol::MessageKind;
use protocol::v3::Delivery;
use tokio_util::sync::CancellationToken;

use super::Outcome;
use crate::client::Client;
use crate::error::ClientError;
use crate::event::Event;
use crate::event::{RoomChange, What};
use crate::keystore::PeerRecord;
use crate::rooms::Welcomed;

impl Client {
    pub(super) async fn on_welcome(
        &self,
        d: Delivery,
        peer: PeerRecord,
    ) -> Result<Outcome, ClientError> {
        let (what, refusal) = match self
            .join_room(d.content.clone(), d.message_id, d.sender, d.sent_at_ms)
            .await?
        {
            Welcomed::Joined {
                room,
                room_id,
                change,
            } => (
                Some(What::Room {
                    room,
                    room_id,
                    change,
                }),
                None,
            ),
            Welcomed::Already => (None, None),
            Welcomed::Refused { error, reason } => (
                Some(What::Room {
                    room: String::new(),
                    room_id: String::new(),
                    change: RoomChange::Unreadable { error },
                }),
                Some(reason),
            ),
        };
        let outcome = self.handled(&d, &peer, None, what).await?;
        // Recorded first: a crash now loses the notice, never repeats it;
        // and nothing is sent when another process of this home handled it.
        if let Some(reason) = refusal
            && !outcome.events.is_empty()
        {
            // The admin who added us would otherwise list us as a member
            // who never joined (PROTOCOL.md "A refused room invitation").
            self.send_refusal_for(&d, &peer, reason).await;
        }
        Ok(outcome)
    }

    /// Handles the room welcomes among the first messages waiting (a page:
    /// [`Client::inbox`] reads further by removing what it handled) and
    /// nothing else, so that a command naming a room we were just added to
    /// finds it; the other messages wait, in order, for `inbox`. Returns
    /// what the welcomes came to (joins, or why one could not be used; a
    /// welcome that failed stays on the server for `inbox` to report).
    /// Nothing, without asking the server, while another task of this
    /// client receives: that one handles the welcomes as they come.
    ///
    /// # Errors
    /// The server or the key store failed.
    pub(crate) async fn join_waiting_rooms(&self) -> Result<Vec<Event>, ClientError> {
        let Ok(_receiving) = self.inner.receiving.try_lock() else {
            return Ok(Vec::new());
        };
        let batch = self.retrying(|c| async move { c.pull(0).await }).await?;
        let (mut events, mut acks) = (Vec::new(), Vec::new());
        for d in batch.messages {
            if d.kind != MessageKind::RoomWelcome {
                continue;
            }
            let id = d.message_id;
            let outcome = self.handle_or_keep(d, &CancellationToken::new()).await?;
            if outcome.ack {
                acks.push(id);
            }
            events.extend(
                outcome
                    .events
                    .into_iter()
                    .filter(|e| matches!(e.what, What::Room { .. })),
            );
        }
        self.acknowledge(acks).await?;
        Ok(events)
    }
}
