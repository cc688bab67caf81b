//! Re-founding a room on a restored server, through the real server binary
//! with real MLS (PROTOCOL.md "Re-founding a restored room (151)"): refused
//! on a server never restored; on a restored one, taken only from a current
//! member and only at an epoch past the server's; the members then follow
//! the re-founder's state (one added after the backup reads on, one removed
//! after it gets nothing more), and commits go on from it. (That a commit
//! on the restored server ends the re-founding is checked through the
//! client: `restore_rooms.rs`.)

use e2e::{RoomUser, Seen, ServerProcess, reason_of};
use protocol::v3::{self, RoomCreate, RoomCreated};
use protocol::{ErrorReason, RoomId};

use super::room_of_two;
use crate::operator::server_cmd;
use crate::restore_rooms::restore;

/// `user`'s re-founding request for `room`, from its own current epoch.
fn refound_request(user: &RoomUser, room: RoomId) -> v3::Request {
    let founding = user
        .engine
        .founding(sealpost_rooms::RoomId(room.0))
        .unwrap();
    v3::Request::RoomRefound(RoomCreate {
        room,
        group_info: founding.group_info.into(),
        ratchet_tree: founding.ratchet_tree.into(),
    })
}

/// Why the server refuses `user`'s re-founding of `room`.
async fn refused(user: &mut RoomUser, room: RoomId) -> ErrorReason {
    let request = refound_request(user, room);
    reason_of(&user.conn.call(request).await.unwrap()).unwrap()
}

#[tokio::test]
async fn room_refound_only_a_restored_room_only_forward_and_only_by_a_member_and_its_members_follow()
 {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::start(&data, &[]).await.unwrap();
    let addr = server.addr;
    let mut alice = RoomUser::new(addr, dir.path(), "alice").await.unwrap();
    let mut bob = RoomUser::new(addr, dir.path(), "bob").await.unwrap();
    let mut carol = RoomUser::new(addr, dir.path(), "carol").await.unwrap();
    let room = room_of_two(&mut alice, &mut bob).await;

    // A server never restored takes no re-founding.
    assert_eq!(refused(&mut alice, room).await, ErrorReason::RoomRefused);

    let archive = dir.path().join("sealpost.tar");
    let (done, out, err) = server_cmd(&data, &["backup", archive.to_str().unwrap()]).await;
    assert!(done, "{out}{err}");
    // After the backup alice adds carol and removes bob (epoch 1 to 3);
    // bob reads nothing.
    alice.trust(&[&carol]);
    carol.trust(&[&alice, &bob]);
    bob.trust(&[&carol]);
    alice.add(room, &[carol.id()]).await.unwrap();
    alice.sync().await.unwrap();
    assert_eq!(
        carol.sync().await.unwrap(),
        vec![Seen::Joined { room, epoch: 2 }]
    );
    alice.remove(room, &[bob.id()]).await.unwrap();
    alice.sync().await.unwrap();
    carol.sync().await.unwrap();
    let server = restore(dir.path(), server, &archive).await;
    for user in [&mut alice, &mut bob, &mut carol] {
        user.reconnect(addr).await.unwrap();
    }
    assert_eq!(alice.status(room).await.unwrap().epoch, 1);

    // Carol is no member by the backup: the room is unknown to her. Bob's
    // epoch is the server's, not past it.
    assert_eq!(refused(&mut carol, room).await, ErrorReason::UnknownRoom);
    assert_eq!(refused(&mut bob, room).await, ErrorReason::StaleEpoch);

    // Alice's epoch 3 is taken: carol is a member, and reads from now on;
    // bob is not, and gets nothing more.
    let answer = alice
        .conn
        .call(refound_request(&alice, room))
        .await
        .unwrap();
    assert_eq!(
        answer,
        v3::Response::RoomRefounded(RoomCreated { room, epoch: 3 })
    );
    let status = alice.status(room).await.unwrap();
    assert_eq!(status.epoch, 3);
    let mut members: Vec<_> = status.members.iter().map(|m| m.client).collect();
    members.sort_unstable();
    let mut expected = vec![alice.id(), carol.id()];
    expected.sort_unstable();
    assert_eq!(members, expected);
    assert_eq!(refused(&mut bob, room).await, ErrorReason::UnknownRoom);
    // Not again at the same epoch.
    assert_eq!(refused(&mut alice, room).await, ErrorReason::StaleEpoch);

    carol.say(room, "after the restore").await.unwrap();
    assert_eq!(
        alice.sync().await.unwrap(),
        vec![Seen::Text {
            room,
            sender: carol.id(),
            text: "after the restore".into()
        }]
    );
    assert_eq!(bob.peek().await.unwrap(), []);

    // A commit goes through the server's new copy: alice removes carol.
    alice.remove(room, &[carol.id()]).await.unwrap();
    alice.sync().await.unwrap();
    let status = alice.status(room).await.unwrap();
    assert_eq!(status.epoch, 4);
    let members: Vec<_> = status.members.iter().map(|m| m.client).collect();
    assert_eq!(members, [alice.id()]);
    drop(server);
}
