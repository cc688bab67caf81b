//! Fingerprints and safety numbers: digits two people read to each other to
//! check that they hold each other's real keys (and the server's).
//!
//! ```text
//! user fingerprint   = digits(SHA-256("sealpost/v3/fingerprint" | Ed25519 identity key [32] | X25519 identity key [32]))
//! server fingerprint = digits(SHA-256("sealpost/v3/server-fingerprint" | server Ed25519 key [32]))
//! digits(h)          = for i in 0..6: (h[5i..5i+5] as a big-endian 40-bit number) mod 100000,
//!                      each written as 5 decimal digits (leading zeros kept)
//! safety number      = fingerprint of the party with the smaller client id (bytewise),
//!                      then that of the other: 60 digits
//! ```
//!
//! The signed prekey is left out of the user fingerprint on purpose: it may
//! be rotated some day without the person's identity changing. Digits are
//! compared in constant time.

use std::fmt;

use protocol::ClientId;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::VerifiedBundle;

/// Label hashed before a user's keys.
pub const FINGERPRINT_LABEL: &[u8] = b"sealpost/v3/fingerprint";
/// Label hashed before the server's key.
pub const SERVER_FINGERPRINT_LABEL: &[u8] = b"sealpost/v3/server-fingerprint";

/// Digits in one fingerprint.
pub const FINGERPRINT_DIGITS: usize = 30;
/// Digits in one group as displayed.
const GROUP: usize = 5;

/// 30 decimal digits derived from public keys, shown in 6 groups of 5.
#[derive(Clone, Copy)]
pub struct Fingerprint([u8; FINGERPRINT_DIGITS]);

impl Fingerprint {
    /// A user's fingerprint from their Ed25519 and X25519 identity keys.
    pub fn of_user(identity_key: &[u8; 32], dh_identity_key: &[u8; 32]) -> Self {
        Self::from_hash(
            Sha256::new()
                .chain_update(FINGERPRINT_LABEL)
                .chain_update(identity_key)
                .chain_update(dh_identity_key)
                .finalize()
                .into(),
        )
    }

    /// A user's fingerprint from their checked bundle.
    pub fn of_bundle(bundle: &VerifiedBundle) -> Self {
        Self::of_user(
            bundle.identity_key().as_bytes(),
            bundle.dh_identity_key().as_bytes(),
        )
    }

    /// The server's fingerprint from its Ed25519 key.
    pub fn of_server(server_key: &[u8; 32]) -> Self {
        Self::from_hash(
            Sha256::new()
                .chain_update(SERVER_FINGERPRINT_LABEL)
                .chain_update(server_key)
                .finalize()
                .into(),
        )
    }

    fn from_hash(hash: [u8; 32]) -> Self {
        let mut digits = [0u8; FINGERPRINT_DIGITS];
        for (group, out) in hash.chunks_exact(5).zip(digits.chunks_exact_mut(GROUP)) {
            let value = group.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)) % 100_000;
            write_digits(value, out);
        }
        Self(digits)
    }

    /// The 30 digits as ASCII, without spaces.
    pub fn digits(&self) -> &[u8; FINGERPRINT_DIGITS] {
        &self.0
    }
}

