//! The key agreement between two users: an X3DH-style handshake without
//! one-time prekeys, carried by message types 1 (offer) and 2 (answer).
//!
//! The initiator A holds B's [`VerifiedBundle`] (identity key `IK_B`, X25519
//! identity key `DHI_B`, signed prekey `SPK_B`). It makes an ephemeral X25519
//! key `EK_A` and a random session id `sid`, then:
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
//! ```text
//! type 1, offer (121 bytes), A -> B
//!  0    1          17             49             81           105        121
//!  | 01 | sid [16] | EK_A pub [32] | SPK_B [32]  | nonce [24] | tag [16] |
//!  tag: XChaCha20-Poly1305 under k_confirm of the empty plaintext,
//!       AD = "sealpost/v3/offer" | sid | A id | B id
//!
//! type 2, answer (57 bytes), B -> A
//!  0    1          17           41         57
//!  | 01 | sid [16] | nonce [24] | tag [16] |
//!  tag: XChaCha20-Poly1305 under k_confirm of the empty plaintext,
//!       AD = "sealpost/v3/answer" | sid | B id | A id
//! ```
//!
//! `SPK_B` names the prekey the offer was made for; B refuses an offer for
//! another one. `EK_A` must be a canonical encoding (top bit clear, value
//! below 2^255 - 19), so that no two offers differ only in bits X25519
//! ignores. B accepts the offer only if the tag verifies, which proves
//! that A computed the same keys, and so (through DH1) that A holds the X25519
//! identity secret of the bundle B has for A. The answer tells A the same
//! about B. A may send with a session before the answer arrives.
//!
//! Not here (later phases): one-time prekeys and a ratchet, so there is no
//! forward secrecy against a later theft of both identity secrets.

