//! The crypto and keystore modules together, through their public API only,
//! as the networking layer will use them: two users, each with a home
//! folder, exchange an offer, texts and a file, with restarts in between and
//! messages arriving out of order. The server is simulated by handing the
//! contents over directly.

use std::io::{Cursor, Read};
use std::path::Path;
use std::time::SystemTime;

use client::crypto::{
    self, CryptoError, FileDecryptor, FileEncryptor, FileMeta, Fingerprint, Identity, SafetyNumber,
    Session, VerifiedBundle,
};
use client::keystore::{FileStamp, KeyStore, KeyStoreError, PendingMessage, Pinned, UploadRecord};
use protocol::{ClientId, MessageKind, Name, UploadId};

const ALICE: ClientId = ClientId([0x11; 16]);
const BOB: ClientId = ClientId([0x22; 16]);

fn register(home: &Path, name: &str, id: ClientId) -> KeyStore {
    let mut store = KeyStore::open(home).unwrap();
    let identity = Identity::generate().unwrap();
    store
        .save_identity(&Name::new(name).unwrap(), id, &identity)
        .unwrap();
    store
}

fn me(store: &KeyStore) -> Identity {
    store.identity().unwrap().unwrap().identity
}

/// What the server would hand over: the other side's bundle, checked and pinned.
fn fetch_and_pin(store: &mut KeyStore, peer_store: &KeyStore, peer: ClientId, name: &str) {
    let bundle = VerifiedBundle::verify(&me(peer_store).bundle()).unwrap();
    assert_eq!(store.pin_peer(peer, name, &bundle).unwrap(), Pinned::New);
}

/// Alice's side of sending a text: the current session, a fresh counter.
fn send_text(store: &mut KeyStore, to: ClientId, text: &str) -> Vec<u8> {
    store.peer_for_sending(to).unwrap();
    let current = store.current_session_for(to).unwrap().unwrap();
    let counter = store.next_send_counter(current.session.sid()).unwrap();
    current.session.seal_text(counter, text).unwrap()
}

/// A receiver's side of a text: find the session, open, record as handled.
fn receive_text(
    store: &mut KeyStore,
    message_id: u64,
    content: &[u8],
) -> Result<String, CryptoError> {
    let sid = crypto::content_session_id(content)?;
    let stored = store.session(sid).unwrap().expect("session known");
    let opened = stored.session.open_text(content, &stored.receive_window)?;
    store
        .mark_handled(message_id, Some((sid, opened.counter)))
        .unwrap();
    Ok(opened.plaintext.to_string())
}

