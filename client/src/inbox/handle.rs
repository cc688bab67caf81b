//! One delivery: who sent it (pinned on first contact, held back while
//! their key change waits for the user), which kind of message it is, and
//! how its end is recorded: handled (with the counter it used) or rejected
//! with a refusal notice, or kept on the server when it fails alone.
//!
//! Left out: each kind's handling ([`super::sessions`], [`super::texts`],
//! [`super::files`]).

use protocol::v3::Delivery;
use protocol::{ErrorReason, MessageKind};
use tokio_util::sync::CancellationToken;

use super::Outcome;
use crate::client::Client;
use crate::crypto::RefusalReason;
use crate::crypto::{CryptoError, SessionId};
use crate::error::ClientError;
use crate::event::{Event, Rejection, RoomChange, What, event, names_of};
use crate::keystore::{
    Body, Conversation, Direction, Handled, HistoryChange, NewEntry, PeerRecord, Status,
};

impl Client {
    /// The sender as pinned, pinning it on first contact, with a warning
    /// when a new sender's name looks like a contact's. `Err(outcome)` when
    /// the message cannot be handled because of the sender.
    pub(super) async fn sender(
        &self,
        d: &Delivery,
    ) -> Result<Result<(PeerRecord, Option<Event>), Outcome>, ClientError> {
        let id = d.sender;
        if let Some(mut record) = self.store(move |s| s.peer(id)).await? {
            self.refresh_server_name(&mut record).await;
            if record.pending_bundle.is_some() {
                return Ok(Err(Outcome::kept(vec![event(
                    d,
                    Some(&record),
                    What::KeyChanged,
                )])));
            }
            return Ok(Ok((record, None)));
        }
        let key = self
            .retrying(|c| async move { c.public_key(id).await })
            .await;
        let key = match key {
            Err(e) if e.reason() == Some(ErrorReason::UnknownClient) => {
                return Ok(Err(Outcome::handled(vec![event(
                    d,
                    None,
                    What::Rejected {
                        reason: Rejection::UnknownSender,
                    },
                )])));
            }
            other => other?,
        };
        match self
            .pin_key(id, key.name.to_string(), &key.public_key)
            .await
        {
            Ok(_) => {}
            Err(ClientError::NoValidKey(_)) => {
                return Ok(Err(Outcome::handled(vec![Event {
                    server_name: Some(key.name.to_string()),
                    ..event(
                        d,
                        None,
                        What::Rejected {
                            reason: Rejection::NotEncrypted,
                        },
                    )
                }])));
            }
            Err(e) => return Err(e),
        }
        let record = self.store(move |s| s.peer(id)).await?;
        match record {
            Some(r) if r.pending_bundle.is_none() => {
                // Pinned without a name just now: a contact goes by one
                // that looks like it (`bob`, `Bоb`), which an impostor
                // would choose once the contact's account is gone.
                let name = key.name.to_string();
                let contact = match r.name.is_empty() {
                    true => self.store(move |s| s.look_alike(id, &name)).await?,
                    false => None,
                };
                let warning =
                    contact.map(|contact| event(d, Some(&r), What::LookAlike { contact }));
                Ok(Ok((r, warning)))
            }
            r => Ok(Err(Outcome::kept(vec![event(
                d,
                r.as_ref(),
                What::KeyChanged,
            )]))),
        }
    }

    /// Handles one delivery; a failure that concerns this message alone
    /// keeps it on the server (reported once, as a [`What::Failed`] event)
    /// so that one bad message never stops the others from being received.
    /// Failures that would stop every message (cancelled, the server gone
    /// or not trusted) end the whole receive.
    pub(super) async fn handle_or_keep(
        &self,
        d: Delivery,
        cancel: &CancellationToken,
    ) -> Result<Outcome, ClientError> {
        let (sender, message_id, sent_at_ms) = (d.sender, d.message_id, d.sent_at_ms);
        match self.handle(d, cancel).await {
            Err(
                e @ (ClientError::Cancelled
                | ClientError::ServerKeyChanged { .. }
                | ClientError::NotRegistered(_)),
            ) => Err(e),
            Err(ClientError::Connection(e)) if e.is_disconnect() => Err(e.into()),
            Err(e) => {
                tracing::warn!(id = message_id, from = %sender, error = %e, "message kept on the server");
                let peer = self.store(move |s| s.peer(sender)).await.ok().flatten();
                let (from_name, server_name) = names_of(peer.as_ref());
                Ok(Outcome::kept(vec![Event {
                    message_id,
                    from: sender,
                    from_name,
                    from_you: false,
                    server_name,
                    sent_at_ms,
                    sender_time_ms: None,
                    what: What::Failed {
                        error: crate::repl::explain::client_error(&e, &[]),
                    },
                }]))
            }
            ok => ok,
        }
    }

