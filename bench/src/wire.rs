//! Raw protocol exchanges built from the `protocol` crate: one version-2
//! request per connection, as the reference client does, with every wait
//! bounded.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use futures::SinkExt;
use protocol::codec::ClientCodec;
use protocol::gather::read_response;
use protocol::{ClientId, Request, RequestFrame, Response, v2};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

/// How long one request (connect, write, read the whole answer) may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A raw connection speaking frames through the client codec.
pub type RawConn = Framed<TcpStream, ClientCodec>;

/// One version-2 request on its own connection; the answer, whole.
///
/// # Errors
/// Connect, write or read failed, the server closed without answering, or
/// it took longer than [`REQUEST_TIMEOUT`].
pub async fn v2_call(
    addr: SocketAddr,
    client_id: ClientId,
    request: v2::Request,
) -> anyhow::Result<v2::Response> {
    tokio::time::timeout(REQUEST_TIMEOUT, async {
        let stream = TcpStream::connect(addr).await.context("connect")?;
        stream.set_nodelay(true)?;
        let mut conn = Framed::new(stream, ClientCodec::default());
        conn.send(
            RequestFrame {
                client_id,
                request: Request::V2(request),
            }
            .into(),
        )
        .await
        .context("send")?;
        match read_response(&mut conn).await? {
            Some(Response::V2(r)) => Ok(r),
            Some(other) => bail!("expected a version-2 response, got {:?}", other.code()),
            None => bail!("the server closed without answering"),
        }
    })
    .await
    .map_err(|_| anyhow!("no answer within {REQUEST_TIMEOUT:?}"))?
}

/// Deterministic pseudo-random bytes (xorshift), so that expected contents
/// need not be stored.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_is_deterministic_and_seeded() {
        assert_eq!(pattern(3, 33), pattern(3, 33));
        assert_ne!(pattern(3, 33), pattern(4, 33));
        assert_eq!(pattern(3, 33).len(), 33);
        assert_eq!(&pattern(3, 40)[..33], &pattern(3, 33)[..]);
    }
}
