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

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use protocol::v3::{Delivery, FileOffer};
use protocol::{ClientId, ErrorReason, MessageKind};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::client::{Client, ClientError, hex_id};
use crate::connection::Connection;
use crate::crypto::refusal::is_refusal;
use crate::crypto::{CryptoError, RefusalReason, Session, SessionId, content_session_id};
use crate::keystore::{KeyStoreError, PeerRecord, PendingMessage, PendingRoom};
use crate::transfer::{ReceiveError, receive_file};

/// Something that happened to a delivered message.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// The server's message id.
    pub message_id: u64,
    /// The sender's client id.
    #[serde(serialize_with = "hex_id")]
    pub from: ClientId,
    /// The name the sender is pinned under, if it has one (escape before
    /// printing). Never the server's word alone: see [`crate::contacts`].
    pub from_name: Option<String>,
    /// The server's current name for the sender, only when it differs from
    /// `from_name` (a remark; escape before printing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// When the server stored it (ms since the Unix epoch): the server's
    /// word, not authenticated.
    pub sent_at_ms: u64,
    /// When the sender sealed it by the sender's clock (ms since the Unix
    /// epoch), authenticated end to end; for texts, files and refusals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_time_ms: Option<u64>,
    /// What it was.
    #[serde(flatten)]
    pub what: What,
}

/// What a delivered message turned out to be.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum What {
    /// A text, authentic and fresh.
    Text {
        /// The text (escape before printing).
        text: String,
    },
    /// A file, authentic and complete, saved in the downloads folder.
    File {
        /// The name the sender gave it (escape before printing).
        name: String,
        /// Where it was saved.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
    },
    /// The sender started a session with us (we answered).
    SessionStarted,
    /// The peer answered our offer: the session is confirmed.
    SessionConfirmed,
    /// It arrived before its session's key; it is kept and will be opened
    /// when the key arrives.
    Waiting {
        /// `text` or `file`.
        kind: &'static str,
    },
    /// The sender's key changed; its messages wait until the user accepts
    /// the new key.
    KeyChanged,
    /// A file offer waits for the user's decision (`accept-file` or
    /// `decline-file` with the message id); the file stays on the server.
    FileHeld {
        /// The name the sender gave it (escape before printing).
        name: String,
        /// Its size in bytes.
        size: u64,
        /// Why it was not downloaded.
        reason: crate::keystore::HoldReason,
    },
    /// It arrived before its session's key, but the store already keeps
    /// as many such messages as it may (from this sender, or in all): it
    /// stays on the server and is read again once the key arrives.
    Deferred {
        /// `text`.
        kind: &'static str,
    },
    /// It waited for its session's key longer than the store keeps such
    /// messages, and was given up unread.
    Expired {
        /// `text`.
        kind: &'static str,
    },
    /// Refused: never shown as genuine.
    Rejected {
        /// Why, in one word.
        reason: Rejection,
    },
    /// The peer's client refused a message we sent (a refusal notice).
    Refused {
        /// The server's id of our refused message.
        refused_id: u64,
        /// The counter it carried (0 if unknown).
        counter: u64,
        /// Why the peer refused it.
        reason: RefusalReason,
    },
    /// It could not be handled now (the server refused our answer, the file
    /// could not be saved, the local disk is full): it stays on the server
    /// and comes again next time; the other messages were handled.
    Failed {
        /// What went wrong and what to do, in one line.
        error: String,
    },
}

/// Why a message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// Its counter was already received: a true duplicate.
    Replayed,
    /// Its counter is below the replay window (more than 2048 newer
    /// messages came first): it may be a duplicate, nobody can tell.
    TooOld,
    /// It authenticated, but its content breaks the format.
    Malformed,
    /// It did not authenticate: altered, forged, or not for us.
    Tampered,
    /// It names a session we do not have.
    UnknownSession,
    /// The sender has no valid end-to-end key (a version-2 client).
    NotEncrypted,
    /// The sender is not registered on the server.
    UnknownSender,
}

impl Rejection {
    /// One line for a person.
    pub fn explain(self) -> &'static str {
        match self {
            Self::Replayed => {
                "rejected: a duplicate of a message already received (its counter was used)"
            }
            Self::TooOld => {
                "rejected: too old (it arrived after more than 2048 newer messages from its sender, who is told)"
            }
            Self::Malformed => "rejected: it authenticated but its content is malformed",
            Self::Tampered => {
                "rejected: the message does not authenticate (altered, forged, or not for you)"
            }
            Self::UnknownSession => "rejected: it belongs to a session this client does not have",
            Self::NotEncrypted => "rejected: the sender has no valid end-to-end key",
            Self::UnknownSender => "rejected: the sender is not registered on this server",
        }
    }
}