    /// Handles one delivery; see the module docs.
    pub(super) async fn handle(
        &self,
        d: Delivery,
        cancel: &CancellationToken,
    ) -> Result<Outcome, ClientError> {
        let (id, digest) = (d.message_id, super::digest(&d));
        match self.store(move |s| s.handled_as(id, &digest)).await? {
            Handled::Same => return self.handled_again(&d).await,
            Handled::Other => {
                // Taking it for a redelivery would acknowledge, and so
                // lose, a message never shown.
                tracing::warn!(
                    message_id = id,
                    "the server gave this message an id an earlier message here had (was its \
                     data restored from an older copy?): handled as the new message it is"
                );
                self.store(move |s| s.forget_handled(id)).await?;
            }
            Handled::No => {}
        }
        if let Some(held) = self.store(move |s| s.held_file(id)).await? {
            return self.on_held(&d, held, cancel).await;
        }
        if d.kind == MessageKind::NotDelivered {
            // The server's own notice in the name of an account that is
            // gone: nothing of the sender to pin or check.
            return self.on_not_delivered(d).await;
        }
        let (peer, warning) = match self.sender(&d).await? {
            Ok(p) => p,
            Err(outcome) => return Ok(outcome),
        };
        let mut outcome = match d.kind {
            MessageKind::SymmetricKeyRequest => self.on_offer(d, peer).await,
            MessageKind::SymmetricKey => self.on_answer(d, peer).await,
            MessageKind::Text => self.on_text(d, peer).await,
            MessageKind::File => self.on_file(d, peer, cancel).await,
            MessageKind::RoomWelcome => self.on_welcome(d, peer).await,
            MessageKind::RoomDeleted => self.on_room_deleted(d, peer).await,
            MessageKind::NotDelivered => self.on_not_delivered(d).await,
        }?;
        if let Some(warning) = warning {
            // Before what the message itself was, so it is read first.
            outcome.events.insert(0, warning);
        }
        Ok(outcome)
    }

    /// A message handled here already, delivered again: dropped, unless
    /// it was never shown (the output failed, see [`Client::inbox_each`]):
    /// then its text or file is shown now as history has it, recorded
    /// nowhere a second time.
    async fn handled_again(&self, d: &Delivery) -> Result<Outcome, ClientError> {
        let (id, sender) = (d.message_id, d.sender);
        let Some(entry) = self.store(move |s| s.take_unshown(id, sender)).await? else {
            return Ok(Outcome::handled(Vec::new()));
        };
        let what = match entry.body {
            Body::Text { text } => What::Text { text },
            Body::File { name, size, path } => What::File { name, path, size },
            // A person's history holds no room event.
            Body::Event { .. } | Body::Key { .. } => return Ok(Outcome::handled(Vec::new())),
        };
        let peer = self.store(move |s| s.peer(sender)).await?;
        Ok(Outcome::handled(vec![Event {
            sender_time_ms: entry.sender_time_ms,
            ..event(d, peer.as_ref(), what)
        }]))
    }

    /// Records a message as handled (with the counter it used, if any) and
    /// returns the outcome with `what`.
    pub(super) async fn handled(
        &self,
        d: &Delivery,
        peer: &PeerRecord,
        counter: Option<(SessionId, u64)>,
        what: Option<What>,
    ) -> Result<Outcome, ClientError> {
        self.handled_sealed(d, peer, counter, what, None).await
    }

