//! Checking a version-3 key bundle before it is registered (and, at start-up,
//! classifying accounts stored before the check existed).
//!
//! A leaf on its own: both the `register` operation and the store's
//! start-up classification use it, and it needs nothing of either.

use ed25519_dalek::{Signature, VerifyingKey};
use protocol::PublicKey;
use protocol::bundle::KeyBundle;

/// Checks a version-3 key bundle: a canonical Ed25519 identity key that is
/// not of small order, a strictly valid signature over the bundle, and
/// X25519 keys whose shared secrets cannot be forced to zero.
pub(crate) fn verify_bundle(key: &PublicKey) -> Result<(), String> {
    let bundle = KeyBundle::from_public_key(key);
    let identity = VerifyingKey::from_bytes(&bundle.identity_key)
        .map_err(|_| "the identity key is not a valid Ed25519 key".to_string())?;
    if identity.is_weak() {
        return Err("the identity key is of small order".into());
    }
    identity
        .verify_strict(
            &bundle.signed_message(),
            &Signature::from_bytes(&bundle.signature),
        )
        .map_err(|_| "the bundle's signature does not verify with its identity key".to_string())?;
    for (what, x) in [
        ("X25519 identity key", bundle.dh_identity_key),
        ("signed prekey", bundle.signed_prekey),
    ] {
        let probe = x25519_dalek::EphemeralSecret::random_from_rng(rand::rngs::OsRng);
        if !probe
            .diffie_hellman(&x25519_dalek::PublicKey::from(x))
            .was_contributory()
        {
            return Err(format!("the {what} is of small order"));
        }
    }
    Ok(())
}