/// What waits on the server, as one pull sees it (nothing is removed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Waiting {
    /// Messages in the first batch not handled here yet (key-agreement
    /// messages included).
    pub messages: usize,
    /// Whether more wait beyond that batch.
    pub more: bool,
}

/// The outcome of one delivery.
pub(crate) struct Outcome {
    events: Vec<Event>,
    /// Acknowledge it (handled), or leave it on the server (kept).
    ack: bool,
    /// A session started: kept files may now be openable.
    session_started: bool,
}

impl Outcome {
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

/// The name `peer` is pinned under, and the server's name for it when that
/// differs (only a remark: the pinned name is the authority).
pub(crate) fn names_of(peer: Option<&PeerRecord>) -> (Option<String>, Option<String>) {
    let pinned = peer.map(|p| p.name.clone()).filter(|n| !n.is_empty());
    let server = peer
        .and_then(|p| p.server_name.clone())
        .filter(|n| peer.is_none_or(|p| *n != p.name));
    (pinned, server)
}

pub(crate) fn event(d: &Delivery, peer: Option<&PeerRecord>, what: What) -> Event {
    let (from_name, server_name) = names_of(peer);
    Event {
        message_id: d.message_id,
        from: d.sender,
        from_name,
        server_name,
        sent_at_ms: d.sent_at_ms,
        sender_time_ms: None,
        what,
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
        let _receiving = tokio::select! {
            r = self.inner.receiving.lock() => r,
            () = cancel.cancelled() => return Err(ClientError::Cancelled),
        };
        let mut events = self.housekeeping().await?;
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
            let mut acks = Vec::new();
            for d in fresh {
                let id = d.message_id;
                if stuck.contains(&d.sender) {
                    // Behind a message of the same sender that failed: its
                    // counter would pass the failed one's, which would then
                    // be refused as a replay. It waits for the next inbox.
                    continue;
                }
                let sender = d.sender;
                let outcome = self.handle_or_keep(d, &cancel).await?;
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
            self.acknowledge(acks).await?;
            if !more && !retry_kept {
                break;
            }
        }
        Ok(events)
    }

    /// Counts the messages waiting on the server with one pull; nothing is
    /// handled or removed.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn waiting(&self) -> Result<Waiting, ClientError> {
        let batch = self.retrying(|c| async move { c.pull(0).await }).await?;
        let ids: Vec<u64> = batch.messages.iter().map(|d| d.message_id).collect();
        // Handled here but not yet acknowledged: they go silently.
        let fresh = self
            .store(move |s| {
                let mut fresh = 0;
                for id in ids {
                    if !s.is_handled(id)? {
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

    /// Stays connected and handles messages as the server pushes them,
    /// sending what happened to `events`, until `stop` fires or `events` is
    /// dropped. Reconnects after a lost connection.
    ///
    /// # Errors
    /// Not registered, the server's key changed, or the key store failed.
    pub async fn watch(
        &self,
        events: mpsc::UnboundedSender<Event>,
        stop: CancellationToken,
    ) -> Result<(), ClientError> {
        for e in self.housekeeping().await? {
            if events.send(e).is_err() {
                return Ok(());
            }
        }
        let mut failures = 0u32;
        while !stop.is_cancelled() {
            let conn = match self.connection().await {
                Ok(c) => c,
                Err(e @ (ClientError::ServerKeyChanged { .. } | ClientError::NotRegistered(_))) => {
                    return Err(e);
                }
                Err(e) => {
                    failures += 1;
                    tracing::info!(error = %e, "cannot reach the server; trying again");
                    let wait = std::time::Duration::from_millis(250 << failures.min(5));
                    tokio::select! {
                        () = tokio::time::sleep(wait) => continue,
                        () = stop.cancelled() => return Ok(()),
                    }
                }
            };
            failures = 0;
            match self.watch_on(&conn, &events, &stop).await {
                Ok(()) => {
                    // Drop the subscribed connection, so that a later watch
                    // subscribes afresh.
                    self.disconnect().await;
                    return Ok(());
                }
                Err(ClientError::Connection(e)) if e.is_disconnect() => {
                    tracing::info!(error = %e, "connection lost while watching; reconnecting");
                    self.set_link(crate::link::Link::Down(e.to_string()));
                    self.disconnect().await;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn watch_on(
        &self,
        conn: &Arc<Connection>,
        events: &mpsc::UnboundedSender<Event>,
        stop: &CancellationToken,
    ) -> Result<(), ClientError> {
        let (_, stream) = conn.subscribe().await?;
        let Some(mut stream) = stream else {
            // Another watcher has this connection's pushes.
            return Err(crate::connection::ConnectionError::Unexpected(
                "already watching on this connection".into(),
            )
            .into());
        };
        loop {
            let delivery = tokio::select! {
                d = stream.recv() => d,
                () = stop.cancelled() => return Ok(()),
            };
            let Some(first) = delivery else {
                return Err(
                    crate::connection::ConnectionError::Closed(conn.closing_notice()).into(),
                );
            };
            // Handle whatever else already arrived too, then acknowledge
            // them together.
            let mut batch = vec![first];
            while let Ok(d) = stream.try_recv() {
                batch.push(d);
            }
            let _receiving = self.inner.receiving.lock().await;
            let mut acks = Vec::new();
            for d in batch {
                let id = d.message_id;
                let outcome = match self.handle(d, stop).await {
                    // Stopped during a file: it stays on the server.
                    Err(ClientError::Cancelled) if stop.is_cancelled() => return Ok(()),
                    other => other?,
                };
                for e in outcome.events {
                    if events.send(e).is_err() {
                        return Ok(());
                    }
                }
                if outcome.ack {
                    acks.push(id);
                }
            }
            if !acks.is_empty() {
                conn.ack(acks).await?;
            }
        }
    }

    /// The sender as pinned, pinning it on first contact. `Err(outcome)`
    /// when the message cannot be handled because of the sender.
    async fn sender(&self, d: &Delivery) -> Result<Result<PeerRecord, Outcome>, ClientError> {
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
            return Ok(Ok(record));
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
            Some(r) if r.pending_bundle.is_none() => Ok(Ok(r)),
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
    async fn handle_or_keep(
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
    async fn handle(
        &self,
        d: Delivery,
        cancel: &CancellationToken,
    ) -> Result<Outcome, ClientError> {
        let id = d.message_id;
        if self.store(move |s| s.is_handled(id)).await? {
            return Ok(Outcome::handled(Vec::new()));
        }
        if let Some(held) = self.store(move |s| s.held_file(id)).await? {
            return self.on_held(&d, held, cancel).await;
        }
        let peer = match self.sender(&d).await? {
            Ok(p) => p,
            Err(outcome) => return Ok(outcome),
        };
        match d.kind {
            MessageKind::SymmetricKeyRequest => self.on_offer(d, peer).await,
            MessageKind::SymmetricKey => self.on_answer(d, peer).await,
            MessageKind::Text => self.on_text(d, peer).await,
            MessageKind::File => self.on_file(d, peer, cancel).await,
        }
    }

    /// Records a message as handled (with the counter it used, if any) and
    /// returns the outcome with `what`.
    async fn handled(
        &self,
        d: &Delivery,
        peer: &PeerRecord,
        counter: Option<(SessionId, u64)>,
        what: Option<What>,
    ) -> Result<Outcome, ClientError> {
        self.handled_sealed(d, peer, counter, what, None).await
    }

    /// [`Self::handled`] for an opened envelope, with the sender's time.
    async fn handled_sealed(
        &self,
        d: &Delivery,
        peer: &PeerRecord,
        counter: Option<(SessionId, u64)>,
        what: Option<What>,
        sender_time_ms: Option<u64>,
    ) -> Result<Outcome, ClientError> {
        let id = d.message_id;
        self.store(move |s| s.mark_handled(id, counter)).await?;
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

    async fn reject(
        &self,
        d: &Delivery,
        peer: &PeerRecord,
        reason: Rejection,
    ) -> Result<Outcome, ClientError> {
        tracing::warn!(id = d.message_id, from = %d.sender, ?reason, "message rejected");
        let outcome = self
            .handled(d, peer, None, Some(What::Rejected { reason }))
            .await?;
        // Recorded first: a crash now loses the notice, never repeats it.
        self.send_refusal(d, peer, reason).await;
        Ok(outcome)
    }

    /// The outcome of an envelope the crypto refused.
    async fn reject_opening(
        &self,
        d: &Delivery,
        peer: &PeerRecord,
        error: CryptoError,
    ) -> Result<Outcome, ClientError> {
        let reason = match error {
            CryptoError::Replayed => Rejection::Replayed,
            CryptoError::TooOld => Rejection::TooOld,
            CryptoError::BadPlaintext => Rejection::Malformed,
            _ => Rejection::Tampered,
        };
        self.reject(d, peer, reason).await
    }

    async fn on_offer(&self, d: Delivery, peer: PeerRecord) -> Result<Outcome, ClientError> {
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

    async fn on_answer(&self, d: Delivery, peer: PeerRecord) -> Result<Outcome, ClientError> {
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

    async fn on_text(&self, d: Delivery, peer: PeerRecord) -> Result<Outcome, ClientError> {
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
            return Ok(Outcome::handled(vec![event(
                &d,
                Some(&peer),
                What::Waiting { kind: "text" },
            )]));
        }
        self.open_text(d, &peer).await
    }

    async fn open_text(&self, d: Delivery, peer: &PeerRecord) -> Result<Outcome, ClientError> {
        let Ok(sid) = content_session_id(&d.content) else {
            return self.reject(&d, peer, Rejection::Tampered).await;
        };
        let Some(stored) = self.store(move |s| s.session(sid)).await? else {
            return self.reject(&d, peer, Rejection::UnknownSession).await;
        };
        if stored.session.peer() != d.sender {
            return self.reject(&d, peer, Rejection::Tampered).await;
        }
        if is_refusal(&d.content) {
            return match stored
                .session
                .open_refusal(&d.content, &stored.receive_window)
            {
                Ok(opened) => {
                    let what = What::Refused {
                        refused_id: opened.plaintext.message_id,
                        counter: opened.plaintext.counter,
                        reason: opened.plaintext.reason,
                    };
                    let counter = Some((sid, opened.counter));
                    self.handled_sealed(&d, peer, counter, Some(what), Some(opened.sent_at_ms))
                        .await
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

    async fn on_file(
        &self,
        d: Delivery,
        peer: PeerRecord,
        cancel: &CancellationToken,
    ) -> Result<Outcome, ClientError> {
        let Ok(offer) = FileOffer::decode(d.content.clone()) else {
            return self.reject(&d, &peer, Rejection::Tampered).await;
        };
        let Ok(sid) = content_session_id(&offer.meta) else {
            return self.reject(&d, &peer, Rejection::Tampered).await;
        };
        let Some(stored) = self.store(move |s| s.session(sid)).await? else {
            // The file lives on the server: leave it there until the key comes.
            return Ok(Outcome::kept(vec![event(
                &d,
                Some(&peer),
                What::Waiting { kind: "file" },
            )]));
        };
        if stored.session.peer() != d.sender {
            return self.reject(&d, &peer, Rejection::Tampered).await;
        }
        let opened = match stored
            .session
            .open_file_meta(&offer.meta, &stored.receive_window)
        {
            Ok(o) => o,
            Err(e) => return self.reject_opening(&d, &peer, e).await,
        };
        let meta = opened.plaintext;
        if let Some(reason) = self.hold_reason(d.sender, meta.size).await? {
            let mut outcome = self
                .hold(&d, &peer, (sid, opened.counter), meta, offer.size, reason)
                .await?;
            for e in &mut outcome.events {
                e.sender_time_ms = Some(opened.sent_at_ms);
            }
            return Ok(outcome);
        }
        let label = format!(
            "{} from {}",
            crate::display::escape_line(&meta.name),
            crate::display::escape_line(&peer.name)
        );
        match receive_file(self, d.message_id, offer.size, &meta, &label, cancel).await {
            Ok(path) => {
                let what = What::File {
                    name: meta.name.clone(),
                    path,
                    size: meta.size,
                };
                let counter = Some((sid, opened.counter));
                self.handled_sealed(&d, &peer, counter, Some(what), Some(opened.sent_at_ms))
                    .await
            }
            Err(ReceiveError::Rejected(_)) => self.reject(&d, &peer, Rejection::Tampered).await,
            Err(ReceiveError::Failed(e)) => Err(e),
        }
    }
}
