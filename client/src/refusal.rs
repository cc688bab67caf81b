//! Telling a sender that its message was refused: after the inbox rejects a
//! message (a duplicate, one below the replay window, one that does not
//! authenticate or is malformed), the client seals a refusal notice (see
//! `crypto::refusal`) in its current session with the sender and sends it
//! back, so the sender sees "bob's client refused your message 17" instead
//! of "sent" followed by silence. A room welcome we cannot use is told the
//! same way to the admin whose commit made it (`crate::inbox`'s welcomes),
//! naming the room.
//!
//! Best effort and at most once: the rejection is recorded before the
//! notice goes out, and a failure to send it is logged, never an error of
//! the inbox. Never sent: for anything that claims to be a refusal notice
//! or a receipt itself (no refusal loops, even between two clients that cannot open
//! each other's messages), for a message that claims to come from this
//! user, and for reasons that are not the sender's message's fault (an
//! unknown sender, a changed key).

use bytes::Bytes;
use protocol::MessageKind;
use protocol::v3::{Delivery, FileOffer};

use crate::client::Client;
use crate::crypto::receipt::is_receipt;
use crate::crypto::refusal::{clear_sid_and_counter, is_refusal};
use crate::crypto::{Refusal, RefusalReason, SessionId};
use crate::event::Rejection;
use crate::keystore::PeerRecord;

/// The reason a rejection gives the sender, if it is told at all.
fn reason_for(rejection: Rejection) -> Option<RefusalReason> {
    match rejection {
        Rejection::Replayed => Some(RefusalReason::Duplicate),
        Rejection::TooOld => Some(RefusalReason::TooOld),
        Rejection::Tampered => Some(RefusalReason::Undecryptable),
        Rejection::Malformed => Some(RefusalReason::Malformed),
        // An answer for a session this client lost or has not stored yet,
        // a sender without a key or unknown to the server: nothing the
        // sender's message did wrong, or nobody to tell.
        Rejection::UnknownSession | Rejection::NotEncrypted | Rejection::UnknownSender => None,
    }
}

/// What a refusal of `d` says about it: the session id and counter its
/// content shows in clear.
fn refusal_of(d: &Delivery, reason: RefusalReason) -> Refusal {
    let (sid, counter) = match d.kind {
        MessageKind::File => match FileOffer::decode(d.content.clone()) {
            Ok(offer) => clear_sid_and_counter(&offer.meta),
            Err(_) => clear_sid_and_counter(&[]),
        },
        MessageKind::Text => clear_sid_and_counter(&d.content),
        // Key agreement carries a session id but no counter.
        MessageKind::SymmetricKeyRequest | MessageKind::SymmetricKey => {
            (clear_sid_and_counter(&d.content).0, 0)
        }
        // Its sender never learns a welcome's message id (the server made
        // it from a commit): the room id and epoch that start its content
        // name it instead.
        MessageKind::RoomWelcome => welcome_room_and_epoch(&d.content),
        // A deletion notice, or the server's not-delivered notice (never
        // refused), belongs to no session.
        MessageKind::RoomDeleted | MessageKind::NotDelivered => clear_sid_and_counter(&[]),
    };
    Refusal {
        message_id: d.message_id,
        sid,
        counter,
        kind: d.kind.code(),
        reason,
    }
}

/// The room id and epoch a type-5 content starts with, in the refusal's
/// sid and counter fields (zeros for a content too short to hold them).
fn welcome_room_and_epoch(content: &[u8]) -> (SessionId, u64) {
    let room = content.get(..16).and_then(|b| <[u8; 16]>::try_from(b).ok());
    let epoch = content
        .get(16..24)
        .and_then(|b| <[u8; 8]>::try_from(b).ok());
    match (room, epoch) {
        (Some(room), Some(epoch)) => (SessionId(room), u64::from_le_bytes(epoch)),
        _ => clear_sid_and_counter(&[]),
    }
}

impl Client {
    /// Sends `peer` a refusal notice for `d`, if `rejection` calls for one;
    /// see the module docs.
    pub(crate) async fn send_refusal(&self, d: &Delivery, peer: &PeerRecord, rejection: Rejection) {
        if let Some(reason) = reason_for(rejection) {
            self.send_refusal_for(d, peer, reason).await;
        }
    }

    /// Sends `peer` a refusal notice for `d` with `reason` (also for a text
    /// or file kept, not rejected: one sealed in a session this client
    /// lacks). Whether the notice went out (`false` also when none is due).
    pub(crate) async fn send_refusal_for(
        &self,
        d: &Delivery,
        peer: &PeerRecord,
        reason: RefusalReason,
    ) -> bool {
        if d.kind == MessageKind::Text && (is_refusal(&d.content) || is_receipt(&d.content)) {
            return false;
        }
        if self.me().is_some_and(|me| me.id == d.sender) {
            return false;
        }
        let refusal = refusal_of(d, reason);
        let sealed = match self
            .seal_for(peer, move |session, counter| {
                session.seal_refusal(counter, &refusal)
            })
            .await
        {
            Ok(sealed) => Bytes::from(sealed),
            Err(e) => {
                tracing::warn!(error = %e, id = d.message_id, "could not seal a refusal notice");
                return false;
            }
        };
        let to = d.sender;
        let sent = self
            .retrying(|c| {
                let sealed = sealed.clone();
                async move { c.send_message(to, MessageKind::Text, sealed).await }
            })
            .await;
        if let Err(e) = &sent {
            tracing::warn!(error = %e, id = d.message_id, "could not send a refusal notice");
        }
        sent.is_ok()
    }
}
