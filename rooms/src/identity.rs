//! Binding a member's MLS leaf to its Sealpost identity.
//!
//! MLS authenticates every commit and message with the sender's leaf
//! signature key, but says nothing of who that key belongs to: that is the
//! application's authentication service (RFC 9420, 5.3.1). In Sealpost the
//! authority is the client's own pins: the Ed25519 identity key each contact
//! was pinned with on first use. So each member's credential names its client
//! id and carries its identity key's signature over the leaf signature key,
//! and every client checks every member against its pins, exactly as it
//! checks a one-to-one peer.
//!
//! The MLS signature key is a separate Ed25519 key made for the rooms state
//! (as XMTP binds an installation key to its account): the identity key's
//! secret never enters openmls's storage, and it signs only this binding,
//! under its own domain-separation label.
//!
//! ```text
//! basic credential identity (112 bytes):
//!   client id [16] | identity key (Ed25519) [32] | binding signature [64]
//! binding signature = Ed25519(identity key,
//!   "sealpost/v3/mls-leaf" | client id [16] | leaf signature key [32])
//! ```
//!
//! What is left out: pin-on-first-use itself (the client's [`Pins`]
//! implementation decides whether to pin an unknown contact before
//! answering), and more than one device per client id.

use ed25519_dalek::{Signature, VerifyingKey};
use openmls::prelude::{BasicCredential, Credential};

use crate::error::IdentityError;
pub use crate::ids::{CLIENT_ID_LEN, ClientId};

/// Length of the credential's identity bytes.
pub const CREDENTIAL_LEN: usize = CLIENT_ID_LEN + 32 + 64;
/// Domain-separation label of the binding signature.
pub const BINDING_LABEL: &[u8] = b"sealpost/v3/mls-leaf";

/// The caller's long-term identity, as far as rooms need it. The client
/// implements this over its `Identity` (Ed25519 identity key), so the
/// secret stays in the client's keystore.
pub trait IdentitySigner {
    /// Our client id.
    fn client_id(&self) -> ClientId;
    /// Our public Ed25519 identity key (the one contacts pin).
    fn identity_key(&self) -> [u8; 32];
    /// Signs `message` with the Ed25519 identity key.
    fn sign(&self, message: &[u8]) -> [u8; 64];
}

/// The caller's pins: the identity key it trusts for each client id. The
/// client implements this over its contact records; the server over its
/// registration table.
pub trait Pins {
    /// The pinned identity key of `client`, or `None` if there is no pin.
    fn pinned_identity_key(&self, client: &ClientId) -> Option<[u8; 32]>;
}

/// Who a leaf belongs to, once its credential's binding has verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberIdentity {
    /// The client id the credential names.
    pub client_id: ClientId,
    /// The identity key that signed the binding.
    pub identity_key: [u8; 32],
}

/// The message the identity key signs to bind a leaf signature key.
pub fn binding_message(client_id: &ClientId, leaf_signature_key: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(BINDING_LABEL.len() + CLIENT_ID_LEN + leaf_signature_key.len());
    m.extend_from_slice(BINDING_LABEL);
    m.extend_from_slice(&client_id.0);
    m.extend_from_slice(leaf_signature_key);
    m
}

/// Makes the credential for our leaf: client id, identity key and the
/// identity key's signature over the leaf signature key.
pub fn make_credential(signer: &dyn IdentitySigner, leaf_signature_key: &[u8]) -> Credential {
    let client_id = signer.client_id();
    let signature = signer.sign(&binding_message(&client_id, leaf_signature_key));
    let mut identity = Vec::with_capacity(CREDENTIAL_LEN);
    identity.extend_from_slice(&client_id.0);
    identity.extend_from_slice(&signer.identity_key());
    identity.extend_from_slice(&signature);
    BasicCredential::new(identity).into()
}

/// The client id a credential names, without checking its binding (for
/// bookkeeping on leaves already checked).
///
/// # Errors
/// [`IdentityError::Malformed`] if the credential is not of our layout.
pub fn client_id_of(credential: &Credential) -> Result<ClientId, IdentityError> {
    Ok(split(credential)?.0)
}

