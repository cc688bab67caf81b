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
use super::push::RoomPush;
use super::queue::PushSender;

/// What a queued push costs besides its content (ids, times, the queue's
/// own slot), counted against the queue's bytes.
const PUSH_OVERHEAD: usize = 96;

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
    /// Owes `reply` an answer. False when the reader has already ended
    /// (and so failed everything waiting): the caller must not send the
    /// request, and `reply` has been failed instead of waiting for ever.
    fn owe(&self, reply: Reply) -> bool {
        // fail_all clears `alive` before it takes the lock, so a slot pushed
        // after its drain sees `alive` false here and is failed by us.
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        waiting.push_back(reply);
        if self.alive.load(Ordering::Acquire) {
            return true;
        }
        let late: Vec<Reply> = waiting.drain(..).collect();
        drop(waiting);
        for reply in late {
            let _ = reply.send(Err(ConnectionError::Closed(self.closing())));
        }
        false
    }

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
        // never see an answer without its slot. Once the reader has ended,
        // nothing will answer: fail the request at once rather than let it
        // wait out its whole timeout (a watcher acknowledging just as the
        // server died sat there for a minute).
        if !shared.owe(reply) {
            return;
        }
        let mut result = sink.feed(frame.into()).await;
        // Batch whatever else is queued into the same write.
        while result.is_ok() {
            match requests.try_recv() {
                Ok((frame, reply)) => {
                    if !shared.owe(reply) {
                        return;
                    }
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
    pushes: PushSender<v3::Delivery>,
    room_pushes: PushSender<RoomPush>,
    shared: Arc<Shared>,
) {
    let ending = loop {
        match source.next().await {
            None => break None,
            Some(Err(e)) => break Some(e.to_string()),
            Some(Ok(ResponseItem::Response(Response::V3(response)))) => match response {
                // Bounded queues (`connection::queue`): what does not fit
                // is dropped, and the taker reads it from the server.
                v3::Response::Delivery(d) => {
                    let bytes = d.content.len() + PUSH_OVERHEAD;
                    pushes.offer(d, bytes);
                }
                // Unsolicited too: never the answer to a waiting request.
                v3::Response::RoomDelivery(entry) => {
                    let bytes = entry.message.len() + PUSH_OVERHEAD;
                    room_pushes.offer(RoomPush::Entry(entry), bytes);
                }
                v3::Response::KeyPackagesLow(stock) => {
                    room_pushes.offer(RoomPush::KeyPackagesLow(stock), PUSH_OVERHEAD);
                }
                v3::Response::PresenceChanges(changes) => {
                    let bytes = PUSH_OVERHEAD + 32 * changes.changes.len();
                    room_pushes.offer(RoomPush::Presence(changes), bytes);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::queue::{MAX_QUEUED_PUSH_BYTES, PushQueue, Pushed, push_queue};
    use protocol::codec::ServerCodec;
    use protocol::{ClientId, MAX_MESSAGE_LEN, MessageKind, Request};
    use tokio::task::JoinHandle;

    /// A client's reader and writer tasks on one end of a loopback
    /// connection, a test's server codec on the other.
    struct Wired {
        server: Framed<TcpStream, ServerCodec>,
        queue: mpsc::UnboundedSender<(RequestFrame, Reply)>,
        pushes: PushQueue<v3::Delivery>,
        room_pushes: PushQueue<RoomPush>,
        reader: JoinHandle<()>,
        writer: JoinHandle<()>,
    }

    async fn wired() -> Wired {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let server = Framed::new(server.unwrap().0, ServerCodec::default());
        let (sink, source) = Framed::new(client.unwrap(), ClientCodec::default()).split();
        let shared = Arc::new(Shared {
            waiting: Mutex::new(VecDeque::new()),
            closing: Mutex::new(None),
            alive: AtomicBool::new(true),
        });
        let (queue, requests) = mpsc::unbounded_channel();
        let (push_tx, pushes) = push_queue();
        let (room_tx, room_pushes) = push_queue();
        let writer = tokio::spawn(write_loop(sink, requests, shared.clone()));
        let reader = tokio::spawn(read_loop(source, push_tx, room_tx, shared));
        Wired {
            server,
            queue,
            pushes,
            room_pushes,
            reader,
            writer,
        }
    }

    impl Wired {
        /// Queues a ping (token 5); its answer comes on the receiver.
        fn ping(&self) -> oneshot::Receiver<Result<v3::Response, ConnectionError>> {
            let (reply, answer) = oneshot::channel();
            let frame = RequestFrame {
                client_id: ClientId([7; 16]),
                request: Request::V3(v3::Request::Ping(5)),
            };
            self.queue.send((frame, reply)).unwrap();
            answer
        }

        /// Closes both ends and waits for the client's tasks to end.
        async fn finish(self) {
            drop(self.server);
            drop(self.queue);
            self.reader.await.unwrap();
            self.writer.await.unwrap();
        }
    }

    /// A server that pushes without end (a thousand times its window, in
    /// the largest deliveries) to a client that takes none of them: the
    /// client holds at most its queue's bytes, says it dropped the rest,
    /// and its requests are still answered.
    #[tokio::test]
    async fn a_server_pushing_without_end_fills_no_more_than_the_queue() {
        let mut w = wired().await;
        let content = bytes::Bytes::from(vec![0x5a; MAX_MESSAGE_LEN]);
        let flood = 4 * MAX_QUEUED_PUSH_BYTES / MAX_MESSAGE_LEN;
        for id in 1..=flood as u64 {
            let d = v3::Delivery {
                sender: ClientId([2; 16]),
                message_id: id,
                kind: MessageKind::Text,
                sent_at_ms: 0,
                content: content.clone(),
            };
            w.server
                .feed(Response::V3(v3::Response::Delivery(d)).into())
                .await
                .unwrap();
        }
        w.server.flush().await.unwrap();
        // A request after the flood is read and answered past it.
        let answer = w.ping();
        assert!(w.server.next().await.is_some());
        w.server
            .send(Response::V3(v3::Response::Pong(5)).into())
            .await
            .unwrap();
        let answered = tokio::time::timeout(std::time::Duration::from_secs(30), answer)
            .await
            .expect("no answer");
        assert!(matches!(answered, Ok(Ok(v3::Response::Pong(5)))));
        // What the queue kept: the first deliveries in order, within its
        // bytes, then the notice, and nothing after it.
        let mut kept = Vec::new();
        let mut lagged = 0;
        while let Ok(p) = w.pushes.try_recv() {
            match p {
                Pushed::Item(d) => {
                    assert_eq!(lagged, 0, "a delivery queued after the notice");
                    kept.push(d.message_id);
                }
                Pushed::Lagged => lagged += 1,
            }
        }
        assert_eq!(lagged, 1);
        assert!(!kept.is_empty());
        assert!(
            kept.len() * MAX_MESSAGE_LEN <= MAX_QUEUED_PUSH_BYTES,
            "{} kept",
            kept.len()
        );
        assert_eq!(kept, (1..=kept.len() as u64).collect::<Vec<_>>());
        w.finish().await;
    }

    /// A room push (1310, 1311) arriving while a request waits is routed to
    /// the room pushes, never taken as that request's answer.
    #[tokio::test]
    async fn room_pushes_are_not_taken_as_answers() {
        let mut w = wired().await;
        let answer = w.ping();
        // The server reads the ping, then pushes before it answers.
        assert!(w.server.next().await.is_some());
        let entry = v3::RoomEntry {
            room: protocol::RoomId([1; 16]),
            seq: 3,
            sender: ClientId([2; 16]),
            kind: v3::RoomEntryKind::Application,
            epoch: 1,
            sent_at_ms: 0,
            file: None,
            message: bytes::Bytes::from_static(b"m"),
        };
        for r in [
            v3::Response::RoomDelivery(entry.clone()),
            v3::Response::KeyPackagesLow(9),
            v3::Response::Pong(5),
        ] {
            w.server.send(Response::V3(r).into()).await.unwrap();
        }
        let answered = tokio::time::timeout(std::time::Duration::from_secs(10), answer)
            .await
            .expect("no answer");
        assert!(matches!(answered, Ok(Ok(v3::Response::Pong(5)))));
        assert_eq!(
            w.room_pushes.recv().await,
            Some(Pushed::Item(RoomPush::Entry(entry)))
        );
        assert_eq!(
            w.room_pushes.recv().await,
            Some(Pushed::Item(RoomPush::KeyPackagesLow(9)))
        );
        w.finish().await;
    }

    /// The race behind a watcher that did not notice a dead server for a
    /// minute: the reader saw the connection end and failed everything
    /// waiting, and only then did the writer take a new request (the
    /// watcher's acknowledgement). Its answer can never come; it must fail
    /// at once, not wait for the request timeout.
    #[tokio::test]
    async fn a_request_queued_after_the_reader_ended_fails_at_once() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
        // The peer stays open and silent, so the write itself succeeds.
        let (_peer, _) = server.unwrap();
        let (sink, _source) = Framed::new(client.unwrap(), ClientCodec::default()).split();
        let shared = Arc::new(Shared {
            waiting: Mutex::new(VecDeque::new()),
            closing: Mutex::new(None),
            alive: AtomicBool::new(true),
        });
        let (queue, requests) = mpsc::unbounded_channel();
        let writer = tokio::spawn(write_loop(sink, requests, shared.clone()));

        // The reader ends first.
        shared.fail_all(|| ConnectionError::Closed(None));
        let (reply, answer) = oneshot::channel();
        let frame = RequestFrame {
            client_id: ClientId([7; 16]),
            request: Request::V3(v3::Request::Ping(1)),
        };
        queue.send((frame, reply)).unwrap();
        let answered = tokio::time::timeout(std::time::Duration::from_secs(10), answer)
            .await
            .expect("the request waited instead of failing");
        assert!(matches!(answered, Ok(Err(ConnectionError::Closed(None)))));
        writer.await.unwrap();
    }
}
