//! The room's name in the group context: set at creation, seen by joiners,
//! changed by admins only, and refused by every member and the server when a
//! plain member changes it or when it is malformed.

use openmls::prelude::{Extension, Extensions, GroupContext, UnknownExtension};
use openmls_traits::OpenMlsProvider as _;

use super::{ROOM, World};
use crate::engine::load_group;
use crate::name::NAME_EXTENSION_TYPE;
use crate::{PolicyError, RoomEngine, RoomId, RoomName, RoomsError};

/// A commit that sets the name extension to `bytes`, made with openmls
/// directly (bypassing the engine's checks), as a modified client would.
fn rogue_rename(engine: &RoomEngine, room: RoomId, bytes: &[u8]) -> Vec<u8> {
    engine
        .store
        .transact(|provider, _| {
            let mut group = load_group(provider, room)?;
            let mut ext: Extensions<GroupContext> = group.extensions().clone();
            ext.add_or_replace(Extension::Unknown(
                NAME_EXTENSION_TYPE,
                UnknownExtension(bytes.to_vec()),
            ))
            .map_err(RoomsError::mls("rogue name"))?;
            let signer = engine.signer(provider)?;
            let bundle = group
                .commit_builder()
                .force_self_update(true)
                .propose_group_context_extensions(ext)
                .map_err(RoomsError::mls("rogue rename"))?
                .load_psks(provider.storage())
                .map_err(RoomsError::mls("rogue rename"))?
                .build(provider.rand(), provider.crypto(), &signer, |_| true)
                .map_err(RoomsError::mls("rogue rename"))?
                .stage_commit(provider)
                .map_err(RoomsError::mls("rogue rename"))?;
            bundle
                .into_messages()
                .0
                .to_bytes()
                .map_err(RoomsError::mls("encoding"))
        })
        .unwrap()
}

/// Three members in a room named "garden": 0 owner, 1 and 2 plain members.
fn named_room_of_three() -> World {
    let w = World::new(3);
    let name = RoomName::new("garden").unwrap();
    let created = w.m[0].engine.create_named_room(ROOM, &name).unwrap();
    w.server
        .track(&created.group_info, &created.ratchet_tree, &w.book)
        .unwrap();
    let out = w.m[0]
        .engine
        .add_members(ROOM, &[w.kp(1), w.kp(2)], &w.book)
        .unwrap();
    w.publish(0, &out, &[], &[1, 2]);
    w
}

#[test]
fn joiners_see_the_name_and_an_admin_renames_the_room_for_everyone() {
    let w = named_room_of_three();
    for i in 0..3 {
        assert_eq!(
            w.m[i].engine.name(ROOM).unwrap().unwrap().as_str(),
            "garden"
        );
    }
    let out = w.m[0]
        .engine
        .rename(ROOM, &RoomName::new("orchard").unwrap())
        .unwrap();
    assert_eq!(out.summary.renamed.as_deref(), Some("orchard"));
    w.publish(0, &out, &[1, 2], &[]);
    for i in 0..3 {
        assert_eq!(
            w.m[i].engine.name(ROOM).unwrap().unwrap().as_str(),
            "orchard"
        );
    }
    // A room created without a name has none.
    let plain = World::new(1);
    plain.create(0);
    assert_eq!(plain.m[0].engine.name(ROOM).unwrap(), None);
}

#[test]
fn a_plain_members_rename_is_refused_by_every_member_and_by_the_server() {
    let w = named_room_of_three();
    let refused = w.m[1].engine.rename(ROOM, &RoomName::new("mine").unwrap());
    assert!(
        matches!(
            refused,
            Err(RoomsError::Policy(PolicyError::NotPermitted { .. }))
        ),
        "{refused:?}"
    );
    let commit = rogue_rename(&w.m[1].engine, ROOM, b"mine");
    let refused = w.server.process(&commit, &w.book);
    assert!(
        matches!(
            refused,
            Err(RoomsError::Policy(PolicyError::NotPermitted { .. }))
        ),
        "{refused:?}"
    );
    for r in [0, 2] {
        let refused = w.m[r].engine.process(&commit, &w.book);
        assert!(
            matches!(
                refused,
                Err(RoomsError::Policy(PolicyError::NotPermitted { .. }))
            ),
            "{refused:?}"
        );
        assert_eq!(
            w.m[r].engine.name(ROOM).unwrap().unwrap().as_str(),
            "garden"
        );
    }
}

#[test]
fn a_malformed_name_is_refused_even_from_the_owner() {
    let w = named_room_of_three();
    let commit = rogue_rename(&w.m[0].engine, ROOM, b"bad\nname");
    let refused = w.server.process(&commit, &w.book);
    assert!(
        matches!(refused, Err(RoomsError::Policy(PolicyError::BadName))),
        "{refused:?}"
    );
    for r in [1, 2] {
        let refused = w.m[r].engine.process(&commit, &w.book);
        assert!(
            matches!(refused, Err(RoomsError::Policy(PolicyError::BadName))),
            "{refused:?}"
        );
    }
    // The room goes on: the owner drops its commit and the others read it.
    w.m[0].engine.discard_commit(ROOM).unwrap();
    let bytes = w.send(0, "still garden");
    assert_eq!(w.read(2, &bytes).1, "still garden");
}

#[test]
fn a_forgotten_room_is_gone_from_the_state_file_and_can_be_created_again() {
    let w = World::new(1);
    let name = RoomName::new("garden").unwrap();
    let engine = &w.m[0].engine;
    engine.create_named_room(ROOM, &name).unwrap();
    engine.skip_entry(ROOM, 3).unwrap();
    assert_eq!(engine.rooms().unwrap(), vec![ROOM]);
    engine.forget_room(ROOM).unwrap();
    assert!(engine.rooms().unwrap().is_empty());
    assert!(matches!(engine.epoch(ROOM), Err(RoomsError::UnknownRoom)));
    assert_eq!(engine.read_up_to(ROOM).unwrap(), 0);
    // Nothing of the old group is left to refuse a new one under its id.
    engine.create_named_room(ROOM, &name).unwrap();
    assert_eq!(engine.epoch(ROOM).unwrap(), 0);
}
