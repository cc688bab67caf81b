//! Texts received: opened in their session (or kept in the key store until
//! its key arrives), and refusal notices (of our messages, or of our room
//! invitations: `crate::rooms`) and receipts, which travel as texts.
//!
//! Left out: sending refusal notices ([`crate::refusal`]).

use protocol::v3::Delivery;
use protocol::{ClientId, MessageKind};

use super::Outcome;
use crate::client::Client;
use crate::crypto::content_session_id;
use crate::crypto::receipt::is_receipt;
use crate::crypto::refusal::is_refusal;
use crate::crypto::{ReceiptKind, RefusalReason};
use crate::error::ClientError;
use crate::event::{Rejection, What, event};
use crate::keystore::{
    Body, Conversation, HistoryChange, PeerRecord, PendingMessage, PendingRoom, Status,
};

impl Client {
    pub(super) async fn on_text(
        &self,
        d: Delivery,
        peer: PeerRecord,
    ) -> Result<Outcome, ClientError> {
        let Ok(sid) = content_session_id(&d.content) else {
            return self.reject(&d, &peer, Rejection::Tampered).await;
        };
        if self.store(move |s| s.session(sid)).await?.is_none() {
            // Before its key: keep it here (the server copy can go).
            let pending = PendingMessage {
                message_id: d.message_id,
                sender: d.sender,
                kind: d.kind,
                sid,
                content: d.content.to_vec(),
                sent_at_ms: d.sent_at_ms,
            };
            let room = self.store(move |s| s.add_pending_bounded(&pending)).await?;
            if room != PendingRoom::Kept {
                // Over the bound: it stays on the server (whose quotas bound
                // it) rather than be lost.
                return Ok(Outcome::kept(vec![event(
                    &d,
                    Some(&peer),
                    What::Deferred { kind: "text" },
                )]));
            }
            if is_refusal(&d.content) || is_receipt(&d.content) {
                // Never answered (no refusal loops), and no text of the
                // user's: kept quietly in case its offer comes.
                return Ok(Outcome::handled(Vec::new()));
            }
            // Kept and handled, so told once: its sender's offer would
            // have come first, so this is most likely a session this home
            // lost (restored or copied); the sender heals (`crate::heal`).
            self.send_refusal_for(&d, &peer, RefusalReason::NoSession)
                .await;
            return Ok(Outcome::handled(vec![event(
                &d,
                Some(&peer),
                What::SessionLost { kind: "text" },
            )]));
        }
        self.open_text(d, &peer).await
    }

    pub(super) async fn open_text(
        &self,
        d: Delivery,
        peer: &PeerRecord,
    ) -> Result<Outcome, ClientError> {
        let Ok(sid) = content_session_id(&d.content) else {
            return self.reject(&d, peer, Rejection::Tampered).await;
        };
        let Some(stored) = self.store(move |s| s.session(sid)).await? else {
            return self.reject(&d, peer, Rejection::UnknownSession).await;
        };
        if stored.session.peer() != d.sender {
            return self.reject(&d, peer, Rejection::Tampered).await;
        }
        if is_receipt(&d.content) {
            return match stored
                .session
                .open_receipt(&d.content, &stored.receive_window)
            {
                Ok(opened) => {
                    // Never shown, kept as a text or receipted: it only
                    // moves our messages' statuses, and says which of our
                    // file offers were declined (the sender would
                    // otherwise think they wait).
                    let declined = match opened.plaintext.kind {
                        ReceiptKind::Declined => {
                            self.offers_declined(d.sender, &opened.plaintext.message_ids)
                                .await?
                        }
                        _ => Vec::new(),
                    };
                    let change = HistoryChange::Receipt {
                        peer: d.sender,
                        message_ids: opened.plaintext.message_ids,
                        status: match opened.plaintext.kind {
                            ReceiptKind::Delivered => Status::Delivered,
                            ReceiptKind::Read => Status::Read,
                            ReceiptKind::Declined => Status::Declined,
                        },
                    };
                    let (id, counter) = (d.message_id, Some((sid, opened.counter)));
                    let digest = super::digest(&d);
                    self.store(move |s| {
                        s.mark_delivery_handled(id, Some(&digest), counter, Some(&change))
                    })
                    .await?;
                    self.note_statuses_moved();
                    let events = declined.into_iter().map(|what| event(&d, Some(peer), what));
                    Ok(Outcome::handled(events.collect()))
                }
                Err(e) => self.reject_opening(&d, peer, e).await,
            };
        }
        if is_refusal(&d.content) {
            return match stored
                .session
                .open_refusal(&d.content, &stored.receive_window)
            {
                Ok(opened) if opened.plaintext.kind == MessageKind::RoomWelcome.code() => {
                    // One of our room invitations: it names the room, and
                    // heals no session.
                    let what = self.invitation_refused(peer, &opened.plaintext).await?;
                    let counter = Some((sid, opened.counter));
                    self.handled_sealed(&d, peer, counter, Some(what), Some(opened.sent_at_ms))
                        .await
                }
                Ok(opened) => {
                    let (refused_id, reason) =
                        (opened.plaintext.message_id, opened.plaintext.reason);
                    let what = What::Refused {
                        refused_id,
                        counter: opened.plaintext.counter,
                        reason,
                    };
                    let counter = Some((sid, opened.counter));
                    let mut outcome = self
                        .handled_sealed(&d, peer, counter, Some(what), Some(opened.sent_at_ms))
                        .await?;
                    // Handled first: a crash now loses the healing, never
                    // repeats it (see `crate::heal`).
                    let refused_sid = opened.plaintext.sid;
                    if let Some(healed) = self
                        .heal_after_refusal(peer, refused_id, refused_sid, reason)
                        .await
                    {
                        outcome.push(event(&d, Some(peer), healed));
                    }
                    Ok(outcome)
                }
                Err(e) => self.reject_opening(&d, peer, e).await,
            };
        }
        match stored.session.open_text(&d.content, &stored.receive_window) {
            Ok(opened) => {
                let what = What::Text {
                    text: opened.plaintext.to_string(),
                };
                let counter = Some((sid, opened.counter));
                self.handled_sealed(&d, peer, counter, Some(what), Some(opened.sent_at_ms))
                    .await
            }
            Err(e) => self.reject_opening(&d, peer, e).await,
        }
    }
}

impl Client {
    /// Our file offers among `ids` to `peer` that a declined receipt
    /// moves: offers still on their way (a text, an offer already
    /// declined or failed, or an id of ours to someone else, says nothing).
    async fn offers_declined(&self, peer: ClientId, ids: &[u64]) -> Result<Vec<What>, ClientError> {
        let ids = ids.to_vec();
        self.store(move |s| {
            let conversation = Conversation::Person { id: peer };
            let mut declined = Vec::new();
            for id in ids {
                if let Some(entry) = s.sent_entry(&conversation, id)?
                    && let Body::File { name, size, .. } = entry.body
                    && matches!(
                        entry.status,
                        Status::Sent | Status::Stored | Status::Delivered
                    )
                {
                    declined.push(What::OfferDeclined {
                        offer_id: id,
                        name,
                        size,
                    });
                }
            }
            Ok(declined)
        })
        .await
    }
}
