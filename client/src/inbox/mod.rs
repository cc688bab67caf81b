//! Receiving: what happens to each message the server delivers.
//!
//! Every delivery ends in one of two ways:
//! - **handled**: its effect is done (text shown, file saved, session stored)
//!   or it was rejected with a notice, the key store has recorded it (so a
//!   redelivery is dropped and its counter can never be accepted again), and
//!   only then is it acknowledged, which removes it from the server;
//! - **kept**: it cannot be handled yet and stays on the server: a file whose
//!   session's key has not arrived, a file offer held for the user's
//!   decision ([`crate::downloads`]), a text over the bounds of what the
//!   store keeps ([`crate::keystore`]), or anything from a sender whose key
//!   changed until the user decides.
//!
//! A text that arrives before its session's key is moved into the key store
//! (and acknowledged) and decrypted as soon as the key arrives.
//!
//! Nothing a peer sends is trusted: an offer, text or file that does not
//! authenticate, or whose counter was already received (a true duplicate,
//! see `crypto::window`: messages may arrive out of order), is never shown
//! as genuine; the user sees a notice instead, and the sender gets a refusal
//! notice back (see [`crate::refusal`]). Times shown are the sender's clock,
//! sealed in the envelope.
//!
//! Here: pulling what waits, handing each delivery to [`handle`] and
//! acknowledging what was handled ([`Client::inbox`]), and the housekeeping
//! before each read. [`watch`] receives what the server pushes; [`sessions`],
//! [`texts`] and [`files`] handle each kind of message. Left out: what the
//! results are ([`crate::event`]).

use std::collections::HashSet;

use protocol::MessageKind;
use protocol::v3::Delivery;
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::crypto::ReceiptKind;
use crate::downloads::PARTIAL_TTL;
use crate::error::ClientError;
use crate::event::names_of;
// Also named here by the menu, the scripted commands and the self-test.
pub use crate::event::{Event, Rejection, Waiting, What};
use crate::keystore::{Handled, PENDING_TTL};
use crate::partial;
pub use watch::{IMPOSTOR_RETRY, arrived_together};

/// Whether `d` is a text or a file offer, by what it shows in clear: a
/// type-3 content's first byte tells a text from a receipt or a refusal
/// notice (see `crypto::sealed`).
fn is_message(d: &Delivery) -> bool {
    use crate::crypto::{receipt::is_receipt, refusal::is_refusal};
    match d.kind {
        protocol::MessageKind::Text => !is_receipt(&d.content) && !is_refusal(&d.content),
        protocol::MessageKind::File => true,
        _ => false,
    }
}

/// What tells one delivered message from another with the same id: its
/// sender, kind and content (a redelivery repeats them byte for byte; a
/// sealed content never repeats, its counter and nonce are new).
pub(crate) fn digest(d: &Delivery) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(d.sender.0);
    h.update(d.kind.code().to_be_bytes());
    h.update(&d.content);
    h.finalize().into()
}

mod files;
mod handle;
mod not_delivered;
mod room_deleted;
mod room_log;
mod sessions;
mod texts;
mod watch;
mod welcome;

/// The outcome of one delivery.
pub(crate) struct Outcome {
    events: Vec<Event>,
    /// Acknowledge it (handled), or leave it on the server (kept).
    ack: bool,
    /// A session started: kept files may now be openable.
    session_started: bool,
}

impl Outcome {
    /// Adds an event after those of the message itself.
    pub(crate) fn push(&mut self, event: Event) {
        self.events.push(event);
    }

    pub(crate) fn handled(events: Vec<Event>) -> Self {
        Self {
            events,
            ack: true,
            session_started: false,
        }
    }

    pub(crate) fn kept(events: Vec<Event>) -> Self {
        Self {
            events,
            ack: false,
            session_started: false,
        }
    }
}

impl Client {
    /// Pulls everything waiting, handles it and acknowledges what was
    /// handled; returns what happened, oldest first.
    ///
    /// # Errors
    /// The server or the key store failed (what was handled stays handled).
    pub async fn inbox(&self) -> Result<Vec<Event>, ClientError> {
        self.inbox_until(CancellationToken::new()).await
    }