    /// [`Self::handled`] for an opened envelope, with the sender's time.
    pub(super) async fn handled_sealed(
        &self,
        d: &Delivery,
        peer: &PeerRecord,
        counter: Option<(SessionId, u64)>,
        what: Option<What>,
        sender_time_ms: Option<u64>,
    ) -> Result<Outcome, ClientError> {
        let (id, digest) = (d.message_id, super::digest(d));
        let change = what
            .as_ref()
            .and_then(|w| history_change(d, w, sender_time_ms));
        if !self
            .store(move |s| s.mark_delivery_handled(id, Some(&digest), counter, change.as_ref()))
            .await?
        {
            // Another client process on this home showed it first.
            return Ok(Outcome::handled(Vec::new()));
        }
        Ok(Outcome::handled(
            what.map(|w| {
                vec![Event {
                    sender_time_ms,
                    ..event(d, Some(peer), w)
                }]
            })
            .unwrap_or_default(),
        ))
    }

    pub(super) async fn reject(
        &self,
        d: &Delivery,
        peer: &PeerRecord,
        reason: Rejection,
    ) -> Result<Outcome, ClientError> {
        let outcome = self
            .handled(d, peer, None, Some(What::Rejected { reason }))
            .await?;
        if outcome.events.is_empty() {
            // Another client process on this home handled this very message
            // while we opened it (its counter then reads as replayed): a
            // redelivery to drop, not a message to refuse.
            return Ok(outcome);
        }
        // The event's line tells the person; a warning would say it twice.
        tracing::info!(id = d.message_id, from = %d.sender, ?reason, "message rejected");
        // Recorded first: a crash now loses the notice, never repeats it.
        self.send_refusal(d, peer, reason).await;
        Ok(outcome)
    }

    /// The outcome of an envelope the crypto refused.
    pub(super) async fn reject_opening(
        &self,
        d: &Delivery,
        peer: &PeerRecord,
        error: CryptoError,
    ) -> Result<Outcome, ClientError> {
        if matches!(error, CryptoError::Replayed) {
            // Another process of this home (two `watch`es, a `watch` and an
            // `inbox`) may have handled or held this very message since we
            // checked: that is no replay, and it is that process's to finish.
            let (id, digest) = (d.message_id, super::digest(d));
            let ours = self
                .store(move |s| {
                    Ok(s.handled_as(id, &digest)? == Handled::Same || s.held_file(id)?.is_some())
                })
                .await?;
            if ours {
                return Ok(Outcome::kept(Vec::new()));
            }
        }
        let reason = match error {
            CryptoError::Replayed => Rejection::Replayed,
            CryptoError::TooOld => Rejection::TooOld,
            CryptoError::BadPlaintext => Rejection::Malformed,
            _ => Rejection::Tampered,
        };
        self.reject(d, peer, reason).await
    }
}

/// What handling `d` as `what` changes in history: a text or file is
/// recorded, a refusal notice fails the message it names (a duplicate's
/// first copy arrived, so that one changes nothing), a room event kept in
/// history is recorded in its room's.
pub(super) fn history_change(
    d: &Delivery,
    what: &What,
    sender_time_ms: Option<u64>,
) -> Option<HistoryChange> {
    let body = match what {
        What::Text { text } => Body::Text { text: text.clone() },
        What::File { name, path, size } => Body::File {
            name: name.clone(),
            size: *size,
            path: path.clone(),
        },
        What::Refused {
            refused_id, reason, ..
        } if *reason != RefusalReason::Duplicate => {
            return Some(HistoryChange::Failed {
                peer: d.sender,
                message_ids: vec![*refused_id],
                reason: reason.explain(),
            });
        }
        // A refused invitation, a deletion: kept in the room's history. A
        // join is recorded by the join, before the entries that waited.
        What::Room {
            room,
            room_id,
            change,
        } if change.kept_as_event()
            && !room_id.is_empty()
            && !matches!(change, RoomChange::Joined { .. }) =>
        {
            return Some(HistoryChange::Add(NewEntry {
                conversation: crate::rooms::event::room_conversation(room_id, room),
                direction: Direction::In,
                sender: d.sender,
                body: Body::Event {
                    change: change.clone(),
                },
                sender_time_ms,
                server_time_ms: Some(d.sent_at_ms),
                message_id: None,
                status: Status::Read,
            }));
        }
        _ => return None,
    };
    Some(HistoryChange::Add(NewEntry {
        conversation: Conversation::Person { id: d.sender },
        direction: Direction::In,
        sender: d.sender,
        body,
        sender_time_ms,
        server_time_ms: Some(d.sent_at_ms),
        message_id: Some(d.message_id),
        status: Status::Received,
    }))
}
