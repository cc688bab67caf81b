//! The error lines of `crate::error`.

use super::*;

#[test]
fn a_conflict_names_both_sides() {
    let bob = ClientId([0xb0; 16]);
    let mallory = ClientId([0x3a; 16]);
    let c = NameConflict {
        asked: "bob".into(),
        pinned_id: bob,
        pinned_name: "bob".into(),
        server_id: Some(mallory),
        server_name: Some("bob2".into()),
    };
    let text = c.to_string();
    assert!(text.contains(&bob.to_string()), "{text}");
    assert!(text.contains(&mallory.to_string()), "{text}");
    assert!(text.contains("\"bob2\""), "{text}");
    assert!(text.contains("client accept bob"), "{text}");
}

#[test]
fn a_conflict_over_a_gone_account_does_not_advise_its_id() {
    let bob = ClientId([0xb0; 16]);
    let gone = NameConflict {
        asked: "bob".into(),
        pinned_id: bob,
        pinned_name: "bob".into(),
        server_id: None,
        server_name: None,
    };
    let text = gone.to_string();
    assert!(text.contains("the account you pinned is gone"), "{text}");
    assert!(
        text.contains("nothing can be sent to \"bob\" now"),
        "{text}"
    );
    assert!(!text.contains("by its id"), "{text}");
    assert!(!text.contains("accept"), "{text}");
    let new_holder = ClientId([0x3a; 16]);
    let taken = NameConflict {
        server_id: Some(new_holder),
        ..gone
    };
    let text = taken.to_string();
    assert!(
        text.contains(&format!("if {new_holder} is really bob's new account")),
        "{text}"
    );
    assert!(text.contains("client accept bob"), "{text}");
    assert!(!text.contains("by its id"), "{text}");
}

#[test]
fn an_ambiguous_room_names_each_with_its_id_and_who_runs_it() {
    let room = |id: char, name: &str, owner: Option<&str>, admins: &[&str]| RoomCandidate {
        id: id.to_string().repeat(32),
        name: name.into(),
        owner: owner.map(str::to_string),
        admins: admins.iter().map(|a| a.to_string()).collect(),
    };
    let (a, b) = ("a".repeat(32), "b".repeat(32));
    let text = ClientError::AmbiguousRoom {
        name: "ops".into(),
        candidates: vec![
            room('a', "ops", Some("you"), &[]),
            room('b', "Ops", None, &["carol", "dave"]),
        ],
    }
    .to_string();
    assert_eq!(
        text,
        format!(
            "you are in 2 rooms named \"ops\": #ops (owner you, id {a}); \
             #Ops (admins carol, dave, id {b}); name the one you mean by its id as \
             '#ID', e.g. '#{a}'"
        )
    );
}
