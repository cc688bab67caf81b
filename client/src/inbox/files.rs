//! File offers received: authenticated, then downloaded at once or held for
//! the user's decision by the policy of [`crate::downloads`] (or because the
//! user stopped the download, [`Client::cancel_downloads`]); and the
//! user's decision on held offers ([`Client::accept_file`],
//! [`Client::decline_file`]).
//!
//! Left out: the download itself ([`crate::transfer`]).

use protocol::ClientId;
use protocol::v3::{Delivery, FileOffer};
use tokio_util::sync::CancellationToken;

use super::Outcome;
use crate::client::Client;
use crate::crypto::{FileMeta, Opened, RefusalReason, SessionId, content_session_id};
use crate::downloads::{DownloadPolicy, HeldOffer};
use crate::error::ClientError;
use crate::event::{Event, Rejection, What, event, names_of};
use crate::keystore::{HeldEnd, HeldFile, HoldReason, PeerRecord};
use crate::partial;
use crate::transfer::download::ReceiveError;

impl Client {
    pub(super) async fn on_file(
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
            // Its sender's offer would have come first (a mailbox is in
            // order), so this home lost the session (a restored backup, a
            // copied folder): told so, the sender starts a new session and
            // sends the file again (`crate::heal`), and this copy can go.
            // Not told (no connection): it stays on the server for the
            // next try.
            if self
                .send_refusal_for(&d, &peer, RefusalReason::NoSession)
                .await
            {
                return Ok(Outcome::handled(vec![event(
                    &d,
                    Some(&peer),
                    What::SessionLost { kind: "file" },
                )]));
            }
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
        if let Some(reason) = self.hold_reason(d.sender, opened.plaintext.size).await? {
            return self.hold(&d, &peer, sid, opened, offer.size, reason).await;
        }
        let meta = &opened.plaintext;
        let label = format!(
            "{} from {}",
            crate::display::escape_line(&meta.name),
            crate::display::escape_line(&peer.name)
        );
        // Stopped by `cancel` (the whole receive ends) or by the user's
        // stop for this download alone (`Client::cancel_downloads`).
        let mine = self.download_token();
        let received = {
            let receiving = self.receive_file(d.message_id, offer.size, meta, &label, &mine);
            tokio::pin!(receiving);
            let done = tokio::select! {
                r = &mut receiving => Some(r),
                () = cancel.cancelled() => None,
            };
            match done {
                Some(r) => r,
                // Let the download keep its part, then end.
                None => {
                    mine.cancel();
                    receiving.await
                }
            }
        };
        match received {
            Err(ReceiveError::Failed(ClientError::Cancelled)) if !cancel.is_cancelled() => {
                // The user stopped this one: held, what arrived kept.
                self.hold(&d, &peer, sid, opened, offer.size, HoldReason::Cancelled)
                    .await
            }
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
            Err(ReceiveError::Busy(_)) => {
                // Another process of this home (a second `watch`) has it.
                tracing::info!(
                    id = d.message_id,
                    "file left to the client of this home receiving it"
                );
                Ok(Outcome::kept(Vec::new()))
            }
            Err(ReceiveError::Failed(e)) => Err(e),
        }
    }

    /// Sets which files download without asking (see the module docs).
    pub fn set_download_policy(&self, policy: DownloadPolicy) {
        *self
            .inner
            .download_policy
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = policy;
    }

