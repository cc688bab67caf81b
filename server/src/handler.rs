//! One task per connection: read the first frame, which fixes the
//! connection's protocol version, and hand over to that version's handler
//! (`v2` or `v3`). What both versions share is in `conn`.

use std::net::SocketAddr;
use std::sync::Arc;

use protocol::PROTOCOL_V2;
use protocol::codec::{CodecLimits, Inbound, ServerCodec};
use tokio_util::codec::Framed;

use crate::conn::{Next, Transport, error_for, next_item, send_and_close};
use crate::shared::Shared;

/// Serves one accepted connection until it closes.
pub(crate) async fn serve(stream: Box<dyn Transport>, peer: SocketAddr, shared: Arc<Shared>) {
    let _counted = shared.sessions.connection();
    let limits = CodecLimits {
        v2_max_content: shared.config.v2_max_content,
        ..CodecLimits::default()
    };
    let mut conn = Framed::new(stream, ServerCodec::new(limits));
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
