//! The exact bytes each side signs in the version-3 handshake and in a key
//! bundle. Signing and verifying are done by the server and client with
//! Ed25519; this module only fixes the transcripts so that both agree to the
//! byte.
//!
//! Each transcript starts with its own ASCII label, so a signature made for
//! one purpose can never be accepted for another.
//!
//! ```text
//! server proof  = "sealpost/v3/server-proof" | client id 16 | client nonce 32 | server nonce 32
//! client proof  = "sealpost/v3/client-proof" | server key 32 | client id 16 | client nonce 32 | server nonce 32
//! key bundle    = "sealpost/v3/key-bundle"   | first 96 bytes of the bundle
//! ```

use crate::types::ClientId;
use crate::v3::{NONCE_LEN, SIGNING_KEY_LEN};

/// Label of the server's proof.
pub const SERVER_PROOF_LABEL: &[u8] = b"sealpost/v3/server-proof";
/// Label of the client's proof.
pub const CLIENT_PROOF_LABEL: &[u8] = b"sealpost/v3/client-proof";
/// Label of a key bundle's signature.
pub const KEY_BUNDLE_LABEL: &[u8] = b"sealpost/v3/key-bundle";

/// What the server signs in its challenge (1100): it proves the holder of the
/// server key answered this client's fresh nonce for this client id.
pub fn server_proof_message(
    client_id: &ClientId,
    client_nonce: &[u8; NONCE_LEN],
    server_nonce: &[u8; NONCE_LEN],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(SERVER_PROOF_LABEL.len() + 16 + 2 * NONCE_LEN);
    m.extend_from_slice(SERVER_PROOF_LABEL);
    m.extend_from_slice(client_id.as_bytes());
    m.extend_from_slice(client_nonce);
    m.extend_from_slice(server_nonce);
    m
}

/// What the client signs in Authenticate (111): it proves the holder of the
/// identity key answered this server's fresh nonce, for this server key.
pub fn client_proof_message(
    server_key: &[u8; SIGNING_KEY_LEN],
    client_id: &ClientId,
    client_nonce: &[u8; NONCE_LEN],
    server_nonce: &[u8; NONCE_LEN],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(CLIENT_PROOF_LABEL.len() + SIGNING_KEY_LEN + 16 + 2 * NONCE_LEN);
    m.extend_from_slice(CLIENT_PROOF_LABEL);
    m.extend_from_slice(server_key);
    m.extend_from_slice(client_id.as_bytes());
    m.extend_from_slice(client_nonce);
    m.extend_from_slice(server_nonce);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcripts_have_fixed_layout() {
        let id = ClientId([1; 16]);
        let s = server_proof_message(&id, &[2; 32], &[3; 32]);
        assert_eq!(s.len(), 24 + 16 + 64);
        assert!(s.starts_with(SERVER_PROOF_LABEL));
        let c = client_proof_message(&[9; 32], &id, &[2; 32], &[3; 32]);
        assert_eq!(c.len(), 24 + 32 + 16 + 64);
        assert_eq!(&c[24..56], &[9; 32]);
        assert_ne!(SERVER_PROOF_LABEL, CLIENT_PROOF_LABEL);
    }
}