fn split(credential: &Credential) -> Result<(ClientId, [u8; 32], [u8; 64]), IdentityError> {
    let basic =
        BasicCredential::try_from(credential.clone()).map_err(|_| IdentityError::Malformed)?;
    let bytes = basic.identity();
    if bytes.len() != CREDENTIAL_LEN {
        return Err(IdentityError::Malformed);
    }
    let (id, rest) = bytes.split_at(CLIENT_ID_LEN);
    let (key, sig) = rest.split_at(32);
    let id: [u8; CLIENT_ID_LEN] = id.try_into().map_err(|_| IdentityError::Malformed)?;
    let key: [u8; 32] = key.try_into().map_err(|_| IdentityError::Malformed)?;
    let sig: [u8; 64] = sig.try_into().map_err(|_| IdentityError::Malformed)?;
    Ok((ClientId(id), key, sig))
}

/// Checks that `credential` is ours in layout and that its identity key
/// signed `leaf_signature_key` for the client id it names.
///
/// # Errors
/// [`IdentityError::Malformed`] or [`IdentityError::BadBinding`].
pub fn verify_binding(
    credential: &Credential,
    leaf_signature_key: &[u8],
) -> Result<MemberIdentity, IdentityError> {
    let (client_id, identity_key, signature) = split(credential)?;
    let key = VerifyingKey::from_bytes(&identity_key)
        .map_err(|_| IdentityError::BadBinding(client_id))?;
    key.verify_strict(
        &binding_message(&client_id, leaf_signature_key),
        &Signature::from_bytes(&signature),
    )
    .map_err(|_| IdentityError::BadBinding(client_id))?;
    Ok(MemberIdentity {
        client_id,
        identity_key,
    })
}

/// The check a client runs on every member: the binding verifies and its
/// identity key is the one `pins` holds for the client id it names.
///
/// # Errors
/// [`IdentityError::Malformed`], [`IdentityError::BadBinding`],
/// [`IdentityError::Unknown`] (no pin) or [`IdentityError::PinMismatch`].
pub fn verify_member(
    credential: &Credential,
    leaf_signature_key: &[u8],
    pins: &dyn Pins,
) -> Result<MemberIdentity, IdentityError> {
    let member = verify_binding(credential, leaf_signature_key)?;
    // Public keys, so an ordinary comparison leaks nothing secret.
    match pins.pinned_identity_key(&member.client_id) {
        None => Err(IdentityError::Unknown(member.client_id)),
        Some(pinned) if pinned == member.identity_key => Ok(member),
        Some(_) => Err(IdentityError::PinMismatch(member.client_id)),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use ed25519_dalek::{Signer, SigningKey};

    use super::*;

    struct Id(SigningKey, ClientId);
    impl IdentitySigner for Id {
        fn client_id(&self) -> ClientId {
            self.1
        }
        fn identity_key(&self) -> [u8; 32] {
            self.0.verifying_key().to_bytes()
        }
        fn sign(&self, message: &[u8]) -> [u8; 64] {
            self.0.sign(message).to_bytes()
        }
    }
    struct Map(HashMap<ClientId, [u8; 32]>);
    impl Pins for Map {
        fn pinned_identity_key(&self, client: &ClientId) -> Option<[u8; 32]> {
            self.0.get(client).copied()
        }
    }

    fn id(seed: u8) -> Id {
        Id(SigningKey::from_bytes(&[seed; 32]), ClientId([seed; 16]))
    }

    #[test]
    fn credential_round_trip_and_pins() {
        let a = id(1);
        let leaf = [7u8; 32];
        let cred = make_credential(&a, &leaf);
        assert_eq!(client_id_of(&cred).unwrap(), a.1);
        let pins = Map(HashMap::from([(a.1, a.identity_key())]));
        assert_eq!(verify_member(&cred, &leaf, &pins).unwrap().client_id, a.1);
        // Another leaf key under the same credential: the binding fails.
        assert_eq!(
            verify_member(&cred, &[8u8; 32], &pins),
            Err(IdentityError::BadBinding(a.1))
        );
        // A pin on another key: loud.
        let other = Map(HashMap::from([(a.1, id(2).identity_key())]));
        assert_eq!(
            verify_member(&cred, &leaf, &other),
            Err(IdentityError::PinMismatch(a.1))
        );
        assert_eq!(
            verify_member(&cred, &leaf, &Map(HashMap::new())),
            Err(IdentityError::Unknown(a.1))
        );
    }

    #[test]
    fn rejects_foreign_credential_layout() {
        let cred: Credential = BasicCredential::new(b"alice".to_vec()).into();
        assert_eq!(client_id_of(&cred), Err(IdentityError::Malformed));
    }
}
