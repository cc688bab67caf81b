//! Telling senders what became of their messages: a *delivered* receipt
//! once this client has opened their texts and files, a *read* receipt
//! once the user was shown them (unless the user turned read receipts
//! off), a *declined* receipt for a file offer the user declined (always:
//! the file is gone, and the sender would otherwise think it waits), each
//! sealed end to end (see `crypto::receipt`).
//!
//! Best effort: a receipt that cannot be sent is logged, never an error of
//! the receive, and is not tried again (the sender's history then stays at
//! `stored`). Only texts and files are receipted; receipts themselves,
//! refusal notices and key agreement never are.
//!
//! Left out: applying a peer's receipts to history (`crate::inbox` does it
//! while handling the receipt).

use std::collections::BTreeMap;

use bytes::Bytes;
use protocol::{ClientId, ErrorReason, MessageKind};
use sealpost_rooms::RoomId;

use crate::client::Client;
use crate::crypto::sealed::MAX_RECEIPT_IDS;
use crate::crypto::{Receipt, ReceiptKind};
use crate::error::ClientError;
use crate::event::{Event, What};
use crate::keystore::{Conversation, Status};

/// How far the room entries `shown` reach in each room.
fn shown_marks(shown: &[(Conversation, u64)]) -> Vec<(RoomId, u64)> {
    crate::rooms::furthest(
        shown
            .iter()
            .filter_map(|(conversation, seq)| match conversation {
                Conversation::Room { id: Some(room), .. } => Some((*room, *seq)),
                _ => None,
            }),
    )
}

/// The texts and files among `events`, by sender, in order.
fn receipted(events: &[Event]) -> BTreeMap<ClientId, Vec<u64>> {
    let mut by_sender: BTreeMap<ClientId, Vec<u64>> = BTreeMap::new();
    for e in events {
        if matches!(e.what, What::Text { .. } | What::File { .. }) {
            by_sender.entry(e.from).or_default().push(e.message_id);
        }
    }
    by_sender
}

impl Client {
    /// Sends each sender of a text or file among `events` a receipt of
    /// `kind` for them; see the module docs.
    pub(crate) async fn send_receipts(&self, events: &[Event], kind: ReceiptKind) {
        for (peer, ids) in receipted(events) {
            for chunk in ids.chunks(MAX_RECEIPT_IDS) {
                match self.send_receipt(peer, kind, chunk.to_vec()).await {
                    Ok(()) => {}
                    // The sender deleted its account since: nobody to tell,
                    // which is no fault of ours to warn about.
                    Err(e) if e.reason() == Some(ErrorReason::UnknownClient) => {
                        tracing::debug!(%peer, ?kind, "no receipt: the sender's account is gone");
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, %peer, ?kind, "could not send a receipt");
                    }
                }
            }
        }
    }

    pub(crate) async fn send_receipt(
        &self,
        peer: ClientId,
        kind: ReceiptKind,
        message_ids: Vec<u64>,
    ) -> Result<(), ClientError> {
        let Some(record) = self.store(move |s| s.peer(peer)).await? else {
            return Ok(());
        };
        let receipt = Receipt { kind, message_ids };
        let sealed = self
            .seal_for(&record, move |session, counter| {
                session.seal_receipt(counter, &receipt)
            })
            .await?;
        let sealed = Bytes::from(sealed);
        self.retrying(|c| {
            let sealed = sealed.clone();
            async move { c.send_message(peer, MessageKind::Text, sealed).await }
        })
        .await?;
        Ok(())
    }

    /// The user was shown `events`: their texts and files are `read` in
    /// history (rooms' too), and their senders get a read receipt unless
    /// read receipts are off (a room's members one receipt for the room,
    /// see `rooms::receipts`). Front ends call it after showing; failures
    /// are logged. The rooms are told before it returns, for a command
    /// about to end; see [`Client::shown_live`].
    pub async fn shown(&self, events: &[Event]) {
        self.mark_shown(events, true).await;
    }

    /// [`Client::shown`] for a front end that keeps running (`watch`, the
    /// menu): the rooms are told a moment later, so that what it shows one
    /// by one within that moment goes out as one receipt a room.
    pub async fn shown_live(&self, events: &[Event]) {
        self.mark_shown(events, false).await;
    }

    async fn mark_shown(&self, events: &[Event], tell_rooms_now: bool) {
        let by_sender = receipted(events);
        let in_rooms: Vec<(Conversation, u64)> = events
            .iter()
            .filter(|e| e.is_message() && matches!(e.what, What::Room { .. }))
            .filter_map(|e| Some((e.conversation()?, e.message_id)))
            .collect();
        let room_marks = shown_marks(&in_rooms);
        let in_a_room = !room_marks.is_empty();
        if by_sender.is_empty() && in_rooms.is_empty() {
            return;
        }
        let mut entries: Vec<(Conversation, u64)> = by_sender
            .iter()
            .flat_map(|(peer, ids)| {
                ids.iter()
                    .map(|id| (Conversation::Person { id: *peer }, *id))
            })
            .collect();
        entries.extend(in_rooms);
        let on = self
            .store(move |s| {
                s.set_received_statuses(&entries, Status::Read)?;
                for (room, through) in room_marks {
                    s.note_room_shown(room, through)?;
                }
                s.read_receipts()
            })
            .await;
        match on {
            Ok(on) => {
                if on && !by_sender.is_empty() {
                    self.send_receipts(events, ReceiptKind::Read).await;
                }
                if in_a_room && tell_rooms_now {
                    self.send_room_receipts().await;
                } else if in_a_room {
                    self.send_room_receipts_soon();
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not mark messages as read"),
        }
    }

    /// The user was shown our peer's messages `message_ids` (read in
    /// history already): their sender gets a read receipt unless read
    /// receipts are off. Failures are logged.
    pub(crate) async fn send_read_receipts(&self, peer: ClientId, message_ids: Vec<u64>) {
        match self.read_receipts().await {
            Ok(true) => {
                for chunk in message_ids.chunks(MAX_RECEIPT_IDS) {
                    if let Err(e) = self
                        .send_receipt(peer, ReceiptKind::Read, chunk.to_vec())
                        .await
                    {
                        tracing::warn!(error = %e, %peer, "could not send a read receipt");
                    }
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "could not read the receipts setting"),
        }
    }

    /// Waits until a receipt moved the status of messages we sent (a
    /// person's, or a room member's): a screen showing history reloads it.
    /// A move while nobody waits is kept for the next wait.
    pub async fn statuses_moved(&self) {
        self.inner.statuses.notified().await;
    }

    pub(crate) fn note_statuses_moved(&self) {
        self.inner.statuses.notify_one();
    }

    /// Whether read receipts are sent.
    ///
    /// # Errors
    /// The store failed.
    pub async fn read_receipts(&self) -> Result<bool, ClientError> {
        self.store(|s| s.read_receipts()).await
    }

    /// Turns read receipts on or off (kept in the key store).
    ///
    /// # Errors
    /// The store failed.
    pub async fn set_read_receipts(&self, on: bool) -> Result<(), ClientError> {
        self.store(move |s| s.set_read_receipts(on)).await
    }
}
