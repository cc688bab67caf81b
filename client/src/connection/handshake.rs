//! Opening a connection, and the requests that come before the two socket
//! tasks exist: the TCP connect (within [`CONNECT_TIMEOUT`]), one-off
//! exchanges, the time limit on the handshake (within
//! [`HANDSHAKE_TIMEOUT`], so that a wrong address fails soon and says so),
//! and registration, which needs no authentication.
//!
//! The authentication itself (`Connection::connect`) uses these and then
//! hands the socket to `connection::tasks`.

use futures::{SinkExt, StreamExt};
use protocol::codec::{ClientCodec, ResponseItem};
use protocol::v3;
use protocol::{ClientId, Name, PublicKey, Request, RequestFrame, Response};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use std::time::Duration;

use super::error::ConnectionError;
use super::nodes::{limits, nodes};
use super::timeouts::REQUEST_TIMEOUT;

pub(super) async fn open(
    addr: &str,
    limit: Duration,
) -> Result<Framed<TcpStream, ClientCodec>, ConnectionError> {
    let connect = TcpStream::connect(addr);
    let stream = tokio::time::timeout(limit, connect)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::from(std::io::ErrorKind::TimedOut)))
        .map_err(|source| ConnectionError::Connect {
            addr: addr.to_string(),
            source,
        })?;
    let _ = stream.set_nodelay(true);
    Ok(Framed::new(stream, ClientCodec::default()))
}

/// One request and its answer on a connection that has no tasks yet (used
/// for the handshake and for registration).
pub(super) async fn exchange(
    framed: &mut Framed<TcpStream, ClientCodec>,
    client_id: ClientId,
    request: v3::Request,
) -> Result<v3::Response, ConnectionError> {
    let frame = RequestFrame {
        client_id,
        request: Request::V3(request),
    };
    tokio::time::timeout(REQUEST_TIMEOUT, async {
        framed.send(frame.into()).await?;
        // Nothing is pushed before a subscription, so the next frame is the
        // answer (or a closing notice).
        match framed.next().await {
            None => Err(ConnectionError::Closed(None)),
            Some(Err(e)) => Err(e.into()),
            Some(Ok(ResponseItem::Response(Response::V3(r)))) => match r {
                v3::Response::Closing(e) => Err(ConnectionError::Closed(Some(e))),
                v3::Response::Error(e) => Err(ConnectionError::Refused(e)),
                r => Ok(r),
            },
            Some(Ok(other)) => Err(ConnectionError::Unexpected(format!("{other:?}"))),
        }
    })
    .await
    .map_err(|_| ConnectionError::Timeout(REQUEST_TIMEOUT))?
}

/// `handshake` within `limit` (`HANDSHAKE_TIMEOUT` for a single server);
/// silence or bytes that are not our frames become
/// [`ConnectionError::NotSealpost`].
pub(super) async fn handshake<T>(
    addr: &str,
    limit: Duration,
    handshake: impl std::future::Future<Output = Result<T, ConnectionError>>,
) -> Result<T, ConnectionError> {
    let not_sealpost = |detail: String| ConnectionError::NotSealpost {
        addr: addr.to_string(),
        detail,
    };
    match tokio::time::timeout(limit, handshake).await {
        Err(_) => Err(not_sealpost(format!(
            "no answer within {} s",
            limit.as_secs()
        ))),
        Ok(Err(ConnectionError::Protocol(e))) => Err(not_sealpost(e.to_string())),
        Ok(Err(ConnectionError::Unexpected(what))) => {
            Err(not_sealpost(format!("unexpected answer {what}")))
        }
        Ok(other) => other,
    }
}

/// Registers `name` with a key bundle; returns the new client id. Of
/// several nodes (`addrs`, see `connection::nodes`), the first that
/// answers. A node that took the registration and went silent may have
/// stored it: the next node then answers that the name is taken, which is
/// said rather than hidden.
///
/// # Errors
/// The server is unreachable or refuses (name taken, bad bundle).
pub async fn register(
    addrs: &str,
    name: &Name,
    bundle: &PublicKey,
) -> Result<ClientId, ConnectionError> {
    let nodes = nodes(addrs, None);
    let limits = limits(nodes.len());
    let mut last = None;
    for addr in &nodes {
        match register_at(addr, limits, name, bundle).await {
            Err(e) if e.is_disconnect() => {
                tracing::info!(node = %addr, error = %e, "node unavailable; trying the next");
                last = Some(e);
            }
            other => return other,
        }
    }
    Err(last.unwrap_or_else(|| ConnectionError::Connect {
        addr: addrs.to_string(),
        source: std::io::Error::other("no server address given"),
    }))
}

async fn register_at(
    addr: &str,
    (connect_limit, handshake_limit): (Duration, Duration),
    name: &Name,
    bundle: &PublicKey,
) -> Result<ClientId, ConnectionError> {
    let mut framed = open(addr, connect_limit).await?;
    let request = v3::Request::Register(v3::Register {
        name: name.clone(),
        public_key: *bundle,
    });
    handshake(addr, handshake_limit, async {
        match exchange(&mut framed, ClientId::NIL, request).await? {
            v3::Response::Registered(id) => Ok(id),
            other => Err(ConnectionError::Unexpected(format!("{other:?}"))),
        }
    })
    .await
}
