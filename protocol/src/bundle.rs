//! The layout of the 160-byte key bundle that version 3 puts in the public key
//! field. Checking the signature is left to the server and client (Ed25519);
//! this module only names the bytes.
//!
//! ```text
//!  0                32                64                96                              160
//!  +----------------+-----------------+-----------------+--------------------------------+
//!  | Ed25519        | X25519          | X25519          | Ed25519 signature by the       |
//!  | identity key   | identity key    | signed prekey   | identity key over              |
//!  |                |                 |                 | "sealpost/v3/key-bundle"|0..96 |
//!  +----------------+-----------------+-----------------+--------------------------------+
//! ```

use crate::PUBLIC_KEY_LEN;
use crate::auth::KEY_BUNDLE_LABEL;
use crate::types::PublicKey;

/// Bytes covered by the bundle's signature.
pub const SIGNED_LEN: usize = 96;

/// A view of the public key field as a version-3 key bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyBundle {
    /// Ed25519 identity key: signs the bundle and authenticates the client.
    pub identity_key: [u8; 32],
    /// X25519 identity key, for the key agreement.
    pub dh_identity_key: [u8; 32],
    /// X25519 signed prekey, for the key agreement.
    pub signed_prekey: [u8; 32],
    /// Signature over [`KeyBundle::signed_message`].
    pub signature: [u8; 64],
}

impl KeyBundle {
    /// Splits the field into its parts. Any 160 bytes split; whether the
    /// signature holds is for the caller to check.
    pub fn from_public_key(key: &PublicKey) -> Self {
        let b = key.as_bytes();
        let mut out = Self {
            identity_key: [0; 32],
            dh_identity_key: [0; 32],
            signed_prekey: [0; 32],
            signature: [0; 64],
        };
        out.identity_key.copy_from_slice(&b[0..32]);
        out.dh_identity_key.copy_from_slice(&b[32..64]);
        out.signed_prekey.copy_from_slice(&b[64..96]);
        out.signature.copy_from_slice(&b[96..PUBLIC_KEY_LEN]);
        out
    }

    /// Joins the parts into the 160-byte field.
    pub fn to_public_key(&self) -> PublicKey {
        let mut b = [0u8; PUBLIC_KEY_LEN];
        b[0..32].copy_from_slice(&self.identity_key);
        b[32..64].copy_from_slice(&self.dh_identity_key);
        b[64..96].copy_from_slice(&self.signed_prekey);
        b[96..].copy_from_slice(&self.signature);
        PublicKey(b)
    }

    /// The bytes the identity key signs: the label, then the three keys.
    pub fn signed_message(&self) -> Vec<u8> {
        Self::signed_message_for(
            &self.identity_key,
            &self.dh_identity_key,
            &self.signed_prekey,
        )
    }

    /// The bytes to sign when making a bundle from its three keys.
    pub fn signed_message_for(
        identity_key: &[u8; 32],
        dh_identity_key: &[u8; 32],
        signed_prekey: &[u8; 32],
    ) -> Vec<u8> {
        let mut m = Vec::with_capacity(KEY_BUNDLE_LABEL.len() + SIGNED_LEN);
        m.extend_from_slice(KEY_BUNDLE_LABEL);
        m.extend_from_slice(identity_key);
        m.extend_from_slice(dh_identity_key);
        m.extend_from_slice(signed_prekey);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_joins() {
        let mut raw = [0u8; PUBLIC_KEY_LEN];
        for (i, b) in raw.iter_mut().enumerate() {
            *b = i as u8;
        }
        let bundle = KeyBundle::from_public_key(&PublicKey(raw));
        assert_eq!(bundle.identity_key[0], 0);
        assert_eq!(bundle.dh_identity_key[0], 32);
        assert_eq!(bundle.signed_prekey[0], 64);
        assert_eq!(bundle.signature[0], 96);
        assert_eq!(bundle.to_public_key(), PublicKey(raw));
        let m = bundle.signed_message();
        assert_eq!(&m[..KEY_BUNDLE_LABEL.len()], KEY_BUNDLE_LABEL);
        assert_eq!(&m[KEY_BUNDLE_LABEL.len()..], &raw[..96]);
    }
}