    /// [`Client::inbox`] that `cancel` can stop: a file being downloaded
    /// stops (what arrived is kept and the message left on the server, so
    /// the next read resumes it) and [`ClientError::Cancelled`] is returned.
    /// Messages handled before that stay handled.
    ///
    /// # Errors
    /// Cancelled, or see [`Client::inbox`].
    pub async fn inbox_until(&self, cancel: CancellationToken) -> Result<Vec<Event>, ClientError> {
        let mut all = Vec::new();
        self.inbox_each(cancel, |events| {
            all.extend(events);
            Ok(())
        })
        .await?;
        Ok(all)
    }

    /// [`Client::inbox_until`] that hands over what happened as it goes:
    /// `each` gets the events of every batch before its messages are
    /// acknowledged, so a front end shows a long backlog as it is read.
    /// When reading stops early (cancelled, the connection lost), what was
    /// handled until then is handed to `each` and acknowledged if the
    /// server can still be reached before the error returns: nothing
    /// handled goes unshown.
    ///
    /// When `each` fails (its output cannot be written), that batch is not
    /// acknowledged and its messages are noted as not shown: the next read
    /// shows their texts and files again, from history, where they are
    /// once, and every other notice of the batch (a session started, a
    /// refusal, a room's events, ...) from where it was kept meanwhile.
    ///
    /// # Errors
    /// Cancelled, `each`'s error ([`ClientError::Io`]), or see
    /// [`Client::inbox`].
    pub async fn inbox_each(
        &self,
        cancel: CancellationToken,
        mut each: impl FnMut(Vec<Event>) -> std::io::Result<()>,
    ) -> Result<(), ClientError> {
        let _receiving = tokio::select! {
            r = self.inner.receiving.lock() => r,
            () = cancel.cancelled() => return Err(ClientError::Cancelled),
        };
        // What an earlier read could not show, and texts given up.
        let first = self.housekeeping().await?;
        self.show_or_keep(first, &mut each).await?;
        let mut rooms_first = false;
        let mut seen = HashSet::new();
        let mut kept = Vec::new();
        let mut retry_kept = false;
        // Senders one of whose messages could not be handled in this run.
        let mut stuck = HashSet::new();
        loop {
            let batch = self.retrying(|c| async move { c.pull(0).await }).await?;
            let more = batch.more;
            let fresh: Vec<Delivery> = batch
                .messages
                .into_iter()
                .filter(|d| seen.insert(d.message_id))
                .collect();
            if fresh.is_empty() {
                if retry_kept && !kept.is_empty() {
                    // A session started meanwhile: give kept files one more go.
                    retry_kept = false;
                    for id in kept.drain(..) {
                        seen.remove(&id);
                    }
                    continue;
                }
                break;
            }
            if !rooms_first
                && fresh
                    .iter()
                    .any(|d| matches!(d.kind, MessageKind::RoomWelcome | MessageKind::RoomDeleted))
            {
                // Room events a room command read and left happened before
                // this notice of a room: a removal read by a refused `room
                // send` is told before the welcome back into the room.
                rooms_first = true;
                let waiting = self.shown_room_events().await?;
                self.show_or_keep(waiting, &mut each).await?;
            }
            let mut acks = Vec::new();
            let mut events = Vec::new();
            let delivered: HashSet<u64> = fresh.iter().map(|d| d.message_id).collect();
            for d in fresh {
                let id = d.message_id;
                if stuck.contains(&d.sender) {
                    // Behind a message of the same sender that failed: its
                    // counter would pass the failed one's, which would then
                    // be refused as a replay. It waits for the next inbox.
                    continue;
                }
                let sender = d.sender;
                let outcome = match self.handle_or_keep(d, &cancel).await {
                    Ok(outcome) => outcome,
                    Err(e) => {
                        // Those before it are handled: settled all the same.
                        let _ = self
                            .settle_batch((acks, &delivered), events, &mut each)
                            .await;
                        return Err(e);
                    }
                };
                if outcome
                    .events
                    .iter()
                    .any(|e| matches!(e.what, What::Failed { .. }))
                {
                    // Reported once: not retried in this run.
                    stuck.insert(sender);
                    events.extend(outcome.events);
                    continue;
                }
                events.extend(outcome.events);
                retry_kept |= outcome.session_started;
                if outcome.ack {
                    acks.push(id);
                } else {
                    kept.push(id);
                }
            }
            self.settle_batch((acks, &delivered), events, &mut each)
                .await?;
            if !more && !retry_kept {
                break;
            }
        }
        // After the welcomes above: entries of rooms just joined are read.
        let rooms = self.room_inbox().await?;
        self.show_or_keep(rooms, &mut each).await?;
        // The rooms are told what was opened in a moment: a front end that
        // shows it meanwhile sends one receipt with both marks at once.
        self.send_room_receipts_soon();
        Ok(())
    }

