//! One authenticated version-3 connection to the server, shared by every
//! part of the client (commands, the menu, the self-test).
//!
//! Two tasks own the socket: a writer that sends requests in the order they
//! are queued, and a reader that matches each answer to the oldest waiting
//! request (the server answers in order), hands pushed deliveries to the
//! subscriber and notes a closing notice. Callers may therefore pipeline:
//! several [`Connection::call`]s in flight at once share the socket and each
//! gets its own answer.
//!
//! This module knows nothing of keys beyond what the handshake needs: the
//! caller signs the client proof and decides whether the server's key is the
//! pinned one.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use protocol::auth::{client_proof_message, server_proof_message};
use protocol::codec::{ClientCodec, RequestPart, ResponseItem};
use protocol::v3::{self, ServerError, ServerLimits};
use protocol::{
    ClientId, ErrorReason, MessageKind, Name, ProtocolError, PublicKey, Request, RequestFrame,
    Response, UploadId,
};
use rand::RngCore;
use thiserror::Error;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::Framed;

/// How long to wait for an answer on an established connection.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the TCP connection may take. Together with
/// [`HANDSHAKE_TIMEOUT`] this bounds how soon a wrong address fails (10 s).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the server may take to answer the handshake (or registration):
/// a port where something else listens, silent or not, fails this soon
/// instead of after [`REQUEST_TIMEOUT`].
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// What can go wrong talking to the server.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The server could not be reached.
    #[error("cannot reach the server at {addr}: {source}")]
    Connect {
        /// The address tried.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The server refused a request.
    #[error("the server refused: {0}")]
    Refused(ServerError),
    /// The connection closed, with the server's reason if it gave one.
    #[error("the connection to the server closed{}", .0.as_ref().map(|e| format!(": {}", e.text)).unwrap_or_default())]
    Closed(Option<ServerError>),
    /// The bytes from the server broke the protocol.
    #[error("the server broke the protocol: {0}")]
    Protocol(#[from] ProtocolError),
    /// The server answered with something that does not fit the request.
    #[error("unexpected answer from the server: {0}")]
    Unexpected(String),
    /// The server's proof of identity did not verify.
    #[error("the server failed to prove its identity (its signature does not verify)")]
    BadServerProof,
    /// The caller refused the server's key (see the pin check).
    #[error("{0}")]
    ServerKeyRejected(String),
    /// No answer in time.
    #[error("the server did not answer within {0:?}")]
    Timeout(Duration),
    /// What listens at the address does not answer the handshake as a
    /// Sealpost server would: silence, or bytes that are not our frames.
    #[error(
        "{addr} does not answer as a Sealpost server ({detail}); is that the right address and port?"
    )]
    NotSealpost {
        /// The address tried.
        addr: String,
        /// What it did instead.
        detail: String,
    },
}

impl ConnectionError {
    /// The server's reason, if this is a refusal.
    pub fn reason(&self) -> Option<ErrorReason> {
        match self {
            Self::Refused(e) => Some(e.reason),
            _ => None,
        }
    }

    /// Whether the connection is gone (a reconnect may help).
    pub fn is_disconnect(&self) -> bool {
        matches!(
            self,
            Self::Closed(_) | Self::Connect { .. } | Self::Timeout(_) | Self::NotSealpost { .. }
        ) || matches!(self, Self::Protocol(ProtocolError::Io(_)))
    }
}

type Reply = oneshot::Sender<Result<v3::Response, ConnectionError>>;
type Sink = SplitSink<Framed<TcpStream, ClientCodec>, RequestPart>;
type Source = SplitStream<Framed<TcpStream, ClientCodec>>;

struct Shared {
    /// Answers owed, oldest first.
    waiting: Mutex<VecDeque<Reply>>,
    /// The server's closing notice, if any.
    closing: Mutex<Option<ServerError>>,
    alive: AtomicBool,
}

