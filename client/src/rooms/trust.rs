//! What the rooms engine trusts: our identity key, which signs the binding
//! of our MLS leaf ([`MeSigner`]), and the identity keys we pinned for our
//! contacts ([`PinBook`]), against which every member of every room is
//! checked, exactly as a one-to-one peer is.
//!
//! The engine asks for pins synchronously, inside its transaction; the
//! client's pins are in the key store, and pinning someone new needs the
//! server. So the caller builds a [`PinBook`] from the key store before each
//! engine call; a member without a pin makes the call fail with
//! `IdentityError::Unknown`, the caller pins that member on first use (the
//! ordinary one-to-one path: fetch, verify, pin) and calls again. A member
//! whose key differs from the pin fails with `PinMismatch`: loud, never
//! pinned over.

use std::collections::HashMap;

use sealpost_rooms::{ClientId, IdentitySigner, Pins};

use crate::crypto::Identity;
use crate::keystore::PeerRecord;

/// Our identity, as the engine needs it.
pub struct MeSigner {
    client_id: ClientId,
    identity: Identity,
}

impl MeSigner {
    /// Our client id and identity.
    pub fn new(client_id: protocol::ClientId, identity: Identity) -> Self {
        Self {
            client_id: super::engine_client_id(client_id),
            identity,
        }
    }
}

impl IdentitySigner for MeSigner {
    fn client_id(&self) -> ClientId {
        self.client_id
    }
    fn identity_key(&self) -> [u8; 32] {
        self.identity.identity_key()
    }
    fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.identity.sign(message)
    }
}

/// The identity keys we pinned, by client id (ours included).
#[derive(Debug, Clone, Default)]
pub struct PinBook(HashMap<ClientId, [u8; 32]>);

impl PinBook {
    /// The pins of `peers` and our own key. A peer whose key changed keeps
    /// its old pin here until the user accepts the new one, so a room member
    /// presenting the new key is refused until then.
    pub fn new(me: (protocol::ClientId, [u8; 32]), peers: &[PeerRecord]) -> Self {
        let mut map: HashMap<ClientId, [u8; 32]> = peers
            .iter()
            .map(|p| {
                (
                    super::engine_client_id(p.client_id),
                    p.bundle.identity_key().to_bytes(),
                )
            })
            .collect();
        map.insert(super::engine_client_id(me.0), me.1);
        Self(map)
    }

    /// Adds or replaces one pin (tests, and a pin just made).
    pub fn insert(&mut self, client: protocol::ClientId, identity_key: [u8; 32]) {
        self.0.insert(super::engine_client_id(client), identity_key);
    }
}

impl Pins for PinBook {
    fn pinned_identity_key(&self, client: &ClientId) -> Option<[u8; 32]> {
        self.0.get(client).copied()
    }
}
