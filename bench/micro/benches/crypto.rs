//! Micro-benchmarks of the client's cryptography (`client::crypto`): sealed
//! texts, the session handshake, file encryption (STREAM), and the Ed25519
//! signatures of the authentication transcript.
//!
//! `cargo bench -p sealpost-micro --bench crypto`. Short measurement times
//! keep the whole suite to a few minutes on two cores.

use std::hint::black_box;
use std::io::Cursor;
use std::time::Duration;

use client::crypto::{
    FileDecryptor, FileEncryptor, FileSecret, Identity, ReplayWindow, Session, VerifiedBundle,
    ciphertext_len,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ed25519_dalek::{Signature, VerifyingKey};
use protocol::ClientId;
use protocol::auth::client_proof_message;

const ALICE: ClientId = ClientId([1; 16]);
const BOB: ClientId = ClientId([2; 16]);
/// A file chunk of the STREAM construction.
const CHUNK: usize = 64 * 1024;
/// The "large" file of the suite.
const LARGE: usize = 16 << 20;

fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20)
}

fn encrypt_all(secret: &FileSecret, plaintext: &[u8]) -> Vec<u8> {
    let mut enc =
        FileEncryptor::new(secret, Cursor::new(plaintext), plaintext.len() as u64).unwrap();
    let mut out = Vec::with_capacity(ciphertext_len(plaintext.len() as u64) as usize);
    while let Some(piece) = enc.next_piece().unwrap() {
        out.extend_from_slice(piece);
    }
    out
}

fn crypto(c: &mut Criterion) {
    let alice = Identity::generate().unwrap();
    let bob = Identity::generate().unwrap();
    let alice_bundle = VerifiedBundle::verify(&alice.bundle()).unwrap();
    let bob_bundle = VerifiedBundle::verify(&bob.bundle()).unwrap();

    // The handshake (message types 1 and 2).
    let mut group = c.benchmark_group("session");
    group.throughput(Throughput::Elements(1));
    group.bench_function("offer", |b| {
        b.iter(|| Session::initiate(&alice, ALICE, BOB, black_box(&bob_bundle)).unwrap())
    });
    let (mut sa, offer) = Session::initiate(&alice, ALICE, BOB, &bob_bundle).unwrap();
    group.bench_function("accept", |b| {
        b.iter(|| {
            Session::accept_offer(&bob, BOB, ALICE, &alice_bundle, black_box(&offer)).unwrap()
        })
    });
    let (sb, answer) = Session::accept_offer(&bob, BOB, ALICE, &alice_bundle, &offer).unwrap();
    group.bench_function("confirm", |b| {
        b.iter(|| sa.confirm(black_box(&answer)).unwrap())
    });
    group.bench_function("verify_bundle", |b| {
        let bundle = bob.bundle();
        b.iter(|| VerifiedBundle::verify(black_box(&bundle)).unwrap())
    });
    group.finish();

    // The primitives under the handshake and the bundle check: one X25519
    // Diffie-Hellman (the handshake does three on each side; the bundle
    // check does two, with fresh random secrets, to rule out small-order keys).
    let mut group = c.benchmark_group("x25519");
    group.throughput(Throughput::Elements(1));
    let secret = x25519_dalek::StaticSecret::random_from_rng(rand::rngs::OsRng);
    let public = x25519_dalek::PublicKey::from(bob.dh_identity_key());
    group.bench_function("diffie_hellman", |b| {
        b.iter(|| secret.diffie_hellman(black_box(&public)))
    });
    group.bench_function("ephemeral_diffie_hellman", |b| {
        b.iter(|| {
            x25519_dalek::EphemeralSecret::random_from_rng(rand::rngs::OsRng)
                .diffie_hellman(black_box(&public))
        })
    });
    group.finish();

    // Sealed texts (type 3).
    let text = "x".repeat(5_000);
    let sealed = sa.seal_text(1, &text).unwrap();
    let mut group = c.benchmark_group("text_5000B");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("seal", |b| {
        b.iter(|| sa.seal_text(black_box(7), black_box(&text)).unwrap())
    });
    group.bench_function("open", |b| {
        b.iter(|| {
            sb.open_text(black_box(&sealed), &ReplayWindow::default())
                .unwrap()
        })
    });
    group.finish();

    // Files (STREAM, 64 KiB chunks).
    let secret = FileSecret::generate().unwrap();
    let chunk = vec![0x33u8; CHUNK];
    let large = vec![0x44u8; LARGE];
    let large_ciphertext = encrypt_all(&secret, &large);
    let mut group = c.benchmark_group("file");
    group.throughput(Throughput::Bytes(CHUNK as u64));
    group.bench_function("encrypt_64KiB_chunk", |b| {
        b.iter(|| encrypt_all(&secret, black_box(&chunk)))
    });
    group.throughput(Throughput::Bytes(LARGE as u64));
    group.bench_function("encrypt_16MiB", |b| {
        b.iter(|| {
            let mut enc =
                FileEncryptor::new(&secret, Cursor::new(black_box(&large)), LARGE as u64).unwrap();
            let mut n = 0;
            while let Some(piece) = enc.next_piece().unwrap() {
                n += piece.len();
            }
            n
        })
    });
    group.bench_function("decrypt_16MiB", |b| {
        b.iter(|| {
            let mut dec = FileDecryptor::new(&secret, LARGE as u64, std::io::sink()).unwrap();
            dec.update(black_box(&large_ciphertext)).unwrap();
            dec.finish().unwrap()
        })
    });
    group.finish();

    // The authentication transcript (Ed25519).
    let transcript = client_proof_message(&[5; 32], &ALICE, &[6; 32], &[7; 32]);
    let signature = Signature::from_bytes(&alice.sign(&transcript));
    let key = VerifyingKey::from_bytes(&alice.identity_key()).unwrap();
    let mut group = c.benchmark_group("auth_transcript");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sign", |b| b.iter(|| alice.sign(black_box(&transcript))));
    group.bench_function("verify_strict", |b| {
        b.iter(|| {
            key.verify_strict(black_box(&transcript), black_box(&signature))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = crypto
}
criterion_main!(benches);
