//! TCP keepalive on accepted connections, so that a peer that vanished
//! without closing (a laptop's lid shut, a cable pulled, a crashed NAT) is
//! noticed within [`KEEPALIVE_TIME`] + [`KEEPALIVE_INTERVAL`] ×
//! [`KEEPALIVE_RETRIES`] and its connection (with its push subscription and
//! buffers) freed, instead of waiting for the idle timeout or forever for a
//! subscribed connection that keeps receiving nothing.
//!
//! Push writes to a vanished peer are bounded separately: they stall once
//! the socket's buffer is full and the stall timeout closes the connection.

use std::net::SocketAddr;
use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};
use tokio::net::TcpStream;

/// Silence after which the first probe is sent.
pub(crate) const KEEPALIVE_TIME: Duration = Duration::from_secs(60);
/// Time between unanswered probes.
pub(crate) const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered probes after which the connection is reset.
pub(crate) const KEEPALIVE_RETRIES: u32 = 3;

/// Turns keepalive on for `stream` (a failure only costs the early notice).
pub(crate) fn enable(stream: &TcpStream, peer: SocketAddr) {
    let keepalive = TcpKeepalive::new()
        .with_time(KEEPALIVE_TIME)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_RETRIES);
    if let Err(e) = SockRef::from(stream).set_tcp_keepalive(&keepalive) {
        tracing::debug!(%peer, error = %e, "cannot turn TCP keepalive on");
    }
}
