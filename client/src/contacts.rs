//! Names and pins: the client's own record of a contact (id, the name it was
//! first pinned under, keys, verified or not) is the authority; the server's
//! name-to-id mapping is only a claim to compare with it.
//!
//! A malicious server, or anyone on the path, could otherwise rename the
//! real `bob` and hand the name `bob` to an attacker, and the next `send
//! bob` would be sealed for the attacker. So:
//!
//! - a name the user types is looked up among the local pins first; the
//!   server is asked only to compare (and for names never pinned);
//! - when the server maps a pinned name to another id, or calls a pinned id
//!   by another name, the answer is [`NameConflict`]: a warning naming both
//!   sides, and nothing is sent by that name until the user settles it with
//!   `accept NAME` (take the server's mapping, unverified) or addresses the
//!   contact by its id (32 hex digits);
//! - a pinned name never follows the server: the server's current name is
//!   only remembered beside it (`server_name`) and shown as a remark.
//!
//! An `impl Client` block with the few key-store queries on names it needs;
//! [`NameConflict`] is defined with the error that carries it
//! ([`crate::error`]) so that the error need not import this file. Left
//! out: keys (`crate::peers`; key changes of one id are the key store's
//! pending bundle), and what the server allows as a name (the server's
//! name rules).

use protocol::{ClientId, ErrorReason, Name, v3};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::client::Client;
use crate::error::ClientError;
use crate::pin::PinState;
// Defined with the error that carries it; part of this module's story.
pub use crate::error::NameConflict;
use crate::keystore::{KeyStore, KeyStoreError, LookAlike, PeerRecord};
use crate::peer_info::{PeerInfo, hex_id, hex_id_opt};

/// One user of the server's list, beside what is pinned.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    /// Client id (hex).
    #[serde(serialize_with = "hex_id")]
    pub id: ClientId,
    /// The name the server gives (escape before printing).
    pub name: String,
    /// The name this id is pinned under, if it is pinned (empty: pinned
    /// without a name).
    pub pinned_name: Option<String>,
    /// Whether the user compared safety numbers with this contact.
    pub verified: bool,
    /// Another pinned contact that goes by `name` here: the server now gives
    /// that contact's name to this id.
    #[serde(serialize_with = "hex_id_opt")]
    pub name_pinned_for: Option<ClientId>,
    /// Another pinned contact whose name `name` looks like (other case,
    /// look-alike letters), when that is not already `name_pinned_for`.
    pub looks_like: Option<LookAlike>,
}

impl Listed {
    /// What follows the name and id on its line in `list` (the scripted
    /// command's and the menu's): `verified` for a contact whose safety
    /// number was compared, as `conversations` marks it, then the remark;
    /// escaped for printing.
    pub fn marks(&self) -> String {
        let mut marks = String::new();
        if self.verified {
            marks.push_str("  verified");
        }
        if let Some(r) = self.remark() {
            marks.push_str("  ");
            marks.push_str(&crate::display::escape_line(&r));
        }
        marks
    }

    /// Why this entry deserves attention, in one sentence, if it does.
    pub fn remark(&self) -> Option<String> {
        if let Some(other) = self.name_pinned_for {
            return Some(format!(
                "WARNING: not the \"{}\" you pinned (that is {other})",
                self.name
            ));
        }
        if let Some(c) = &self.looks_like {
            return Some(format!(
                "WARNING: looks like your contact \"{}\" ({}), but is another account",
                c.name, c.client_id
            ));
        }
        match self.pinned_name.as_deref() {
            Some("") => Some("pinned without a name".into()),
            Some(p) if !p.eq_ignore_ascii_case(&self.name) => {
                Some(format!("pinned as \"{p}\" (the server renamed it)"))
            }
            _ => None,
        }
    }
}

/// The pinned contact going by `name` (ignoring ASCII case), if any.
fn pinned_named(store: &KeyStore, name: &str) -> Result<Option<PeerRecord>, KeyStoreError> {
    Ok(store
        .peers()?
        .into_iter()
        .find(|p| !p.name.is_empty() && p.name.eq_ignore_ascii_case(name)))
}

