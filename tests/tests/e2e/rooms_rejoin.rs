//! A member removed and added back reads the room again from its new
//! invitation on, even when the room changed before it read that
//! invitation: the entries after it wait for the welcome instead of being
//! read against the state the removal left (which would lose them).

use crate::rooms_cli::{inbox_room_texts, json, ok, users};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_added_back_reads_what_came_after_its_invitation() {
    added_back_after_the_room_moved_on(true).await;
}

/// As above, with the removal never read: the old state is still active,
/// at an old epoch, and would misread the log before the welcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_added_back_before_reading_its_removal_reads_what_came_after() {
    added_back_after_the_room_moved_on(false).await;
}

async fn added_back_after_the_room_moved_on(reads_its_removal: bool) {
    let (server, _dir, [alice, bob, carol]) = users(["alice", "bob", "carol"]).await;
    let addr = server.addr;
    json(addr, &alice, &["room", "create", "crew"]).await;
    ok(addr, &alice, &["room", "add", "crew", "bob", "carol"]).await;
    ok(addr, &bob, &["inbox"]).await;
    ok(addr, &carol, &["inbox"]).await;

    // Carol is removed (and reads it, or not); then she is added back.
    ok(addr, &alice, &["room", "kick", "crew", "carol"]).await;
    if reads_its_removal {
        let shown = ok(addr, &carol, &["inbox"]).await;
        assert!(shown.contains("[#crew] alice removed you"), "{shown}");
    }
    ok(addr, &alice, &["room", "add", "crew", "carol"]).await;

    // Before carol reads her invitation the room moves on: bob leaves
    // (alice's client commits it) and alice writes in the new epoch.
    ok(addr, &bob, &["room", "leave", "crew"]).await;
    ok(addr, &alice, &["room", "members", "crew"]).await;
    ok(addr, &alice, &["room", "send", "crew", "after bob left"]).await;

    // Her next room command reads the log of a room she holds state for
    // and finds her invitation: she is in the room as it is now, and reads
    // alice's message.
    let members = json(addr, &carol, &["room", "members", "crew"]).await;
    let names: Vec<&str> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{members}");
    assert!(!names.contains(&"bob"), "{members}");
    assert_eq!(
        inbox_room_texts(addr, &carol).await,
        ["after bob left"],
        "carol lost what came after her invitation"
    );

    // And she writes to the room again.
    ok(addr, &carol, &["room", "send", "crew", "back"]).await;
    assert_eq!(inbox_room_texts(addr, &alice).await, ["back"]);
}

/// `room join` of an invite-only room whose invitation waits in the inbox
/// joins it by that invitation (before, it said there was no such room).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_a_room_one_was_added_to_takes_the_invitation() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    json(addr, &alice, &["room", "create", "proj"]).await;
    ok(addr, &alice, &["room", "add", "proj", "bob"]).await;
    let shown = ok(addr, &bob, &["room", "join", "proj"]).await;
    assert!(shown.contains("[#proj] you joined"), "{shown}");
    let joined = json(addr, &bob, &["room", "members", "proj"]).await;
    assert_eq!(joined.as_array().unwrap().len(), 2, "{joined}");
    ok(addr, &alice, &["room", "send", "proj", "hi bob"]).await;
    assert_eq!(inbox_room_texts(addr, &bob).await, ["hi bob"]);

    // A command on a room one was just added to joins it first; with
    // --json the join is an event object, as `inbox --json` gives it.
    json(addr, &alice, &["room", "create", "side"]).await;
    ok(addr, &alice, &["room", "add", "side", "bob"]).await;
    let sent = json(addr, &bob, &["room", "send", "side", "hello"]).await;
    assert_eq!(sent["joined"][0]["room_event"], "joined", "{sent}");
    assert_eq!(sent["joined"][0]["room"], "side", "{sent}");
}
