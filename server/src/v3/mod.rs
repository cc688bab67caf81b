//! Version 3 (PROTOCOL.md, Version 3): persistent, authenticated
//! connections with pipelined sends and acknowledgements, pushed deliveries,
//! file uploads and downloads.
//!
//! - `session`: the connection loop, the pipeline of pending answers and the
//!   dispatch of each request;
//! - `auth`: hello and authenticate, and the connection's authentication
//!   state; `push`: subscribe and the push window (`room_push` for room
//!   entries); `presence`: a connection's part in who is online (141,
//!   1313); `rate`: the request rate limit; `watchdog`: the idle and
//!   stall timeouts on one timer per connection;
//! - `ops`: one file per request kind (or tight family);
//! - `reply`: the error answers all of them build.

mod auth;
pub(crate) mod guesses;
mod ops;
mod presence;
mod push;
mod rate;
mod reply;
mod room_push;
mod session;
mod watchdog;

use std::net::SocketAddr;
use std::sync::Arc;

use protocol::codec::Inbound;

use crate::conn::Conn;
use crate::shared::Shared;

/// Serves a version-3 connection whose first frame is `first`, until it
/// closes.
pub(crate) async fn serve(conn: Conn, peer: SocketAddr, shared: Arc<Shared>, first: Inbound) {
    session::Session::new(conn, peer, shared).run(first).await;
}
