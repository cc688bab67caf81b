//! The key schedule of the handshake: from the three Diffie-Hellman
//! results to a session's keys.
//!
//! The initiator A holds B's
//! [`VerifiedBundle`](crate::crypto::VerifiedBundle) (identity key `IK_B`,
//! X25519 identity key `DHI_B`, signed prekey `SPK_B`). It makes an
//! ephemeral X25519 key `EK_A` and a random session id `sid`, then:
//!
//! ```text
//! DH1 = X25519(DHI_A secret, SPK_B)      authenticates A
//! DH2 = X25519(EK_A secret,  DHI_B)      authenticates B
//! DH3 = X25519(EK_A secret,  SPK_B)      fresh for this session
//! ikm = ff*32 | DH1 | DH2 | DH3                                   (128 bytes)
//! SK  = HKDF-SHA256(salt = sid, ikm,
//!                   info = "sealpost/v3/x3dh" | IK_A [32] | IK_B [32] | A id [16] | B id [16],
//!                   length 32)
//! k_ab      = HKDF-Expand-SHA256(PRK = SK, "sealpost/v3/initiator-to-responder", 32)
//! k_ba      = HKDF-Expand-SHA256(PRK = SK, "sealpost/v3/responder-to-initiator", 32)
//! k_confirm = HKDF-Expand-SHA256(PRK = SK, "sealpost/v3/confirm", 32)
//! ```
//!
//! A Diffie-Hellman that is not contributory (an all-zero result from a
//! small-order point) is refused. `IK` are the Ed25519 identity keys, `A id`
//! and `B id` the client ids of initiator and responder.
//!
//! Apart from `session::handshake` so that the derivation (and its known
//! answers) can be read and checked on its own; the handshake only feeds it
//! and uses what it gives.

use hkdf::Hkdf;
use protocol::ClientId;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{SecretKey, SessionId};
use crate::crypto::KEY_LEN;

/// HKDF info label of the shared secret.
pub const X3DH_LABEL: &[u8] = b"sealpost/v3/x3dh";
/// HKDF info of the initiator-to-responder key.
pub const INITIATOR_TO_RESPONDER_LABEL: &[u8] = b"sealpost/v3/initiator-to-responder";
/// HKDF info of the responder-to-initiator key.
pub const RESPONDER_TO_INITIATOR_LABEL: &[u8] = b"sealpost/v3/responder-to-initiator";
/// HKDF info of the confirmation key.
pub const CONFIRM_LABEL: &[u8] = b"sealpost/v3/confirm";

/// The three keys of a session, as derived.
pub(super) struct DerivedKeys {
    pub(super) initiator_to_responder: SecretKey,
    pub(super) responder_to_initiator: SecretKey,
    pub(super) confirm: SecretKey,
}

/// The key schedule described in the module docs.
pub(super) fn derive_keys(
    sid: &SessionId,
    dh: [&[u8; 32]; 3],
    initiator_identity_key: &[u8; 32],
    responder_identity_key: &[u8; 32],
    initiator: &ClientId,
    responder: &ClientId,
) -> DerivedKeys {
    let sk = derive_shared_secret(
        sid,
        dh,
        initiator_identity_key,
        responder_identity_key,
        initiator,
        responder,
    );
    // A 32-byte PRK is exactly SHA-256's output size, the minimum from_prk takes.
    let hk = Hkdf::<Sha256>::from_prk(&sk[..]).expect("32-byte PRK is long enough");
    let expand = |label: &[u8]| {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        hk.expand(label, &mut key[..])
            // 32 bytes is far below HKDF-SHA256's limit of 255 * 32.
            .expect("HKDF output of 32 bytes is always valid");
        key
    };
    DerivedKeys {
        initiator_to_responder: expand(INITIATOR_TO_RESPONDER_LABEL),
        responder_to_initiator: expand(RESPONDER_TO_INITIATOR_LABEL),
        confirm: expand(CONFIRM_LABEL),
    }
}

/// `SK` of the module docs: HKDF-SHA256 over the three Diffie-Hellman
/// results, salted with the session id, bound to both identities.
pub(crate) fn derive_shared_secret(
    sid: &SessionId,
    dh: [&[u8; 32]; 3],
    initiator_identity_key: &[u8; 32],
    responder_identity_key: &[u8; 32],
    initiator: &ClientId,
    responder: &ClientId,
) -> SecretKey {
    let mut ikm = Zeroizing::new([0u8; 128]);
    ikm[..32].fill(0xff);
    ikm[32..64].copy_from_slice(dh[0]);
    ikm[64..96].copy_from_slice(dh[1]);
    ikm[96..].copy_from_slice(dh[2]);
    let hk = Hkdf::<Sha256>::new(Some(sid.as_bytes()), &ikm[..]);
    let mut sk = Zeroizing::new([0u8; KEY_LEN]);
    hk.expand_multi_info(
        &[
            X3DH_LABEL,
            initiator_identity_key,
            responder_identity_key,
            initiator.as_bytes(),
            responder.as_bytes(),
        ],
        &mut sk[..],
    )
    // 32 bytes is far below HKDF-SHA256's limit of 255 * 32.
    .expect("HKDF output of 32 bytes is always valid");
    sk
}
#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: ClientId = ClientId([0x11; 16]);
    const BOB: ClientId = ClientId([0x22; 16]);

    #[test]
    fn known_answer_key_derivation() {
        let keys = derive_keys(
            &SessionId([0x5a; 16]),
            [&[1; 32], &[2; 32], &[3; 32]],
            &[0xaa; 32],
            &[0xbb; 32],
            &ALICE,
            &BOB,
        );
        assert_eq!(hex::encode(*keys.initiator_to_responder), KAT_K_AB);
        assert_eq!(hex::encode(*keys.responder_to_initiator), KAT_K_BA);
        assert_eq!(hex::encode(*keys.confirm), KAT_K_CONFIRM);
    }

    const KAT_K_AB: &str = "f7e8c1f228380f12a871f09093a51dd6e06f3e556c42c17f846a7bc62c1976af";
    const KAT_K_BA: &str = "2811a1efbdd8f5e71f73ff60232892928e7173add0f73facd9e7f1f6eb3056fe";
    const KAT_K_CONFIRM: &str = "04ba0b801c239a03eb75286344238436a1f1830f02d7f278c614c0dd01273e04";
}
