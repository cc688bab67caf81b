//! Checking a peer's key bundle before any of its keys is used.
//!
//! A [`VerifiedBundle`] can only be made by [`VerifiedBundle::verify`], so
//! holding one means: the Ed25519 identity key is a valid point that is not
//! of small order, the signature over `"sealpost/v3/key-bundle" | bytes 0..96`
//! passes strict verification (canonical encodings only), and neither X25519
//! key is of small order (a Diffie-Hellman with it is contributory). Whether
//! the bundle is the *right* one for a person is the keystore's question
//! (pinning) and the user's (fingerprints).

use ed25519_dalek::{Signature, VerifyingKey};
use protocol::PublicKey;
use protocol::bundle::KeyBundle;
use rand::rngs::OsRng;
use x25519_dalek::{EphemeralSecret, PublicKey as DhPublicKey};

use super::CryptoError;

/// A peer's key bundle whose signature and keys have been checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedBundle {
    raw: PublicKey,
    identity_key: VerifyingKey,
    dh_identity_key: DhPublicKey,
    signed_prekey: DhPublicKey,
}

impl VerifiedBundle {
    /// Checks a 160-byte public key field as a version-3 key bundle.
    ///
    /// # Errors
    /// [`CryptoError::InvalidBundle`] if the identity key is not a valid
    /// Ed25519 key, the signature does not verify strictly, or either X25519
    /// key is of small order.
    pub fn verify(key: &PublicKey) -> Result<Self, CryptoError> {
        let parts = KeyBundle::from_public_key(key);
        let identity_key = VerifyingKey::from_bytes(&parts.identity_key)
            .map_err(|_| CryptoError::InvalidBundle)?;
        identity_key
            .verify_strict(
                &parts.signed_message(),
                &Signature::from_bytes(&parts.signature),
            )
            .map_err(|_| CryptoError::InvalidBundle)?;
        let dh_identity_key = DhPublicKey::from(parts.dh_identity_key);
        let signed_prekey = DhPublicKey::from(parts.signed_prekey);
        if !is_contributory(&dh_identity_key) || !is_contributory(&signed_prekey) {
            return Err(CryptoError::InvalidBundle);
        }
        Ok(Self {
            raw: *key,
            identity_key,
            dh_identity_key,
            signed_prekey,
        })
    }

    /// The bundle's 160 bytes, as received.
    pub fn public_key(&self) -> &PublicKey {
        &self.raw
    }

    /// The Ed25519 identity key.
    pub fn identity_key(&self) -> &VerifyingKey {
        &self.identity_key
    }

    /// The X25519 identity key.
    pub fn dh_identity_key(&self) -> &DhPublicKey {
        &self.dh_identity_key
    }

    /// The X25519 signed prekey.
    pub fn signed_prekey(&self) -> &DhPublicKey {
        &self.signed_prekey
    }
}

/// Whether a Diffie-Hellman with `key` and a fresh random secret gives a
/// non-zero shared secret. A small-order point gives zero for every secret
/// (X25519 clamps secrets to multiples of the cofactor), so one try decides.
fn is_contributory(key: &DhPublicKey) -> bool {
    EphemeralSecret::random_from_rng(OsRng)
        .diffie_hellman(key)
        .was_contributory()
}

#[cfg(test)]
mod tests {
    use protocol::PUBLIC_KEY_LEN;

    use super::*;
    use crate::crypto::Identity;

    #[test]
    fn accepts_a_genuine_bundle() {
        let id = Identity::generate().unwrap();
        let bundle = VerifiedBundle::verify(&id.bundle()).unwrap();
        assert_eq!(bundle.identity_key().to_bytes(), id.identity_key());
        assert_eq!(bundle.dh_identity_key().to_bytes(), id.dh_identity_key());
        assert_eq!(bundle.signed_prekey().to_bytes(), id.signed_prekey());
        assert_eq!(bundle.public_key(), &id.bundle());
    }

    #[test]
    fn rejects_any_flipped_byte() {
        let id = Identity::generate().unwrap();
        let good = id.bundle();
        for i in 0..PUBLIC_KEY_LEN {
            let mut bad = good;
            bad.0[i] ^= 0x01;
            assert!(
                matches!(
                    VerifiedBundle::verify(&bad),
                    Err(CryptoError::InvalidBundle)
                ),
                "byte {i} flipped was accepted"
            );
        }
    }

    /// A bundle whose X25519 key is `dh` at `offset`, correctly signed.
    fn signed_with(id: &Identity, offset: usize, dh: [u8; 32]) -> PublicKey {
        let mut parts = KeyBundle::from_public_key(&id.bundle());
        if offset == 32 {
            parts.dh_identity_key = dh;
        } else {
            parts.signed_prekey = dh;
        }
        parts.signature = id.sign(&parts.signed_message());
        parts.to_public_key()
    }

    #[test]
    fn rejects_small_order_x25519_keys() {
        // Zero, one, and a point of order 8 (from the curve25519 low-order list).
        let mut order8 = [0u8; 32];
        hex::decode_to_slice(
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
            &mut order8,
        )
        .unwrap();
        let mut one = [0u8; 32];
        one[0] = 1;
        let id = Identity::generate().unwrap();
        for offset in [32, 64] {
            for small in [[0u8; 32], one, order8] {
                let bundle = signed_with(&id, offset, small);
                assert!(matches!(
                    VerifiedBundle::verify(&bundle),
                    Err(CryptoError::InvalidBundle)
                ));
            }
        }
        // The same construction with a proper key passes, so the test
        // really exercises the small-order check.
        let other = Identity::generate().unwrap();
        VerifiedBundle::verify(&signed_with(&id, 64, other.signed_prekey())).unwrap();
    }

    #[test]
    fn rejects_small_order_identity_key() {
        // The identity point with an all-zero signature would pass a
        // non-strict check for every message.
        let mut parts = KeyBundle::from_public_key(&Identity::generate().unwrap().bundle());
        parts.identity_key = [0; 32];
        parts.identity_key[0] = 1;
        parts.signature = [0; 64];
        parts.signature[0] = 1;
        assert!(VerifiedBundle::verify(&parts.to_public_key()).is_err());
    }
}