/// A pinned contact by name or id (32 hex digits), from the local pins only.
pub(crate) fn find_pinned(
    store: &KeyStore,
    who: &str,
) -> Result<Option<PeerRecord>, KeyStoreError> {
    if let Ok(id) = who.parse::<ClientId>() {
        return store.peer(id);
    }
    pinned_named(store, who)
}

/// Notes the server's current name for a pinned peer (no effect otherwise).
fn note_server_name(store: &KeyStore, id: ClientId, name: &str) -> Result<(), KeyStoreError> {
    store.conn.execute(
        "UPDATE peers SET server_name = ?2 WHERE client_id = ?1",
        params![&id.0[..], name],
    )?;
    Ok(())
}

/// Gives a pinned peer the local name `name`, or none if another pinned peer
/// goes by it; clears the verified mark if `unverify`.
fn rename(store: &KeyStore, id: ClientId, name: &str, unverify: bool) -> Result<(), KeyStoreError> {
    let taken = store
        .conn
        .query_row(
            "SELECT 1 FROM peers WHERE name = ?1 COLLATE NOCASE AND client_id != ?2",
            params![name, &id.0[..]],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    let local = if taken { "" } else { name };
    let changed = store.conn.execute(
        "UPDATE peers SET name = ?2, verified = CASE WHEN ?3 THEN 0 ELSE verified END
         WHERE client_id = ?1",
        params![&id.0[..], local, unverify],
    )?;
    if changed == 0 {
        return Err(KeyStoreError::UnknownPeer(id));
    }
    Ok(())
}

/// `Ok(None)` for a client the server does not know.
fn known<T>(r: Result<T, ClientError>) -> Result<Option<T>, ClientError> {
    match r {
        Err(e) if e.reason() == Some(ErrorReason::UnknownClient) => Ok(None),
        other => other.map(Some),
    }
}

impl Client {
    async fn server_key_by_id(&self, id: ClientId) -> Result<Option<v3::PeerKey>, ClientError> {
        known(
            self.retrying(|c| async move { c.public_key(id).await })
                .await,
        )
    }

    async fn server_key_by_name(&self, name: &Name) -> Result<Option<v3::PeerKey>, ClientError> {
        known(
            self.retrying(|c| {
                let name = name.clone();
                async move { c.lookup(&name).await }
            })
            .await,
        )
    }

    /// Compares `who` (a name or 32 hex digits of id) with the server and
    /// pins it on first contact; returns the contact's id and what pinning
    /// found.
    ///
    /// # Errors
    /// [`ClientError::NameConflict`] when the server's mapping disagrees
    /// with a pinned contact; unknown peer, invalid key, or see
    /// [`ClientError`].
    pub(crate) async fn check_contact(&self, who: &str) -> Result<PeerInfo, ClientError> {
        if let Ok(id) = who.parse::<ClientId>() {
            // By id: what the user addresses is unambiguous; a name that
            // differs is only noted.
            let key = self
                .server_key_by_id(id)
                .await?
                .ok_or_else(|| ClientError::UnknownPeer(who.into()))?;
            return self
                .pin_key(id, key.name.to_string(), &key.public_key)
                .await;
        }
        let name = Name::new(who).map_err(|_| ClientError::UnknownPeer(who.into()))?;
        let local = {
            let who = who.to_string();
            self.store(move |s| pinned_named(s, &who)).await?
        };
        let found = self.server_key_by_name(&name).await?;
        match (local, found) {
            (Some(p), Some(k)) if k.client_id == p.client_id => {
                self.pin_key(k.client_id, k.name.to_string(), &k.public_key)
                    .await
            }
            (Some(p), found) => {
                let now = self.server_key_by_id(p.client_id).await?;
                if let Some(now) = &now {
                    let (id, n) = (p.client_id, now.name.to_string());
                    self.store(move |s| note_server_name(s, id, &n)).await?;
                }
                Err(conflict(NameConflict {
                    asked: who.into(),
                    pinned_id: p.client_id,
                    pinned_name: p.name,
                    server_id: found.map(|k| k.client_id),
                    server_name: now.map(|k| k.name.to_string()),
                }))
            }
            (None, Some(k)) => {
                let id = k.client_id;
                match self.store(move |s| s.peer(id)).await? {
                    // The server gives this name to someone pinned under
                    // another one (or none).
                    Some(r) => {
                        let n = k.name.to_string();
                        self.store(move |s| note_server_name(s, id, &n)).await?;
                        Err(conflict(NameConflict {
                            asked: who.into(),
                            pinned_id: id,
                            pinned_name: r.name,
                            server_id: Some(id),
                            server_name: Some(k.name.to_string()),
                        }))
                    }
                    None => self.pin_key(id, k.name.to_string(), &k.public_key).await,
                }
            }
            (None, None) => Err(ClientError::UnknownPeer(who.into())),
        }
    }

    /// Settles `who` the server's way: the contact the server now calls
    /// `who` is pinned under that name (unverified), a contact pinned under
    /// it before moves to its current server name (or none), and a changed
    /// key of the contact is accepted. For an id, only its changed key is
    /// accepted.
    ///
    /// # Errors
    /// Nothing to accept, unknown peer, or see [`ClientError`].
    pub async fn accept(&self, who: &str) -> Result<PeerInfo, ClientError> {
        if who.parse::<ClientId>().is_ok() {
            return self.accept_key_of(who).await;
        }
        let name = Name::new(who).map_err(|_| ClientError::UnknownPeer(who.into()))?;
        let local = {
            let who = who.to_string();
            self.store(move |s| pinned_named(s, &who)).await?
        };
        let found = self.server_key_by_name(&name).await?;
        let mut settled = false;
        if let Some(p) = &local
            && found.as_ref().is_none_or(|k| k.client_id != p.client_id)
        {
            // Move the old holder of the name out of the way.
            let now = self.server_key_by_id(p.client_id).await?;
            if found.is_none() && now.is_none() {
                // Nobody holds the name, and the contact's account is gone:
                // there is nothing to take; the pin stays as it was.
                return Err(conflict(NameConflict {
                    asked: who.into(),
                    pinned_id: p.client_id,
                    pinned_name: p.name.clone(),
                    server_id: None,
                    server_name: None,
                }));
            }
            let id = p.client_id;
            let to = now.map(|k| k.name.to_string()).unwrap_or_default();
            let asked = who.to_string();
            self.store(move |s| {
                // Not back onto the name being settled.
                let to = if to.eq_ignore_ascii_case(&asked) {
                    ""
                } else {
                    &to
                };
                rename(s, id, to, false)
            })
            .await?;
            settled = true;
        }
        let Some(k) = found else {
            if settled {
                let id = local.map(|p| p.client_id).unwrap_or(ClientId::NIL);
                return self.info(id, PinState::Renamed).await;
            }
            return Err(ClientError::UnknownPeer(who.into()));
        };
        let id = k.client_id;
        let pinned = self.pin_key(id, k.name.to_string(), &k.public_key).await?;
        let record = self.store(move |s| s.peer(id)).await?;
        let named = record
            .as_ref()
            .is_some_and(|r| r.name.eq_ignore_ascii_case(who));
        if !named {
            let n = k.name.to_string();
            self.store(move |s| rename(s, id, &n, true)).await?;
            settled = true;
        }
        let mut replaced = None;
        if record.is_some_and(|r| r.pending_bundle.is_some()) {
            self.store(move |s| s.accept_new_key(id)).await?;
            replaced = pinned.previous_fingerprint.clone();
            settled = true;
        }
        if !settled && pinned.pin != PinState::New {
            return Err(nothing_to_accept(who));
        }
        // Taken on purpose, as `key NAME` does: a contact from now on.
        self.mark_contact(id).await?;
        let mut info = self
            .info(
                id,
                if settled {
                    PinState::Accepted
                } else {
                    PinState::New
                },
            )
            .await?;
        info.previous_fingerprint = replaced;
        Ok(info)
    }

    /// The contact `id` as shown to the user.
    async fn info(&self, id: ClientId, pin: PinState) -> Result<PeerInfo, ClientError> {
        let r = self
            .store(move |s| s.peer(id))
            .await?
            .ok_or(KeyStoreError::UnknownPeer(id))?;
        Ok(PeerInfo::of(&r, pin))
    }

    /// Every other user on the server, by name, each beside the contact
    /// pinned for its id or its name; remembers the server's names for
    /// pinned ids.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub async fn directory(&self) -> Result<Vec<Listed>, ClientError> {
        let users = self.list().await?;
        self.store(move |s| {
            let pins = s.peers()?;
            let keys: Vec<String> = pins
                .iter()
                .map(|p| protocol::names::skeleton_key(&p.name))
                .collect();
            let mut listed = Vec::with_capacity(users.len());
            for (id, name) in users {
                let name = name.to_string();
                let pinned = pins.iter().find(|p| p.client_id == id);
                if pinned.is_some() {
                    note_server_name(s, id, &name)?;
                }
                let other = pins.iter().find(|p| {
                    p.client_id != id && !p.name.is_empty() && p.name.eq_ignore_ascii_case(&name)
                });
                let key = protocol::names::skeleton_key(&name);
                let looks_like = match other {
                    Some(_) => None,
                    None => pins.iter().zip(&keys).find_map(|(p, k)| {
                        (p.client_id != id && !p.name.is_empty() && *k == key).then(|| LookAlike {
                            name: p.name.clone(),
                            client_id: p.client_id,
                        })
                    }),
                };
                listed.push(Listed {
                    id,
                    pinned_name: pinned.map(|p| p.name.clone()),
                    verified: pinned.is_some_and(|p| p.verified),
                    name_pinned_for: other.map(|p| p.client_id),
                    looks_like,
                    name,
                });
            }
            // The server pages by id, an order no person reads by.
            listed.sort_by_cached_key(|l| (l.name.to_lowercase(), l.name.clone(), l.id.0));
            Ok(listed)
        })
        .await
    }

    /// Remembers what the server calls a pinned sender now, at most every
    /// [`crate::client::KEY_RECHECK`] per sender, so that incoming messages
    /// can show it beside the pinned name. Best effort: a failure leaves the
    /// last known name.
    pub(crate) async fn refresh_server_name(&self, record: &mut PeerRecord) {
        if !self.due_for_check(record.client_id, true) {
            return;
        }
        let id = record.client_id;
        if let Ok(Some(k)) = self.server_key_by_id(id).await {
            let n = k.name.to_string();
            if self
                .store(move |s| note_server_name(s, id, &n))
                .await
                .is_ok()
            {
                record.server_name = Some(k.name.to_string());
            }
        }
    }
}

