//! A user's long-term secrets and the key bundle that publishes them.
//!
//! An [`Identity`] is three secrets: the Ed25519 identity key (signs the key
//! bundle and the authentication transcript), the X25519 identity key and the
//! X25519 signed prekey (both for the key agreement). Storing them is the
//! keystore's job; this module only turns them into 96 bytes and back.
//!
//! ```text
//! secret bytes (96):  Ed25519 seed [32] | X25519 identity secret [32] | X25519 prekey secret [32]
//! ```
//!
//! There is no prekey rotation yet: the signed prekey lives as long as the
//! identity.

use std::fmt;

use ed25519_dalek::{Signer, SigningKey};
use protocol::PublicKey;
use protocol::bundle::KeyBundle;
use rand::rngs::OsRng;
use rand::{CryptoRng, RngCore};
use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

use super::{CryptoError, fill_random};

/// Size of the serialized secrets.
pub const SECRET_LEN: usize = 96;

/// A user's three long-term secrets. Zeroized on drop (the dalek types do it
/// themselves); `Debug` shows only the public identity key.
pub struct Identity {
    signing: SigningKey,
    dh_identity: StaticSecret,
    signed_prekey: StaticSecret,
}

impl Identity {
    /// Makes a new identity from the operating system's random generator.
    ///
    /// # Errors
    /// [`CryptoError::Randomness`] if the generator fails.
    pub fn generate() -> Result<Self, CryptoError> {
        Self::generate_with_rng(&mut OsRng)
    }

    /// Makes a new identity from `rng`, which supplies the 96 secret bytes in
    /// the order of [`Identity::to_secret_bytes`].
    ///
    /// # Errors
    /// [`CryptoError::Randomness`] if the generator fails.
    pub fn generate_with_rng<R: RngCore + CryptoRng>(rng: &mut R) -> Result<Self, CryptoError> {
        let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
        fill_random(rng, &mut secret[..])?;
        Ok(Self::from_secret_bytes(&secret))
    }

    /// Rebuilds an identity from [`Identity::to_secret_bytes`]. Every 96-byte
    /// value is a valid identity (X25519 secrets are clamped when used).
    pub fn from_secret_bytes(secret: &[u8; SECRET_LEN]) -> Self {
        let mut part = Zeroizing::new([0u8; 32]);
        part.copy_from_slice(&secret[0..32]);
        let signing = SigningKey::from_bytes(&part);
        part.copy_from_slice(&secret[32..64]);
        let dh_identity = StaticSecret::from(*part);
        part.copy_from_slice(&secret[64..96]);
        let signed_prekey = StaticSecret::from(*part);
        Self {
            signing,
            dh_identity,
            signed_prekey,
        }
    }

    /// The three secrets as 96 bytes, for storage.
    pub fn to_secret_bytes(&self) -> Zeroizing<[u8; SECRET_LEN]> {
        let mut out = Zeroizing::new([0u8; SECRET_LEN]);
        out[0..32].copy_from_slice(self.signing.as_bytes());
        out[32..64].copy_from_slice(self.dh_identity.as_bytes());
        out[64..96].copy_from_slice(self.signed_prekey.as_bytes());
        out
    }

    /// The public Ed25519 identity key.
    pub fn identity_key(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// The public X25519 identity key.
    pub fn dh_identity_key(&self) -> [u8; 32] {
        x25519_dalek::PublicKey::from(&self.dh_identity).to_bytes()
    }

    /// The public X25519 signed prekey.
    pub fn signed_prekey(&self) -> [u8; 32] {
        x25519_dalek::PublicKey::from(&self.signed_prekey).to_bytes()
    }

    /// The 160-byte key bundle for the public key field (PROTOCOL.md, "Common
    /// fields"): the three public keys and the identity key's signature over
    /// [`KeyBundle::signed_message_for`]. Ed25519 signing is deterministic,
    /// so the same identity always gives the same bundle.
    pub fn bundle(&self) -> PublicKey {
        let identity_key = self.identity_key();
        let dh_identity_key = self.dh_identity_key();
        let signed_prekey = self.signed_prekey();
        let message =
            KeyBundle::signed_message_for(&identity_key, &dh_identity_key, &signed_prekey);
        KeyBundle {
            identity_key,
            dh_identity_key,
            signed_prekey,
            signature: self.sign(&message),
        }
        .to_public_key()
    }

    /// Signs `message` with the Ed25519 identity key (for example
    /// `protocol::auth::client_proof_message`).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    pub(crate) fn dh_identity_secret(&self) -> &StaticSecret {
        &self.dh_identity
    }

    pub(crate) fn signed_prekey_secret(&self) -> &StaticSecret {
        &self.signed_prekey
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.identity_key();
        write!(f, "Identity(")?;
        for b in &key[..8] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signature, VerifyingKey};

    use super::*;

    use crate::crypto::test_support::{Replay, fixed_identity as fixed};

    #[test]
    fn secret_bytes_round_trip() {
        let id = Identity::generate().unwrap();
        let again = Identity::from_secret_bytes(&id.to_secret_bytes());
        assert_eq!(id.bundle(), again.bundle());
        assert_eq!(&id.to_secret_bytes()[..], &again.to_secret_bytes()[..]);
    }

    #[test]
    fn bundle_is_laid_out_and_signed_as_documented() {
        let id = fixed(1);
        let bundle = KeyBundle::from_public_key(&id.bundle());
        assert_eq!(bundle.identity_key, id.identity_key());
        assert_eq!(bundle.dh_identity_key, id.dh_identity_key());
        assert_eq!(bundle.signed_prekey, id.signed_prekey());
        let vk = VerifyingKey::from_bytes(&bundle.identity_key).unwrap();
        vk.verify_strict(
            &bundle.signed_message(),
            &Signature::from_bytes(&bundle.signature),
        )
        .unwrap();
    }

    /// Cross-checked with an independent implementation (pyca/cryptography).
    #[test]
    fn known_answer_bundle() {
        assert_eq!(
            hex::encode(fixed(1).bundle().as_bytes()),
            "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664\
             5869aff450549732cbaaed5e5df9b30a6da31cb0e5742bad5ad4a1a768f1a67b\
             64b101b1d0be5a8704bd078f9895001fc03e8e9f9522f188dd128d9846d48466\
             2c7d947dc964e575b029642f24c22631b21fde5c172486e9e10c912dd25ba25d\
             10e9944dd9dfc02b59a497791bd964e8b9981b7134fcd39eb78d4f3e2ae1ca09"
        );
    }

    #[test]
    fn sign_verifies_with_identity_key() {
        let id = fixed(7);
        let sig = id.sign(b"transcript");
        let vk = VerifyingKey::from_bytes(&id.identity_key()).unwrap();
        vk.verify_strict(b"transcript", &Signature::from_bytes(&sig))
            .unwrap();
    }

    #[test]
    fn debug_shows_no_secret() {
        let id = fixed(3);
        let text = format!("{id:?}");
        let secret = id.to_secret_bytes();
        let secret_hex = hex::encode(&secret[..8]);
        assert!(!text.contains(&secret_hex));
        assert!(text.starts_with("Identity("));
    }

    #[test]
    fn generate_with_rng_uses_the_bytes_in_storage_order() {
        let bytes: Vec<u8> = (0..96).collect();
        let mut rng = Replay::new(&[&bytes]);
        let id = Identity::generate_with_rng(&mut rng).unwrap();
        assert!(rng.is_spent());
        assert_eq!(&id.to_secret_bytes()[..], &bytes[..]);
    }
}