use std::fmt;

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{KeyInit, Tag, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use protocol::ClientId;
use rand::rngs::OsRng;
use rand::{CryptoRng, RngCore};
use sha2::Sha256;
use x25519_dalek::{PublicKey as DhPublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::{
    CryptoError, FORMAT_VERSION, Identity, KEY_LEN, NONCE_LEN, TAG_LEN, VerifiedBundle, fill_random,
};

/// Size of a session id.
pub const SESSION_ID_LEN: usize = 16;
/// Size of a type-1 content (offer).
pub const OFFER_LEN: usize = 1 + SESSION_ID_LEN + 32 + 32 + NONCE_LEN + TAG_LEN;
/// Size of a type-2 content (answer).
pub const ANSWER_LEN: usize = 1 + SESSION_ID_LEN + NONCE_LEN + TAG_LEN;

/// HKDF info label of the shared secret.
pub const X3DH_LABEL: &[u8] = b"sealpost/v3/x3dh";
/// HKDF info of the initiator-to-responder key.
pub const INITIATOR_TO_RESPONDER_LABEL: &[u8] = b"sealpost/v3/initiator-to-responder";
/// HKDF info of the responder-to-initiator key.
pub const RESPONDER_TO_INITIATOR_LABEL: &[u8] = b"sealpost/v3/responder-to-initiator";
/// HKDF info of the confirmation key.
pub const CONFIRM_LABEL: &[u8] = b"sealpost/v3/confirm";
/// Associated-data label of the offer's tag.
pub const OFFER_LABEL: &[u8] = b"sealpost/v3/offer";
/// Associated-data label of the answer's tag.
pub const ANSWER_LABEL: &[u8] = b"sealpost/v3/answer";

/// A session's random 16-byte id, chosen by the initiator.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub [u8; SESSION_ID_LEN]);

impl SessionId {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; SESSION_ID_LEN] {
        &self.0
    }
}

impl fmt::Display for SessionId {
    /// Lower-case hex, 32 digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

/// Which side of the handshake this client was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sent the offer (A).
    Initiator,
    /// Answered it (B).
    Responder,
}

/// A 32-byte symmetric key that is wiped on drop.
pub(crate) type SecretKey = Zeroizing<[u8; KEY_LEN]>;

/// The three keys of a session, as derived.
struct DerivedKeys {
    initiator_to_responder: SecretKey,
    responder_to_initiator: SecretKey,
    confirm: SecretKey,
}

/// One agreed session with a peer: its id, the two direction keys, and (on
/// the initiator's side) the confirmation key that checks the answer.
///
/// Counters are not kept here: the keystore persists them. `Debug` shows no
/// key.
pub struct Session {
    sid: SessionId,
    role: Role,
    local: ClientId,
    peer: ClientId,
    send_key: SecretKey,
    receive_key: SecretKey,
    confirm_key: Option<SecretKey>,
    confirmed: bool,
}

/// Everything a session needs, as stored; only the keystore makes sessions
/// from parts.
pub(crate) struct SessionParts {
    pub sid: SessionId,
    pub role: Role,
    pub local: ClientId,
    pub peer: ClientId,
    pub send_key: SecretKey,
    pub receive_key: SecretKey,
    pub confirm_key: Option<SecretKey>,
    pub confirmed: bool,
}

impl Session {
    /// Starts a session with `peer` (the initiator's side): returns the new
    /// session and the type-1 content to send to the peer.
    ///
    /// # Errors
    /// [`CryptoError::InvalidBundle`] if a Diffie-Hellman with the bundle is
    /// not contributory (cannot happen with a verified bundle), or
    /// [`CryptoError::Randomness`].
    pub fn initiate(
        identity: &Identity,
        local: ClientId,
        peer: ClientId,
        peer_bundle: &VerifiedBundle,
    ) -> Result<(Self, Vec<u8>), CryptoError> {
        Self::initiate_with_rng(identity, local, peer, peer_bundle, &mut OsRng)
    }

    /// [`Session::initiate`] with the randomness from `rng`, drawn in this
    /// order: ephemeral secret (32), session id (16), nonce (24).
    ///
    /// # Errors
    /// As [`Session::initiate`].
    pub fn initiate_with_rng<R: RngCore + CryptoRng>(
        identity: &Identity,
        local: ClientId,
        peer: ClientId,
        peer_bundle: &VerifiedBundle,
        rng: &mut R,
    ) -> Result<(Self, Vec<u8>), CryptoError> {
        let mut ephemeral_bytes = Zeroizing::new([0u8; 32]);
        fill_random(rng, &mut ephemeral_bytes[..])?;
        let ephemeral = StaticSecret::from(*ephemeral_bytes);
        let mut sid = [0u8; SESSION_ID_LEN];
        fill_random(rng, &mut sid)?;
        let sid = SessionId(sid);
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(rng, &mut nonce)?;

        let spk_b = peer_bundle.signed_prekey();
        let dh1 = identity.dh_identity_secret().diffie_hellman(spk_b);
        let dh2 = ephemeral.diffie_hellman(peer_bundle.dh_identity_key());
        let dh3 = ephemeral.diffie_hellman(spk_b);
        if !(dh1.was_contributory() && dh2.was_contributory() && dh3.was_contributory()) {
            return Err(CryptoError::InvalidBundle);
        }
        let keys = derive_keys(
            &sid,
            [dh1.as_bytes(), dh2.as_bytes(), dh3.as_bytes()],
            &identity.identity_key(),
            peer_bundle.identity_key().as_bytes(),
            &local,
            &peer,
        );
        let ad = transcript(OFFER_LABEL, &sid, &local, &peer);
        let tag = confirm_tag(&keys.confirm, &nonce, &ad);

        let mut offer = Vec::with_capacity(OFFER_LEN);
        offer.push(FORMAT_VERSION);
        offer.extend_from_slice(sid.as_bytes());
        offer.extend_from_slice(DhPublicKey::from(&ephemeral).as_bytes());
        offer.extend_from_slice(spk_b.as_bytes());
        offer.extend_from_slice(&nonce);
        offer.extend_from_slice(&tag);
        debug_assert_eq!(offer.len(), OFFER_LEN);

        let session = Self {
            sid,
            role: Role::Initiator,
            local,
            peer,
            send_key: keys.initiator_to_responder,
            receive_key: keys.responder_to_initiator,
            confirm_key: Some(keys.confirm),
            confirmed: false,
        };
        Ok((session, offer))
    }

    /// Accepts a type-1 content from `peer` (the responder's side): returns
    /// the new, confirmed session and the type-2 content to send back.
    ///
    /// # Errors
    /// [`CryptoError::DecryptFailed`] for any offer that does not verify
    /// (wrong length or version, another prekey, a non-contributory
    /// ephemeral key, a bad tag, a sender other than the bundle's owner);
    /// [`CryptoError::Randomness`].
    pub fn accept_offer(
        identity: &Identity,
        local: ClientId,
        peer: ClientId,
        peer_bundle: &VerifiedBundle,
        offer: &[u8],
    ) -> Result<(Self, Vec<u8>), CryptoError> {
        Self::accept_offer_with_rng(identity, local, peer, peer_bundle, offer, &mut OsRng)
    }

    /// [`Session::accept_offer`] with the answer's nonce (24 bytes) drawn
    /// from `rng`.
    ///
    /// # Errors
    /// As [`Session::accept_offer`].
    pub fn accept_offer_with_rng<R: RngCore + CryptoRng>(
        identity: &Identity,
        local: ClientId,
        peer: ClientId,
        peer_bundle: &VerifiedBundle,
        offer: &[u8],
        rng: &mut R,
    ) -> Result<(Self, Vec<u8>), CryptoError> {
        let offer: &[u8; OFFER_LEN] = offer.try_into().map_err(|_| CryptoError::DecryptFailed)?;
        let (version, rest) = offer.split_at(1);
        let (sid_bytes, rest) = rest.split_at(SESSION_ID_LEN);
        let (ephemeral, rest) = rest.split_at(32);
        let (prekey, rest) = rest.split_at(32);
        let (nonce, tag) = rest.split_at(NONCE_LEN);
        if version[0] != FORMAT_VERSION || prekey != identity.signed_prekey() {
            return Err(CryptoError::DecryptFailed);
        }
        let sid = SessionId(array(sid_bytes));
        let ephemeral = array::<32>(ephemeral);
        if !is_canonical_x25519(&ephemeral) {
            return Err(CryptoError::DecryptFailed);
        }
        let ephemeral = DhPublicKey::from(ephemeral);

        let dh1 = identity
            .signed_prekey_secret()
            .diffie_hellman(peer_bundle.dh_identity_key());
        let dh2 = identity.dh_identity_secret().diffie_hellman(&ephemeral);
        let dh3 = identity.signed_prekey_secret().diffie_hellman(&ephemeral);
        if !(dh1.was_contributory() && dh2.was_contributory() && dh3.was_contributory()) {
            return Err(CryptoError::DecryptFailed);
        }
        let keys = derive_keys(
            &sid,
            [dh1.as_bytes(), dh2.as_bytes(), dh3.as_bytes()],
            peer_bundle.identity_key().as_bytes(),
            &identity.identity_key(),
            &peer,
            &local,
        );
        let ad = transcript(OFFER_LABEL, &sid, &peer, &local);
        verify_confirm_tag(&keys.confirm, nonce, &ad, tag)?;

        let mut answer_nonce = [0u8; NONCE_LEN];
        fill_random(rng, &mut answer_nonce)?;
        let ad = transcript(ANSWER_LABEL, &sid, &local, &peer);
        let answer_tag = confirm_tag(&keys.confirm, &answer_nonce, &ad);
        let mut answer = Vec::with_capacity(ANSWER_LEN);
        answer.push(FORMAT_VERSION);
        answer.extend_from_slice(sid.as_bytes());
        answer.extend_from_slice(&answer_nonce);
        answer.extend_from_slice(&answer_tag);
        debug_assert_eq!(answer.len(), ANSWER_LEN);

        let session = Self {
            sid,
            role: Role::Responder,
            local,
            peer,
            send_key: keys.responder_to_initiator,
            receive_key: keys.initiator_to_responder,
            confirm_key: None,
            confirmed: true,
        };
        Ok((session, answer))
    }

    /// Checks a type-2 content for this (initiator's) session and marks the
    /// session confirmed. A redelivered answer verifies again and changes
    /// nothing.
    ///
    /// # Errors
    /// [`CryptoError::DecryptFailed`] if the answer is not for this session
    /// or its tag does not verify (always on a responder's session).
    pub fn confirm(&mut self, answer: &[u8]) -> Result<(), CryptoError> {
        let answer: &[u8; ANSWER_LEN] =
            answer.try_into().map_err(|_| CryptoError::DecryptFailed)?;
        let (version, rest) = answer.split_at(1);
        let (sid, rest) = rest.split_at(SESSION_ID_LEN);
        let (nonce, tag) = rest.split_at(NONCE_LEN);
        let Some(confirm_key) = &self.confirm_key else {
            return Err(CryptoError::DecryptFailed);
        };
        // The session id is public; comparing it early is not a leak.
        if version[0] != FORMAT_VERSION || sid != self.sid.as_bytes() {
            return Err(CryptoError::DecryptFailed);
        }
        let ad = transcript(ANSWER_LABEL, &self.sid, &self.peer, &self.local);
        verify_confirm_tag(confirm_key, nonce, &ad, tag)?;
        self.confirmed = true;
        Ok(())
    }

    /// The session's id.
    pub fn sid(&self) -> SessionId {
        self.sid
    }

    /// Which side of the handshake this client was.
    pub fn role(&self) -> Role {
        self.role
    }

    /// This client's id.
    pub fn local(&self) -> ClientId {
        self.local
    }

    /// The peer's id.
    pub fn peer(&self) -> ClientId {
        self.peer
    }

    /// Whether the peer has proven it holds the session keys (always true on
    /// the responder's side; on the initiator's once the answer verified).
    pub fn is_confirmed(&self) -> bool {
        self.confirmed
    }

    pub(crate) fn send_key(&self) -> &[u8; KEY_LEN] {
        &self.send_key
    }

    pub(crate) fn receive_key(&self) -> &[u8; KEY_LEN] {
        &self.receive_key
    }

    /// The session's keys and state, for storage.
    pub(crate) fn to_parts(&self) -> SessionParts {
        SessionParts {
            sid: self.sid,
            role: self.role,
            local: self.local,
            peer: self.peer,
            send_key: self.send_key.clone(),
            receive_key: self.receive_key.clone(),
            confirm_key: self.confirm_key.clone(),
            confirmed: self.confirmed,
        }
    }

    /// Rebuilds a stored session.
    pub(crate) fn from_parts(parts: SessionParts) -> Self {
        Self {
            sid: parts.sid,
            role: parts.role,
            local: parts.local,
            peer: parts.peer,
            send_key: parts.send_key,
            receive_key: parts.receive_key,
            confirm_key: parts.confirm_key,
            confirmed: parts.confirmed,
        }
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("sid", &self.sid)
            .field("role", &self.role)
            .field("local", &self.local)
            .field("peer", &self.peer)
            .field("confirmed", &self.confirmed)
            .finish_non_exhaustive()
    }
}

/// Copies a slice whose length the caller has fixed by construction.
fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(bytes);
    out
}

