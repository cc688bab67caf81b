//! Sealing and sending: sessions with a peer (started on first use, the
//! offer sent before the session is kept), counters taken from the key
//! store before they are used, and texts.
//!
//! An `impl Client` block of its own, used by every sender: texts here,
//! files in [`crate::transfer`], refusal notices in [`crate::refusal`].
//! Left out: who may be sent to (`crate::peers`).

use bytes::Bytes;
use protocol::{ClientId, MessageKind};

use crate::client::Client;
use crate::crypto::{CryptoError, Session, SessionId};
use crate::error::ClientError;
use crate::keystore::{Body, Conversation, Direction, KeyStoreError, NewEntry, PeerRecord, Status};

/// A text sealed for one peer, ready to send.
#[derive(Debug, Clone)]
pub struct SealedText {
    /// The recipient.
    pub to: ClientId,
    /// The sealed content (type 3).
    pub content: Bytes,
}

impl Client {
    /// Starts a new session with `who`: sends a key-agreement offer (type 1).
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn start_session(&self, who: &str) -> Result<SessionId, ClientError> {
        let peer = self.peer_for_sending(who).await?;
        self.new_session(&peer).await
    }

    pub(crate) async fn new_session(&self, peer: &PeerRecord) -> Result<SessionId, ClientError> {
        let me = self.require_me()?;
        let (session, offer) =
            Session::initiate(&me.identity, me.id, peer.client_id, &peer.bundle)?;
        let sid = session.sid();
        // Send first, then keep: a session the peer never heard of would
        // swallow every message sealed in it.
        let to = peer.client_id;
        let offer = Bytes::from(offer);
        let _starting = self.inner.starting.lock().await;
        self.retrying(|c| {
            let offer = offer.clone();
            async move {
                c.send_message(to, MessageKind::SymmetricKeyRequest, offer)
                    .await
            }
        })
        .await?;
        self.store(move |s| s.save_session(&session)).await?;
        Ok(sid)
    }

    /// The session to seal for `peer` in, starting one if there is none.
    pub(crate) async fn sending_session(
        &self,
        peer: &PeerRecord,
    ) -> Result<SessionId, ClientError> {
        let id = peer.client_id;
        match self.store(move |s| s.current_session_for(id)).await? {
            Some(s) => Ok(s.session.sid()),
            None => self.new_session(peer).await,
        }
    }

    /// Seals `plaintext` in the current session with `who`, taking a fresh
    /// counter that is on disk before it is used.
    pub(crate) async fn seal_for(
        &self,
        peer: &PeerRecord,
        seal: impl FnOnce(&Session, u64) -> Result<Vec<u8>, CryptoError> + Send + 'static,
    ) -> Result<Vec<u8>, ClientError> {
        let sid = self.sending_session(peer).await?;
        let sealed = self
            .store(move |s| {
                let counter = s.next_send_counter(sid)?;
                let stored = s.session(sid)?.ok_or(KeyStoreError::UnknownSession(sid))?;
                Ok(seal(&stored.session, counter))
            })
            .await??;
        Ok(sealed)
    }

    /// Sends `text` to `who`, sealed end to end; returns the message id.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn send_text(&self, who: &str, text: &str) -> Result<u64, ClientError> {
        // Sealing may start a session, which sends its offer.
        let sealed = self.seal_text(who, text).await;
        let sealed = self.unless_recipient_gone(who, sealed).await?;
        // The server's own limit, checked here so that the answer counts
        // the text's bytes, not the sealed ones the server would count.
        let limit = self.connection().await?.limits().max_message_len as usize;
        if sealed.content.len() > limit {
            let overhead = sealed.content.len().saturating_sub(text.len());
            return Err(ClientError::TextTooLong {
                len: text.len(),
                max: limit.saturating_sub(overhead),
            });
        }
        // In history before it leaves: a crash while sending shows it as
        // sent, never forgets it.
        let entry = NewEntry {
            conversation: Conversation::Person { id: sealed.to },
            direction: Direction::Out,
            sender: self.require_me()?.id,
            body: Body::Text {
                text: text.to_string(),
            },
            sender_time_ms: Some(crate::crypto::envelope::now_ms()),
            server_time_ms: None,
            message_id: None,
            status: Status::Sent,
        };
        let entry = self.store(move |s| s.add_history(&entry)).await?;
        let sent = self.send_sealed(&sealed).await;
        self.sent(entry, self.unless_recipient_gone(who, sent).await)
            .await
    }

    /// Records how the send of history entry `entry` ended: stored with its
    /// message id, or failed with the reason.
    pub(crate) async fn sent(
        &self,
        entry: u64,
        result: Result<u64, ClientError>,
    ) -> Result<u64, ClientError> {
        match result {
            Ok(id) => {
                self.store(move |s| s.mark_stored(entry, id)).await?;
                Ok(id)
            }
            Err(e) => {
                let reason = crate::repl::explain::client_error(&e, &[]);
                // The send's error matters more than a failure to note it.
                let _ = self.store(move |s| s.mark_unsent(entry, &reason)).await;
                Err(e)
            }
        }
    }

    /// Seals `text` for `who` (starting a session if needed) without sending
    /// it. The self-test uses this to show that altered and replayed copies
    /// are refused.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn seal_text(&self, who: &str, text: &str) -> Result<SealedText, ClientError> {
        let max = crate::crypto::envelope::MAX_TEXT_LEN;
        if text.len() > max {
            return Err(ClientError::TextTooLong {
                len: text.len(),
                max,
            });
        }
        let peer = self.peer_for_sending(who).await?;
        let text = zeroize::Zeroizing::new(text.to_string());
        let sealed = self
            .seal_for(&peer, move |session, counter| {
                session.seal_text(counter, &text)
            })
            .await?;
        Ok(SealedText {
            to: peer.client_id,
            content: Bytes::from(sealed),
        })
    }

    /// Sends a sealed text as it is; returns the message id.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn send_sealed(&self, sealed: &SealedText) -> Result<u64, ClientError> {
        let to = sealed.to;
        // A retry after a lost answer may store the message twice; the
        // recipient drops the second copy by its counter.
        self.retrying(|c| {
            let content = sealed.content.clone();
            async move { c.send_message(to, MessageKind::Text, content).await }
        })
        .await
    }
}
