//! A room command that would change nothing, through the real `client`
//! binary: it says why and commits nothing (the room's epoch stays), where
//! it used to print its success line and move every member's epoch.

use std::net::SocketAddr;
use std::path::Path;

use crate::rooms_cli::{json, ok, refusal, users};

/// The epoch of our first room, as `room list` shows it.
async fn epoch(addr: SocketAddr, home: &Path) -> u64 {
    let list = json(addr, home, &["room", "list"]).await;
    list["mine"][0]["epoch"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_noop_a_command_that_changes_nothing_says_so_and_commits_nothing() {
    let (server, _dir, [alice, bob]) = users(["alice", "bob"]).await;
    let addr = server.addr;
    json(addr, &alice, &["room", "create", "ops"]).await;
    ok(addr, &alice, &["room", "add", "ops", "bob"]).await;
    ok(addr, &alice, &["room", "promote", "ops", "bob"]).await;
    let before = epoch(addr, &alice).await;

    let cases: [(&[&str], &str, &str); 6] = [
        (
            &["room", "demote", "ops", "alice"],
            "is_you",
            "that is you, the owner of #ops; the owner's role does not change",
        ),
        (
            &["room", "promote", "ops", "alice"],
            "is_you",
            "that is you, the owner of #ops; the owner's role does not change",
        ),
        (
            &["room", "promote", "ops", "bob"],
            "unchanged",
            "bob is already an admin of #ops",
        ),
        (
            &["room", "set", "ops", "--invite"],
            "unchanged",
            "#ops is already invite-only",
        ),
        (
            &["room", "rename", "ops", "ops"],
            "unchanged",
            "#ops is already named so",
        ),
        (
            &["room", "unban", "ops", "bob"],
            "unchanged",
            "bob is not banned from #ops",
        ),
    ];
    for (args, code, says) in cases {
        let err = refusal(addr, &alice, args).await;
        assert_eq!(err["code"], code, "{args:?}: {err}");
        assert_eq!(err["error"], says, "{args:?}");
    }
    // Bob, an admin, cannot change his own role either.
    let err = refusal(addr, &bob, &["room", "demote", "ops", "bob"]).await;
    assert_eq!(err["code"], "is_you", "{err}");
    assert_eq!(
        err["error"], "that is you, an admin of #ops; another admin or the owner changes your role",
        "{err}"
    );
    assert_eq!(epoch(addr, &alice).await, before);

    // Demoting works once; the second time there is nothing to demote.
    ok(addr, &alice, &["room", "demote", "ops", "bob"]).await;
    let err = refusal(addr, &alice, &["room", "demote", "ops", "bob"]).await;
    assert_eq!(err["error"], "bob is not an admin of #ops", "{err}");
    assert_eq!(err["code"], "unchanged", "{err}");
    assert_eq!(epoch(addr, &alice).await, before + 1);
}
