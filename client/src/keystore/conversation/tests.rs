//! Rooms' history by id: rooms sharing a name, a rename, and history
//! written by name before (schema 11) brought over.

use super::*;
use crate::keystore::fixtures::{BOB, home, with_session};
use crate::keystore::{Body, Direction, HistoryQuery, NewEntry, Status};

const OLD: RoomId = RoomId([1; 16]);
const NEW: RoomId = RoomId([2; 16]);

fn said(conversation: Conversation, text: &str) -> NewEntry {
    NewEntry {
        conversation,
        direction: Direction::In,
        sender: BOB,
        body: Body::Text { text: text.into() },
        sender_time_ms: None,
        server_time_ms: None,
        message_id: None,
        status: Status::Received,
    }
}

fn texts(store: &KeyStore, conversation: &Conversation) -> Vec<String> {
    store
        .history(conversation, &HistoryQuery::default())
        .unwrap()
        .into_iter()
        .map(|e| match e.body {
            Body::Text { text } => text,
            Body::File { name, .. } => name,
            Body::Event { .. } | Body::Key { .. } => unreachable!("no events here"),
        })
        .collect()
}

#[test]
fn two_rooms_of_one_name_keep_their_own_history_and_the_newest_is_found_by_name() {
    let (_dir, home) = home();
    let (mut store, ..) = with_session(&home);
    let old = Conversation::room(OLD, "team");
    let new = Conversation::room(NEW, "team");
    assert_ne!(old, new, "the same name, another room");
    // Apart in time: which went by the name last is told by the clock.
    let pause = || std::thread::sleep(std::time::Duration::from_millis(5));
    store.add_history(&said(old.clone(), "old one")).unwrap();
    pause();
    store.add_history(&said(new.clone(), "new one")).unwrap();
    pause();
    store.add_history(&said(old.clone(), "old two")).unwrap();
    assert_eq!(texts(&store, &old), ["old one", "old two"]);
    assert_eq!(texts(&store, &new), ["new one"]);

    let activity = store.conversation_activity().unwrap();
    let rooms: Vec<_> = activity
        .iter()
        .filter_map(|a| match &a.conversation {
            Conversation::Room { id, name } => Some((*id, name.as_str(), a.unread)),
            Conversation::Person { .. } => None,
        })
        .collect();
    assert_eq!(rooms, [(Some(OLD), "team", 2), (Some(NEW), "team", 1)]);

    // By name: the room that had it last; by id: exactly that room.
    let named = store.room_in_history("TEAM").unwrap().unwrap();
    assert!(matches!(named, Conversation::Room { id: Some(OLD), .. }));
    pause();
    store.add_history(&said(new.clone(), "new two")).unwrap();
    let named = store.room_in_history("team").unwrap().unwrap();
    assert!(matches!(named, Conversation::Room { id: Some(NEW), .. }));
    let by_id = store.room_in_history(&room_key(&OLD)).unwrap().unwrap();
    assert_eq!(by_id, old);
    assert_eq!(store.room_in_history("crew").unwrap(), None);

    // Forgetting one leaves the other, and its name no longer finds it.
    assert_eq!(store.forget(&new).unwrap(), 2);
    assert_eq!(texts(&store, &old), ["old one", "old two"]);
    let named = store.room_in_history("team").unwrap().unwrap();
    assert!(matches!(named, Conversation::Room { id: Some(OLD), .. }));
}

#[test]
fn a_renamed_room_stays_one_conversation_under_its_new_name() {
    let (_dir, home) = home();
    let (mut store, ..) = with_session(&home);
    let bob = Conversation::Person { id: BOB };
    store
        .add_history(&said(Conversation::room(OLD, "team"), "before"))
        .unwrap();
    store.add_history(&said(bob.clone(), "to bob")).unwrap();
    store.note_room_name(OLD, "crew").unwrap();
    store
        .add_history(&said(Conversation::room(OLD, "crew"), "after"))
        .unwrap();
    assert_eq!(
        texts(&store, &Conversation::room(OLD, "crew")),
        ["before", "after"]
    );
    let activity = store.conversation_activity().unwrap();
    let rooms: Vec<_> = activity
        .iter()
        .filter_map(|a| match &a.conversation {
            Conversation::Room { id, name } => Some((*id, name.clone())),
            Conversation::Person { .. } => None,
        })
        .collect();
    assert_eq!(rooms, [(Some(OLD), "crew".to_string())]);
    assert!(activity.iter().any(|a| a.conversation == bob));
    let entry = &store
        .history(&Conversation::room(OLD, ""), &HistoryQuery::default())
        .unwrap()[0];
    assert!(matches!(&entry.conversation, Conversation::Room { name, .. } if name == "crew"));
    assert!(store.room_in_history("crew").unwrap().is_some());
    assert_eq!(store.room_in_history("team").unwrap(), None);
}

