//! Connection plumbing that both protocol versions share: the framed
//! stream a connection runs over, reading with idle and stall timeouts,
//! and answering a frame that could not be decoded.
//!
//! Kept apart from `handler`, which picks a version and so depends on `v2`
//! and `v3`: both of those use these pieces, and depend on this module only.

use std::time::Duration;

use futures::{FutureExt, SinkExt, StreamExt};
use protocol::codec::Inbound;
use protocol::v3::ServerError;
use protocol::{ErrorReason, PROTOCOL_V2, ProtocolError, Response, v2, v3};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_util::codec::Framed;

use crate::frame_clock::TimedCodec;

/// What a connection runs over: a TCP socket, or an in-memory stream in
/// tests and fuzzing.
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Transport for T {}

/// A connection's framed stream.
pub(crate) type Conn = Framed<Box<dyn Transport>, TimedCodec>;

/// The outcome of waiting for the next frame.
pub(crate) enum Next {
    /// A frame (or a piece of a streamed one).
    Item(Inbound),
    /// The peer closed the connection between frames.
    Closed,
    /// Nothing arrived in time.
    TimedOut {
        /// Whether a frame had started (the peer stalled mid-frame).
        mid_frame: bool,
    },
    /// The byte stream broke the protocol.
    Broken(ProtocolError),
}

/// Waits for the next item. Between frames the connection may stay silent
/// for `idle`; a frame, once begun, must arrive whole within `stall` of its
/// first byte (or, if longer, at `frame_clock::MIN_FRAME_RATE`), however its
/// bytes trickle in. The idle clock starts with the call, the frame's clock
/// with its first byte (also when that came before the call).
pub(crate) async fn next_item(conn: &mut Conn, idle: Duration, stall: Duration) -> Next {
    let started = Instant::now();
    // Checked at least every `period`, no longer than any frame's budget,
    // so that a frame's deadline is set as soon as it matters.
    let period = stall.min(idle);
    let check = tokio::time::sleep_until(started + period);
    tokio::pin!(check);
    loop {
        tokio::select! {
            item = conn.next() => return to_next(item),
            () = &mut check => {
                let now = Instant::now();
                let deadline = match conn.codec().frame_deadline(stall) {
                    Some(deadline) if now >= deadline => return Next::TimedOut { mid_frame: true },
                    Some(deadline) => deadline,
                    None if !conn.codec().is_idle() => now + period,
                    None if now >= started + idle => return Next::TimedOut { mid_frame: false },
                    None => started + idle,
                };
                check.as_mut().reset(deadline.min(now + period));
            }
        }
    }
}

/// The text of the 1105 closing a connection that timed out.
pub(crate) fn timeout_text(mid_frame: bool, idle: Duration, stall: Duration) -> String {
    if mid_frame {
        format!(
            "a frame did not arrive within {} s of its first byte",
            stall.as_secs()
        )
    } else {
        format!("idle for {} s", idle.as_secs())
    }
}

/// What the framed stream's next item means for the connection.
pub(crate) fn to_next(item: Option<Result<Inbound, ProtocolError>>) -> Next {
    match item {
        None => Next::Closed,
        Some(Ok(item)) => Next::Item(item),
        Some(Err(e)) => Next::Broken(e),
    }
}

/// The error frame answering a frame that broke the protocol: bare 9000 in
/// version 2, a reasoned 9000 otherwise (also when the version is unknown).
pub(crate) fn error_for(e: &ProtocolError) -> Response {
    if e.version() == Some(PROTOCOL_V2) {
        Response::V2(v2::Response::Error)
    } else {
        Response::V3(v3::Response::Error(ServerError::new(
            e.reason(),
            e.to_string(),
        )))
    }
}

/// `fut` bounded by `limit`, without reading the clock when it is ready at
/// once, as a write into a buffer with room is: a timeout's deadline costs
/// a clock read, and a session writes and flushes several times a message.
pub(crate) async fn within<F: Future>(limit: Duration, fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    if let Some(out) = (&mut fut).now_or_never() {
        return Some(out);
    }
    tokio::time::timeout(limit, fut).await.ok()
}

/// Sends a last frame and closes, ignoring a peer that is already gone.
pub(crate) async fn send_and_close(conn: &mut Conn, response: Response) {
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let _ = conn.send(response.into()).await;
        let _ = conn.close().await;
    })
    .await;
}

/// A version-3 error response.
pub(crate) fn v3_error(reason: ErrorReason, text: impl Into<String>) -> Response {
    Response::V3(v3::Response::Error(ServerError::new(reason, text)))
}
