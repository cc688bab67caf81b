//! Which received files download by themselves, and the user's decision on
//! the others.
//!
//! A file downloads at once only if its sender is a **contact** (a peer the
//! user sent something to, or looked up or verified on purpose: see
//! [`crate::keystore`]) and it is at most [`DownloadPolicy::max_auto_download`]
//! bytes (default [`DEFAULT_MAX_AUTO_DOWNLOAD`]). Any other file offer is
//! authenticated, its counter used and its metadata kept in the key store,
//! and it is **held**: the file stays on the server, unacknowledged, until
//! the user accepts it ([`Client::accept_file`]: downloaded then) or
//! declines it ([`Client::decline_file`]: acknowledged, so the server
//! deletes it). Scripts that want every file say so
//! ([`DownloadPolicy::accept_all`], `--accept-files`).
//!
//! Also here: the housekeeping that bounds what the store and the
//! downloads folder keep (see [`crate::keystore`]'s bounds), run before
//! each read of the inbox and each watch.
//!
//! Left out: the transfer itself ([`crate::transfer`]).

use std::time::Duration;

use protocol::ClientId;
use protocol::v3::Delivery;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::client::{Client, ClientError, hex_id};
use crate::crypto::{FileMeta, SessionId};
use crate::inbox::{Event, Outcome, Rejection, What, event};
use crate::keystore::{HeldFile, HoldReason, PENDING_TTL, PeerRecord};
use crate::partial;
use crate::transfer::download::ReceiveError;

/// The automatic download limit unless the user sets another: 64 MiB.
pub const DEFAULT_MAX_AUTO_DOWNLOAD: u64 = 64 * 1024 * 1024;
/// How long an interrupted download's part is kept without being resumed.
pub const PARTIAL_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Which files download without asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadPolicy {
    /// Largest file (plaintext bytes) downloaded from a contact without
    /// asking.
    pub max_auto_download: u64,
    /// Download every file, from anyone, of any size (`--accept-files`).
    pub accept_all: bool,
}

impl Default for DownloadPolicy {
    fn default() -> Self {
        Self {
            max_auto_download: DEFAULT_MAX_AUTO_DOWNLOAD,
            accept_all: false,
        }
    }
}

/// A held file offer, as the user sees it.
#[derive(Debug, Clone, Serialize)]
pub struct HeldOffer {
    /// The server's message id: `accept-file N`, `decline-file N`.
    pub message_id: u64,
    /// The sender's client id.
    #[serde(serialize_with = "hex_id")]
    pub from: ClientId,
    /// The sender's name as pinned, if known (escape before printing).
    pub from_name: Option<String>,
    /// The file's name as the sender gave it (escape before printing).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Why it waits.
    pub reason: HoldReason,
    /// When the server stored it (ms since the Unix epoch).
    pub sent_at_ms: u64,
}

/// Parses a size as people write it: `65536`, `64K`, `64M`, `1.5G`, `64MiB`
/// (K, M, G, T are binary multiples, as in "64 MiB").
///
/// # Errors
/// Not a size.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("{text:?} is not a size (try 64M or 1G)")),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (try 64M or 1G)"))?;
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("{text:?} is out of range"));
    }
    Ok(bytes as u64)
}

impl Client {
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

    /// Records `peer` as a contact: the user chose to deal with them.
    pub(crate) async fn mark_contact(&self, peer: ClientId) -> Result<(), ClientError> {
        self.store(move |s| s.add_contact(peer)).await
    }