/// Every history row as (kind, key, body), in order.
fn rows(store: &KeyStore) -> Vec<(i64, String, String)> {
    let mut stmt = store
        .conn
        .prepare("SELECT conv_kind, conv, body FROM history ORDER BY entry")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn history_kept_by_room_name_before_is_all_kept_and_adopted_by_our_rooms_once() {
    let (_dir, home) = home();
    let (store, ..) = with_session(&home);
    // Back to schema 11: no room names, rooms' history kept by name.
    store
        .conn
        .execute_batch(
            "DROP TABLE room_names; DROP TABLE room_recipients; DROP TABLE room_marks;
             DROP TABLE unshown_messages; DROP TABLE room_departures;
             DROP TABLE restored_rooms; DROP TABLE restored_leaf_key;
             DROP TABLE pending_joins;
             DROP TABLE unshown_events; DROP TABLE room_log_read;
             DROP TABLE pending_creates;
             ALTER TABLE handled_messages DROP COLUMN digest;
             PRAGMA user_version = 11;
             INSERT INTO history (conv_kind, conv, direction, sender, kind, body, arrived_at,
                 status, status_at) VALUES
                 (2, 'team', 1, zeroblob(16), 1, 't1', 5, 6, 5),
                 (1, '22222222222222222222222222222222', 1, zeroblob(16), 1, 'p1', 6, 6, 6),
                 (2, 'gone', 2, zeroblob(16), 1, 'g1', 7, 2, 7),
                 (2, 'team', 1, zeroblob(16), 1, 't2', 8, 4, 8);",
        )
        .unwrap();
    let before = rows(&store);
    drop(store);

    let mut store = KeyStore::open(&home).unwrap();
    let after = rows(&store);
    assert_eq!(after.len(), before.len(), "{after:?}");
    for ((kind, old, body), (kind2, new, body2)) in before.iter().zip(&after) {
        assert_eq!((kind, body), (kind2, body2));
        let expect = if *kind == 2 {
            format!("name:{old}")
        } else {
            old.clone()
        };
        assert_eq!(*new, expect);
    }
    // Before the rooms are known, each name is a conversation of its own.
    let team = store.room_in_history("team").unwrap().unwrap();
    assert_eq!(texts(&store, &team), ["t1", "t2"]);

    // We are in the room named team (and in another, with no old history).
    let ours = [(NEW, "team".to_string()), (OLD, "other".to_string())];
    assert_eq!(store.adopt_named_room_history(&ours).unwrap(), 2);
    let team = Conversation::room(NEW, "team");
    assert_eq!(texts(&store, &team), ["t1", "t2"]);
    assert_eq!(store.room_in_history("team").unwrap(), Some(team));
    let gone = store.room_in_history("gone").unwrap().unwrap();
    assert!(matches!(&gone, Conversation::Room { id: None, name } if name == "gone"));
    assert_eq!(texts(&store, &gone), ["g1"]);

    // Once only: a room named gone later is another room.
    let later = [(OLD, "gone".to_string())];
    assert_eq!(store.adopt_named_room_history(&later).unwrap(), 0);
    assert_eq!(texts(&store, &gone), ["g1"]);
    assert_eq!(rows(&store).len(), before.len());
    assert_eq!(
        texts(&store, &Conversation::Person { id: BOB }),
        ["p1"],
        "a person's history is not touched"
    );
}

#[test]
fn retention_forgets_the_name_of_a_room_with_no_history_left() {
    let (_dir, home) = home();
    let (mut store, ..) = with_session(&home);
    let (kept, emptied, joined) = (OLD, NEW, RoomId([3; 16]));
    store
        .add_history(&said(Conversation::room(kept, "kept"), "recent"))
        .unwrap();
    store
        .add_history(&said(Conversation::room(emptied, "emptied"), "old"))
        .unwrap();
    store.note_room_name(joined, "joined").unwrap();
    let three_days_ago = crate::keystore::schema::now_ms() - 3 * crate::keystore::settings::DAY_MS;
    store
        .conn
        .execute(
            "UPDATE history SET arrived_at = ?1 WHERE body = 'old'",
            [three_days_ago],
        )
        .unwrap();
    store
        .conn
        .execute(
            "UPDATE room_names SET named_at = ?1 WHERE name = 'emptied'",
            [three_days_ago],
        )
        .unwrap();
    assert_eq!(store.set_retention_days(Some(2)).unwrap(), 1);
    let names = |store: &KeyStore| -> Vec<String> {
        let mut stmt = store
            .conn
            .prepare("SELECT name FROM room_names ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    // A room joined lately with nothing said yet keeps its name.
    assert_eq!(names(&store), ["joined", "kept"]);
    assert_eq!(store.room_in_history("emptied").unwrap(), None);
    assert!(store.room_in_history("kept").unwrap().is_some());
}
