//! The two tasks that own an authenticated connection's socket: the writer
//! sends queued requests in order (batching what is queued into one write),
//! the reader matches each answer to the oldest waiting request (the server
//! answers in order), hands pushed deliveries to the subscriber and notes a
//! closing notice. When either ends, every waiting request fails.
//!
//! Apart from `connection.rs` (which makes the connection and queues
//! requests) because this is the only code that touches the socket after
//! the handshake.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use protocol::codec::{ClientCodec, RequestPart, ResponseItem};
use protocol::v3::{self, ServerError};
use protocol::{RequestFrame, Response};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::Framed;

use super::error::ConnectionError;

pub(super) type Reply = oneshot::Sender<Result<v3::Response, ConnectionError>>;
type Sink = SplitSink<Framed<TcpStream, ClientCodec>, RequestPart>;
type Source = SplitStream<Framed<TcpStream, ClientCodec>>;

pub(super) struct Shared {
    /// Answers owed, oldest first.
    pub(super) waiting: Mutex<VecDeque<Reply>>,
    /// The server's closing notice, if any.
    pub(super) closing: Mutex<Option<ServerError>>,
    pub(super) alive: AtomicBool,
}

impl Shared {
    pub(super) fn fail_all(&self, why: impl Fn() -> ConnectionError) {
        self.alive.store(false, Ordering::Release);
        let waiting: Vec<Reply> = self
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .collect();
        for reply in waiting {
            let _ = reply.send(Err(why()));
        }
    }

    pub(super) fn closing(&self) -> Option<ServerError> {
        self.closing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

pub(super) async fn write_loop(
    mut sink: Sink,
    mut requests: mpsc::UnboundedReceiver<(RequestFrame, Reply)>,
    shared: Arc<Shared>,
) {
    while let Some((frame, reply)) = requests.recv().await {
        // Queue the reply slot before the frame leaves, so that the reader can
        // never see an answer without its slot.
        shared
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(reply);
        let mut result = sink.feed(frame.into()).await;
        // Batch whatever else is queued into the same write.
        while result.is_ok() {
            match requests.try_recv() {
                Ok((frame, reply)) => {
                    shared
                        .waiting
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push_back(reply);
                    result = sink.feed(frame.into()).await;
                }
                Err(_) => break,
            }
        }
        if result.is_ok() {
            result = sink.flush().await;
        }
        if let Err(e) = result {
            tracing::debug!(error = %e, "writing to the server failed");
            let closing = shared.closing();
            shared.fail_all(|| ConnectionError::Closed(closing.clone()));
            return;
        }
    }
    let _ = sink.close().await;
}

pub(super) async fn read_loop(
    mut source: Source,
    pushes: mpsc::UnboundedSender<v3::Delivery>,
    shared: Arc<Shared>,
) {
    let ending = loop {
        match source.next().await {
            None => break None,
            Some(Err(e)) => break Some(e.to_string()),
            Some(Ok(ResponseItem::Response(Response::V3(response)))) => match response {
                v3::Response::Delivery(d) => {
                    // The server bounds unacknowledged pushes, so this queue
                    // is bounded too; a subscriber that went away is fine.
                    let _ = pushes.send(d);
                }
                v3::Response::Closing(e) => {
                    *shared.closing.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                }
                answer => {
                    let reply = shared
                        .waiting
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .pop_front();
                    match reply {
                        Some(reply) => {
                            let _ = reply.send(Ok(answer));
                        }
                        None => {
                            break Some(format!("an answer nobody asked for: {:?}", answer.code()));
                        }
                    }
                }
            },
            Some(Ok(other)) => break Some(format!("not a version-3 frame: {other:?}")),
        }
    };
    if let Some(problem) = &ending {
        tracing::warn!(%problem, "connection to the server failed");
    }
    let closing = shared.closing();
    shared.fail_all(|| ConnectionError::Closed(closing.clone()));
}