#[test]
fn two_users_talk_across_restarts_and_out_of_order_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let (alice_home, bob_home) = (dir.path().join("alice"), dir.path().join("bob"));
    let mut alice = register(&alice_home, "alice", ALICE);
    let mut bob = register(&bob_home, "bob", BOB);
    fetch_and_pin(&mut alice, &bob, BOB, "bob");
    fetch_and_pin(&mut bob, &alice, ALICE, "alice");

    // Both sides compute the same safety number.
    let fp = |s: &KeyStore| {
        let id = me(s);
        Fingerprint::of_user(&id.identity_key(), &id.dh_identity_key())
    };
    let at_alice = SafetyNumber::new((ALICE, fp(&alice)), (BOB, fp(&bob)));
    let at_bob = SafetyNumber::new((BOB, fp(&bob)), (ALICE, fp(&alice)));
    assert_eq!(at_alice, at_bob);
    alice.set_verified(BOB, true).unwrap();

    // Alice starts a session and, before Bob has the offer, sends a text.
    let bob_record = alice.peer_for_sending(BOB).unwrap();
    let (session, offer) = Session::initiate(&me(&alice), ALICE, BOB, &bob_record.bundle).unwrap();
    let sid = session.sid();
    alice.save_session(&session).unwrap();
    let early = send_text(&mut alice, BOB, "sent before the offer arrived");

    // Bob gets the text first: no session yet, so it waits.
    let early_sid = crypto::content_session_id(&early).unwrap();
    assert_eq!(early_sid, sid);
    assert!(bob.session(early_sid).unwrap().is_none());
    bob.add_pending(&PendingMessage {
        message_id: 2,
        sender: ALICE,
        kind: MessageKind::Text,
        sid: early_sid,
        content: early.clone(),
        sent_at_ms: 0,
    })
    .unwrap();

    // Both restart.
    drop((alice, bob));
    let alice = KeyStore::open(&alice_home).unwrap();
    let mut bob = KeyStore::open(&bob_home).unwrap();

    // Bob gets the offer (message 1), answers, and opens what waited.
    assert_eq!(crypto::content_session_id(&offer).unwrap(), sid);
    let alice_record = bob.peer(ALICE).unwrap().unwrap();
    let (bob_session, answer) =
        Session::accept_offer(&me(&bob), BOB, ALICE, &alice_record.bundle, &offer).unwrap();
    bob.save_session(&bob_session).unwrap();
    bob.mark_handled(1, None).unwrap();
    let waiting = bob.pending_for(sid).unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(
        receive_text(&mut bob, waiting[0].message_id, &waiting[0].content).unwrap(),
        "sent before the offer arrived"
    );
    assert!(bob.pending_for(sid).unwrap().is_empty());

    // Alice gets the answer after another restart.
    drop(alice);
    let mut alice = KeyStore::open(&alice_home).unwrap();
    let mut stored = alice.session(sid).unwrap().unwrap();
    assert!(!stored.session.is_confirmed());
    stored.session.confirm(&answer).unwrap();
    alice.mark_confirmed(sid).unwrap();

    // Texts both ways; counters continue where they were before the restart.
    let second = send_text(&mut alice, BOB, "second");
    assert_eq!(alice.session(sid).unwrap().unwrap().send_counter, 2);
    assert_eq!(receive_text(&mut bob, 3, &second).unwrap(), "second");
    let reply = send_text(&mut bob, ALICE, "hi alice");
    assert_eq!(receive_text(&mut alice, 10, &reply).unwrap(), "hi alice");

    // After a restart, Bob still refuses duplicates, including the text
    // that once arrived before its key.
    drop(bob);
    let mut bob = KeyStore::open(&bob_home).unwrap();
    assert!(bob.is_handled(3).unwrap());
    assert!(matches!(
        receive_text(&mut bob, 4, &second),
        Err(CryptoError::Replayed)
    ));
    assert!(matches!(
        receive_text(&mut bob, 5, &early),
        Err(CryptoError::Replayed)
    ));
    let mut forged = send_text(&mut alice, BOB, "tampered");
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert!(matches!(
        receive_text(&mut bob, 6, &forged),
        Err(CryptoError::DecryptFailed)
    ));
}

