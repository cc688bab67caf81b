//! Sessions that heal (PROTOCOL.md, "Sessions that heal"): when a peer
//! refuses one of our messages as a replay (a duplicate counter, or one
//! below its replay window), the session we sealed it in has forked -- a
//! copy of this home folder (a restored backup of an old state, or a copied
//! folder used in parallel) spent the same counters; when it refuses one
//! for "no such session", the peer's home lost the session (restored from
//! a backup, which holds no sessions). Rather than fail silently from then
//! on, the client starts a new session with that peer (a new key
//! agreement) unless the peer already started one, and sends the refused
//! text again in it, from its history. The user sees it as an event.
//!
//! A true duplicate (the server stored our message twice after a lost
//! answer and the peer read the first copy) looks the same to us; it is
//! resent too, so the peer may see that text twice: a duplicate shown is
//! better than a message lost.

use rusqlite::{OptionalExtension, params};

use crate::client::Client;
use crate::crypto::{RefusalReason, SessionId};
use crate::event::What;
use crate::keystore::{KeyStore, KeyStoreError, PeerRecord};

impl Client {
    /// After `peer` refused our message `refused_id` for `reason`: a new
    /// session and the text resent, if the reason says the session forked.
    /// `None` when there is nothing to heal. Never an error of the inbox: a
    /// failure is logged and the refusal stays shown as it is.
    pub(crate) async fn heal_after_refusal(
        &self,
        peer: &PeerRecord,
        refused_id: u64,
        refused_sid: SessionId,
        reason: RefusalReason,
    ) -> Option<What> {
        if !matches!(
            reason,
            RefusalReason::Duplicate | RefusalReason::TooOld | RefusalReason::NoSession
        ) {
            return None;
        }
        match self.heal(peer, refused_id, refused_sid).await {
            Ok(resent) => Some(What::SessionRenewed {
                refused_id,
                resent,
                lost: reason == RefusalReason::NoSession,
            }),
            Err(e) => {
                tracing::warn!(error = %e, peer = %peer.client_id, "could not start a new session after a refusal");
                None
            }
        }
    }

    async fn heal(
        &self,
        peer: &PeerRecord,
        refused_id: u64,
        refused_sid: SessionId,
    ) -> Result<Option<u64>, crate::ClientError> {
        let id = peer.client_id;
        let current = self
            .store(move |s| Ok(s.current_session_for(id)?.map(|c| c.session.sid())))
            .await?;
        // A newer session (the peer's offer that came with its refusal, or
        // an earlier healing) is fresh already: one new session per fork,
        // not one per refused message.
        if current.is_none() || current == Some(refused_sid) {
            self.new_session(peer).await?;
        }
        let Some((entry, text)) = self
            .store(move |s| refused_text(s, &id.to_string(), refused_id))
            .await?
        else {
            // Sent by another copy of this home, or not a text: the new
            // session alone keeps the next messages from being refused.
            return Ok(None);
        };
        let text = zeroize::Zeroizing::new(text);
        let sealed = self
            .seal_for(peer, move |session, counter| {
                session.seal_text(counter, &text)
            })
            .await?;
        let sealed = crate::SealedText {
            to: peer.client_id,
            content: bytes::Bytes::from(sealed),
        };
        let new_id = self.send_sealed(&sealed).await?;
        self.store(move |s| resent(s, entry, new_id)).await?;
        Ok(Some(new_id))
    }
}

/// Our text to `peer` (its id in hex) that the server numbered
/// `message_id`: its history entry and text.
fn refused_text(
    store: &KeyStore,
    peer: &str,
    message_id: u64,
) -> Result<Option<(i64, String)>, KeyStoreError> {
    let id = i64::try_from(message_id).map_err(|_| KeyStoreError::Corrupt("message id"))?;
    Ok(store
        .conn
        .query_row(
            "SELECT entry, body FROM history
             WHERE conv_kind = 1 AND conv = ?1 AND direction = 2 AND kind = 1 AND message_id = ?2",
            params![peer, id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Entry `entry` went out again as message `message_id`: stored, its old
/// failure (if the refusal marked one) gone.
fn resent(store: &mut KeyStore, entry: i64, message_id: u64) -> Result<(), KeyStoreError> {
    let id = i64::try_from(message_id).map_err(|_| KeyStoreError::Corrupt("message id"))?;
    store.conn.execute(
        "UPDATE history SET message_id = ?2, status = 2, status_at = ?3, reason = NULL
         WHERE entry = ?1",
        params![
            entry,
            id,
            i64::try_from(crate::crypto::envelope::now_ms()).unwrap_or(i64::MAX)
        ],
    )?;
    Ok(())
}
