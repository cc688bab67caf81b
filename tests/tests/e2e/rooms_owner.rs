//! An admin's command aimed at the room's owner, through the real `client`
//! binary: kick, remove, ban, promote and demote each say in one line that
//! the owner cannot be treated so, and commit nothing. They used to reach the
//! engine's own policy check and print its refusal in client ids.

use std::net::SocketAddr;
use std::path::Path;

use crate::rooms_cli::{json, ok, refusal, users};

/// The epoch of our first room, as `room list` shows it.
async fn epoch(addr: SocketAddr, home: &Path) -> u64 {
    let list = json(addr, home, &["room", "list"]).await;
    list["mine"][0]["epoch"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_owner_an_admin_told_in_one_line_that_the_owner_cannot_be_removed_banned_or_demoted()
{
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    json(addr, &alice, &["room", "create", "ops"]).await;
    ok(addr, &alice, &["room", "add", "ops", "bob"]).await;
    ok(addr, &alice, &["room", "promote", "ops", "bob"]).await;
    // Bob's client reads the promotion before he acts.
    ok(addr, &bob, &["inbox"]).await;
    let before = epoch(addr, &bob).await;

    let owner = "alice is the owner of #ops, and a room's owner cannot be";
    let cases: [(&[&str], String); 5] = [
        (
            &["room", "kick", "ops", "alice"],
            format!("{owner} removed"),
        ),
        (
            &["room", "remove", "ops", "alice"],
            format!("{owner} removed"),
        ),
        (&["room", "ban", "ops", "alice"], format!("{owner} banned")),
        (
            &["room", "demote", "ops", "alice"],
            format!("{owner} demoted"),
        ),
        (
            &["room", "promote", "ops", "alice"],
            format!("{owner} made an admin (the owner has every right an admin has)"),
        ),
    ];
    for (args, says) in cases {
        let err = refusal(addr, &bob, args).await;
        assert_eq!(err["code"], "is_owner", "{args:?}: {err}");
        assert_eq!(err["error"], says.as_str(), "{args:?}");
    }
    assert_eq!(epoch(addr, &bob).await, before);
    assert_eq!(epoch(addr, &alice).await, before);

    // Bob's own listing: alice still owns the room, bob is still an admin.
    let members = json(addr, &bob, &["room", "members", "ops"]).await;
    let roles: Vec<(&str, &str)> = members
        .as_array()
        .unwrap_or_else(|| panic!("members: {members}"))
        .iter()
        .map(|m| (m["name"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(roles.len(), 2, "{members}");
    assert!(roles.contains(&("alice", "owner")), "{members}");
    assert!(roles.contains(&("bob", "admin")), "{members}");
}
