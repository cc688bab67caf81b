//! Keeps PROTOCOL.md's section "End-to-end formats (version-3 clients)"
//! true: every ```` ```e2e NAME ```` block (hex, in the document's notation)
//! and ```` ```digits NAME ```` block is recomputed here from the worked
//! example's inputs and compared byte for byte, and the documented offer,
//! answer, text, meta, body, refusal notice and receipt are opened by the receiving
//! side.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::session::derive_shared_secret;
use super::test_support::{
    ALICE, BOB, KAT_META_TIME, KAT_NO_SESSION_TIME, KAT_RECEIPT_TIME, KAT_REFUSAL_TIME, KAT_TIME,
    KAT_WELCOME_REFUSAL_TIME, fixed_identity, kat_file_secret, kat_handshake, kat_meta,
    kat_no_session, kat_no_session_body, kat_receipt, kat_refusal, kat_refusal_body, kat_text,
    kat_welcome_refusal, kat_welcome_refusal_body,
};
use super::{FileDecryptor, FileEncryptor, Fingerprint, SafetyNumber, VerifiedBundle};

fn parse_hex(text: &str) -> Vec<u8> {
    protocol::notation::parse_hex(text).expect("PROTOCOL.md notation")
}

fn blocks(markdown: &str, tag: &str) -> BTreeMap<String, String> {
    protocol::notation::blocks(markdown, tag).expect("PROTOCOL.md blocks")
}

fn document() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../PROTOCOL.md");
    std::fs::read_to_string(path).expect("read PROTOCOL.md")
}

fn body_ciphertext(plaintext: &[u8]) -> Vec<u8> {
    let secret = kat_file_secret();
    let mut enc = FileEncryptor::new(&secret, plaintext, plaintext.len() as u64).unwrap();
    let mut out = Vec::new();
    while let Some(piece) = enc.next_piece().unwrap() {
        out.extend_from_slice(piece);
    }
    out
}

fn expected_e2e() -> BTreeMap<&'static str, Vec<u8>> {
    let alice = fixed_identity(1);
    let bob = fixed_identity(101);
    let (sa, _, offer, answer) = kat_handshake();

    let ephemeral = x25519_dalek::StaticSecret::from([0x41; 32]);
    let bob_bundle = VerifiedBundle::verify(&bob.bundle()).unwrap();
    let dh1 = alice
        .dh_identity_secret()
        .diffie_hellman(bob_bundle.signed_prekey());
    let dh2 = ephemeral.diffie_hellman(bob_bundle.dh_identity_key());
    let dh3 = ephemeral.diffie_hellman(bob_bundle.signed_prekey());
    let sk = derive_shared_secret(
        &sa.sid(),
        [dh1.as_bytes(), dh2.as_bytes(), dh3.as_bytes()],
        &alice.identity_key(),
        &bob.identity_key(),
        &ALICE,
        &BOB,
    );
    let mut keys = Vec::new();
    for part in [
        &dh1.as_bytes()[..],
        &dh2.as_bytes()[..],
        &dh3.as_bytes()[..],
        &sk[..],
        sa.send_key(),
        sa.receive_key(),
        // The confirmation key is checked through the offer's tag below.
    ] {
        keys.extend_from_slice(part);
    }

    BTreeMap::from([
        ("alice-bundle", alice.bundle().as_bytes().to_vec()),
        ("bob-bundle", bob.bundle().as_bytes().to_vec()),
        ("x3dh-keys", keys),
        ("offer", offer),
        ("answer", answer),
        ("text", kat_text()),
        ("file-meta", kat_meta()),
        ("file-body", body_ciphertext(b"hello file")),
        ("refusal", kat_refusal()),
        ("refusal-no-session", kat_no_session()),
        ("refusal-welcome", kat_welcome_refusal()),
        ("receipt", kat_receipt()),
    ])
}

#[test]
fn every_e2e_example_in_protocol_md_is_what_the_client_computes() {
    let doc = document();
    let documented = blocks(&doc, "e2e");
    let expected = expected_e2e();
    assert_eq!(
        documented.keys().map(String::as_str).collect::<Vec<_>>(),
        expected.keys().copied().collect::<Vec<_>>(),
        "PROTOCOL.md's e2e blocks and this test's differ"
    );
    for (name, body) in &documented {
        let bytes = parse_hex(body);
        let want = &expected[name.as_str()];
        if name == "x3dh-keys" {
            // Seven keys documented; the last one, k_confirm, is proven by
            // the offer's tag (checked when the offer is accepted below).
            assert_eq!(bytes.len(), 7 * 32, "x3dh-keys has seven keys");
            assert_eq!(hex::encode(&bytes[..6 * 32]), hex::encode(want), "{name}");
        } else {
            assert_eq!(hex::encode(&bytes), hex::encode(want), "example {name}");
        }
    }
}

