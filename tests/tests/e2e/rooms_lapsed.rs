//! A leave request that lapsed, through real clients and a real server: the
//! owner's change is made before the request and reaches the server after
//! it (held back at a relay), so it does not carry the request; the leaver
//! has deleted its account meanwhile and never asks again; an admin who read
//! the request removes the leaver on its next sync, and a member who saw
//! the request is told the leaver left.

use client::What;
use client::event::RoomChange;
use e2e::{Relay, TestServer, user};
use protocol::RequestCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaver_whose_request_lapsed_after_deleting_the_account_is_removed_by_an_admin() {
    let server = TestServer::start(|_| {}).await.unwrap();
    let relay = Relay::framewise(server.addr).await.unwrap();
    let (direct, via_relay) = (server.addr.to_string(), relay.addr.to_string());
    let dir = tempfile::tempdir().unwrap();
    let alice = user(&via_relay, &dir.path().join("alice"), "alice").await;
    let bob = user(&direct, &dir.path().join("bob"), "bob").await;
    let carol = user(&direct, &dir.path().join("carol"), "carol").await;
    alice.room_create("crew").await.unwrap();
    alice
        .room_add("crew", &["bob".into(), "carol".into()])
        .await
        .unwrap();
    bob.inbox().await.unwrap();
    carol.inbox().await.unwrap();
    alice.room_promote("crew", "bob").await.unwrap();
    bob.room_sync().await.unwrap();

    // Alice's rename is committed at the room's epoch and held at the relay
    // while carol asks to leave at that same epoch and deletes her account
    // (allowed: she asked to leave every room she is in).
    relay.hold_next(RequestCode::RoomCommit);
    let (renamed, ()) = tokio::join!(alice.room_rename("crew", "crew2"), async {
        relay.wait_held().await.unwrap();
        carol.room_leave("crew").await.unwrap();
        carol.delete_account("carol").await.unwrap();
        relay.release();
    });
    renamed.unwrap();

    // Bob reads carol's request, then alice's commit without it: the
    // request lapsed, and bob, an admin, removes her.
    bob.room_sync().await.unwrap();
    // Alice saw carol ask too (before her own commit came back): she is
    // told carol left, not that bob removed her.
    let changes: Vec<RoomChange> = alice
        .inbox()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.what {
            What::Room { change, .. } => Some(change),
            _ => None,
        })
        .collect();
    let carol_only =
        |m: &Vec<client::rooms::event::Named>| m == &[client::rooms::event::Named::other("carol")];
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, RoomChange::Left { members } if carol_only(members))),
        "{changes:?}"
    );
    assert!(
        !changes
            .iter()
            .any(|c| matches!(c, RoomChange::Removed { .. })),
        "{changes:?}"
    );
    for who in [&bob, &alice] {
        let members = who.room_members("crew2").await.unwrap();
        let mut names: Vec<_> = members.iter().map(|m| m.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(!names.contains(&"carol"), "{names:?}");
    }
}
