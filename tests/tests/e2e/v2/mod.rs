//! Version 2 end to end, one file per area: the reference scenario, every
//! refusal, and durability under restarts, concurrency, a crash of the real
//! binary and a large file. The helpers here are what the areas share.

mod durability;
mod reference;
mod refusals;

use bytes::Bytes;
use e2e::{TestServer, bounded, connect, pattern, read_response, v2_call};
use futures::SinkExt;
use protocol::codec::{Body, V2SendStart};
use protocol::v2::{self, SendHeader};
use protocol::{ClientId, MessageKind, Response};

async fn legacy() -> TestServer {
    TestServer::start(|c| c.legacy_v2 = true).await.unwrap()
}

async fn send(
    addr: std::net::SocketAddr,
    from: ClientId,
    to: ClientId,
    kind: MessageKind,
    content: &[u8],
) -> anyhow::Result<v2::Response> {
    v2_call(
        addr,
        from,
        v2::Request::SendMessage(v2::SendMessage {
            destination: to,
            kind,
            content: Bytes::copy_from_slice(content),
        }),
    )
    .await
}

async fn pull(addr: std::net::SocketAddr, me: ClientId) -> Vec<v2::PulledMessage> {
    match v2_call(addr, me, v2::Request::Pull).await.unwrap() {
        v2::Response::Messages(m) => m,
        other => panic!("pull: {other:?}"),
    }
}

fn stored_id(r: v2::Response, to: ClientId) -> u32 {
    match r {
        v2::Response::MessageStored(m) => {
            assert_eq!(m.destination, to);
            m.message_id
        }
        other => panic!("send: {other:?}"),
    }
}

/// Streams a large version-2 send from a generator, never holding it whole.
async fn send_streamed(
    addr: std::net::SocketAddr,
    from: ClientId,
    to: ClientId,
    kind: MessageKind,
    len: u32,
    seed: u64,
) -> anyhow::Result<v2::Response> {
    let mut conn = connect(addr).await?;
    conn.feed(
        V2SendStart {
            client_id: from,
            header: SendHeader {
                destination: to,
                kind,
                content_len: len,
            },
        }
        .into(),
    )
    .await?;
    let mut sent = 0usize;
    let piece = 1 << 20;
    while sent < len as usize {
        let n = piece.min(len as usize - sent);
        let data = pattern(seed + sent as u64, n);
        bounded("send a piece", conn.send(Body(Bytes::from(data)).into())).await??;
        sent += n;
    }
    match bounded("a response", read_response(&mut conn)).await?? {
        Some(Response::V2(r)) => Ok(r),
        other => anyhow::bail!("after a streamed send: {other:?}"),
    }
}

fn expected_stream(seed: u64, len: usize) -> Vec<u8> {
    let piece = 1 << 20;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let n = piece.min(len - out.len());
        out.extend(pattern(seed + out.len() as u64, n));
    }
    out
}