    /// Hands `events` (taken from where they waited) to `each`; if it
    /// fails, they are kept for the next read to show, and its error
    /// returned.
    async fn show_or_keep(
        &self,
        events: Vec<Event>,
        each: &mut impl FnMut(Vec<Event>) -> std::io::Result<()>,
    ) -> Result<(), ClientError> {
        if events.is_empty() {
            return Ok(());
        }
        // A copy, turned into rows only if printing fails.
        let copy = events.clone();
        if let Err(e) = each(events) {
            let kept = unshown_rows(&copy);
            self.store(move |s| s.keep_unshown_events(&kept)).await?;
            return Err(e.into());
        }
        Ok(())
    }

    /// Ends a batch of handled messages (`acks`, of those `delivered` in
    /// it): hands `events` to `each` first (shown, then removed from the
    /// server: never the other way round), then acknowledges `acks` (with
    /// delivery receipts once that worked). If `each` fails, `acks` stay
    /// on the server, noted as not shown: a text or file of theirs is
    /// shown from history when it comes again; every other notice is kept
    /// for the next read, except those of messages not handled, which
    /// come again as they are.
    async fn settle_batch(
        &self,
        (acks, delivered): (Vec<u64>, &HashSet<u64>),
        events: Vec<Event>,
        each: &mut impl FnMut(Vec<Event>) -> std::io::Result<()>,
    ) -> Result<(), ClientError> {
        let receipted = events.clone();
        if let Err(e) = each(events) {
            // Only now: a batch printed costs nothing more.
            let handled: HashSet<u64> = acks.iter().copied().collect();
            let kept: Vec<Event> = receipted
                .into_iter()
                .filter(|e| match handled.contains(&e.message_id) {
                    true => !matches!(e.what, What::Text { .. } | What::File { .. }),
                    false => !delivered.contains(&e.message_id),
                })
                .collect();
            let kept = unshown_rows(&kept);
            self.store(move |s| {
                s.mark_unshown(&acks)?;
                s.keep_unshown_events(&kept)
            })
            .await?;
            return Err(e.into());
        }
        self.acknowledge(acks).await?;
        self.send_receipts(&receipted, ReceiptKind::Delivered).await;
        Ok(())
    }

    /// Keeps `events`, which a front end took but could not show (its
    /// output failed after they were acknowledged), for the next read to
    /// show first. Presence changes are left out: by then they are stale.
    ///
    /// # Errors
    /// The key store failed.
    pub async fn keep_unshown(&self, events: &[Event]) -> Result<(), ClientError> {
        let kept: Vec<Event> = events
            .iter()
            .filter(|e| !matches!(e.what, What::Presence { .. }))
            .cloned()
            .collect();
        if kept.is_empty() {
            return Ok(());
        }
        let rows = unshown_rows(&kept);
        self.store(move |s| s.keep_unshown_events(&rows)).await
    }