#[test]
fn the_documented_contents_open_on_the_receiving_side() {
    let doc = document();
    let b = |name: &str| parse_hex(&blocks(&doc, "e2e")[name]);
    let alice = fixed_identity(1);
    let bob = fixed_identity(101);
    let alice_bundle =
        VerifiedBundle::verify(&protocol::PublicKey(b("alice-bundle").try_into().unwrap()))
            .unwrap();
    VerifiedBundle::verify(&protocol::PublicKey(b("bob-bundle").try_into().unwrap())).unwrap();

    let (bob_session, _) =
        super::Session::accept_offer(&bob, BOB, ALICE, &alice_bundle, &b("offer")).unwrap();
    let (mut alice_session, _, _, _) = kat_handshake();
    alice_session.confirm(&b("answer")).unwrap();
    assert_eq!(alice.identity_key(), alice_bundle.identity_key().to_bytes());

    let mut window = super::ReplayWindow::default();
    let text = bob_session.open_text(&b("text"), &window).unwrap();
    assert_eq!((text.counter, text.plaintext.as_str()), (1, "hi bob"));
    assert_eq!(text.sent_at_ms, KAT_TIME);
    window.record(text.counter);
    let meta = bob_session
        .open_file_meta(&b("file-meta"), &window)
        .unwrap();
    assert_eq!(meta.counter, 2);
    assert_eq!(meta.sent_at_ms, KAT_META_TIME);
    assert_eq!(meta.plaintext.name, "notes.txt");
    assert_eq!(meta.plaintext.size, 10);
    let body = b("file-body");
    assert_eq!(body.len() as u64, meta.plaintext.ciphertext_len());
    let mut dec =
        FileDecryptor::new(&meta.plaintext.secret, meta.plaintext.size, Vec::new()).unwrap();
    dec.update(&body).unwrap();
    assert_eq!(dec.finish().unwrap(), b"hello file");

    let refusal = alice_session
        .open_refusal(&b("refusal"), &super::ReplayWindow::default())
        .unwrap();
    assert_eq!(refusal.plaintext, kat_refusal_body());
    assert_eq!(refusal.sent_at_ms, KAT_REFUSAL_TIME);
    let mut window = super::ReplayWindow::default();
    window.record(refusal.counter);
    let receipt = alice_session.open_receipt(&b("receipt"), &window).unwrap();
    assert_eq!(receipt.plaintext.kind, super::ReceiptKind::Delivered);
    assert_eq!(receipt.plaintext.message_ids, vec![5, 6]);
    assert_eq!((receipt.counter, receipt.sent_at_ms), (2, KAT_RECEIPT_TIME));
    window.record(receipt.counter);
    let lost = alice_session
        .open_refusal(&b("refusal-no-session"), &window)
        .unwrap();
    assert_eq!(lost.plaintext, kat_no_session_body());
    assert_eq!((lost.counter, lost.sent_at_ms), (3, KAT_NO_SESSION_TIME));
    window.record(lost.counter);
    let welcome = alice_session
        .open_refusal(&b("refusal-welcome"), &window)
        .unwrap();
    assert_eq!(welcome.plaintext, kat_welcome_refusal_body());
    assert_eq!(
        (welcome.counter, welcome.sent_at_ms),
        (4, KAT_WELCOME_REFUSAL_TIME)
    );

    // The document's k_confirm is the one the offer was made with.
    let keys = b("x3dh-keys");
    let confirm: [u8; 32] = keys[6 * 32..].try_into().unwrap();
    use chacha20poly1305::aead::AeadInPlace;
    use chacha20poly1305::{KeyInit, Tag, XChaCha20Poly1305, XNonce};
    let offer = b("offer");
    let mut ad = b"sealpost/v3/offer".to_vec();
    ad.extend_from_slice(&offer[1..17]);
    ad.extend_from_slice(ALICE.as_bytes());
    ad.extend_from_slice(BOB.as_bytes());
    XChaCha20Poly1305::new((&confirm).into())
        .decrypt_in_place_detached(
            XNonce::from_slice(&offer[81..105]),
            &ad,
            &mut [],
            Tag::from_slice(&offer[105..]),
        )
        .expect("the documented k_confirm makes the documented offer tag");
}

#[test]
fn the_documented_fingerprints_are_what_the_client_computes() {
    let doc = document();
    let digits = blocks(&doc, "digits");
    let alice = fixed_identity(1);
    let bob = fixed_identity(101);
    let fa = Fingerprint::of_user(&alice.identity_key(), &alice.dh_identity_key());
    let fb = Fingerprint::of_user(&bob.identity_key(), &bob.dh_identity_key());
    let safety = SafetyNumber::new((BOB, fb), (ALICE, fa));
    let expected = BTreeMap::from([
        ("alice-fingerprint", fa.to_string()),
        ("bob-fingerprint", fb.to_string()),
        ("safety-number", safety.to_string()),
    ]);
    assert_eq!(
        digits.keys().map(String::as_str).collect::<Vec<_>>(),
        expected.keys().copied().collect::<Vec<_>>()
    );
    for (name, body) in &digits {
        assert_eq!(body.trim(), expected[name.as_str()], "{name}");
    }
}