fn conflict(c: NameConflict) -> ClientError {
    ClientError::NameConflict(Box::new(c))
}

/// `accept who` found nothing changed; `who` as typed, escaped for printing.
pub(crate) fn nothing_to_accept(who: &str) -> ClientError {
    ClientError::NothingToAccept(crate::display::escape_line(who).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_entries_say_when_names_moved() {
        let entry = |name: &str, pinned: Option<&str>, other: Option<ClientId>| Listed {
            id: ClientId([1; 16]),
            name: name.into(),
            pinned_name: pinned.map(str::to_string),
            verified: false,
            name_pinned_for: other,
            looks_like: None,
        };
        assert_eq!(entry("bob", Some("bob"), None).remark(), None);
        assert_eq!(entry("bob", Some("bob"), None).marks(), "");
        let verified = Listed {
            verified: true,
            ..entry("bob2", Some("bob"), None)
        };
        assert!(
            verified
                .marks()
                .starts_with("  verified  pinned as \"bob\"")
        );
        assert_eq!(entry("bob", None, None).remark(), None);
        assert!(
            entry("bob2", Some("bob"), None)
                .remark()
                .unwrap()
                .contains("pinned as \"bob\"")
        );
        assert!(
            entry("bob", None, Some(ClientId([2; 16])))
                .remark()
                .unwrap()
                .contains("not the \"bob\" you pinned")
        );
    }
}