/// Whether `key` is the one canonical encoding of an X25519 u-coordinate:
/// the top bit clear and the value below p = 2^255 - 19. X25519 ignores the
/// top bit and reduces mod p, so without this check several offers (one bit
/// apart) would carry the same key and verify alike.
fn is_canonical_x25519(key: &[u8; 32]) -> bool {
    let top_bit_clear = key[31] & 0x80 == 0;
    let at_least_p = key[31] == 0x7f && key[1..31].iter().all(|b| *b == 0xff) && key[0] >= 0xed;
    top_bit_clear && !at_least_p
}

/// The key schedule described in the module docs.
fn derive_keys(
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

/// `label | sid | from | to`: the associated data of an offer or answer.
fn transcript(label: &[u8], sid: &SessionId, from: &ClientId, to: &ClientId) -> Vec<u8> {
    let mut ad = Vec::with_capacity(label.len() + SESSION_ID_LEN + 32);
    ad.extend_from_slice(label);
    ad.extend_from_slice(sid.as_bytes());
    ad.extend_from_slice(from.as_bytes());
    ad.extend_from_slice(to.as_bytes());
    ad
}

fn confirm_tag(key: &[u8; KEY_LEN], nonce: &[u8; NONCE_LEN], ad: &[u8]) -> [u8; TAG_LEN] {
    let tag = XChaCha20Poly1305::new(key.into())
        .encrypt_in_place_detached(XNonce::from_slice(nonce), ad, &mut [])
        // Encryption fails only for plaintexts over the cipher's length limit
        // (256 GiB); this one is empty.
        .expect("encrypting the empty plaintext cannot fail");
    tag.into()
}

/// Checks a confirmation tag; `nonce` and `tag` are sub-slices whose
/// lengths the caller fixed by splitting a fixed-size array.
fn verify_confirm_tag(
    key: &[u8; KEY_LEN],
    nonce: &[u8],
    ad: &[u8],
    tag: &[u8],
) -> Result<(), CryptoError> {
    // The AEAD compares the tag in constant time.
    XChaCha20Poly1305::new(key.into())
        .decrypt_in_place_detached(XNonce::from_slice(nonce), ad, &mut [], Tag::from_slice(tag))
        .map_err(|_| CryptoError::DecryptFailed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_support::kat_handshake;

    const ALICE: ClientId = ClientId([0x11; 16]);
    const BOB: ClientId = ClientId([0x22; 16]);
    const MALLORY: ClientId = ClientId([0x33; 16]);

    fn bundle(id: &Identity) -> VerifiedBundle {
        VerifiedBundle::verify(&id.bundle()).unwrap()
    }

    fn handshake() -> (Identity, Identity, Session, Session, Vec<u8>, Vec<u8>) {
        let a = Identity::generate().unwrap();
        let b = Identity::generate().unwrap();
        let (sa, offer) = Session::initiate(&a, ALICE, BOB, &bundle(&b)).unwrap();
        let (sb, answer) = Session::accept_offer(&b, BOB, ALICE, &bundle(&a), &offer).unwrap();
        (a, b, sa, sb, offer, answer)
    }

    #[test]
    fn both_sides_agree_on_keys() {
        let (_, _, mut sa, sb, offer, answer) = handshake();
        assert_eq!(offer.len(), OFFER_LEN);
        assert_eq!(answer.len(), ANSWER_LEN);
        assert_eq!(sa.sid(), sb.sid());
        assert_eq!(sa.send_key(), sb.receive_key());
        assert_eq!(sa.receive_key(), sb.send_key());
        assert_ne!(sa.send_key(), sa.receive_key());
        assert_eq!(sa.role(), Role::Initiator);
        assert_eq!(sb.role(), Role::Responder);
        assert!(!sa.is_confirmed());
        assert!(sb.is_confirmed());
        sa.confirm(&answer).unwrap();
        assert!(sa.is_confirmed());
        // A redelivered answer is harmless.
        sa.confirm(&answer).unwrap();
    }

    #[test]
    fn rejects_any_flipped_byte_of_the_offer() {
        let a = Identity::generate().unwrap();
        let b = Identity::generate().unwrap();
        let (_, offer) = Session::initiate(&a, ALICE, BOB, &bundle(&b)).unwrap();
        for i in 0..offer.len() {
            let mut bad = offer.clone();
            bad[i] ^= 0x80;
            assert!(
                matches!(
                    Session::accept_offer(&b, BOB, ALICE, &bundle(&a), &bad),
                    Err(CryptoError::DecryptFailed)
                ),
                "offer byte {i} flipped was accepted"
            );
        }
        for len in [0, 1, OFFER_LEN - 1, OFFER_LEN + 1] {
            let mut bad = offer.clone();
            bad.resize(len, 0);
            assert!(Session::accept_offer(&b, BOB, ALICE, &bundle(&a), &bad).is_err());
        }
    }

    #[test]
    fn rejects_an_offer_from_someone_else_or_for_someone_else() {
        let a = Identity::generate().unwrap();
        let b = Identity::generate().unwrap();
        let m = Identity::generate().unwrap();
        let (_, offer) = Session::initiate(&a, ALICE, BOB, &bundle(&b)).unwrap();
        // B believes the offer came from Mallory (another id, another bundle).
        assert!(Session::accept_offer(&b, BOB, MALLORY, &bundle(&m), &offer).is_err());
        // The right bundle but a claimed sender id that is not in the tag.
        assert!(Session::accept_offer(&b, BOB, MALLORY, &bundle(&a), &offer).is_err());
        // Another recipient with its own keys.
        assert!(Session::accept_offer(&m, MALLORY, ALICE, &bundle(&a), &offer).is_err());
        // Mallory pretends to be Alice: she can make an offer to Bob only
        // with her own DHI secret, which does not match Alice's bundle.
        let (_, forged) = Session::initiate(&m, ALICE, BOB, &bundle(&b)).unwrap();
        assert!(Session::accept_offer(&b, BOB, ALICE, &bundle(&a), &forged).is_err());
    }

    #[test]
    fn rejects_a_flipped_answer_or_one_for_another_session() {
        let (a, b, mut sa, _, _, answer) = handshake();
        for i in 0..answer.len() {
            let mut bad = answer.clone();
            bad[i] ^= 0x01;
            assert!(matches!(sa.confirm(&bad), Err(CryptoError::DecryptFailed)));
        }
        let (mut other, _) = Session::initiate(&a, ALICE, BOB, &bundle(&b)).unwrap();
        assert!(other.confirm(&answer).is_err());
        assert!(!other.is_confirmed());
        sa.confirm(&answer).unwrap();
    }

    #[test]
    fn canonical_x25519_encodings() {
        let mut key = [0xffu8; 32];
        key[31] = 0x7f;
        key[0] = 0xec; // p - 1
        assert!(is_canonical_x25519(&key));
        key[0] = 0xed; // p
        assert!(!is_canonical_x25519(&key));
        assert!(is_canonical_x25519(&[0; 32]));
        let mut high = [0u8; 32];
        high[31] = 0x80;
        assert!(!is_canonical_x25519(&high));
    }

    #[test]
    fn responder_sessions_take_no_answer() {
        let (_, _, _, mut sb, _, answer) = handshake();
        assert!(sb.confirm(&answer).is_err());
    }

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

    #[test]
    fn known_answer_offer_and_answer() {
        let (mut sa, sb, offer, answer) = kat_handshake();
        assert_eq!(hex::encode(&offer), KAT_OFFER);
        assert_eq!(hex::encode(&answer), KAT_ANSWER);
        assert_eq!(hex::encode(sa.send_key()), KAT_SESSION_K_AB);
        assert_eq!(sb.receive_key(), sa.send_key());
        sa.confirm(&answer).unwrap();
    }

    const KAT_OFFER: &str = "015a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a7a1a4e709bf085ac494aba0469b9b1eda0ab1f78b16aabb79ffeda90623e85220871558695c3980a809cdd7ed96838fd03d1d9558a70d77d1706d982841377624e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4ecb09b65650e57999cc04d31316298737";
    const KAT_ANSWER: &str = "015a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6e6cf521528acf0517e16517e79050add2";
    const KAT_SESSION_K_AB: &str =
        "d6529d6afdd8ea295522a0dce729c9f02fb6c04c17c31f3963564c50549cc288";

    #[test]
    fn debug_shows_no_key() {
        let (_, _, sa, _, _, _) = handshake();
        let text = format!("{sa:?}");
        assert!(!text.contains(&hex::encode(sa.send_key())[..16]));
        assert!(!text.contains(&hex::encode(sa.receive_key())[..16]));
        assert!(text.contains("Session"));
    }
}
