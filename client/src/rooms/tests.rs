//! The engine wiring without a server: two users' engines, each on its own
//! thread over its own `rooms.db`, signing with their identity keys and
//! checking each other against their pins; the bytes carried by hand in
//! log order.

use protocol::ClientId;
use sealpost_rooms::{IdentityError, Incoming, RoomName, RoomsError};

use super::{MeSigner, PinBook, ROOMS_FILE, RoomWorker, engine_room_id};
use crate::crypto::Identity;

struct User {
    id: ClientId,
    identity: Identity,
    worker: RoomWorker,
}

async fn user(dir: &std::path::Path, seed: u8) -> User {
    let id = ClientId([seed; 16]);
    let identity = Identity::generate().unwrap();
    let home = dir.join(format!("user-{seed}"));
    std::fs::create_dir_all(&home).unwrap();
    let signer = MeSigner::new(id, Identity::from_secret_bytes(&identity.to_secret_bytes()));
    let worker = RoomWorker::open(home.join(ROOMS_FILE), signer, None, None)
        .await
        .unwrap();
    User {
        id,
        identity,
        worker,
    }
}

fn pins(users: &[&User]) -> PinBook {
    let mut book = PinBook::default();
    for u in users {
        book.insert(u.id, u.identity.identity_key());
    }
    book
}

#[tokio::test]
async fn two_users_share_a_named_room_through_their_workers() {
    let dir = tempfile::tempdir().unwrap();
    let alice = user(dir.path(), 1).await;
    let bob = user(dir.path(), 2).await;
    let room = engine_room_id(protocol::RoomId([9; 16]));
    let name = RoomName::new("garden").unwrap();
    alice
        .worker
        .run(move |e| e.create_named_room(room, &name))
        .await
        .unwrap();
    let package = bob
        .worker
        .run(|e| Ok(e.generate_key_packages(1)?.remove(0).bytes))
        .await
        .unwrap();

    // Alice has not pinned Bob: the add fails until she does, naming him.
    let only_alice = pins(&[&alice]);
    let p = package.clone();
    let refused = alice
        .worker
        .run(move |e| e.add_members(room, &[p], &only_alice))
        .await;
    assert!(
        matches!(refused, Err(RoomsError::Identity(IdentityError::Unknown(c))) if c.0 == bob.id.0),
        "{refused:?}"
    );
    let both = pins(&[&alice, &bob]);
    let book = both.clone();
    let out = alice
        .worker
        .run(move |e| e.add_members(room, &[package], &book))
        .await
        .unwrap();
    alice
        .worker
        .run(move |e| e.confirm_commit(room))
        .await
        .unwrap();
    let welcome = out.welcome.unwrap();
    let book = both.clone();
    let joined = bob
        .worker
        .run(move |e| e.join(&welcome, &book))
        .await
        .unwrap();
    assert_eq!(joined.members.len(), 2);
    let seen = bob.worker.run(move |e| e.name(room)).await.unwrap();
    assert_eq!(seen.unwrap().as_str(), "garden");

    let bytes = alice
        .worker
        .run(move |e| e.send(room, b"hello bob"))
        .await
        .unwrap();
    let book = both.clone();
    match bob
        .worker
        .run(move |e| e.process(&bytes, &book))
        .await
        .unwrap()
    {
        Incoming::Message {
            sender, plaintext, ..
        } => {
            assert_eq!(sender.0, alice.id.0);
            assert_eq!(plaintext, b"hello bob");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_member_whose_key_differs_from_the_pin_is_refused_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let alice = user(dir.path(), 1).await;
    let bob = user(dir.path(), 2).await;
    let room = engine_room_id(protocol::RoomId([8; 16]));
    alice
        .worker
        .run(move |e| e.create_room(room))
        .await
        .unwrap();
    let package = bob
        .worker
        .run(|e| Ok(e.generate_key_packages(1)?.remove(0).bytes))
        .await
        .unwrap();
    // Alice pinned another key for Bob's client id (a server swapping keys).
    let mut book = pins(&[&alice]);
    book.insert(bob.id, Identity::generate().unwrap().identity_key());
    let refused = alice
        .worker
        .run(move |e| e.add_members(room, &[package], &book))
        .await;
    assert!(
        matches!(
            refused,
            Err(RoomsError::Identity(IdentityError::PinMismatch(_)))
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_state_file_refuses_another_identity() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(ROOMS_FILE);
    let first = MeSigner::new(ClientId([1; 16]), Identity::generate().unwrap());
    drop(
        RoomWorker::open(path.clone(), first, None, None)
            .await
            .unwrap(),
    );
    let other = MeSigner::new(ClientId([1; 16]), Identity::generate().unwrap());
    assert!(matches!(
        RoomWorker::open(path, other, None, None).await,
        Err(RoomsError::IdentityMismatch)
    ));
}
