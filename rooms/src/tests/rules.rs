//! Roles and identity: who may change the room, and members that do not
//! match the pins.

use super::{Book, ROOM, TestId, World, rogue_add};
use crate::{IdentityError, IdentitySigner, Incoming, PolicyError, Role, RoomEngine, RoomsError};

fn is_not_permitted(r: &Result<impl std::fmt::Debug, RoomsError>) -> bool {
    matches!(r, Err(RoomsError::Policy(PolicyError::NotPermitted { .. })))
}

#[test]
fn non_admin_add_is_refused_by_every_member_and_by_the_server() {
    let mut w = World::room_of_three();
    let dave = w.join_world(4);
    // The engine will not make it...
    assert!(is_not_permitted(&w.m[1].engine.add_members(
        ROOM,
        &[w.kp(dave)],
        &w.book
    )));
    // ...so a modified client makes it with openmls directly.
    let commit = rogue_add(&w.m[1].engine, ROOM, &w.kp(dave));
    let refused = w.server.process(&commit, &w.book);
    assert!(is_not_permitted(&refused), "{refused:?}");
    for r in [0, 2] {
        let refused = w.m[r].engine.process(&commit, &w.book);
        assert!(is_not_permitted(&refused), "{refused:?}");
    }
    // Nobody moved: the room goes on at the same epoch.
    assert_eq!(w.epochs(&[0, 2]), vec![1, 1]);
    assert_eq!(w.server.room(ROOM).unwrap().epoch, 1);
    w.m[1].engine.discard_commit(ROOM).unwrap();
    let bytes = w.send(1, "sorry");
    assert_eq!(w.read(0, &bytes).1, "sorry");
}

#[test]
fn promoted_admin_may_add_and_plain_members_may_not_promote() {
    let mut w = World::room_of_three();
    assert!(is_not_permitted(&w.m[2].engine.set_role(
        ROOM,
        w.cid(2),
        Role::Admin
    )));
    let out = w.m[0].engine.set_role(ROOM, w.cid(1), Role::Admin).unwrap();
    assert_eq!(out.summary.role_changes.len(), 1);
    w.publish(0, &out, &[1, 2], &[]);
    assert_eq!(w.m[2].engine.members(ROOM).unwrap()[1].role, Role::Admin);
    // The new admin adds Dave, but may not make anyone an owner nor remove
    // the owner.
    let dave = w.join_world(4);
    let out = w.m[1]
        .engine
        .add_members(ROOM, &[w.kp(dave)], &w.book)
        .unwrap();
    w.publish(1, &out, &[0, 2], &[dave]);
    assert!(is_not_permitted(&w.m[1].engine.set_role(
        ROOM,
        w.cid(dave),
        Role::Owner
    )));
    assert!(is_not_permitted(
        &w.m[1].engine.remove_members(ROOM, &[w.cid(0)])
    ));
    assert_eq!(w.epochs(&[0, 1, 2, dave]), vec![3, 3, 3, 3]);
}

#[test]
fn impostor_key_package_is_detected_by_the_adder() {
    let w = World::room_of_three();
    // Mallory holds a key package claiming Bob's client id under her own
    // identity key (what a server swapping keys would hand out).
    let mallory = TestId::new(66);
    let fake_bob = ImpostorOf(&mallory, w.cid(1));
    let path = w.dir.path().join("mallory.db");
    let engine = RoomEngine::open(&path, &fake_bob).unwrap();
    let kp = engine.generate_key_packages(1).unwrap().remove(0).bytes;
    // Charlie is not in the room; pretend Alice adds "Bob" again to a new room.
    let second = crate::RoomId([0xEE; 16]);
    w.m[0].engine.create_room(second).unwrap();
    let refused = w.m[0].engine.add_members(second, &[kp], &w.book);
    assert!(
        matches!(refused, Err(RoomsError::Identity(IdentityError::PinMismatch(id))) if id == w.cid(1)),
        "{refused:?}"
    );
}

