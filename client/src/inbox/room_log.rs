//! Room events for `inbox` and `watch`: the rooms' logs are read (and our
//! rooms brought up to date), then what was read and not shown yet, by this
//! run or by a room command before it, is returned as [`Event`]s in the
//! order it was read.

use protocol::ClientId;

use crate::client::Client;
use crate::error::ClientError;
use crate::event::{Event, What, names_of};

impl Client {
    /// Reads the rooms' logs; returns every room event not shown yet.
    ///
    /// # Errors
    /// The server, the key store or the engine's state file failed.
    pub async fn room_inbox(&self) -> Result<Vec<Event>, ClientError> {
        self.room_sync().await?;
        self.shown_room_events().await
    }

    /// The room events read and not shown yet, as events (taken: each is
    /// returned once).
    pub(crate) async fn shown_room_events(&self) -> Result<Vec<Event>, ClientError> {
        let me = self.require_me()?;
        let queued = self.take_room_events().await?;
        let mut events = Vec::with_capacity(queued.len());
        for e in queued {
            let from: ClientId = e.from.parse().unwrap_or(ClientId::NIL);
            // Our own name for a script, with `from_you`; a person reads
            // "you" (`output::sender`).
            let from_you = from == me.id;
            let (from_name, server_name) = if from_you {
                (Some(me.name.as_str().to_string()), None)
            } else {
                let peer = self.store(move |s| s.peer(from)).await?;
                names_of(peer.as_ref())
            };
            events.push(Event {
                message_id: e.seq,
                from,
                from_name,
                from_you,
                server_name,
                sent_at_ms: e.sent_at_ms,
                sender_time_ms: None,
                what: What::Room {
                    room: e.room,
                    room_id: e.room_id,
                    change: e.change,
                },
            });
        }
        Ok(events)
    }
}
