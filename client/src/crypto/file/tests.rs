//! Tests of the chunked file encryption (`crypto::file`): every boundary
//! size, resuming both ways, tampering, a cross-check against
//! `aead::stream`'s own encryptor and known answers from PROTOCOL.md.
//!
//! In a file of their own so that `file.rs` holds only the construction.

use std::io::Cursor;

use aead_stream_check::*;
use proptest::prelude::*;
use sha2::{Digest, Sha256};

use super::*;
use crate::crypto::test_support::kat_file_secret;

/// Cross-checks against `aead::stream`'s own encryptor, so the format
/// really is `EncryptorBE32` output.
mod aead_stream_check {
    use chacha20poly1305::aead::stream::EncryptorBE32;

    use super::*;

    pub fn reference_ciphertext(secret: &FileSecret, plaintext: &[u8]) -> Vec<u8> {
        let mut enc = EncryptorBE32::<XChaCha20Poly1305>::from_aead(
            XChaCha20Poly1305::new(secret.key().into()),
            GenericArray::from_slice(secret.nonce_prefix()),
        );
        let chunks: Vec<&[u8]> = if plaintext.is_empty() {
            vec![&[]]
        } else {
            plaintext.chunks(CHUNK_LEN).collect()
        };
        let mut out = Vec::new();
        let (last, init) = chunks.split_last().unwrap();
        for chunk in init {
            out.extend(enc.encrypt_next(*chunk).unwrap());
        }
        out.extend(enc.encrypt_last(*last).unwrap());
        out
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn encrypt_all(secret: &FileSecret, plaintext: &[u8]) -> Vec<u8> {
    let mut enc =
        FileEncryptor::new(secret, Cursor::new(plaintext), plaintext.len() as u64).unwrap();
    let mut out = Vec::new();
    while let Some(piece) = enc.next_piece().unwrap() {
        out.extend_from_slice(piece);
    }
    out
}

fn decrypt_pieces(
    secret: &FileSecret,
    len: u64,
    ciphertext: &[u8],
    sizes: &[usize],
) -> Result<Vec<u8>, CryptoError> {
    let mut dec = FileDecryptor::new(secret, len, Vec::new())?;
    let mut rest = ciphertext;
    let mut i = 0;
    while !rest.is_empty() {
        let n = min(
            rest.len(),
            sizes
                .get(i % sizes.len().max(1))
                .copied()
                .unwrap_or(rest.len())
                .max(1),
        );
        dec.update(&rest[..n])?;
        rest = &rest[n..];
        i += 1;
    }
    dec.finish()
}

const SIZES: [usize; 8] = [
    0,
    1,
    CHUNK_LEN - 1,
    CHUNK_LEN,
    CHUNK_LEN + 1,
    2 * CHUNK_LEN,
    3 * 1024 * 1024 + 17,
    5 * 1024 * 1024,
];

#[test]
fn ciphertext_len_is_plaintext_plus_a_tag_per_chunk() {
    assert_eq!(ciphertext_len(0), 16);
    assert_eq!(ciphertext_len(1), 17);
    assert_eq!(ciphertext_len(CHUNK_LEN as u64), CHUNK_LEN as u64 + 16);
    assert_eq!(
        ciphertext_len(CHUNK_LEN as u64 + 1),
        CHUNK_LEN as u64 + 1 + 32
    );
    assert_eq!(ciphertext_len(u64::MAX), u64::MAX);
    assert_eq!(chunk_count(0), 1);
    assert_eq!(chunk_count(2 * CHUNK_LEN as u64), 2);
}

#[test]
fn round_trips_every_boundary_size() {
    let secret = FileSecret::generate().unwrap();
    for len in SIZES {
        let plaintext = pattern(len);
        let c = encrypt_all(&secret, &plaintext);
        assert_eq!(c.len() as u64, ciphertext_len(len as u64), "size {len}");
        assert_eq!(c, reference_ciphertext(&secret, &plaintext), "size {len}");
        for sizes in [&[usize::MAX][..], &[1, 7, 65551, 3], &[65536], &[1_000_000]] {
            let out = decrypt_pieces(&secret, len as u64, &c, sizes).unwrap();
            assert!(out == plaintext, "size {len}, pieces {sizes:?}");
        }
    }
}

#[test]
fn read_impls_stream_the_same_bytes() {
    let secret = FileSecret::generate().unwrap();
    let plaintext = pattern(3 * CHUNK_LEN + 5);
    let len = plaintext.len() as u64;
    let mut enc = FileEncryptor::new(&secret, Cursor::new(&plaintext), len).unwrap();
    let mut dec = FileDecryptor::new(&secret, len, Vec::new()).unwrap();
    io::copy(&mut enc, &mut dec).unwrap();
    assert_eq!(dec.finish().unwrap(), plaintext);
}

#[test]
fn rejects_truncation_reordering_extension_and_tampering() {
    let secret = FileSecret::generate().unwrap();
    let plaintext = pattern(3 * CHUNK_LEN + 100);
    let len = plaintext.len() as u64;
    let c = encrypt_all(&secret, &plaintext);
    let all = [usize::MAX];

    // Last chunk dropped, told the true size: incomplete.
    let without_last = &c[..3 * SEALED_CHUNK_LEN];
    assert!(matches!(
        decrypt_pieces(&secret, len, without_last, &all),
        Err(CryptoError::DecryptFailed)
    ));
    // Last chunk dropped and the size lied about to match: the new last
    // chunk was not sealed as last.
    assert!(decrypt_pieces(&secret, 3 * CHUNK_LEN as u64, without_last, &all).is_err());
    // One byte short.
    assert!(decrypt_pieces(&secret, len, &c[..c.len() - 1], &all).is_err());
    // Two chunks swapped.
    let mut swapped = c.clone();
    swapped[..SEALED_CHUNK_LEN].copy_from_slice(&c[SEALED_CHUNK_LEN..2 * SEALED_CHUNK_LEN]);
    swapped[SEALED_CHUNK_LEN..2 * SEALED_CHUNK_LEN].copy_from_slice(&c[..SEALED_CHUNK_LEN]);
    assert!(decrypt_pieces(&secret, len, &swapped, &all).is_err());
    // A chunk repeated in place of another.
    let mut repeated = c.clone();
    repeated[SEALED_CHUNK_LEN..2 * SEALED_CHUNK_LEN].copy_from_slice(&c[..SEALED_CHUNK_LEN]);
    assert!(decrypt_pieces(&secret, len, &repeated, &all).is_err());
    // Extra trailing bytes, however they arrive.
    let mut longer = c.clone();
    longer.push(0);
    assert!(decrypt_pieces(&secret, len, &longer, &all).is_err());
    assert!(decrypt_pieces(&secret, len, &longer, &[7]).is_err());
    let mut dec = FileDecryptor::new(&secret, len, Vec::new()).unwrap();
    dec.update(&c).unwrap();
    assert!(dec.update(&[0]).is_err());
    assert!(dec.update(&[]).is_err(), "stays failed");
    // Flipped bits in the first, a middle and the last chunk, and tags.
    for i in [
        0,
        100,
        SEALED_CHUNK_LEN - 1,
        SEALED_CHUNK_LEN + 5,
        c.len() - 17,
        c.len() - 1,
    ] {
        let mut bad = c.clone();
        bad[i] ^= 0x20;
        assert!(
            decrypt_pieces(&secret, len, &bad, &all).is_err(),
            "byte {i}"
        );
    }
    // The wrong key.
    let other = FileSecret::generate().unwrap();
    assert!(decrypt_pieces(&other, len, &c, &all).is_err());
    // The untouched ciphertext still decrypts.
    assert_eq!(decrypt_pieces(&secret, len, &c, &all).unwrap(), plaintext);
}

#[test]
fn an_empty_file_needs_its_one_sealed_chunk() {
    let secret = FileSecret::generate().unwrap();
    let c = encrypt_all(&secret, b"");
    assert_eq!(c.len(), 16);
    assert!(decrypt_pieces(&secret, 0, &c, &[1]).unwrap().is_empty());
    let dec = FileDecryptor::new(&secret, 0, Vec::new()).unwrap();
    assert!(matches!(dec.finish(), Err(CryptoError::DecryptFailed)));
}

#[test]
fn a_file_that_is_not_its_declared_size_is_refused() {
    let secret = FileSecret::generate().unwrap();
    let plaintext = pattern(CHUNK_LEN + 10);
    for declared in [CHUNK_LEN as u64 + 11, CHUNK_LEN as u64 + 9, 10] {
        let mut enc = FileEncryptor::new(&secret, Cursor::new(&plaintext), declared).unwrap();
        let result = loop {
            match enc.next_piece() {
                Ok(Some(_)) => continue,
                other => break other.map(|_| ()),
            }
        };
        assert!(
            matches!(result, Err(CryptoError::FileChanged)),
            "declared {declared}"
        );
    }
}

#[test]
fn resume_at_every_interesting_offset_gives_the_suffix() {
    let secret = FileSecret::generate().unwrap();
    let plaintext = pattern(2 * CHUNK_LEN + 3);
    let full = encrypt_all(&secret, &plaintext);
    let len = plaintext.len() as u64;
    let offsets = [
        0,
        1,
        SEALED_CHUNK_LEN - 1,
        SEALED_CHUNK_LEN,
        SEALED_CHUNK_LEN + 1,
        2 * SEALED_CHUNK_LEN,
        full.len() - 1,
        full.len(),
    ];
    for offset in offsets {
        let mut enc =
            FileEncryptor::resume(&secret, Cursor::new(&plaintext), len, offset as u64).unwrap();
        let mut out = Vec::new();
        enc.read_to_end(&mut out).unwrap();
        assert!(out == full[offset..], "offset {offset}");
    }
    assert!(matches!(
        FileEncryptor::resume(&secret, Cursor::new(&plaintext), len, full.len() as u64 + 1),
        Err(CryptoError::BadOffset { .. })
    ));
}

#[test]
fn decryption_resumed_at_a_chunk_gives_the_rest_and_checks_positions() {
    let secret = FileSecret::generate().unwrap();
    let plaintext = pattern(3 * CHUNK_LEN + 77);
    let len = plaintext.len() as u64;
    let c = encrypt_all(&secret, &plaintext);
    for first in 0..4u64 {
        let at = first as usize * SEALED_CHUNK_LEN;
        let mut dec = FileDecryptor::resume(&secret, len, Vec::new(), first).unwrap();
        dec.update(&c[at..]).unwrap();
        assert_eq!(dec.chunks_done(), 4);
        let out = dec.finish().unwrap();
        assert!(
            out == plaintext[first as usize * CHUNK_LEN..],
            "chunk {first}"
        );
    }
    // Ciphertext from another position does not open there.
    let mut dec = FileDecryptor::resume(&secret, len, Vec::new(), 1).unwrap();
    assert!(dec.update(&c[..SEALED_CHUNK_LEN]).is_err());
    // Stopping part-way keeps what was decrypted, whole chunks only.
    let mut dec = FileDecryptor::new(&secret, len, Vec::new()).unwrap();
    dec.update(&c[..2 * SEALED_CHUNK_LEN + 10]).unwrap();
    assert_eq!(dec.chunks_done(), 2);
    assert!(dec.into_writer() == plaintext[..2 * CHUNK_LEN]);
    assert!(matches!(
        FileDecryptor::resume(&secret, len, Vec::new(), 4),
        Err(CryptoError::BadOffset { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn decrypts_from_pieces_split_anywhere(
        len in 0usize..(3 * CHUNK_LEN + 50),
        sizes in proptest::collection::vec(1usize..200_000, 1..20),
    ) {
        let secret = FileSecret::generate().unwrap();
        let plaintext = pattern(len);
        let c = encrypt_all(&secret, &plaintext);
        let out = decrypt_pieces(&secret, len as u64, &c, &sizes).unwrap();
        prop_assert!(out == plaintext);
    }

    #[test]
    fn resume_from_any_offset_is_the_suffix(
        len in 0usize..(3 * CHUNK_LEN + 50),
        at in 0.0f64..=1.0,
    ) {
        let secret = FileSecret::generate().unwrap();
        let plaintext = pattern(len);
        let full = encrypt_all(&secret, &plaintext);
        let offset = ((full.len() as f64) * at) as usize;
        let mut enc = FileEncryptor::resume(&secret, Cursor::new(&plaintext), len as u64, offset as u64).unwrap();
        let mut out = Vec::new();
        while let Some(piece) = enc.next_piece().unwrap() {
            out.extend_from_slice(piece);
        }
        prop_assert!(out == full[offset..]);
    }
}

#[test]
fn known_answer_file_chunks() {
    let secret = kat_file_secret();
    assert_eq!(
        hex::encode(encrypt_all(&secret, b"hello file")),
        KAT_SMALL_FILE
    );
    // A two-chunk file: the first chunk's tag and the digest of it all.
    let c = encrypt_all(&secret, &pattern(CHUNK_LEN + 1));
    assert_eq!(
        hex::encode(&c[CHUNK_LEN..SEALED_CHUNK_LEN]),
        KAT_FIRST_CHUNK_TAG
    );
    assert_eq!(hex::encode(Sha256::digest(&c)), KAT_TWO_CHUNKS_SHA256);
}

const KAT_SMALL_FILE: &str = "6418abda7c63cf5859d8ef6fe1b66da54126ccffe26366ddc7ca";
const KAT_FIRST_CHUNK_TAG: &str = "a2636a37644acffa84e94f2bf3a369ab";
const KAT_TWO_CHUNKS_SHA256: &str =
    "24a310f967495ca3930f8f0728baf8f8ef10bf8864e31f51e6e0193c9306c63b";
