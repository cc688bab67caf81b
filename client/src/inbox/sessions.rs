//! Key agreement received: a peer's offer (answered, and the texts that
//! waited for its key opened) and a peer's answer to ours (the session
//! confirmed).
//!
//! Left out: starting a session ([`crate::send`]).

use protocol::v3::Delivery;
use protocol::{ErrorReason, MessageKind};

use super::Outcome;
use crate::client::Client;
use crate::crypto::{Session, content_session_id};
use crate::error::ClientError;
use crate::event::{Rejection, What, event};
use crate::keystore::{KeyStoreError, PeerRecord};

impl Client {
    pub(super) async fn on_offer(
        &self,
        d: Delivery,
        peer: PeerRecord,
    ) -> Result<Outcome, ClientError> {
        let me = self.require_me()?;
        let accepted =
            Session::accept_offer(&me.identity, me.id, d.sender, &peer.bundle, &d.content);
        let Ok((session, answer)) = accepted else {
            // Made for another key of the sender's (a new device, or a
            // server handing out another key): that waits for the user like
            // everything else from them, instead of being thrown away.
            if self.sender_key_changed(&d).await? {
                return Ok(Outcome::kept(vec![event(
                    &d,
                    Some(&peer),
                    What::KeyChanged,
                )]));
            }
            return self.reject(&d, &peer, Rejection::Tampered).await;
        };
        let sid = session.sid();
        match self.store(move |s| s.save_session(&session)).await {
            Ok(()) => {}
            // Redelivered: we have it (and answered it) already.
            Err(ClientError::Store(KeyStoreError::SessionExists(_))) => {
                return self.handled(&d, &peer, None, None).await;
            }
            Err(e) => return Err(e),
        }
        let answer = bytes::Bytes::from(answer);
        let to = d.sender;
        self.retrying(|c| {
            let answer = answer.clone();
            async move { c.send_message(to, MessageKind::SymmetricKey, answer).await }
        })
        .await?;
        let mut outcome = self
            .handled(&d, &peer, None, Some(What::SessionStarted))
            .await?;
        outcome.session_started = true;
        // Texts that came before this key can be opened now.
        let pending = self.store(move |s| s.pending_for(sid)).await?;
        for p in pending {
            let delivery = Delivery {
                sender: p.sender,
                message_id: p.message_id,
                kind: p.kind,
                sent_at_ms: p.sent_at_ms,
                content: bytes::Bytes::from(p.content),
            };
            let opened = self.open_text(delivery, &peer).await?;
            outcome.events.extend(opened.events);
        }
        Ok(outcome)
    }

    /// Whether the server now has another key for the sender than the
    /// pinned one; a change is recorded (pending the user's decision, which
    /// blocks sending and holds their messages).
    async fn sender_key_changed(&self, d: &Delivery) -> Result<bool, ClientError> {
        let id = d.sender;
        let key = self
            .retrying(|c| async move { c.public_key(id).await })
            .await;
        let key = match key {
            Err(e) if e.reason() == Some(ErrorReason::UnknownClient) => return Ok(false),
            other => other?,
        };
        match self
            .pin_key(id, key.name.to_string(), &key.public_key)
            .await
        {
            Ok(info) => Ok(info.pin == crate::pin::PinState::Changed),
            Err(ClientError::NoValidKey(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub(super) async fn on_answer(
        &self,
        d: Delivery,
        peer: PeerRecord,
    ) -> Result<Outcome, ClientError> {
        let Ok(sid) = content_session_id(&d.content) else {
            return self.reject(&d, &peer, Rejection::Tampered).await;
        };
        let mut stored = self.store(move |s| s.session(sid)).await?;
        if stored.is_none() {
            // Our offer may be sent but its session not saved yet: wait for
            // any session being started, then look again.
            drop(self.inner.starting.lock().await);
            stored = self.store(move |s| s.session(sid)).await?;
        }
        let Some(mut stored) = stored else {
            return self.reject(&d, &peer, Rejection::UnknownSession).await;
        };
        if stored.session.peer() != d.sender || stored.session.confirm(&d.content).is_err() {
            return self.reject(&d, &peer, Rejection::Tampered).await;
        }
        self.store(move |s| s.mark_confirmed(sid)).await?;
        self.handled(&d, &peer, None, Some(What::SessionConfirmed))
            .await
    }
}
