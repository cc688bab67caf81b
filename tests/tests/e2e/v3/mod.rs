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
mod scale;

pub(crate) use files::{begin_upload, download_all, resume_upload, upload_range};
pub(crate) use room_delete::delete_request;

use e2e::{TestServer, V3Conn, reason_of};
use protocol::{ErrorReason, v3};

async fn server() -> TestServer {
    TestServer::start(|_| {}).await.unwrap()
}

async fn refused(conn: &mut V3Conn, request: v3::Request) -> ErrorReason {
    let response = conn.call(request).await.unwrap();
    reason_of(&response).unwrap()
}
