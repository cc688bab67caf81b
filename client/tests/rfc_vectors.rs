//! Every primitive the client uses, against the published test vectors of
//! its specification, called the way the client calls it: X25519 (RFC 7748),
//! Ed25519 (RFC 8032), ChaCha20-Poly1305 (RFC 8439), HKDF-SHA256 (RFC 5869)
//! and XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03). These numbers come
//! from the RFCs, not from this code or PROTOCOL.md, so code and document
//! cannot drift together past them.

use chacha20poly1305::aead::{Aead, AeadInPlace, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce, Tag, XChaCha20Poly1305, XNonce};
use client::crypto::Identity;
use ed25519_dalek::{Signature, VerifyingKey};
use hkdf::Hkdf;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

fn h(hex: &str) -> Vec<u8> {
    hex::decode(hex.split_whitespace().collect::<String>()).unwrap()
}

fn h32(hex: &str) -> [u8; 32] {
    h(hex).try_into().unwrap()
}

/// The client's X25519: a `StaticSecret` from 32 bytes, Diffie-Hellman with
/// a peer's 32-byte key.
fn x25519(scalar: [u8; 32], u: [u8; 32]) -> [u8; 32] {
    StaticSecret::from(scalar)
        .diffie_hellman(&PublicKey::from(u))
        .to_bytes()
}

/// An identity whose three 32-byte secrets are the given ones, as the
/// client loads one from `me.info`.
fn identity(ed25519_seed: [u8; 32], dh: [u8; 32], prekey: [u8; 32]) -> Identity {
    let mut secret = [0u8; 96];
    secret[..32].copy_from_slice(&ed25519_seed);
    secret[32..64].copy_from_slice(&dh);
    secret[64..].copy_from_slice(&prekey);
    Identity::from_secret_bytes(&secret)
}

#[test]
fn x25519_matches_rfc_7748_section_5_2() {
    let vectors = [
        (
            "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
            "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
            "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
        ),
        (
            "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
            "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
            "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
        ),
    ];
    for (scalar, u, out) in vectors {
        assert_eq!(hex::encode(x25519(h32(scalar), h32(u))), out);
    }
    // The iterated test: k = u = 9, then k, u = X25519(k, u), k.
    let mut k = [0u8; 32];
    k[0] = 9;
    let mut u = k;
    for i in 1..=1000 {
        (k, u) = (x25519(k, u), k);
        if i == 1 {
            assert_eq!(
                hex::encode(k),
                "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"
            );
        }
    }
    assert_eq!(
        hex::encode(k),
        "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"
    );
}

#[test]
fn x25519_key_agreement_matches_rfc_7748_section_6_1() {
    let alice = h32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    let bob = h32("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    // Public keys as the client derives its own (identity and prekey).
    let a = identity([1; 32], alice, bob);
    assert_eq!(
        hex::encode(a.dh_identity_key()),
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    );
    assert_eq!(
        hex::encode(a.signed_prekey()),
        "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
    );
    let shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
    assert_eq!(hex::encode(x25519(alice, a.signed_prekey())), shared);
    assert_eq!(hex::encode(x25519(bob, a.dh_identity_key())), shared);
}

#[test]
fn ed25519_matches_rfc_8032_section_7_1() {
    let vectors = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da
             085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
        (
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac
             18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        ),
    ];
    for (secret, public, message, signature) in vectors {
        // Signing as the client signs: its identity, from the seed.
        let id = identity(h32(secret), [2; 32], [3; 32]);
        assert_eq!(hex::encode(id.identity_key()), public);
        let signed = id.sign(&h(message));
        assert_eq!(hex::encode(signed), hex::encode(h(signature)));
        // Verifying as the client verifies a peer's bundle: strictly.
        let key = VerifyingKey::from_bytes(&h32(public)).unwrap();
        let sig = Signature::from_bytes(&h(signature).try_into().unwrap());
        key.verify_strict(&h(message), &sig).unwrap();
        let mut altered = h(message);
        altered.push(0);
        assert!(key.verify_strict(&altered, &sig).is_err());
    }
}

/// RFC 8439 section 2.8.2 and draft-irtf-cfrg-xchacha-03 section A.3.1 share
/// this plaintext, key and associated data.
const SUNSCREEN: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you only \
one tip for the future, sunscreen would be it.";

