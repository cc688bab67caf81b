//! A type-7 notice (PROTOCOL.md "Type 7: not delivered"): the server says
//! the sender's account was deleted before some of our messages to it were
//! delivered. Only the server's word: it fails nothing but our own
//! outgoing messages to that same account whose ids it names and that are
//! still only stored; a notice naming anything else changes nothing and
//! shows nothing. It is acknowledged, never answered, and gets no receipt.

use protocol::v3::{Delivery, GoneReason, NotDelivered};

use super::Outcome;
use crate::client::Client;
use crate::error::ClientError;
use crate::event::{GoneBy, What, event};
use crate::keystore::HistoryChange;

impl Client {
    pub(super) async fn on_not_delivered(&self, d: Delivery) -> Result<Outcome, ClientError> {
        let (id, digest, peer) = (d.message_id, super::digest(&d), d.sender);
        // The protocol checked the content when it read the delivery; one
        // that still does not parse tells of nothing.
        let Ok(notice) = NotDelivered::decode(d.content.clone()) else {
            return self.handled_silently(id, digest).await;
        };
        // Not the pinned peer's record being refreshed: its account is gone.
        let Some(record) = self.store(move |s| s.peer(peer)).await? else {
            // Never pinned here, so no message of ours went to it.
            return self.handled_silently(id, digest).await;
        };
        let ids = notice.message_ids;
        let ours = self.store(move |s| s.still_stored_to(peer, &ids)).await?;
        if ours.is_empty() {
            return self.handled_silently(id, digest).await;
        }
        let by = match notice.reason {
            GoneReason::DeletedByOwner => GoneBy::Owner,
            GoneReason::RemovedByOperator => GoneBy::Operator,
            GoneReason::Other(_) => GoneBy::Unknown,
        };
        let name = match record.name.is_empty() {
            true => format!("client {peer}"),
            false => record.name.clone(),
        };
        let messages = ours.len();
        let change = HistoryChange::Failed {
            peer,
            message_ids: ours,
            reason: format!(
                "not delivered: the server says {name}'s account was deleted {}",
                by.words()
            ),
        };
        if !self
            .store(move |s| s.mark_delivery_handled(id, Some(&digest), None, Some(&change)))
            .await?
        {
            // Another client process on this home handled it first.
            return Ok(Outcome::handled(Vec::new()));
        }
        let what = What::NotDelivered { messages, by };
        Ok(Outcome::handled(vec![event(&d, Some(&record), what)]))
    }

    async fn handled_silently(&self, id: u64, digest: [u8; 32]) -> Result<Outcome, ClientError> {
        self.store(move |s| s.mark_delivery_handled(id, Some(&digest), None, None))
            .await?;
        Ok(Outcome::handled(Vec::new()))
    }
}