    /// Which files download without asking.
    pub fn download_policy(&self) -> DownloadPolicy {
        *self
            .inner
            .download_policy
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Why a file of `size` bytes from `sender` must wait for the user, or
    /// `None` if it downloads now.
    pub(super) async fn hold_reason(
        &self,
        sender: ClientId,
        size: u64,
    ) -> Result<Option<HoldReason>, ClientError> {
        let policy = self.download_policy();
        if policy.accept_all {
            return Ok(None);
        }
        if !self.store(move |s| s.is_contact(sender)).await? {
            return Ok(Some(HoldReason::Stranger));
        }
        Ok((size > policy.max_auto_download).then_some(HoldReason::TooLarge))
    }

    /// Holds an authenticated file offer (`opened` in session `sid`) for
    /// the user (its counter is used now); the file stays on the server.
    pub(super) async fn hold(
        &self,
        d: &Delivery,
        peer: &PeerRecord,
        sid: SessionId,
        opened: Opened<FileMeta>,
        offer_size: u64,
        reason: HoldReason,
    ) -> Result<Outcome, ClientError> {
        let counter = (sid, opened.counter);
        let meta = opened.plaintext;
        let held = HeldFile {
            message_id: d.message_id,
            sender: d.sender,
            name: meta.name.clone(),
            size: meta.size,
            offer_size,
            secret: meta.secret,
            reason,
            sent_at_ms: d.sent_at_ms,
            sender_time_ms: Some(opened.sent_at_ms),
        };
        let limit =
            (reason == HoldReason::TooLarge).then(|| self.download_policy().max_auto_download);
        let what = held_event(&held, limit);
        self.store(move |s| s.hold_file(&held, counter)).await?;
        let mut shown = event(d, Some(peer), what);
        shown.sender_time_ms = Some(opened.sent_at_ms);
        Ok(Outcome::kept(vec![shown]))
    }

    /// A held offer delivered again: downloaded if the policy now allows
    /// it, else still held, quietly (it was shown when it was held, and
    /// [`Client::held_files`] lists it).
    pub(super) async fn on_held(
        &self,
        d: &Delivery,
        held: HeldFile,
        cancel: &CancellationToken,
    ) -> Result<Outcome, ClientError> {
        let sender = held.sender;
        let peer = self.store(move |s| s.peer(sender)).await?;
        // A download the user stopped waits for their word, whatever the
        // policy says.
        if held.reason == HoldReason::Cancelled
            || self.hold_reason(held.sender, held.size).await?.is_some()
        {
            return Ok(Outcome::kept(Vec::new()));
        }
        let sender_time_ms = held.sender_time_ms;
        let what = self.download_held(held, peer.as_ref(), cancel).await?;
        let mut shown = event(d, peer.as_ref(), what);
        shown.sender_time_ms = sender_time_ms;
        Ok(Outcome::handled(vec![shown]))
    }

    /// Downloads a held file and forgets the offer; a file that does not
    /// authenticate is a rejection (and forgotten too).
    async fn download_held(
        &self,
        held: HeldFile,
        peer: Option<&PeerRecord>,
        cancel: &CancellationToken,
    ) -> Result<What, ClientError> {
        let id = held.message_id;
        let meta = FileMeta::with_secret(held.name, held.size, held.secret)?;
        let from = peer
            .cloned()
            .and_then(PeerRecord::pinned_name)
            .unwrap_or_else(|| format!("client {}", held.sender));
        let label = format!(
            "{} from {}",
            crate::display::escape_line(&meta.name),
            crate::display::escape_line(&from)
        );
        let (what, end) = match self
            .receive_file(id, held.offer_size, &meta, &label, cancel)
            .await
        {
            Ok(path) => (
                What::File {
                    name: meta.name.clone(),
                    path: path.clone(),
                    size: meta.size,
                },
                HeldEnd::Saved(path),
            ),
            Err(ReceiveError::Rejected(_)) => {
                let reason = Rejection::Tampered;
                let why = format!("not saved, {}", reason.explain());
                (What::Rejected { reason }, HeldEnd::Rejected(why))
            }
            Err(ReceiveError::Busy(e) | ReceiveError::Failed(e)) => return Err(e),
        };
        // Its held entry in history becomes the received file (or says why
        // not): one entry for the offer all along.
        self.store(move |s| s.finish_held_file(id, &end)).await?;
        Ok(what)
    }

    /// The file offers waiting for the user's decision, oldest first.
    ///
    /// # Errors
    /// The store failed.
    pub async fn held_files(&self) -> Result<Vec<HeldOffer>, ClientError> {
        let direct = self
            .store(|s| {
                let held = s.held_files()?;
                let mut out = Vec::with_capacity(held.len());
                for h in held {
                    let from_name = s.peer(h.sender)?.and_then(PeerRecord::pinned_name);
                    out.push(HeldOffer {
                        message_id: h.message_id,
                        from: h.sender,
                        from_name,
                        name: h.name,
                        size: h.size,
                        reason: h.reason,
                        sent_at_ms: h.sent_at_ms,
                        sender_time_ms: h.sender_time_ms,
                        room: None,
                    });
                }
                Ok(out)
            })
            .await?;
        // With the room files the server holds for us (`crate::rooms`).
        let mut all = direct;
        all.extend(self.held_room_offers().await?);
        all.sort_by_key(|o| (o.sent_at_ms, o.message_id));
        Ok(all)
    }

    /// Downloads held file offer `message_id` (the user accepted it) and
    /// removes it from the server; a held room file is released (see
    /// `crate::rooms::offers`). `cancel` stops the download; what was
    /// received is kept for the next attempt.
    ///
    /// # Errors
    /// [`ClientError::NoHeldFile`], cancelled, or see [`ClientError`].
    pub async fn accept_file(
        &self,
        message_id: u64,
        cancel: CancellationToken,
    ) -> Result<Event, ClientError> {
        let _receiving = tokio::select! {
            r = self.inner.receiving.lock() => r,
            () = cancel.cancelled() => return Err(ClientError::Cancelled),
        };
        let Some(held) = self.store(move |s| s.held_file(message_id)).await? else {
            // A room file the server holds for us: its entry's seq comes
            // from the same counter as message ids.
            let Some(offer) = self.room_offer(message_id).await? else {
                return Err(self.no_held_file(message_id).await);
            };
            return self.accept_room_offer(offer, &cancel).await;
        };
        let (sender, sent_at_ms, sender_time_ms) =
            (held.sender, held.sent_at_ms, held.sender_time_ms);
        let peer = self.store(move |s| s.peer(sender)).await?;
        let what = self.download_held(held, peer.as_ref(), &cancel).await?;
        self.acknowledge(vec![message_id]).await?;
        let (from_name, server_name) = names_of(peer.as_ref());
        let event = Event {
            message_id,
            from: sender,
            from_name,
            from_you: false,
            server_name,
            sent_at_ms,
            sender_time_ms,
            what,
        };
        self.send_receipts(
            std::slice::from_ref(&event),
            crate::crypto::ReceiptKind::Delivered,
        )
        .await;
        Ok(event)
    }

    /// Declines held file offer `message_id`: it is forgotten here and
    /// acknowledged, so the server deletes the file; the sender gets a
    /// declined receipt. Returns the offer.
    ///
    /// # Errors
    /// [`ClientError::NoHeldFile`], or see [`ClientError`].
    pub async fn decline_file(&self, message_id: u64) -> Result<HeldOffer, ClientError> {
        let _receiving = self.inner.receiving.lock().await;
        let offer = self
            .held_files()
            .await?
            .into_iter()
            .find(|h| h.message_id == message_id && h.room.is_none());
        let Some(offer) = offer else {
            let Some(room_offer) = self.room_offer(message_id).await? else {
                return Err(self.no_held_file(message_id).await);
            };
            return self.decline_room_offer(room_offer).await;
        };
        // Handled here first: if the acknowledgement is lost, the redelivery
        // is recognised and acknowledged then.
        self.store(move |s| {
            s.finish_held_file(message_id, &HeldEnd::Declined)?;
            s.delete_partial(message_id)
        })
        .await?;
        let path = partial::path(&self.downloads(), message_id);
        let _ = tokio::task::spawn_blocking(move || std::fs::remove_file(path)).await;
        self.acknowledge(vec![message_id]).await?;
        // Best effort, as every receipt: the decline itself is done.
        let kind = crate::crypto::ReceiptKind::Declined;
        if let Err(e) = self.send_receipt(offer.from, kind, vec![message_id]).await {
            tracing::warn!(error = %e, peer = %offer.from, "could not send a declined receipt");
        }
        Ok(offer)
    }
}

impl Client {
    /// The error for `message_id`, no offer waiting: with what history
    /// has of it (accepted, declined, a text), if it was received here.
    async fn no_held_file(&self, message_id: u64) -> ClientError {
        let found = self.store(move |s| s.received_by_id(message_id)).await;
        let decided = match found {
            Ok(Some(entry)) => {
                let sender = entry.sender;
                let peer = self.store(move |s| s.peer(sender)).await.ok().flatten();
                let (from_name, _) = names_of(peer.as_ref());
                Some(Box::new(crate::downloads::Decided { entry, from_name }))
            }
            Ok(None) => None,
            Err(e) => return e,
        };
        ClientError::NoHeldFile(message_id, decided)
    }
}

fn held_event(held: &HeldFile, limit: Option<u64>) -> What {
    What::FileHeld {
        name: held.name.clone(),
        size: held.size,
        reason: held.reason,
        limit,
    }
}
