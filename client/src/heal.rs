//! Sessions that heal (PROTOCOL.md, "Sessions that heal"): when a peer
//! refuses one of our messages as a replay (a duplicate counter, or one
//! below its replay window), the session we sealed it in has forked -- a
//! copy of this home folder (a restored backup of an old state, or a copied
//! folder used in parallel) spent the same counters; when it refuses one
//! for "no such session", the peer's home lost the session (restored from
//! a backup, which holds no sessions). Rather than fail silently from then
//! on, the client starts a new session with that peer (a new key
//! agreement) unless the peer already started one, and sends the refused
//! text again in it, from its history, or the refused file again from its
//! path (if it is still there, the same size). The user sees it as an event.
//!
//! A true duplicate (the server stored our message twice after a lost
//! answer and the peer read the first copy) looks the same to us; it is
//! resent too, so the peer may see that text twice: a duplicate shown is
//! better than a message lost.

use std::path::Path;

use rusqlite::{OptionalExtension, params};
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::crypto::{RefusalReason, SessionId};
use crate::event::What;
use crate::keystore::{
    Body, Conversation, Direction, KeyStore, KeyStoreError, NewEntry, PeerRecord, Status,
};
use crate::transfer::{blocking, file_error};

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
        let lost = reason == RefusalReason::NoSession;
        match self.heal(peer, refused_id, refused_sid, lost).await {
            Ok(Some(resent)) => Some(What::SessionRenewed {
                refused_id,
                resent,
                lost,
            }),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, peer = %peer.client_id, "could not start a new session after a refusal");
                None
            }
        }
    }

    /// `None`: nothing healed (a replay of a message this home never sent:
    /// a true duplicate, or a copy's); else the id of the text or file sent
    /// again, if there was one.
    async fn heal(
        &self,
        peer: &PeerRecord,
        refused_id: u64,
        refused_sid: SessionId,
        lost: bool,
    ) -> Result<Option<Option<u64>>, crate::ClientError> {
        let id = peer.client_id;
        let found = self
            .store(move |s| refused_message(s, &id.to_string(), refused_id))
            .await?;
        if found.is_none() && !lost {
            // A replay of something not in our history: the server (or a
            // copy of this home that will read its own refusal) sent it;
            // our own session has not forked.
            return Ok(None);
        }
        let current = self
            .store(move |s| Ok(s.current_session_for(id)?.map(|c| c.session.sid())))
            .await?;
        // A newer session (the peer's offer that came with its refusal, or
        // an earlier healing) is fresh already: one new session per fork,
        // not one per refused message.
        if current.is_none() || current == Some(refused_sid) {
            self.new_session(peer).await?;
        }
        let text = match found {
            Some(Body::Text { text }) => text,
            Some(Body::File { size, path, .. }) => {
                return self.resend_file(peer, &path, size).await.map(Some);
            }
            // The peer lost the session, but the refused message was not
            // one of this home's (no event has a message id): the new
            // session alone is the healing.
            None | Some(Body::Event { .. } | Body::Key { .. }) => return Ok(Some(None)),
        };
        let body = text.clone();
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
        // A new history entry: the refused one keeps its "failed" and the
        // peer's reason, this one follows the text sent again.
        let entry = NewEntry {
            conversation: Conversation::Person { id },
            direction: Direction::Out,
            sender: self.require_me()?.id,
            body: Body::Text { text: body },
            sender_time_ms: Some(crate::crypto::envelope::now_ms()),
            server_time_ms: None,
            message_id: None,
            status: Status::Sent,
        };
        let entry = self.store(move |s| s.add_history(&entry)).await?;
        let new_id = self.sent(entry, self.send_sealed(&sealed).await).await?;
        Ok(Some(Some(new_id)))
    }

    /// Sends the file at `path` to `peer` again in the new session (its
    /// own history entry, like any file sent), if it is still the size it
    /// was: a file changed since is not silently sent in its place.
    async fn resend_file(
        &self,
        peer: &PeerRecord,
        path: &Path,
        size: u64,
    ) -> Result<Option<u64>, crate::ClientError> {
        let found = {
            let p = path.to_path_buf();
            blocking(move || std::fs::metadata(&p).map(|m| m.len())).await?
        };
        match found {
            Ok(len) if len == size => {}
            Ok(_) => {
                return Err(file_error(
                    path,
                    std::io::Error::other("it changed since it was sent; not sent again"),
                ));
            }
            Err(e) => return Err(file_error(path, e)),
        }
        let id = self
            .send_file(&peer.client_id.to_string(), path, CancellationToken::new())
            .await?;
        Ok(Some(id))
    }
}

/// Our message to `peer` (its id in hex) that the server numbered
/// `message_id`: its text, or the file's name, size and path.
fn refused_message(
    store: &KeyStore,
    peer: &str,
    message_id: u64,
) -> Result<Option<Body>, KeyStoreError> {
    use std::os::unix::ffi::OsStringExt;
    let id = i64::try_from(message_id).map_err(|_| KeyStoreError::Corrupt("message id"))?;
    let row = store
        .conn
        .query_row(
            "SELECT kind, body, file_size, file_path FROM history
             WHERE conv_kind = 1 AND conv = ?1 AND direction = 2 AND message_id = ?2",
            params![peer, id],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<Vec<u8>>>(3)?,
                ))
            },
        )
        .optional()?;
    Ok(match row {
        None => None,
        Some((1, text, _, _)) => Some(Body::Text { text }),
        Some((2, name, Some(size), Some(path))) => Some(Body::File {
            name,
            size: u64::try_from(size).map_err(|_| KeyStoreError::Corrupt("history file size"))?,
            path: std::path::PathBuf::from(std::ffi::OsString::from_vec(path)),
        }),
        Some(_) => return Err(KeyStoreError::Corrupt("history kind")),
    })
}
