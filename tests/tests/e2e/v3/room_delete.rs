//! Deleting a room through the real server with real MLS (PROTOCOL.md
//! "Deleting (145)"): only the owner deletes, each other member gets the
//! owner's notice in its inbox and opens it with its own copy of the room,
//! and the server forgets the room.

use bytes::Bytes;
use client::rooms::RoomContent;
use e2e::{RoomUser, reason_of};
use protocol::v3::{self, RoomDelete, RoomNotice, RoomUploadBegin, UploadChunk};
use protocol::{ErrorReason, MessageKind, RoomId};
use sealpost_rooms::Incoming;

use super::{room_of_two, server};

/// `user`'s deletion notice for `room`, encrypted at its current epoch.
pub(crate) fn delete_request(user: &RoomUser, room: RoomId) -> v3::Request {
    let engine_room = sealpost_rooms::RoomId(room.0);
    let content = RoomContent::Deleted.encode().unwrap();
    v3::Request::RoomDelete(RoomDelete {
        room,
        epoch: user.engine.epoch(engine_room).unwrap(),
        notice: Bytes::from(user.engine.send(engine_room, &content).unwrap()),
    })
}

#[tokio::test]
async fn only_the_owner_deletes_a_room_and_each_member_opens_the_notice() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let mut alice = RoomUser::new(server.addr, dir.path(), "alice")
        .await
        .unwrap();
    let mut bob = RoomUser::new(server.addr, dir.path(), "bob").await.unwrap();
    let mut carol = RoomUser::new(server.addr, dir.path(), "carol")
        .await
        .unwrap();
    let room = room_of_two(&mut alice, &mut bob).await;

    // Carol is no member: the room is unknown to her. Bob is a member, not
    // the owner: refused.
    let by_bob = delete_request(&bob, room);
    let answer = carol.conn.call(by_bob.clone()).await.unwrap();
    assert_eq!(reason_of(&answer).unwrap(), ErrorReason::UnknownRoom);
    let answer = bob.conn.call(by_bob).await.unwrap();
    assert_eq!(reason_of(&answer).unwrap(), ErrorReason::RoomRefused);

    let answer = alice.conn.call(delete_request(&alice, room)).await.unwrap();
    assert_eq!(answer, v3::Response::RoomDeleted(room));

    // Bob's inbox holds alice's notice, which his own room state opens.
    let batch = bob.conn.pull().await.unwrap();
    assert_eq!(batch.messages.len(), 1, "{batch:?}");
    let m = &batch.messages[0];
    assert_eq!((m.kind, m.sender), (MessageKind::RoomDeleted, alice.id()));
    let notice = RoomNotice::decode(m.content.clone()).unwrap();
    assert_eq!((notice.room, notice.epoch), (room, 1));
    match bob.engine.process(&notice.notice, &bob.book).unwrap() {
        Incoming::Message {
            sender, plaintext, ..
        } => {
            assert_eq!(sender.0, alice.id().0);
            assert!(matches!(
                RoomContent::decode(&plaintext),
                Ok(RoomContent::Deleted)
            ));
        }
        other => panic!("the notice opened as {other:?}"),
    }

    // The server no longer knows the room.
    assert_eq!(
        alice.try_say(room, "anyone?").await.unwrap(),
        Err(ErrorReason::UnknownRoom)
    );
    for user in [&mut alice, &mut bob] {
        assert_eq!(
            user.call_ok(v3::Request::RoomList).await.unwrap(),
            v3::Response::RoomList(Vec::new())
        );
        let answer = user.conn.call(v3::Request::RoomState(room)).await.unwrap();
        assert_eq!(reason_of(&answer).unwrap(), ErrorReason::UnknownRoom);
    }
}

/// A room's unfinished uploads go with it: their part files are deleted and
/// the uploader's next request about one is told it is gone, at once rather
/// than at the uploads' expiry.
#[tokio::test]
async fn deleting_a_room_cancels_its_unfinished_uploads() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    let mut alice = RoomUser::new(server.addr, dir.path(), "alice")
        .await
        .unwrap();
    let mut bob = RoomUser::new(server.addr, dir.path(), "bob").await.unwrap();
    alice.trust(&[&bob]);
    bob.trust(&[&alice]);
    let room = alice.create().await.unwrap();
    alice.add(room, &[bob.id()]).await.unwrap();
    bob.sync().await.unwrap();

    let begun = bob
        .call_ok(v3::Request::RoomUploadBegin(RoomUploadBegin {
            room,
            file_size: 1000,
            meta: Default::default(),
        }))
        .await
        .unwrap();
    let v3::Response::UploadStatus(status) = begun else {
        panic!("room upload begin answered {begun:?}")
    };
    let id = status.upload_id;
    let chunk = bob
        .call_ok(v3::Request::UploadChunk(UploadChunk {
            upload_id: id,
            offset: 0,
            data: Bytes::from(vec![7u8; 100]),
        }))
        .await
        .unwrap();
    assert!(matches!(chunk, v3::Response::ChunkStored(_)), "{chunk:?}");
    assert!(
        server.upload_stored(&id).await.unwrap(),
        "no part file or rows"
    );

    let answer = alice.conn.call(delete_request(&alice, room)).await.unwrap();
    assert_eq!(answer, v3::Response::RoomDeleted(room));

    assert!(
        !server.upload_stored(&id).await.unwrap(),
        "the upload's body outlived its room"
    );
    let resumed = bob.conn.call(v3::Request::UploadResume(id)).await.unwrap();
    assert_eq!(reason_of(&resumed).unwrap(), ErrorReason::UnknownUpload);
    let chunk = bob
        .conn
        .call(v3::Request::UploadChunk(UploadChunk {
            upload_id: id,
            offset: 100,
            data: Bytes::from(vec![7u8; 100]),
        }))
        .await
        .unwrap();
    assert_eq!(reason_of(&chunk).unwrap(), ErrorReason::UnknownUpload);
    // No upload row is left behind (the operator counts every row of the
    // table), nor bytes reserved for one.
    let status = crate::operator::json(&server.config.data_dir, &["status"]).await;
    assert_eq!(status["uploads_in_progress"], 0, "{status}");
    assert_eq!(status["upload_bytes_received"], 0, "{status}");
    assert_eq!(status["storage_used"], status["bytes_waiting"], "{status}");
}