#[test]
fn member_added_with_a_key_that_does_not_match_the_pins_is_refused() {
    let mut w = World::room_of_three();
    // Dave registers; Alice's pins were poisoned (she pinned Mallory's key
    // for Dave), so Alice adds Mallory's key package as "Dave".
    let dave = w.join_world(4);
    let mallory = TestId::new(66);
    let fake_dave = ImpostorOf(&mallory, w.cid(dave));
    let engine = RoomEngine::open(&w.dir.path().join("mallory.db"), &fake_dave).unwrap();
    let kp = engine.generate_key_packages(1).unwrap().remove(0).bytes;
    let mut poisoned: Book = w.book.clone();
    poisoned.0.insert(w.cid(dave), mallory.identity_key());
    let out = w.m[0].engine.add_members(ROOM, &[kp], &poisoned).unwrap();
    // The server checks against its registrations and refuses.
    let refused = w.server.process(&out.commit, &w.book);
    assert!(
        matches!(refused, Err(RoomsError::Identity(IdentityError::PinMismatch(id))) if id == w.cid(dave)),
        "{refused:?}"
    );
    // A member with the true pins refuses it too, loudly, and stays put.
    let refused = w.m[2].engine.process(&out.commit, &w.book);
    assert!(
        matches!(
            refused,
            Err(RoomsError::Identity(IdentityError::PinMismatch(_)))
        ),
        "{refused:?}"
    );
    assert_eq!(w.epochs(&[2]), vec![1]);
    // The member list check names the impostor once it is in a group.
    w.m[0].engine.confirm_commit(ROOM).unwrap();
    assert!(matches!(
        w.m[0].engine.verify_members(ROOM, &w.book),
        Err(RoomsError::Identity(IdentityError::PinMismatch(_)))
    ));
    // A joiner whose pins disagree with a member refuses the welcome.
    let erin = w.join_world(5);
    let mut wrong = w.book.clone();
    wrong.0.insert(w.cid(1), mallory.identity_key());
    let second = crate::RoomId([0xEF; 16]);
    w.m[1].engine.create_room(second).unwrap();
    let out = w.m[1]
        .engine
        .add_members(second, &[w.kp(erin)], &w.book)
        .unwrap();
    w.m[1].engine.confirm_commit(second).unwrap();
    let refused = w.m[erin].engine.join(out.welcome.as_ref().unwrap(), &wrong);
    assert!(
        matches!(
            refused,
            Err(RoomsError::Identity(IdentityError::PinMismatch(_)))
        ),
        "{refused:?}"
    );
    // With the right pins the same welcome (its key package kept by the
    // rollback) is accepted.
    let joined = w.m[erin]
        .engine
        .join(out.welcome.as_ref().unwrap(), &w.book)
        .unwrap();
    assert_eq!(joined.members.len(), 2);
}

#[test]
fn a_handshake_hidden_in_a_private_message_is_refused() {
    let w = World::room_of_three();
    let hidden = super::rogue_private_commit(&w.m[1].engine, ROOM);
    assert!(matches!(
        w.server.process(&hidden, &w.book),
        Err(RoomsError::HiddenHandshake)
    ));
    assert!(matches!(
        w.m[0].engine.process(&hidden, &w.book),
        Err(RoomsError::HiddenHandshake)
    ));
    // Garbage is an error, never a panic.
    let bytes = w.send(0, "fine");
    for junk in [&b""[..], &[0u8; 3], &bytes[..bytes.len() / 2]] {
        assert!(w.m[1].engine.process(junk, &w.book).is_err());
        assert!(w.server.process(junk, &w.book).is_err());
    }
    assert!(matches!(
        w.m[1].engine.process(&bytes, &w.book).unwrap(),
        Incoming::Message { .. }
    ));
}

/// Signs as `key` while claiming `claimed`'s client id.
struct ImpostorOf<'a>(&'a TestId, crate::ClientId);

impl IdentitySigner for ImpostorOf<'_> {
    fn client_id(&self) -> crate::ClientId {
        self.1
    }
    fn identity_key(&self) -> [u8; 32] {
        self.0.identity_key()
    }
    fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message)
    }
}

#[test]
fn the_owner_deletes_an_admin_once_the_owner_left_and_the_only_member_always() {
    use crate::{ClientId, RoomMember, may_delete};
    let id = |n: u8| ClientId([n; 16]);
    let member = |n: u8, role: Role| RoomMember {
        client_id: id(n),
        role,
    };
    let with_owner = [
        member(1, Role::Owner),
        member(2, Role::Admin),
        member(3, Role::Member),
    ];
    assert!(may_delete(&with_owner, id(1)));
    assert!(!may_delete(&with_owner, id(2)));
    assert!(!may_delete(&with_owner, id(3)));
    // Not a member at all.
    assert!(!may_delete(&with_owner, id(9)));
    let owner_left = [member(2, Role::Admin), member(3, Role::Member)];
    assert!(may_delete(&owner_left, id(2)));
    assert!(!may_delete(&owner_left, id(3)));
    // Left alone, a plain member may: nobody could commit its leave.
    assert!(may_delete(&[member(3, Role::Member)], id(3)));
}
