//! The accept loop: connection limits in all and per address, back-off on
//! accept errors, and a graceful drain on shutdown.
//!
//! A connection over a limit is not silently dropped: a small, bounded pool of
//! tasks reads its first header and answers in its version (a bare 9000 for
//! version 2, `TOO_MANY_CONNECTIONS` for version 3) before closing. A node of
//! a cluster that cannot reach its database refuses the same way (with
//! `STORAGE_FAILED`), so that clients move to another node at once.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use protocol::{ErrorReason, PROTOCOL_V2, RequestHeader, Response, v2};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::task::TaskTracker;

use crate::conn::v3_error;
use crate::shared::Shared;

/// Connections being refused at once; beyond this they are just closed.
const MAX_REFUSING: usize = 64;
/// How long a refused connection gets to send its first header.
const REFUSE_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// Counts connections per address.
#[derive(Default)]
struct PerAddress {
    counts: Mutex<HashMap<IpAddr, usize>>,
}

/// A connection's place in the per-address count, released on drop.
struct AddressSlot {
    table: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    fn acquire(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<AddressSlot> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let n = counts.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            table: self.clone(),
            ip,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self.table.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = counts.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// Accepts until `shared.shutdown` fires, then waits for connections to finish
/// (they are told to stop) for up to the configured grace period.
pub(crate) async fn run(listener: TcpListener, shared: Arc<Shared>) {
    let slots = Arc::new(Semaphore::new(shared.config.max_connections));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let per_address = Arc::new(PerAddress::default());
    let tracker = TaskTracker::new();
    let mut backoff = Duration::from_millis(10);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shared.shutdown.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => {
                backoff = Duration::from_millis(10);
                a
            }
            Err(e) => {
                // Out of file descriptors or similar: wait instead of spinning.
                tracing::warn!(error = %e, ?backoff, "accept failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        if !shared.store.database_reachable() {
            // Clients move to another node at once rather than wait on a
            // request that can only fail.
            let why = "this node cannot reach its database; try another node".to_string();
            tracing::warn!(%peer, "connection refused: the database is unreachable");
            if let Ok(permit) = refusing.clone().try_acquire_owned() {
                tracker.spawn(refuse(stream, ErrorReason::StorageFailed, why, permit));
            }
            continue;
        }
        let slot = slots.clone().try_acquire_owned().ok();
        let address = per_address.acquire(peer.ip(), shared.config.max_connections_per_ip);
        match (slot, address) {
            (Some(slot), Some(address)) => {
                let shared = shared.clone();
                tracker.spawn(serve(stream, peer, shared, slot, address));
            }
            (slot, _address) => {
                let why = if slot.is_none() {
                    format!(
                        "the server is at its limit of {} connections",
                        shared.config.max_connections
                    )
                } else {
                    format!(
                        "at most {} connections from one address",
                        shared.config.max_connections_per_ip
                    )
                };
                tracing::warn!(%peer, %why, "connection refused");
                if let Ok(permit) = refusing.clone().try_acquire_owned() {
                    tracker.spawn(refuse(stream, ErrorReason::TooManyConnections, why, permit));
                }
            }
        }
    }
    tracing::info!("no longer accepting; waiting for connections to finish");
    tracker.close();
    if tokio::time::timeout(shared.config.shutdown_grace, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            grace = ?shared.config.shutdown_grace,
            "connections still open after the grace period; closing them"
        );
    }
}

async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    _slot: OwnedSemaphorePermit,
    _address: AddressSlot,
) {
    tracing::debug!(%peer, "connection opened");
    // Small frames go out at once; batching is done by the session's flushes.
    let _ = stream.set_nodelay(true);
    crate::keepalive::enable(&stream, peer);
    crate::handler::serve(Box::new(stream), peer, shared).await;
    tracing::debug!(%peer, "connection closed");
}

/// Reads the first header of a connection refused (over a limit, or the
/// database unreachable) and answers it with an error in its version.
async fn refuse(
    mut stream: TcpStream,
    reason: ErrorReason,
    why: String,
    _permit: OwnedSemaphorePermit,
) {
    let mut header = [0u8; protocol::header::REQUEST_HEADER_LEN];
    let read = tokio::time::timeout(REFUSE_READ_TIMEOUT, stream.read_exact(&mut header)).await;
    let version = match read {
        Ok(Ok(_)) => RequestHeader::peek(&header).map(|h| h.version),
        _ => None,
    };
    let response = if version == Some(PROTOCOL_V2) {
        Response::V2(v2::Response::Error)
    } else {
        v3_error(reason, why)
    };
    let mut buf = BytesMut::new();
    if response.encode(&mut buf).is_ok() {
        let _ = tokio::time::timeout(REFUSE_READ_TIMEOUT, stream.write_all(&buf)).await;
    }
    let _ = stream.shutdown().await;
}
