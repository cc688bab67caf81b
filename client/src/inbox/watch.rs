//! Receiving as the server pushes: [`Client::watch`] stays connected,
//! reconnects after a lost connection, and handles and acknowledges each
//! batch of deliveries as it comes.
//!
//! Left out: what handling a delivery does ([`super::handle`]).

use std::sync::Arc;

use protocol::v3::PresenceChanges;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::connection::{Connection, ConnectionError, PushQueue, Pushed, RoomPush};
use crate::crypto::ReceiptKind;
use crate::error::ClientError;
use crate::event::Event;
use crate::link::Link;

/// How often [`Client::watch_through_impostors`] tries again while
/// another server answers at the address.
pub const IMPOSTOR_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

impl Client {
    /// Stays connected and handles messages as the server pushes them,
    /// sending what happened to `events`, until `stop` fires or `events` is
    /// dropped. Reconnects after a lost connection.
    ///
    /// # Errors
    /// Not registered, the server's key changed, or the key store failed.
    pub async fn watch(
        &self,
        events: mpsc::UnboundedSender<Event>,
        stop: CancellationToken,
    ) -> Result<(), ClientError> {
        for e in self.housekeeping().await? {
            if events.send(e).is_err() {
                return Ok(());
            }
        }
        let mut failures = 0u32;
        while !stop.is_cancelled() {
            let conn = match self.connection().await {
                Ok(c) => c,
                // Trying again changes none of these.
                Err(
                    e @ (ClientError::ServerKeyChanged { .. }
                    | ClientError::NotRegistered(_)
                    | ClientError::AccountGone { .. }
                    | ClientError::OtherServer { .. }),
                ) => {
                    return Err(e);
                }
                Err(e) => {
                    failures += 1;
                    tracing::info!(error = %e, "cannot reach the server; trying again");
                    let wait = std::time::Duration::from_millis(250 << failures.min(5));
                    tokio::select! {
                        () = tokio::time::sleep(wait) => continue,
                        () = stop.cancelled() => return Ok(()),
                    }
                }
            };
            failures = 0;
            match self.watch_on(&conn, &events, &stop).await {
                Ok(()) => {
                    // Drop the subscribed connection, so that a later watch
                    // subscribes afresh.
                    self.disconnect().await;
                    return Ok(());
                }
                Err(ClientError::Connection(e)) if e.is_disconnect() => {
                    tracing::info!(error = %e, "connection lost while watching; reconnecting");
                    self.set_link(Link::Down(e.to_string()));
                    self.disconnect().await;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// [`Client::watch`] for a screen that stays open (the menu, the
    /// full-screen client): while another server answers at the address
    /// (the pinned one is down and an impostor took its place, or another
    /// server did), `answered_by_another` is told each time, nothing is
    /// sent to or read from that server, and watching is tried again every
    /// [`IMPOSTOR_RETRY`] until the pinned server answers or `stop` fires.
    ///
    /// # Errors
    /// As [`Client::watch`], but for another server answering.
    pub async fn watch_through_impostors(
        &self,
        events: mpsc::UnboundedSender<Event>,
        stop: CancellationToken,
        answered_by_another: impl Fn(&ClientError),
    ) -> Result<(), ClientError> {
        loop {
            match self.watch(events.clone(), stop.clone()).await {
                Err(
                    e @ (ClientError::ServerKeyChanged { .. } | ClientError::OtherServer { .. }),
                ) => {
                    answered_by_another(&e);
                    tokio::select! {
                        () = tokio::time::sleep(IMPOSTOR_RETRY) => {}
                        () = stop.cancelled() => return Ok(()),
                    }
                }
                other => return other,
            }
        }
    }

    async fn watch_on(
        &self,
        conn: &Arc<Connection>,
        events: &mpsc::UnboundedSender<Event>,
        stop: &CancellationToken,
    ) -> Result<(), ClientError> {
        let (_, stream) = conn.subscribe().await?;
        let Some(mut stream) = stream else {
            // Another watcher has this connection's pushes.
            return Err(
                ConnectionError::Unexpected("already watching on this connection".into()).into(),
            );
        };
        let mut rooms = conn.take_room_pushes();
        // Shown as online (unless invisible) and told who comes and goes.
        self.start_presence(conn).await?;
        // What the rooms' logs held before we subscribed (the server pushes
        // it too; reading it now also settles what a lost connection left).
        self.watch_rooms(events).await?;
        loop {
            let delivery = tokio::select! {
                d = stream.recv() => d,
                Some(push) = next_room_push(&mut rooms) => {
                    self.on_room_push(conn, push, rooms.as_mut(), events).await?;
                    continue;
                }
                () = stop.cancelled() => return Ok(()),
            };
            let Some(first) = delivery else {
                return Err(ConnectionError::Closed(conn.closing_notice()).into());
            };
            // Handle whatever else already arrived too, then acknowledge
            // them together.
            let mut lagged = false;
            let mut batch = Vec::new();
            for pushed in
                std::iter::once(first).chain(std::iter::from_fn(|| stream.try_recv().ok()))
            {
                match pushed {
                    Pushed::Item(d) => batch.push(d),
                    // What the queue took after the notice is newer than
                    // what it dropped: it waits until that is read.
                    Pushed::Lagged => {
                        lagged = true;
                        break;
                    }
                }
            }
            let _receiving = self.inner.receiving.lock().await;
            let mut acks = Vec::new();
            let mut handled = Vec::new();
            for d in batch {
                let id = d.message_id;
                let outcome = match self.handle(d, stop).await {
                    // Stopped during a file: it stays on the server.
                    Err(ClientError::Cancelled) if stop.is_cancelled() => return Ok(()),
                    other => other?,
                };
                for e in outcome.events {
                    if events.send(e.clone()).is_err() {
                        return Ok(());
                    }
                    handled.push(e);
                }
                if outcome.ack {
                    acks.push(id);
                }
            }
            if !acks.is_empty() {
                conn.ack(acks).await?;
            }
            self.send_receipts(&handled, ReceiptKind::Delivered).await;
            drop(_receiving);
            if lagged && !self.read_what_was_dropped(events, stop).await? {
                return Ok(());
            }
            // A join reads the room's waiting entries: show them.
            self.send_room_events(events).await?;
        }
    }

    /// The pushes queue dropped deliveries (`connection::queue`): they wait
    /// on the server, unacknowledged, so read them as `inbox` does (what
    /// the queue still holds of them is then acknowledged as handled).
    /// Returns false when the watch is to end (stopped, or no one listens).
    async fn read_what_was_dropped(
        &self,
        events: &mpsc::UnboundedSender<Event>,
        stop: &CancellationToken,
    ) -> Result<bool, ClientError> {
        let mut listening = true;
        let read = self
            .inbox_each(stop.clone(), |batch| {
                for e in batch {
                    listening &= events.send(e).is_ok();
                }
                Ok(())
            })
            .await;
        match read {
            Err(ClientError::Cancelled) if stop.is_cancelled() => Ok(false),
            other => other.map(|()| listening),
        }
    }

    /// A room push: a new entry (read the logs; the push itself only says
    /// there is something to read), a low key package stock (refill), or
    /// presence changes (shown as events). Room pushes dropped by their
    /// queue do all three: read, refill, and list who is online again.
    async fn on_room_push(
        &self,
        conn: &Connection,
        push: Pushed<RoomPush>,
        rooms: Option<&mut PushQueue<RoomPush>>,
        events: &mpsc::UnboundedSender<Event>,
    ) -> Result<(), ClientError> {
        let mut read = false;
        let mut refill = false;
        let mut presence = Vec::new();
        let mut note = |p: Pushed<RoomPush>| match p {
            Pushed::Item(RoomPush::Entry(_)) => read = true,
            Pushed::Item(RoomPush::KeyPackagesLow(_)) => refill = true,
            Pushed::Item(RoomPush::Presence(changes)) => presence.push(changes),
            Pushed::Lagged => {
                read = true;
                refill = true;
                presence.push(PresenceChanges {
                    resync: true,
                    changes: Arc::new([]),
                });
            }
        };
        note(push);
        if let Some(rooms) = rooms {
            // Everything already queued is read by the same pass.
            while let Ok(p) = rooms.try_recv() {
                note(p);
            }
        }
        for changes in presence {
            for e in self.presence_events(conn, changes).await? {
                if events.send(e).is_err() {
                    return Ok(());
                }
            }
        }
        if refill && let Err(e) = self.refill_key_packages().await {
            tracing::warn!(error = %e, "could not refill the room key packages");
        }
        if read {
            self.watch_rooms(events).await?;
        }
        Ok(())
    }

    async fn watch_rooms(&self, events: &mpsc::UnboundedSender<Event>) -> Result<(), ClientError> {
        let _receiving = self.inner.receiving.lock().await;
        self.room_sync().await?;
        self.send_room_events(events).await?;
        // What was read is told to the room in a moment, with what the
        // front end showed meanwhile.
        self.send_room_receipts_soon();
        Ok(())
    }

    async fn send_room_events(
        &self,
        events: &mpsc::UnboundedSender<Event>,
    ) -> Result<(), ClientError> {
        for e in self.shown_room_events().await? {
            if events.send(e).is_err() {
                break;
            }
        }
        Ok(())
    }
}

/// The next room push, or never when there is no queue of them.
async fn next_room_push(rooms: &mut Option<PushQueue<RoomPush>>) -> Option<Pushed<RoomPush>> {
    match rooms {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

/// Most live events a front end takes at once.
const LIVE_BATCH: usize = 256;

/// `first` and the events queued behind it (at most [`LIVE_BATCH`] in
/// all): what arrived together, for a front end to show and mark shown
/// together (one read receipt for it, not one an event).
pub fn arrived_together(first: Event, queue: &mut mpsc::UnboundedReceiver<Event>) -> Vec<Event> {
    let mut batch = vec![first];
    while batch.len() < LIVE_BATCH
        && let Ok(e) = queue.try_recv()
    {
        batch.push(e);
    }
    batch
}
