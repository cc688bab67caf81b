//! Peers' keys: looked up, pinned on first use, compared again with the
//! server before sending, verified by safety number, and accepted when they
//! change; and who may be sent to at all.
//!
//! An `impl Client` block of its own: the client core ([`crate::client`])
//! only connects and runs requests, and names are settled in
//! [`crate::contacts`]. Left out: sealing and sending (`crate::send`).

use protocol::{ClientId, ErrorReason, Name};

use crate::client::Client;
use crate::crypto::{Fingerprint, SafetyNumber, VerifiedBundle};
use crate::error::ClientError;
use crate::keystore::{KeyStoreError, PeerRecord, Pinned};
use crate::peer_info::PeerInfo;
use crate::pin::PinState;

impl Client {
    /// Every other user on the server.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn list(&self) -> Result<Vec<(ClientId, Name)>, ClientError> {
        let clients = self
            .retrying(|c| async move { c.list_clients().await })
            .await?;
        Ok(clients.into_iter().map(|c| (c.id, c.name)).collect())
    }

    /// Fetches a peer's key bundle by name (or 32 hex digits of id), checks
    /// its signature and pins it on first use; reports a change. A name is
    /// looked up among the local pins first (see [`crate::contacts`]).
    ///
    /// # Errors
    /// Unknown name, invalid key, [`ClientError::NameConflict`], or see
    /// [`ClientError`].
    pub async fn fetch_key(&self, who: &str) -> Result<PeerInfo, ClientError> {
        // Our own key is no contact's: pinning it would list us as one.
        self.refuse_self(who, None)?;
        let info = self.check_contact(who).await?;
        // Looked up on purpose (or to send): a contact from now on.
        self.mark_contact(info.id).await?;
        Ok(info)
    }

    /// Pins `key` for `id` (see [`crate::keystore::KeyStore::pin_peer`]: `name` is the
    /// server's name and never replaces a pinned one).
    pub(crate) async fn pin_key(
        &self,
        id: ClientId,
        name: String,
        key: &protocol::PublicKey,
    ) -> Result<PeerInfo, ClientError> {
        let bundle =
            VerifiedBundle::verify(key).map_err(|_| ClientError::NoValidKey(name.clone()))?;
        // What the server presented now, not the pinned key.
        let presented = Fingerprint::of_bundle(&bundle).to_string();
        let (pinned, record) = self
            .store(move |s| {
                let pinned = s.pin_peer(id, &name, &bundle)?;
                Ok((pinned, s.peer(id)?))
            })
            .await?;
        let record = record.ok_or(KeyStoreError::UnknownPeer(id))?;
        let mut info = PeerInfo::of(
            &record,
            match pinned {
                Pinned::New => PinState::New,
                Pinned::Same => PinState::Same,
                Pinned::Changed => PinState::Changed,
            },
        );
        info.fingerprint = presented;
        Ok(info)
    }

    /// The peer pinned under `who` (a pinned name first, else a name the
    /// server knows, or an id), only if it may be sent to: it is compared
    /// with the server when first used and then at most every
    /// [`crate::client::KEY_RECHECK`]; a changed key or a name the server moved blocks
    /// sending.
    pub(crate) async fn peer_for_sending(&self, who: &str) -> Result<PeerRecord, ClientError> {
        self.refuse_self(who, None)?;
        let local = {
            let who = who.to_string();
            self.store(move |s| crate::contacts::find_pinned(s, &who))
                .await?
        };
        let id = match local {
            Some(r) if !self.due_for_check(r.client_id, false) => r.client_id,
            _ => {
                let id = self.check_contact(who).await?.id;
                self.due_for_check(id, false);
                id
            }
        };
        let record = self
            .store(move |s| s.peer(id))
            .await?
            .ok_or_else(|| ClientError::UnknownPeer(who.into()))?;
        if record.pending_bundle.is_some() {
            let name = if record.name.is_empty() {
                id.to_string()
            } else {
                record.name
            };
            return Err(ClientError::PeerKeyChanged { name });
        }
        self.refuse_self(who, Some(record.client_id))?;
        // Whoever the user sends to is a contact.
        self.mark_contact(id).await?;
        Ok(record)
    }

    /// `sent`, the outcome of sending to `who`, unless the server refused
    /// it because it has no such client: then what comparing `who` with
    /// the server says (the pinned account is gone, or its name is someone
    /// else's now), which is what a send that compares first answers. A
    /// running menu or full-screen client compares only now and then
    /// ([`Client::due_for_check`]); a scripted send always does.
    pub(crate) async fn unless_recipient_gone<T>(
        &self,
        who: &str,
        sent: Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        match sent {
            Err(e) if e.reason() == Some(ErrorReason::UnknownClient) => {
                match self.check_contact(who).await {
                    Err(settled) => Err(settled),
                    // The server knows `who` again: its refusal as it was.
                    Ok(_) => Err(e),
                }
            }
            other => other,
        }
    }

    /// Refuses `who` (and the id it resolved to, if known) when it is this
    /// user, before anything is sealed or sent.
    fn refuse_self(&self, who: &str, resolved: Option<ClientId>) -> Result<(), ClientError> {
        let Some(me) = self.me() else {
            return Ok(());
        };
        let is_me = me.name.as_str().eq_ignore_ascii_case(who)
            || who.parse::<ClientId>().is_ok_and(|id| id == me.id)
            || resolved == Some(me.id);
        if is_me {
            return Err(ClientError::SendToSelf(
                crate::display::escape_line(who).into_owned(),
            ));
        }
        Ok(())
    }

    /// The safety number shared with `who` (the same digits on both sides),
    /// and whether it was marked as compared.
    ///
    /// # Errors
    /// Unknown peer, or see [`ClientError`].
    pub async fn safety_number(&self, who: &str) -> Result<(PeerInfo, SafetyNumber), ClientError> {
        let me = self.require_me()?;
        let info = self.fetch_key(who).await?;
        let id = info.id;
        let record = self
            .store(move |s| s.peer(id))
            .await?
            .ok_or_else(|| ClientError::UnknownPeer(who.into()))?;
        // Compare what is pinned; a changed key shows its own number.
        let theirs = match record.pending_bundle {
            Some(pending) => VerifiedBundle::verify(&pending)
                .map(|b| Fingerprint::of_bundle(&b))
                .unwrap_or_else(|_| Fingerprint::of_bundle(&record.bundle)),
            None => Fingerprint::of_bundle(&record.bundle),
        };
        let mine =
            Fingerprint::of_user(&me.identity.identity_key(), &me.identity.dh_identity_key());
        Ok((info, SafetyNumber::new((me.id, mine), (id, theirs))))
    }

    /// The user's own fingerprint.
    ///
    /// # Errors
    /// Not registered.
    pub fn my_fingerprint(&self) -> Result<Fingerprint, ClientError> {
        let me = self.require_me()?;
        Ok(Fingerprint::of_user(
            &me.identity.identity_key(),
            &me.identity.dh_identity_key(),
        ))
    }

    /// Marks the safety number with `who` as compared.
    ///
    /// # Errors
    /// Unknown peer; [`ClientError::VerifyChangedKey`] while a changed key
    /// of theirs waits to be accepted.
    pub async fn mark_verified(&self, who: &str) -> Result<(), ClientError> {
        let info = self.fetch_key(who).await?;
        let id = info.id;
        let record = self.store(move |s| s.peer(id)).await?;
        if record.is_some_and(|r| r.pending_bundle.is_some()) {
            return Err(ClientError::VerifyChangedKey { name: info.label() });
        }
        self.store(move |s| s.set_verified(id, true)).await
    }

    /// Accepts `who`'s changed key: it replaces the pinned one and old
    /// sessions are dropped. ([`Client::accept`] also settles names.)
    ///
    /// # Errors
    /// No changed key waiting, unknown peer.
    pub async fn accept_new_key(&self, who: &str) -> Result<PeerInfo, ClientError> {
        self.accept_key_of(who).await
    }

    pub(crate) async fn accept_key_of(&self, who: &str) -> Result<PeerInfo, ClientError> {
        let info = self.fetch_key(who).await?;
        let id = info.id;
        self.store(move |s| s.accept_new_key(id))
            .await
            .map_err(|e| match e {
                ClientError::Store(KeyStoreError::NoPendingKey(_)) => {
                    crate::contacts::nothing_to_accept(who)
                }
                other => other,
            })?;
        Ok(PeerInfo {
            pin: PinState::Accepted,
            verified: false,
            ..info
        })
    }

    /// The names of pinned peers (for completion and suggestions).
    ///
    /// # Errors
    /// The store failed.
    pub async fn pinned_names(&self) -> Result<Vec<String>, ClientError> {
        Ok(self
            .store(|s| s.peers())
            .await?
            .into_iter()
            .map(|p| p.name)
            .filter(|n| !n.is_empty())
            .collect())
    }

    /// Records `peer` as a contact: the user chose to deal with them.
    pub(crate) async fn mark_contact(&self, peer: ClientId) -> Result<(), ClientError> {
        self.store(move |s| s.add_contact(peer)).await
    }
}
