//! A backup's rows: one made before rooms were named in backups (schema 16,
//! without `room_names`, `room_departures`, `restored_rooms` and the leaf
//! key) still imports; one made now brings the rooms, the departures and
//! the leaf key along; either way the server's key packages are marked to
//! be replaced.

use protocol::{ClientId, Name};
use sealpost_rooms::{LeafKey, RoomId};

use super::{read_rows, write_rows};
use crate::crypto::Identity;
use crate::keystore::{Conversation, KeyStore, RestoredRoom};

const NEW_TABLES: [&str; 4] = [
    "room_names",
    "room_departures",
    "restored_rooms",
    "restored_leaf_key",
];

/// The plaintext lines of a backup of a home with an identity, one room
/// name in its history and one room, as this client writes them.
fn backup_lines() -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let mut store = KeyStore::open(dir.path().join("old")).unwrap();
    let identity = Identity::generate().unwrap();
    store
        .save_identity(
            &Name::new("alice").unwrap(),
            ClientId([0x11; 16]),
            &identity,
        )
        .unwrap();
    store.note_room_name(RoomId([7; 16]), "team").unwrap();
    let rooms = [RestoredRoom {
        room: RoomId([7; 16]),
        name: "team".into(),
        rule: 0,
        admins: vec![ClientId([0x22; 16])],
        owned: false,
    }];
    let leaf = LeafKey {
        pair: zeroize::Zeroizing::new(vec![1, 2, 3]),
    };
    let mut out = Vec::new();
    let summary = write_rows(&store, &rooms, &leaf, &mut out).unwrap();
    assert_eq!(summary.rooms, 1);
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn import(lines: &[String]) -> (tempfile::TempDir, KeyStore) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = KeyStore::open(dir.path().join("new")).unwrap();
    read_rows(&mut store, lines.join("\n").as_bytes()).unwrap();
    (dir, store)
}

#[test]
fn a_backup_from_before_rooms_were_named_in_it_still_imports() {
    let old: Vec<String> = backup_lines()
        .into_iter()
        .filter(|l| !NEW_TABLES.iter().any(|t| l.contains(&format!("\"{t}\""))))
        .map(|l| {
            if l.starts_with("{\"schema\"") {
                "{\"schema\":16}".to_string()
            } else {
                l
            }
        })
        .collect();
    let (_dir, store) = import(&old);
    assert_eq!(store.identity().unwrap().unwrap().name.as_str(), "alice");
    assert_eq!(store.restored_rooms().unwrap(), vec![]);
    assert!(store.restored_leaf_key().unwrap().is_none());
    assert!(store.key_packages_stale().unwrap());
}

#[test]
fn a_backup_names_the_rooms_and_keeps_the_leaf_key() {
    let (_dir, store) = import(&backup_lines());
    let team = store.restored_room("team").unwrap().unwrap();
    assert_eq!(team.admins, vec![ClientId([0x22; 16])]);
    assert_eq!(
        *store.restored_leaf_key().unwrap().unwrap().pair,
        vec![1, 2, 3]
    );
    // The room's name, for its history (kept by id).
    let named = store.room_in_history(&hex::encode([7u8; 16])).unwrap();
    assert_eq!(named, Some(Conversation::room(RoomId([7; 16]), "team")));
    assert!(store.key_packages_stale().unwrap());
}