    /// Counts the messages waiting on the server with one pull: texts and
    /// file offers, what a person reads as messages; not receipts, refusal
    /// notices, key agreement or room notices. Nothing is handled or
    /// removed.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn waiting(&self) -> Result<Waiting, ClientError> {
        let batch = self.retrying(|c| async move { c.pull(0).await }).await?;
        let ids: Vec<(u64, [u8; 32])> = batch
            .messages
            .iter()
            .filter(|d| is_message(d))
            .map(|d| (d.message_id, digest(d)))
            .collect();
        // Handled here but not yet acknowledged: they go silently.
        let fresh = self
            .store(move |s| {
                let mut fresh = 0;
                for (id, digest) in ids {
                    if s.handled_as(id, &digest)? != Handled::Same {
                        fresh += 1;
                    }
                }
                Ok(fresh)
            })
            .await?;
        Ok(Waiting {
            messages: fresh,
            more: batch.more,
        })
    }

    pub(crate) async fn acknowledge(&self, ids: Vec<u64>) -> Result<(), ClientError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.retrying(|c| {
            let ids = ids.clone();
            async move { c.ack(ids).await }
        })
        .await?;
        Ok(())
    }

    /// Takes the notices an earlier read could not show (returned first,
    /// to show now), and bounds what is kept: forgets old handled ids,
    /// gives up texts whose session never came (returned as events, to
    /// tell the user), and deletes download parts that are stale or belong
    /// to nothing.
    pub(crate) async fn housekeeping(&self) -> Result<Vec<Event>, ClientError> {
        let (unshown, expired, names, partials) = self
            .store(|s| {
                let unshown = s.take_unshown_events()?;
                s.prune_handled_bounded()?;
                let expired = s.expire_pending(PENDING_TTL)?;
                let mut names = Vec::with_capacity(expired.len());
                for m in &expired {
                    names.push(names_of(s.peer(m.sender)?.as_ref()));
                }
                s.expire_partials(PARTIAL_TTL)?;
                let keep: Vec<u64> = s.partials()?.iter().map(|p| p.message_id).collect();
                Ok((unshown, expired, names, keep))
            })
            .await?;
        let dir = self.downloads();
        let _ = tokio::task::spawn_blocking(move || partial::sweep(&dir, &partials)).await;
        // Written by this client: one that does not read back (a newer
        // client's) is passed over.
        let mut events: Vec<Event> = unshown
            .iter()
            .filter_map(|row| {
                serde_json::from_str(row)
                    .inspect_err(|e| tracing::warn!(error = %e, "an unshown notice does not read"))
                    .ok()
            })
            .collect();
        events.extend(
            expired
                .into_iter()
                .zip(names)
                .map(|(m, (from_name, server_name))| Event {
                    message_id: m.message_id,
                    from: m.sender,
                    from_name,
                    from_you: false,
                    server_name,
                    sent_at_ms: m.sent_at_ms,
                    sender_time_ms: None,
                    what: What::Expired { kind: "text" },
                }),
        );
        Ok(events)
    }
}

/// `events` as [`KeyStore::keep_unshown_events`] keeps them: their JSON.
///
/// [`KeyStore::keep_unshown_events`]: crate::keystore::KeyStore::keep_unshown_events
fn unshown_rows(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| serde_json::to_string(e).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_texts_and_files_count_as_waiting_messages() {
        use protocol::MessageKind as K;
        let d = |kind, first: u8| Delivery {
            sender: protocol::ClientId([1; 16]),
            message_id: 1,
            kind,
            sent_at_ms: 0,
            content: bytes::Bytes::from(vec![first, 0, 0]),
        };
        assert!(is_message(&d(K::Text, crate::crypto::FORMAT_VERSION)));
        assert!(is_message(&d(K::File, 0)));
        assert!(!is_message(&d(K::Text, crate::crypto::RECEIPT_FORMAT)));
        assert!(!is_message(&d(K::Text, crate::crypto::REFUSAL_FORMAT)));
        assert!(!is_message(&d(K::SymmetricKeyRequest, 0)));
        assert!(!is_message(&d(K::RoomWelcome, 0)));
    }
}