impl Shared {
    fn fail_all(&self, why: impl Fn() -> ConnectionError) {
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

    fn closing(&self) -> Option<ServerError> {
        self.closing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// An authenticated connection.
pub struct Connection {
    client_id: ClientId,
    server_key: [u8; 32],
    limits: ServerLimits,
    queue: mpsc::UnboundedSender<(RequestFrame, Reply)>,
    pushes: Mutex<Option<mpsc::UnboundedReceiver<v3::Delivery>>>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

async fn open(addr: &str) -> Result<Framed<TcpStream, ClientCodec>, ConnectionError> {
    let connect = TcpStream::connect(addr);
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, connect)
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
async fn exchange(
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

/// `handshake` within [`HANDSHAKE_TIMEOUT`]; silence or bytes that are not
/// our frames become [`ConnectionError::NotSealpost`].
async fn handshake<T>(
    addr: &str,
    handshake: impl std::future::Future<Output = Result<T, ConnectionError>>,
) -> Result<T, ConnectionError> {
    let not_sealpost = |detail: String| ConnectionError::NotSealpost {
        addr: addr.to_string(),
        detail,
    };
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Err(_) => Err(not_sealpost(format!(
            "no answer within {} s",
            HANDSHAKE_TIMEOUT.as_secs()
        ))),
        Ok(Err(ConnectionError::Protocol(e))) if !matches!(e, ProtocolError::Io(_)) => {
            Err(not_sealpost(e.to_string()))
        }
        Ok(Err(ConnectionError::Unexpected(what))) => {
            Err(not_sealpost(format!("unexpected answer {what}")))
        }
        Ok(other) => other,
    }
}

/// Registers `name` with a key bundle; returns the new client id.
///
/// # Errors
/// The server is unreachable or refuses (name taken, bad bundle).
pub async fn register(
    addr: &str,
    name: &Name,
    bundle: &PublicKey,
) -> Result<ClientId, ConnectionError> {
    let mut framed = open(addr).await?;
    let request = v3::Request::Register(v3::Register {
        name: name.clone(),
        public_key: *bundle,
    });
    handshake(addr, async {
        match exchange(&mut framed, ClientId::NIL, request).await? {
            v3::Response::Registered(id) => Ok(id),
            other => Err(ConnectionError::Unexpected(format!("{other:?}"))),
        }
    })
    .await
}

impl Connection {
    /// Connects and authenticates as `client_id`. `check_server_key` sees the
    /// server's (already proven) identity key before the client proves its
    /// own, and may refuse it; `sign` signs the client proof with the
    /// identity key.
    ///
    /// # Errors
    /// Unreachable server, failed proof either way, or a refused key.
    pub async fn connect(
        addr: &str,
        client_id: ClientId,
        check_server_key: impl FnOnce(&[u8; 32]) -> Result<(), String>,
        sign: impl FnOnce(&[u8]) -> [u8; 64],
    ) -> Result<Connection, ConnectionError> {
        let mut framed = open(addr).await?;
        let (challenge, limits) = handshake(addr, async {
            let mut client_nonce = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut client_nonce);
            let challenge = match exchange(
                &mut framed,
                client_id,
                v3::Request::Hello(v3::Hello { client_nonce }),
            )
            .await?
            {
                v3::Response::Challenge(c) => c,
                other => return Err(ConnectionError::Unexpected(format!("{other:?}"))),
            };
            let server_key = ed25519_dalek::VerifyingKey::from_bytes(&challenge.server_key)
                .map_err(|_| ConnectionError::BadServerProof)?;
            server_key
                .verify_strict(
                    &server_proof_message(&client_id, &client_nonce, &challenge.server_nonce),
                    &ed25519_dalek::Signature::from_bytes(&challenge.signature),
                )
                .map_err(|_| ConnectionError::BadServerProof)?;
            check_server_key(&challenge.server_key).map_err(ConnectionError::ServerKeyRejected)?;
            let proof = sign(&client_proof_message(
                &challenge.server_key,
                &client_id,
                &client_nonce,
                &challenge.server_nonce,
            ));
            let limits =
                match exchange(&mut framed, client_id, v3::Request::Authenticate(proof)).await? {
                    v3::Response::Authenticated(l) => l,
                    other => return Err(ConnectionError::Unexpected(format!("{other:?}"))),
                };
            Ok((challenge, limits))
        })
        .await?;
        let (sink, source) = framed.split();
        let shared = Arc::new(Shared {
            waiting: Mutex::new(VecDeque::new()),
            closing: Mutex::new(None),
            alive: AtomicBool::new(true),
        });
        let (queue, requests) = mpsc::unbounded_channel();
        let (push_tx, pushes) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(sink, requests, shared.clone()));
        tokio::spawn(read_loop(source, push_tx, shared.clone()));
        Ok(Connection {
            client_id,
            server_key: challenge.server_key,
            limits,
            queue,
            pushes: Mutex::new(Some(pushes)),
            shared,
        })
    }

    /// The authenticated client id.
    pub fn client_id(&self) -> ClientId {
        self.client_id
    }

    /// The server's identity key, as proven in the handshake.
    pub fn server_key(&self) -> [u8; 32] {
        self.server_key
    }

    /// The limits the server announced.
    pub fn limits(&self) -> &ServerLimits {
        &self.limits
    }

    /// Whether the connection is still open.
    pub fn is_alive(&self) -> bool {
        self.shared.alive.load(Ordering::Acquire)
    }

    /// The server's closing notice, if it sent one.
    pub fn closing_notice(&self) -> Option<ServerError> {
        self.shared.closing()
    }

    /// Queues a request now and returns its answer as a future. Requests
    /// go out in the order they are submitted, whenever their futures are
    /// polled, so a caller can keep several in flight (pipelining).
    pub fn submit(
        &self,
        request: v3::Request,
    ) -> impl std::future::Future<Output = Result<v3::Response, ConnectionError>> + Send + 'static
    {
        let (reply, answer) = oneshot::channel();
        let frame = RequestFrame {
            client_id: self.client_id,
            request: Request::V3(request),
        };
        let queued = self.queue.send((frame, reply)).is_ok();
        let shared = self.shared.clone();
        async move {
            if !queued {
                return Err(ConnectionError::Closed(shared.closing()));
            }
            match tokio::time::timeout(REQUEST_TIMEOUT, answer).await {
                Err(_) => Err(ConnectionError::Timeout(REQUEST_TIMEOUT)),
                Ok(Err(_)) => Err(ConnectionError::Closed(shared.closing())),
                Ok(Ok(Err(e))) => Err(e),
                Ok(Ok(Ok(v3::Response::Error(e)))) => Err(ConnectionError::Refused(e)),
                Ok(Ok(Ok(r))) => Ok(r),
            }
        }
    }

    /// Sends a request and waits for its answer. An error answer becomes
    /// [`ConnectionError::Refused`].
    ///
    /// # Errors
    /// Refused, closed or timed out.
    pub async fn call(&self, request: v3::Request) -> Result<v3::Response, ConnectionError> {
        self.submit(request).await
    }

    /// Every other client, page by page.
    ///
    /// # Errors
    /// See [`Connection::call`].
    pub async fn list_clients(&self) -> Result<Vec<v3::ClientEntry>, ConnectionError> {
        let mut all = Vec::new();
        let mut after = ClientId::NIL;
        loop {
            match self.call(v3::Request::ListClients { after }).await? {
                v3::Response::ClientList(page) => {
                    let more = page.more;
                    if let Some(last) = page.clients.last() {
                        after = last.id;
                    }
                    all.extend(page.clients);
                    if !more {
                        return Ok(all);
                    }
                }
                other => return Err(unexpected(&other)),
            }
        }
    }

    /// A client's key bundle and name by id.
    ///
    /// # Errors
    /// Unknown client, or see [`Connection::call`].
    pub async fn public_key(&self, id: ClientId) -> Result<v3::PeerKey, ConnectionError> {
        match self.call(v3::Request::GetPublicKey(id)).await? {
            v3::Response::PublicKey(k) => Ok(k),
            other => Err(unexpected(&other)),
        }
    }

    /// A client's id, key bundle and name by name (ignoring ASCII case).
    ///
    /// # Errors
    /// Unknown client, or see [`Connection::call`].
    pub async fn lookup(&self, name: &Name) -> Result<v3::PeerKey, ConnectionError> {
        match self.call(v3::Request::LookupName(name.clone())).await? {
            v3::Response::PublicKey(k) => Ok(k),
            other => Err(unexpected(&other)),
        }
    }

    /// Stores a message of type 1, 2 or 3; returns its id once durable.
    ///
    /// # Errors
    /// Refused (unknown recipient, quotas), or see [`Connection::call`].
    pub async fn send_message(
        &self,
        destination: ClientId,
        kind: MessageKind,
        content: Bytes,
    ) -> Result<u64, ConnectionError> {
        let request = v3::Request::SendMessage(v3::SendMessage {
            destination,
            kind,
            content,
        });
        match self.call(request).await? {
            v3::Response::MessageStored(m) => Ok(m.message_id),
            other => Err(unexpected(&other)),
        }
    }

    /// A batch of waiting messages (nothing is removed).
    ///
    /// # Errors
    /// See [`Connection::call`].
    pub async fn pull(&self, max_messages: u16) -> Result<v3::MessageBatch, ConnectionError> {
        let request = v3::Request::Pull(v3::Pull {
            max_messages,
            max_bytes: 0,
        });
        match self.call(request).await? {
            v3::Response::Messages(b) => Ok(b),
            other => Err(unexpected(&other)),
        }
    }

    /// Removes handled messages; one status per id.
    ///
    /// # Errors
    /// See [`Connection::call`].
    pub async fn ack(&self, ids: Vec<u64>) -> Result<Vec<v3::AckStatus>, ConnectionError> {
        let mut statuses = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(usize::from(self.limits.max_ack_ids).max(1)) {
            match self.call(v3::Request::Ack(chunk.to_vec())).await? {
                v3::Response::Acked(s) => statuses.extend(s),
                other => return Err(unexpected(&other)),
            }
        }
        Ok(statuses)
    }

    /// Subscribes to pushes; returns how many messages were waiting and the
    /// stream of deliveries (only the first call gets the stream).
    ///
    /// # Errors
    /// See [`Connection::call`].
    pub async fn subscribe(
        &self,
    ) -> Result<(u32, Option<mpsc::UnboundedReceiver<v3::Delivery>>), ConnectionError> {
        match self.call(v3::Request::Subscribe).await? {
            v3::Response::Subscribed { waiting } => {
                let stream = self.pushes.lock().unwrap_or_else(|e| e.into_inner()).take();
                Ok((waiting, stream))
            }
            other => Err(unexpected(&other)),
        }
    }

    /// Measures nothing; keeps the connection alive.
    ///
    /// # Errors
    /// See [`Connection::call`].
    pub async fn ping(&self) -> Result<(), ConnectionError> {
        let token = rand::random();
        match self.call(v3::Request::Ping(token)).await? {
            v3::Response::Pong(t) if t == token => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// Begins an upload.
    ///
    /// # Errors
    /// Refused (size, quotas, recipient), or see [`Connection::call`].
    pub async fn upload_begin(
        &self,
        destination: ClientId,
        file_size: u64,
        meta: Bytes,
    ) -> Result<v3::UploadStatus, ConnectionError> {
        let request = v3::Request::UploadBegin(v3::UploadBegin {
            destination,
            file_size,
            meta,
        });
        match self.call(request).await? {
            v3::Response::UploadStatus(s) => Ok(s),
            other => Err(unexpected(&other)),
        }
    }

    /// Where an unfinished upload stands.
    ///
    /// # Errors
    /// Unknown upload, or see [`Connection::call`].
    pub async fn upload_resume(&self, id: UploadId) -> Result<v3::UploadStatus, ConnectionError> {
        match self.call(v3::Request::UploadResume(id)).await? {
            v3::Response::UploadStatus(s) => Ok(s),
            other => Err(unexpected(&other)),
        }
    }

    /// Queues one chunk now; the future says `None` when it is stored and
    /// `Some(message id)` when it completed the file.
    pub fn upload_chunk(
        &self,
        upload_id: UploadId,
        offset: u64,
        data: Bytes,
    ) -> impl std::future::Future<Output = Result<Option<u64>, ConnectionError>> + Send + 'static
    {
        let answer = self.submit(v3::Request::UploadChunk(v3::UploadChunk {
            upload_id,
            offset,
            data,
        }));
        async move {
            match answer.await? {
                v3::Response::ChunkStored(_) => Ok(None),
                v3::Response::FileSent(f) => Ok(Some(f.message_id)),
                other => Err(unexpected(&other)),
            }
        }
    }

    /// Abandons an unfinished upload.
    ///
    /// # Errors
    /// Unknown upload, or see [`Connection::call`].
    pub async fn upload_cancel(&self, id: UploadId) -> Result<(), ConnectionError> {
        match self.call(v3::Request::UploadCancel(id)).await? {
            v3::Response::UploadCancelled(_) => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    /// Reads up to `max_len` bytes of a waiting file from `offset`.
    ///
    /// # Errors
    /// Unknown message, bad offset, or see [`Connection::call`].
    pub async fn download(
        &self,
        message_id: u64,
        offset: u64,
        max_len: u32,
    ) -> Result<Bytes, ConnectionError> {
        let request = v3::Request::Download(v3::Download {
            message_id,
            offset,
            max_len,
        });
        match self.call(request).await? {
            v3::Response::FileChunk(c) if c.offset == offset => Ok(c.data),
            other => Err(unexpected(&other)),
        }
    }
}

fn unexpected(response: &v3::Response) -> ConnectionError {
    ConnectionError::Unexpected(format!("{:?}", response.code()))
}

async fn write_loop(
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

async fn read_loop(
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