    /// Why a file of `size` bytes from `sender` must wait for the user, or
    /// `None` if it downloads now.
    pub(crate) async fn hold_reason(
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

    /// Holds an authenticated file offer for the user (its counter is used
    /// now); the file stays on the server.
    pub(crate) async fn hold(
        &self,
        d: &Delivery,
        peer: &PeerRecord,
        counter: (SessionId, u64),
        meta: FileMeta,
        offer_size: u64,
        reason: HoldReason,
    ) -> Result<Outcome, ClientError> {
        let held = HeldFile {
            message_id: d.message_id,
            sender: d.sender,
            name: meta.name.clone(),
            size: meta.size,
            offer_size,
            secret: meta.secret,
            reason,
            sent_at_ms: d.sent_at_ms,
        };
        let what = held_event(&held);
        self.store(move |s| s.hold_file(&held, counter)).await?;
        Ok(Outcome::kept(vec![event(d, Some(peer), what)]))
    }

    /// A held offer delivered again: downloaded if the policy now allows
    /// it, else still held, quietly (it was shown when it was held, and
    /// [`Client::held_files`] lists it).
    pub(crate) async fn on_held(
        &self,
        d: &Delivery,
        held: HeldFile,
        cancel: &CancellationToken,
    ) -> Result<Outcome, ClientError> {
        let sender = held.sender;
        let peer = self.store(move |s| s.peer(sender)).await?;
        if self.hold_reason(held.sender, held.size).await?.is_some() {
            return Ok(Outcome::kept(Vec::new()));
        }
        let what = self.download_held(held, peer.as_ref(), cancel).await?;
        Ok(Outcome::handled(vec![event(d, peer.as_ref(), what)]))
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
        let from = peer.map_or_else(|| held.sender.to_string(), |p| p.name.clone());
        let label = format!(
            "{} from {}",
            crate::display::escape_line(&meta.name),
            crate::display::escape_line(&from)
        );
        let what = match self
            .receive_file(id, held.offer_size, &meta, &label, cancel)
            .await
        {
            Ok(path) => What::File {
                name: meta.name.clone(),
                path,
                size: meta.size,
            },
            Err(ReceiveError::Rejected(_)) => What::Rejected {
                reason: Rejection::Tampered,
            },
            Err(ReceiveError::Failed(e)) => return Err(e),
        };
        self.store(move |s| s.finish_held_file(id)).await?;
        Ok(what)
    }

    /// The file offers waiting for the user's decision, oldest first.
    ///
    /// # Errors
    /// The store failed.
    pub async fn held_files(&self) -> Result<Vec<HeldOffer>, ClientError> {
        self.store(|s| {
            let held = s.held_files()?;
            let mut out = Vec::with_capacity(held.len());
            for h in held {
                let from_name = s.peer(h.sender)?.map(|p| p.name);
                out.push(HeldOffer {
                    message_id: h.message_id,
                    from: h.sender,
                    from_name,
                    name: h.name,
                    size: h.size,
                    reason: h.reason,
                    sent_at_ms: h.sent_at_ms,
                });
            }
            Ok(out)
        })
        .await
    }

    /// Downloads held file offer `message_id` (the user accepted it) and
    /// removes it from the server. `cancel` stops the download; what was
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
        let held = self
            .store(move |s| s.held_file(message_id))
            .await?
            .ok_or(ClientError::NoHeldFile(message_id))?;
        let (sender, sent_at_ms) = (held.sender, held.sent_at_ms);
        let peer = self.store(move |s| s.peer(sender)).await?;
        let what = self.download_held(held, peer.as_ref(), &cancel).await?;
        self.acknowledge(vec![message_id]).await?;
        let (from_name, server_name) = crate::inbox::names_of(peer.as_ref());
        Ok(Event {
            message_id,
            from: sender,
            from_name,
            server_name,
            sent_at_ms,
            sender_time_ms: None,
            what,
        })
    }

    /// Declines held file offer `message_id`: it is forgotten here and
    /// acknowledged, so the server deletes the file. Returns the offer.
    ///
    /// # Errors
    /// [`ClientError::NoHeldFile`], or see [`ClientError`].
    pub async fn decline_file(&self, message_id: u64) -> Result<HeldOffer, ClientError> {
        let _receiving = self.inner.receiving.lock().await;
        let offer = self
            .held_files()
            .await?
            .into_iter()
            .find(|h| h.message_id == message_id)
            .ok_or(ClientError::NoHeldFile(message_id))?;
        // Handled here first: if the acknowledgement is lost, the redelivery
        // is recognised and acknowledged then.
        self.store(move |s| {
            s.finish_held_file(message_id)?;
            s.delete_partial(message_id)
        })
        .await?;
        let path = partial::path(&self.downloads(), message_id);
        let _ = tokio::task::spawn_blocking(move || std::fs::remove_file(path)).await;
        self.acknowledge(vec![message_id]).await?;
        Ok(offer)
    }

    /// Bounds what is kept: forgets old handled ids, gives up texts whose
    /// session never came (returned as events, to tell the user), and
    /// deletes download parts that are stale or belong to nothing.
    pub(crate) async fn housekeeping(&self) -> Result<Vec<Event>, ClientError> {
        let (expired, names, partials) = self
            .store(|s| {
                s.prune_handled_bounded()?;
                let expired = s.expire_pending(PENDING_TTL)?;
                let mut names = Vec::with_capacity(expired.len());
                for m in &expired {
                    names.push(crate::inbox::names_of(s.peer(m.sender)?.as_ref()));
                }
                s.expire_partials(PARTIAL_TTL)?;
                let keep: Vec<u64> = s.partials()?.iter().map(|p| p.message_id).collect();
                Ok((expired, names, keep))
            })
            .await?;
        let dir = self.downloads();
        let _ = tokio::task::spawn_blocking(move || partial::sweep(&dir, &partials)).await;
        Ok(expired
            .into_iter()
            .zip(names)
            .map(|(m, (from_name, server_name))| Event {
                message_id: m.message_id,
                from: m.sender,
                from_name,
                server_name,
                sent_at_ms: m.sent_at_ms,
                sender_time_ms: None,
                what: What::Expired { kind: "text" },
            })
            .collect())
    }
}

fn held_event(held: &HeldFile) -> What {
    What::FileHeld {
        name: held.name.clone(),
        size: held.size,
        reason: held.reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_as_people_write_them() {
        assert_eq!(parse_size("65536").unwrap(), 65536);
        assert_eq!(parse_size("64M").unwrap(), 64 << 20);
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("1.5G").unwrap(), 3 << 29);
        assert_eq!(parse_size("0").unwrap(), 0);
        for bad in ["", "M", "-1", "12X", "1e99G"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