fn aead_key() -> [u8; 32] {
    std::array::from_fn(|i| 0x80 + i as u8)
}

#[test]
fn chacha20_poly1305_matches_rfc_8439_section_2_8_2() {
    let aad = h("50515253c0c1c2c3c4c5c6c7");
    let nonce = h("070000004041424344454647");
    let expected = h(
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6
         3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36
         92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc
         3ff4def08e4b7a9de576d26586cec64b6116
         1ae10b594f09e26a7e902ecbd0600691",
    );
    let cipher = ChaCha20Poly1305::new(&aead_key().into());
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: SUNSCREEN,
                aad: &aad,
            },
        )
        .unwrap();
    assert_eq!(hex::encode(&sealed), hex::encode(&expected));
    let opened = cipher
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &expected,
                aad: &aad,
            },
        )
        .unwrap();
    assert_eq!(opened, SUNSCREEN);
}

#[test]
fn xchacha20_poly1305_matches_the_draft_section_a_3_1() {
    let aad = h("50515253c0c1c2c3c4c5c6c7");
    let nonce = h("404142434445464748494a4b4c4d4e4f5051525354555657");
    let ciphertext = h(
        "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb
         731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452
         2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9
         21f9664c97637da9768812f615c68b13b52e",
    );
    let tag = h("c0875924c1c7987947deafd8780acf49");
    // Detached and in place, as the client's envelopes use it.
    let cipher = XChaCha20Poly1305::new(&aead_key().into());
    let mut buf = SUNSCREEN.to_vec();
    let got_tag = cipher
        .encrypt_in_place_detached(XNonce::from_slice(&nonce), &aad, &mut buf)
        .unwrap();
    assert_eq!(hex::encode(&buf), hex::encode(&ciphertext));
    assert_eq!(hex::encode(got_tag), hex::encode(&tag));
    cipher
        .decrypt_in_place_detached(
            XNonce::from_slice(&nonce),
            &aad,
            &mut buf,
            Tag::from_slice(&tag),
        )
        .unwrap();
    assert_eq!(buf, SUNSCREEN);
}

#[test]
fn hkdf_sha256_matches_rfc_5869_appendix_a() {
    struct Case {
        ikm: Vec<u8>,
        salt: Vec<u8>,
        info: Vec<u8>,
        prk: &'static str,
        okm: &'static str,
    }
    let cases = [
        // A.1: basic.
        Case {
            ikm: vec![0x0b; 22],
            salt: (0x00..=0x0c).collect(),
            info: (0xf0..=0xf9).collect(),
            prk: "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
            okm: "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf
                  34007208d5b887185865",
        },
        // A.2: longer inputs and output.
        Case {
            ikm: (0x00..=0x4f).collect(),
            salt: (0x60..=0xaf).collect(),
            info: (0xb0..=0xff).collect(),
            prk: "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
            okm: "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c
                  59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71
                  cc30c58179ec3e87c14c01d5c1f3434f1d87",
        },
        // A.3: empty salt and info.
        Case {
            ikm: vec![0x0b; 22],
            salt: Vec::new(),
            info: Vec::new(),
            prk: "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
            okm: "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d
                  9d201395faa4b61a96c8",
        },
    ];
    for case in cases {
        let okm_len = h(case.okm).len();
        // Extract and expand in one, as the client derives SK (salt = sid).
        let (prk, hk) = Hkdf::<Sha256>::extract(Some(&case.salt), &case.ikm);
        assert_eq!(hex::encode(prk), case.prk);
        let mut okm = vec![0u8; okm_len];
        hk.expand(&case.info, &mut okm).unwrap();
        assert_eq!(hex::encode(&okm), hex::encode(h(case.okm)));
        // The same through `new` and an info given in pieces.
        let mut pieces = vec![0u8; okm_len];
        let half = case.info.len() / 2;
        Hkdf::<Sha256>::new(Some(&case.salt), &case.ikm)
            .expand_multi_info(&[&case.info[..half], &case.info[half..]], &mut pieces)
            .unwrap();
        assert_eq!(pieces, okm);
        // Expand from a PRK, as the client derives the session keys from SK.
        let mut again = vec![0u8; okm_len];
        Hkdf::<Sha256>::from_prk(&prk)
            .unwrap()
            .expand(&case.info, &mut again)
            .unwrap();
        assert_eq!(again, okm);
    }
}
