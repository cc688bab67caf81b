//! A peer as the user sees it: [`PeerInfo`], what looking up, pinning or
//! accepting a peer's key reports.
//!
//! A leaf so that the operations that report it (`crate::peers`,
//! [`crate::contacts`]) and the front ends that show it need not import
//! each other. Left out: the pinned record itself ([`crate::keystore`]).

use protocol::ClientId;
use serde::Serialize;

use crate::crypto::{Fingerprint, VerifiedBundle};
use crate::keystore::PeerRecord;
use crate::pin::PinState;

/// A peer as the user sees it.
#[derive(Debug, Clone, Serialize)]
pub struct PeerInfo {
    /// Client id (hex).
    #[serde(serialize_with = "hex_id")]
    pub id: ClientId,
    /// The name the contact is pinned under (empty: none; escape before
    /// printing).
    pub name: String,
    /// The server's name for it, when that differs from `name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// The peer's fingerprint (30 digits).
    pub fingerprint: String,
    /// The fingerprint of the key pinned before this one: for a changed
    /// key, the one still pinned (so both can be compared); for an
    /// accepted one, the one it replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_fingerprint: Option<String>,
    /// What pinning found: `new`, `same` or `changed`.
    pub pin: PinState,
    /// Whether the user marked the safety number as compared, for the key
    /// shown: never for a changed key not yet accepted, whose number nobody
    /// has compared.
    pub verified: bool,
}

impl PeerInfo {
    pub(crate) fn of(record: &PeerRecord, pin: PinState) -> Self {
        let pinned = Fingerprint::of_bundle(&record.bundle).to_string();
        let (fingerprint, previous_fingerprint) = match &record.pending_bundle {
            // A changed key shows its own fingerprint, and the pinned one
            // beside it.
            Some(pending) => match VerifiedBundle::verify(pending) {
                Ok(b) => (Fingerprint::of_bundle(&b).to_string(), Some(pinned)),
                Err(_) => (pinned, None),
            },
            None => (pinned, None),
        };
        PeerInfo {
            id: record.client_id,
            name: record.name.clone(),
            server_name: record.server_name.clone().filter(|n| *n != record.name),
            fingerprint,
            previous_fingerprint,
            pin,
            verified: record.verified && record.pending_bundle.is_none(),
        }
    }

    /// The fingerprint line(s) of `key NAME`: a changed key shows the new
    /// fingerprint and the pinned one, so that both can be compared.
    pub fn fingerprint_lines(&self) -> String {
        match (&self.previous_fingerprint, self.pin) {
            (Some(pinned), PinState::Changed) => {
                format!(
                    "new fingerprint:    {}\npinned fingerprint: {pinned}",
                    self.fingerprint
                )
            }
            _ => format!("fingerprint: {}", self.fingerprint),
        }
    }

    /// ` (it replaces Y)` after an accepted key's fingerprint, naming the
    /// one pinned before it; empty otherwise.
    pub fn replaced(&self) -> String {
        match &self.previous_fingerprint {
            Some(old) if self.pin == PinState::Accepted => format!(" (it replaces {old})"),
            _ => String::new(),
        }
    }

    /// The pinned name, or the id for a contact pinned without one.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            self.id.to_string()
        } else {
            self.name.clone()
        }
    }
}

pub(crate) fn hex_id<S: serde::Serializer>(id: &ClientId, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&id.to_string())
}

/// Reads what [`hex_id`] wrote.
pub(crate) fn hex_id_from<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ClientId, D::Error> {
    let hex = <String as serde::Deserialize>::deserialize(d)?;
    hex.parse()
        .map_err(|_| serde::de::Error::custom("not a client id"))
}

/// [`hex_id`] of an id that may be missing (`null`).
pub(crate) fn hex_id_opt<S: serde::Serializer>(
    id: &Option<ClientId>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match id {
        Some(id) => s.serialize_str(&id.to_string()),
        None => s.serialize_none(),
    }
}
