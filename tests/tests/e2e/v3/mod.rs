//! Version 3 end to end over raw frames, one file per area: the handshake,
//! acknowledged delivery and push, resumable files, every limit, and scale.
//! The helpers here are what the areas share.

mod delivery;
mod files;
mod handshake;
mod limits;
mod room_crash;
mod room_delete;
mod room_files;
mod room_holds;
mod room_log;
mod room_names;
mod room_refound;
mod scale;
mod slow_subscriber;
mod slowloris;

pub(crate) use files::{begin_upload, download_all, finish_upload, resume_upload, upload_range};
pub(crate) use room_delete::delete_request;

use e2e::{RoomUser, Seen, TestServer, V3Conn, reason_of};
use protocol::{ErrorReason, RoomId, v3};

async fn server() -> TestServer {
    TestServer::start(|_| {}).await.unwrap()
}

/// A room of `alice` and `bob`, who trust each other: alice makes it and
/// adds bob, who sees himself joined at epoch 1.
pub(crate) async fn room_of_two(alice: &mut RoomUser, bob: &mut RoomUser) -> RoomId {
    alice.trust(&[bob]);
    bob.trust(&[alice]);
    let room = alice.create().await.unwrap();
    alice.add(room, &[bob.id()]).await.unwrap();
    assert_eq!(
        bob.sync().await.unwrap(),
        vec![Seen::Joined { room, epoch: 1 }]
    );
    room
}

async fn refused(conn: &mut V3Conn, request: v3::Request) -> ErrorReason {
    let response = conn.call(request).await.unwrap();
    reason_of(&response).unwrap()
}
