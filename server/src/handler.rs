//! One task per connection: read the first frame, which fixes the
//! connection's protocol version, and hand over to that version's handler
//! (`v2` or `v3`). What both versions share is in `conn`.

use std::net::SocketAddr;
use std::sync::Arc;

use protocol::codec::{CodecLimits, Inbound, ServerCodec};
use protocol::{ErrorReason, PROTOCOL_V2, PROTOCOL_V3, Response, v3};
use tokio_util::codec::Framed;

use crate::conn::{Next, Transport, error_for, next_item, send_and_close, timeout_text};
use crate::frame_clock::TimedCodec;
use crate::shared::Shared;

/// Serves one accepted connection until it closes.
pub(crate) async fn serve(stream: Box<dyn Transport>, peer: SocketAddr, shared: Arc<Shared>) {
    let _counted = shared.sessions.connection();
    let limits = CodecLimits {
        v2_max_content: shared.config.v2_max_content,
        ..CodecLimits::default()
    };
    let mut conn = Framed::new(stream, TimedCodec::new(ServerCodec::new(limits)));
    let config = &shared.config;
    let first = tokio::select! {
        next = next_item(&mut conn, config.idle_timeout, config.stall_timeout) => next,
        () = shared.shutdown.cancelled() => return,
    };
    match first {
        Next::Item(item) => {
            if item_version(&item) == PROTOCOL_V2 {
                crate::v2::serve(conn, peer, &shared, item).await;
            } else {
                crate::v3::serve(conn, peer, shared.clone(), item).await;
            }
        }
        Next::Closed => tracing::debug!(%peer, "closed before sending a request"),
        Next::TimedOut { mid_frame } => {
            tracing::info!(%peer, mid_frame, "dropped: no request in time");
            // Told as established connections are, in the version its first
            // bytes named; with nothing named, in the only version served
            // when version 2 is off. Version 2 has no such frame.
            let named = conn.codec().version(conn.read_buffer());
            if named.or((!config.legacy_v2).then_some(PROTOCOL_V3)) == Some(PROTOCOL_V3) {
                let text = timeout_text(mid_frame, config.idle_timeout, config.stall_timeout);
                let closing = v3::ServerError::new(ErrorReason::IdleTimeout, text);
                send_and_close(&mut conn, Response::V3(v3::Response::Closing(closing))).await;
            }
        }
        Next::Broken(e) => {
            tracing::info!(%peer, error = %e, "refused a malformed first frame");
            send_and_close(&mut conn, error_for(&e)).await;
        }
    }
}

/// The protocol version of a decoded item.
fn item_version(item: &Inbound) -> u8 {
    match item {
        Inbound::Request(f) => f.request.version(),
        Inbound::Invalid { header, .. } => header.version,
        Inbound::SendStart { .. } | Inbound::SendChunk { .. } => PROTOCOL_V2,
    }
}