fn write_digits(mut value: u64, out: &mut [u8]) {
    for slot in out.iter_mut().rev() {
        // value % 10 < 10, so the cast cannot truncate.
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

fn fmt_groups(digits: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for (i, group) in digits.chunks(GROUP).enumerate() {
        if i > 0 {
            f.write_str(" ")?;
        }
        for d in group {
            write!(f, "{}", char::from(*d))?;
        }
    }
    Ok(())
}

impl fmt::Display for Fingerprint {
    /// `12345 67890 ...`: 6 groups of 5 digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_groups(&self.0, f)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl ConstantTimeEq for Fingerprint {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

impl PartialEq for Fingerprint {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for Fingerprint {}

/// The 60 digits two users compare: both fingerprints, ordered by client id,
/// so that both sides compute the same number.
#[derive(Clone, Copy)]
pub struct SafetyNumber([u8; 2 * FINGERPRINT_DIGITS]);

impl SafetyNumber {
    /// The safety number of two users, each given by client id and
    /// fingerprint; the order of the arguments does not matter.
    pub fn new(a: (ClientId, Fingerprint), b: (ClientId, Fingerprint)) -> Self {
        let (first, second) = if a.0.as_bytes() <= b.0.as_bytes() {
            (a.1, b.1)
        } else {
            (b.1, a.1)
        };
        let mut digits = [0u8; 2 * FINGERPRINT_DIGITS];
        digits[..FINGERPRINT_DIGITS].copy_from_slice(first.digits());
        digits[FINGERPRINT_DIGITS..].copy_from_slice(second.digits());
        Self(digits)
    }

    /// The 60 digits as ASCII, without spaces.
    pub fn digits(&self) -> &[u8; 2 * FINGERPRINT_DIGITS] {
        &self.0
    }

    /// Whether `typed` (digits as a person entered them; spaces, dashes and
    /// other non-digits are ignored) is this safety number. Constant time in
    /// the digits.
    pub fn matches_text(&self, typed: &str) -> bool {
        let digits: Vec<u8> = typed.bytes().filter(u8::is_ascii_digit).collect();
        // Lengths are not secret; ct_eq on slices also checks them.
        self.0[..].ct_eq(&digits[..]).into()
    }
}

impl fmt::Display for SafetyNumber {
    /// 12 groups of 5 digits separated by spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_groups(&self.0, f)
    }
}

impl fmt::Debug for SafetyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SafetyNumber({self})")
    }
}

impl ConstantTimeEq for SafetyNumber {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

impl PartialEq for SafetyNumber {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for SafetyNumber {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_take_five_bytes_big_endian_mod_100000() {
        let mut hash = [0u8; 32];
        // 0x00_0000_0001 = 1, then 0xff*5 = 1099511627775 -> 27775.
        hash[4] = 1;
        hash[5..10].copy_from_slice(&[0xff; 5]);
        let fp = Fingerprint::from_hash(hash);
        assert_eq!(fp.to_string(), "00001 27775 00000 00000 00000 00000");
    }

    #[test]
    fn known_answer_fingerprints() {
        let fp = Fingerprint::of_user(&[0xaa; 32], &[0xbb; 32]);
        assert_eq!(fp.to_string(), USER_KAT);
        let server = Fingerprint::of_server(&[0x9a; 32]);
        assert_eq!(server.to_string(), SERVER_KAT);
        assert_eq!(format!("{fp:?}"), format!("Fingerprint({USER_KAT})"));
    }

    const USER_KAT: &str = "49284 54484 04451 75435 83121 71484";
    const SERVER_KAT: &str = "19105 93728 45219 42451 98935 68152";

    #[test]
    fn server_fingerprint_hashes_its_own_label() {
        let key = [1u8; 32];
        let expected = Fingerprint::from_hash(
            Sha256::new()
                .chain_update(SERVER_FINGERPRINT_LABEL)
                .chain_update(key)
                .finalize()
                .into(),
        );
        assert_eq!(Fingerprint::of_server(&key), expected);
        assert_ne!(
            Fingerprint::of_server(&key),
            Fingerprint::of_user(&key, &[0; 32])
        );
    }

    #[test]
    fn fingerprint_ignores_the_prekey_and_changes_with_identity_keys() {
        let a = Fingerprint::of_user(&[1; 32], &[2; 32]);
        assert_eq!(a, Fingerprint::of_user(&[1; 32], &[2; 32]));
        assert_ne!(a, Fingerprint::of_user(&[1; 32], &[3; 32]));
        assert_ne!(a, Fingerprint::of_user(&[4; 32], &[2; 32]));
    }

    #[test]
    fn safety_number_is_symmetric_and_key_dependent() {
        let alice = (
            ClientId([0x11; 16]),
            Fingerprint::of_user(&[1; 32], &[2; 32]),
        );
        let bob = (
            ClientId([0x22; 16]),
            Fingerprint::of_user(&[3; 32], &[4; 32]),
        );
        let ab = SafetyNumber::new(alice, bob);
        let ba = SafetyNumber::new(bob, alice);
        assert_eq!(ab, ba);
        assert_eq!(ab.to_string().len(), 60 + 11);
        assert_eq!(&ab.digits()[..30], alice.1.digits());
        let mallory = (
            ClientId([0x22; 16]),
            Fingerprint::of_user(&[5; 32], &[4; 32]),
        );
        assert_ne!(ab, SafetyNumber::new(alice, mallory));
        assert!(ab.matches_text(&ab.to_string()));
        assert!(ab.matches_text(&ab.to_string().replace(' ', "-")));
        assert!(!ab.matches_text(&SafetyNumber::new(alice, mallory).to_string()));
        assert!(!ab.matches_text(&ab.to_string()[..70]));
    }
}