#[test]
fn a_file_goes_through_sealed_meta_and_a_resumed_upload() {
    let dir = tempfile::tempdir().unwrap();
    let (alice_home, bob_home) = (dir.path().join("alice"), dir.path().join("bob"));
    let mut alice = register(&alice_home, "alice", ALICE);
    let mut bob = register(&bob_home, "bob", BOB);
    fetch_and_pin(&mut alice, &bob, BOB, "bob");
    fetch_and_pin(&mut bob, &alice, ALICE, "alice");
    let bundle = alice.peer_for_sending(BOB).unwrap().bundle;
    let (session, offer) = Session::initiate(&me(&alice), ALICE, BOB, &bundle).unwrap();
    alice.save_session(&session).unwrap();
    let peer_bundle = bob.peer(ALICE).unwrap().unwrap().bundle;
    let (bob_session, _) =
        Session::accept_offer(&me(&bob), BOB, ALICE, &peer_bundle, &offer).unwrap();
    bob.save_session(&bob_session).unwrap();

    // A 3 MiB + 5 file on disk.
    let path = dir.path().join("photo.raw");
    let plaintext: Vec<u8> = (0..3 * 1024 * 1024 + 5)
        .map(|i: usize| (i % 253) as u8)
        .collect();
    std::fs::write(&path, &plaintext).unwrap();
    let stamp = FileStamp::of_path(&path).unwrap();
    let meta = FileMeta::new("photo.raw", stamp.size).unwrap();
    let counter = alice.next_send_counter(session.sid()).unwrap();
    let sealed_meta = session.seal_file_meta(counter, &meta).unwrap();
    assert!(sealed_meta.len() <= protocol::MAX_FILE_META_LEN);
    let upload_id = UploadId([0x0f; 16]);
    // The secret moves from the metadata into the upload record: nothing
    // else needs it once the meta is sealed.
    let record = UploadRecord {
        upload_id,
        destination: BOB,
        path: path.clone(),
        stamp,
        secret: meta.secret,
        meta: sealed_meta.clone(),
        created_at: SystemTime::now(),
    };
    alice.save_upload(&record).unwrap();

    // The first 1 MiB + 3 bytes reach the server, then the client dies.
    let mut server_copy = Vec::new();
    let file = std::fs::File::open(&path).unwrap();
    let mut enc = FileEncryptor::new(&record.secret, file, record.stamp.size).unwrap();
    let mut first = vec![0u8; 1024 * 1024 + 3];
    enc.read_exact(&mut first).unwrap();
    server_copy.extend_from_slice(&first);
    drop((enc, record, alice));

    // After the restart the upload resumes from the server's offset.
    let alice = KeyStore::open(&alice_home).unwrap();
    let uploads = alice.uploads().unwrap();
    assert_eq!(uploads.len(), 1);
    let record = &uploads[0];
    assert!(record.file_unchanged().unwrap());
    let file = std::fs::File::open(&record.path).unwrap();
    let mut enc = FileEncryptor::resume(
        &record.secret,
        file,
        record.stamp.size,
        server_copy.len() as u64,
    )
    .unwrap();
    enc.read_to_end(&mut server_copy).unwrap();

    // Bob opens the meta and decrypts the download in odd-sized pieces.
    let stored = bob
        .session(crypto::content_session_id(&record.meta).unwrap())
        .unwrap()
        .unwrap();
    let opened = stored
        .session
        .open_file_meta(&record.meta, &stored.receive_window)
        .unwrap();
    let meta = opened.plaintext;
    assert_eq!(meta.name, "photo.raw");
    assert_eq!(server_copy.len() as u64, meta.ciphertext_len());
    let mut dec = FileDecryptor::new(&meta.secret, meta.size, Vec::new()).unwrap();
    for piece in server_copy.chunks(777_777) {
        dec.update(piece).unwrap();
    }
    assert!(dec.finish().unwrap() == plaintext);
    bob.mark_handled(7, Some((stored.session.sid(), opened.counter)))
        .unwrap();

    // A changed file must not resume (it would reuse the key and nonces).
    std::fs::write(&path, b"something else entirely").unwrap();
    assert!(!record.file_unchanged().unwrap());
}

#[test]
fn a_changed_peer_key_stops_sending_until_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let mut alice = register(&dir.path().join("alice"), "alice", ALICE);
    let bob = register(&dir.path().join("bob"), "bob", BOB);
    fetch_and_pin(&mut alice, &bob, BOB, "bob");
    let bundle = alice.peer_for_sending(BOB).unwrap().bundle;
    let (session, _) = Session::initiate(&me(&alice), ALICE, BOB, &bundle).unwrap();
    alice.save_session(&session).unwrap();

    // The server now hands out another bundle for Bob.
    let mallory = Identity::generate().unwrap();
    let swapped = VerifiedBundle::verify(&mallory.bundle()).unwrap();
    assert_eq!(
        alice.pin_peer(BOB, "bob", &swapped).unwrap(),
        Pinned::Changed
    );
    assert!(matches!(
        alice.peer_for_sending(BOB),
        Err(KeyStoreError::KeyChanged { .. })
    ));
    alice.accept_new_key(BOB).unwrap();
    assert!(alice.current_session_for(BOB).unwrap().is_none());
    assert_eq!(
        alice.peer_for_sending(BOB).unwrap().bundle.public_key(),
        &mallory.bundle()
    );
}

#[test]
fn resumed_encryption_from_a_cursor_matches() {
    // The smallest possible resume: the whole ciphertext of an empty file
    // is one 16-byte tag; resuming at 16 yields nothing, at 3 the rest.
    let meta = FileMeta::new("empty", 0).unwrap();
    let mut full = Vec::new();
    FileEncryptor::new(&meta.secret, Cursor::new(Vec::new()), 0)
        .unwrap()
        .read_to_end(&mut full)
        .unwrap();
    assert_eq!(full.len(), 16);
    let mut rest = Vec::new();
    FileEncryptor::resume(&meta.secret, Cursor::new(Vec::new()), 0, 3)
        .unwrap()
        .read_to_end(&mut rest)
        .unwrap();
    assert_eq!(rest, full[3..]);
    let mut none = Vec::new();
    FileEncryptor::resume(&meta.secret, Cursor::new(Vec::new()), 0, 16)
        .unwrap()
        .read_to_end(&mut none)
        .unwrap();
    assert!(none.is_empty());
}
