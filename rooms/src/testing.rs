//! Misbehaviour on purpose, for tests of the rooms crate and of the server
//! (the `testing` feature): commits a correct client would never make.

use crate::engine::{RoomEngine, RoomId, load_group};
use crate::error::RoomsError;
use crate::keys::parse_key_package;

/// A commit made with openmls directly, bypassing the engine's own checks:
/// what a modified client (or a server forging on a member's behalf, were
/// it able to sign) would send.
///
/// # Panics
/// If openmls cannot make the commit (a test setup error).
pub fn rogue_add(engine: &RoomEngine, room: RoomId, key_package: &[u8]) -> Vec<u8> {
    engine
        .store
        .transact(|provider, _| {
            let mut group = load_group(provider, room)?;
            let package = parse_key_package(
                openmls_traits::OpenMlsProvider::crypto(provider),
                key_package,
            )?;
            let signer = engine.signer(provider)?;
            let (commit, _, _) = group
                .add_members(provider, &signer, &[package])
                .map_err(RoomsError::mls("rogue add"))?;
            commit.to_bytes().map_err(RoomsError::mls("encoding"))
        })
        .unwrap()
}

/// An external commit joining the room of `group_info` made without the
/// engine's checks (an invite-only room, a banned joiner): what a modified
/// client would send. The joiner keeps the room as joined.
///
/// # Panics
/// If openmls cannot make the commit (a test setup error).
pub fn rogue_external_join(engine: &RoomEngine, group_info: &[u8]) -> Vec<u8> {
    engine.external_join(group_info, None).unwrap().commit
}
