//! The history room's tests: order, statuses, filters, refusals, retention.

use super::*;
use crate::keystore::HistoryChange;
use crate::keystore::fixtures::{ALICE, BOB, home, with_session};
use crate::keystore::settings::DAY_MS;

fn text(direction: Direction, text: &str, id: Option<u64>) -> NewEntry {
    let (sender, status) = match direction {
        Direction::In => (BOB, Status::Received),
        Direction::Out => (ALICE, Status::Sent),
    };
    NewEntry {
        conversation: Conversation::Person { id: BOB },
        direction,
        sender,
        body: Body::Text { text: text.into() },
        sender_time_ms: Some(1_767_225_600_000),
        server_time_ms: None,
        message_id: id,
        status,
    }
}

fn bob() -> Conversation {
    Conversation::Person { id: BOB }
}

#[test]
fn history_keeps_order_and_statuses_across_reopen() {
    let (_dir, home) = home();
    let (mut store, ..) = with_session(&home);
    let out = store
        .add_history(&text(Direction::Out, "one", None))
        .unwrap();
    store.mark_stored(out, 40).unwrap();
    store
        .mark_handled_with(
            41,
            None,
            Some(&HistoryChange::Add(text(Direction::In, "Two", Some(41)))),
        )
        .unwrap();
    let unsent = store
        .add_history(&text(Direction::Out, "three", None))
        .unwrap();
    store.mark_unsent(unsent, "server unreachable").unwrap();
    let room = NewEntry {
        conversation: Conversation::Room {
            id: None,
            name: "team".into(),
        },
        ..text(Direction::In, "elsewhere", Some(42))
    };
    store.add_history(&room).unwrap();
    drop(store);

    let mut store = crate::keystore::KeyStore::open(&home).unwrap();
    let all = store.history(&bob(), &HistoryQuery::default()).unwrap();
    let summary: Vec<_> = all
        .iter()
        .map(|e| match &e.body {
            Body::Text { text } => (text.as_str(), e.status, e.message_id),
            Body::File { .. } | Body::Event { .. } | Body::Key { .. } => unreachable!(),
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("one", Status::Stored, Some(40)),
            ("Two", Status::Received, Some(41)),
            ("three", Status::Failed, None),
        ]
    );
    assert_eq!(all[2].reason.as_deref(), Some("server unreachable"));
    assert!(all.windows(2).all(|w| w[0].entry < w[1].entry));

    // Receipts move forward only; a refusal fails only what is not delivered.
    let set = |s: &mut crate::keystore::KeyStore, st| {
        s.set_status(&bob(), Direction::Out, 40, st, None).unwrap()
    };
    assert!(set(&mut store, Status::Read));
    assert!(!set(&mut store, Status::Delivered));
    assert!(!set(&mut store, Status::Failed));
    assert!(
        !store
            .set_status(&bob(), Direction::In, 40, Status::Read, None)
            .unwrap(),
        "another direction's id is another message"
    );

    // Filters: search (any case), limit (the newest), since.
    let q = |search: Option<&str>, limit| HistoryQuery {
        search: search.map(str::to_string),
        limit,
        since_ms: None,
    };
    let found = store.history(&bob(), &q(Some("two"), None)).unwrap();
    assert_eq!(found.len(), 1);
    let last = store.history(&bob(), &q(None, Some(2))).unwrap();
    assert_eq!(last.len(), 2);
    assert_eq!(last[1].entry, all[2].entry);
    let future = HistoryQuery {
        since_ms: Some(now_ms() + 60_000),
        ..HistoryQuery::default()
    };
    assert!(store.history(&bob(), &future).unwrap().is_empty());

    // Forgetting one conversation leaves the others.
    assert_eq!(store.forget(&bob()).unwrap(), 3);
    assert!(
        store
            .history(&bob(), &HistoryQuery::default())
            .unwrap()
            .is_empty()
    );
    let team = Conversation::Room {
        id: None,
        name: "team".into(),
    };
    assert_eq!(
        store
            .history(&team, &HistoryQuery::default())
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_refusal_fails_the_message_it_names_from_that_peer_only() {
    let (_dir, home) = home();
    let (mut store, ..) = with_session(&home);
    let out = store.add_history(&text(Direction::Out, "x", None)).unwrap();
    store.mark_stored(out, 7).unwrap();
    let refusal = |peer| HistoryChange::Failed {
        peer,
        message_ids: vec![7],
        reason: "too old".into(),
    };
    // Someone else cannot fail our message to Bob.
    store
        .mark_handled_with(8, None, Some(&refusal(ClientId([0x33; 16]))))
        .unwrap();
    let status = |s: &crate::keystore::KeyStore| {
        s.history(&bob(), &HistoryQuery::default()).unwrap()[0].clone()
    };
    assert_eq!(status(&store).status, Status::Stored);
    store
        .mark_handled_with(9, None, Some(&refusal(BOB)))
        .unwrap();
    let e = status(&store);
    assert_eq!(e.status, Status::Failed);
    assert_eq!(e.reason.as_deref(), Some("too old"));
}

#[test]
fn a_declined_receipt_moves_a_file_only_and_nothing_moves_it_on() {
    let (_dir, home) = home();
    let (mut store, ..) = with_session(&home);
    let file = NewEntry {
        body: Body::File {
            name: "a.bin".into(),
            size: 5,
            path: "a.bin".into(),
        },
        ..text(Direction::Out, "", None)
    };
    let f = store.add_history(&file).unwrap();
    store.mark_stored(f, 7).unwrap();
    let t = store.add_history(&text(Direction::Out, "x", None)).unwrap();
    store.mark_stored(t, 8).unwrap();
    let receipt = |status, ids: &[u64]| HistoryChange::Receipt {
        peer: BOB,
        message_ids: ids.to_vec(),
        status,
    };
    let statuses = |s: &crate::keystore::KeyStore| -> Vec<Status> {
        let all = s.history(&bob(), &HistoryQuery::default()).unwrap();
        all.iter().map(|e| e.status).collect()
    };
    store
        .mark_handled_with(20, None, Some(&receipt(Status::Declined, &[7, 8])))
        .unwrap();
    // The text named with it is not a file: it stays stored.
    assert_eq!(statuses(&store), [Status::Declined, Status::Stored]);
    store
        .mark_handled_with(21, None, Some(&receipt(Status::Read, &[7])))
        .unwrap();
    store
        .mark_handled_with(22, None, Some(&receipt(Status::Delivered, &[7])))
        .unwrap();
    assert_eq!(statuses(&store), [Status::Declined, Status::Stored]);
    assert_eq!(Status::Declined.word(), "declined");
}

#[test]
fn retention_deletes_old_entries_when_set_and_on_open() {
    let (_dir, home) = home();
    let (mut store, ..) = with_session(&home);
    assert_eq!(store.retention_days().unwrap(), None);
    store
        .add_history(&text(Direction::Out, "old", None))
        .unwrap();
    store
        .add_history(&text(Direction::Out, "new", None))
        .unwrap();
    store
        .conn
        .execute(
            "UPDATE history SET arrived_at = ?1 WHERE body = 'old'",
            [now_ms() - 3 * DAY_MS],
        )
        .unwrap();
    // Forever by default: nothing goes on open.
    drop(store);
    let mut store = crate::keystore::KeyStore::open(&home).unwrap();
    assert_eq!(
        store
            .history(&bob(), &HistoryQuery::default())
            .unwrap()
            .len(),
        2
    );
    assert_eq!(store.set_retention_days(Some(2)).unwrap(), 1);
    assert_eq!(store.retention_days().unwrap(), Some(2));
    store
        .conn
        .execute(
            "UPDATE history SET arrived_at = ?1",
            [now_ms() - 3 * DAY_MS],
        )
        .unwrap();
    drop(store);
    let mut store = crate::keystore::KeyStore::open(&home).unwrap();
    assert!(
        store
            .history(&bob(), &HistoryQuery::default())
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.set_retention_days(None).unwrap(), 0);
    assert_eq!(store.retention_days().unwrap(), None);
}

#[test]
fn an_entry_is_dated_by_its_sender_then_the_server_then_its_arrival() {
    let (_dir, home) = home();
    let (mut store, ..) = with_session(&home);
    let sealed = text(Direction::In, "sealed", Some(50));
    let room = NewEntry {
        conversation: Conversation::Room {
            id: None,
            name: "team".into(),
        },
        sender_time_ms: None,
        server_time_ms: Some(1_767_000_000_000),
        ..text(Direction::In, "read late", Some(51))
    };
    let neither = NewEntry {
        sender_time_ms: None,
        ..text(Direction::In, "old", Some(52))
    };
    let before = now_ms() as u64;
    for e in [&sealed, &room, &neither] {
        store.add_history(e).unwrap();
    }
    drop(store);

    let store = crate::keystore::KeyStore::open(&home).unwrap();
    let person = store.history(&bob(), &HistoryQuery::default()).unwrap();
    assert_eq!(person[0].shown_time_ms(), 1_767_225_600_000);
    assert!(person[1].shown_time_ms() >= before, "{:?}", person[1]);
    let team = Conversation::Room {
        id: None,
        name: "team".into(),
    };
    let room = store.history(&team, &HistoryQuery::default()).unwrap();
    assert_eq!(room[0].server_time_ms, Some(1_767_000_000_000));
    assert_eq!(room[0].shown_time_ms(), 1_767_000_000_000);
    assert!(room[0].arrived_at_ms >= before);
}

#[test]
fn a_not_delivered_notice_fails_only_our_stored_messages_to_the_account_it_names() {
    let (_dir, home) = home();
    let (mut store, ..) = with_session(&home);
    let carol = ClientId([0x33; 16]);
    // Our message 7 to carol, our message 8 to bob (delivered already),
    // our message 9 to bob (stored), and bob's message 10 to us.
    let to_carol = NewEntry {
        conversation: Conversation::Person { id: carol },
        ..text(Direction::Out, "for carol", None)
    };
    let c = store.add_history(&to_carol).unwrap();
    store.mark_stored(c, 7).unwrap();
    let d = store
        .add_history(&text(Direction::Out, "seen", None))
        .unwrap();
    store.mark_stored(d, 8).unwrap();
    store
        .set_status(&bob(), Direction::Out, 8, Status::Delivered, None)
        .unwrap();
    let s = store
        .add_history(&text(Direction::Out, "waiting", None))
        .unwrap();
    store.mark_stored(s, 9).unwrap();
    store
        .add_history(&text(Direction::In, "from bob", Some(10)))
        .unwrap();
    // A notice in bob's name naming all four changes only message 9.
    let named = [7, 8, 9, 10, 9];
    assert_eq!(store.still_stored_to(BOB, &named).unwrap(), vec![9]);
    let notice = HistoryChange::Failed {
        peer: BOB,
        message_ids: named.to_vec(),
        reason: "not delivered".into(),
    };
    store.mark_handled_with(11, None, Some(&notice)).unwrap();
    let statuses: Vec<(String, Status)> = store
        .history(&bob(), &HistoryQuery::default())
        .unwrap()
        .into_iter()
        .map(|e| match e.body {
            Body::Text { text } => (text, e.status),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("seen".to_string(), Status::Delivered),
            ("waiting".to_string(), Status::Failed),
            ("from bob".to_string(), Status::Received),
        ]
    );
    let carol_history = store
        .history(
            &Conversation::Person { id: carol },
            &HistoryQuery::default(),
        )
        .unwrap();
    assert_eq!(carol_history[0].status, Status::Stored);
    // A notice in carol's name naming our message to bob changes nothing.
    assert!(store.still_stored_to(carol, &[9]).unwrap().is_empty());
}
