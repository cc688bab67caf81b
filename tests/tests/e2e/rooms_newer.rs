//! A room message from a newer client (PROTOCOL.md "Room content"): a kind
//! this client does not know is shown as such below 128 and skipped from
//! 128 up (optional signals, as receipts are). The newer client is a
//! `RoomUser` (its own MLS engine) in a room of the real `client` binary.

use e2e::{RoomUser, Seen};
use protocol::bundle::KeyBundle;
use protocol::v3;

use crate::rooms_cli::{json, ok, register, room_events, texts};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_optional_kind_is_skipped_and_an_unknown_other_kind_is_shown_as_such() {
    let server = e2e::TestServer::start(|_| {}).await.unwrap();
    let addr = server.addr;
    let dir = tempfile::tempdir().unwrap();
    let alice = dir.path().join("alice");
    let alice_id = register(addr, &alice, "alice").await;
    let mut newer = RoomUser::new(addr, dir.path(), "newer").await.unwrap();
    // The newer client pins alice's identity as the directory gives it.
    let key = match newer
        .conn
        .call(v3::Request::GetPublicKey(alice_id))
        .await
        .unwrap()
    {
        v3::Response::PublicKey(k) => KeyBundle::from_public_key(&k.public_key).identity_key,
        other => panic!("the key answered {other:?}"),
    };
    newer.book.0.insert(alice_id.0, key);

    ok(addr, &alice, &["room", "create", "team"]).await;
    ok(addr, &alice, &["key", "newer"]).await;
    ok(addr, &alice, &["room", "add", "team", "newer"]).await;
    let room = newer
        .sync()
        .await
        .unwrap()
        .iter()
        .find_map(|s| match s {
            Seen::Joined { room, .. } => Some(*room),
            _ => None,
        })
        .expect("the newer client joined");
    newer.say(room, "before").await.unwrap();
    for content in [&[0x80u8, 1, 2][..], &[0xff], &[9, 1]] {
        newer
            .try_send_content(room, content, None)
            .await
            .unwrap()
            .unwrap();
    }
    newer.say(room, "after").await.unwrap();

    let events = room_events(&json(addr, &alice, &["inbox"]).await);
    assert_eq!(texts(&events), ["before", "after"], "{events:?}");
    // Kind 9 is shown as a newer client's message; 128 and 255 not at all.
    let unreadable: Vec<_> = events
        .iter()
        .filter(|e| e["room_event"] == "unreadable")
        .collect();
    assert_eq!(unreadable.len(), 1, "{events:?}");
    let why = unreadable[0]["error"].as_str().unwrap();
    assert!(
        why.contains("kind 9") && why.contains("newer client"),
        "{why}"
    );
    let history = json(addr, &alice, &["history", "#team"]).await;
    let entries = history.as_array().unwrap();
    assert!(
        entries
            .iter()
            .all(|e| !e.to_string().contains("kind 128") && !e.to_string().contains("kind 255")),
        "{history}"
    );
    // The room goes on: alice's next text reaches the newer client.
    ok(addr, &alice, &["room", "send", "team", "still here"]).await;
    let seen = newer.sync().await.unwrap();
    assert!(format!("{seen:?}").contains("still here"), "{seen:?}");
}
