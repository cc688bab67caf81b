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
//!
//! Its rooms: `connection::error` ([`ConnectionError`]), `connection::handshake`
//! (opening, the handshake's time limit, [`register`]), `connection::tasks`
//! (the writer and reader that own the socket), `connection::requests`
//! (one typed method per request kind) and `connection::presence` (141). This file authenticates and queues.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use protocol::auth::{client_proof_message, server_proof_message};
use protocol::v3::{self, ServerError, ServerLimits};
use protocol::{ClientId, ErrorReason, Request, RequestFrame};
use rand::RngCore;
use tokio::sync::{mpsc, oneshot};

mod error;
mod handshake;
mod nodes;
mod presence;
mod push;
mod queue;
mod requests;
mod room_password;
mod rooms;
mod tasks;
mod timeouts;

pub use error::ConnectionError;
pub use handshake::register;
pub use nodes::NODE_TIMEOUT;
pub use push::RoomPush;
pub use queue::{MAX_QUEUED_PUSH_BYTES, MAX_QUEUED_PUSHES, PushQueue, Pushed};
pub use timeouts::{CONNECT_TIMEOUT, HANDSHAKE_TIMEOUT, REQUEST_TIMEOUT};

use handshake::{exchange, handshake, open};
use nodes::{limits, nodes};
use tasks::{Reply, Shared, read_loop, write_loop};

/// An authenticated connection.
pub struct Connection {
    client_id: ClientId,
    /// The node reached, as listed (`host:port`).
    node: String,
    server_key: [u8; 32],
    limits: ServerLimits,
    queue: mpsc::UnboundedSender<(RequestFrame, Reply)>,
    pushes: Mutex<Option<PushQueue<v3::Delivery>>>,
    room_pushes: Mutex<Option<PushQueue<RoomPush>>>,
    /// The presence flags of this connection's last 141 (`connection::presence`).
    presence: AtomicU8,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("client_id", &self.client_id)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}
impl Connection {
    /// Connects and authenticates as `client_id`, to the first node of
    /// `addrs` (one address, or several: `connection::nodes`) that answers.
    /// `check_server_key` sees the server's (already proven) identity key
    /// before the client proves its own, and may refuse it; `sign` signs the
    /// client proof with the identity key.
    ///
    /// # Errors
    /// Unreachable server (the last node's error), failed proof either way,
    /// or a refused key.
    pub async fn connect(
        addrs: &str,
        client_id: ClientId,
        check_server_key: impl FnMut(&[u8; 32]) -> Result<(), String>,
        sign: impl FnMut(&[u8]) -> [u8; 64],
    ) -> Result<Connection, ConnectionError> {
        Self::connect_after(addrs, None, client_id, check_server_key, sign).await
    }

    /// [`Connection::connect`] after the connection to the node `lost` was
    /// lost: the nodes after it are tried first, `lost` last.
    ///
    /// # Errors
    /// As [`Connection::connect`].
    pub async fn connect_after(
        addrs: &str,
        lost: Option<&str>,
        client_id: ClientId,
        mut check_server_key: impl FnMut(&[u8; 32]) -> Result<(), String>,
        mut sign: impl FnMut(&[u8]) -> [u8; 64],
    ) -> Result<Connection, ConnectionError> {
        let nodes = nodes(addrs, lost);
        let (connect_limit, handshake_limit) = limits(nodes.len());
        let mut last = None;
        for addr in &nodes {
            match Self::connect_node(
                addr,
                (connect_limit, handshake_limit),
                client_id,
                &mut check_server_key,
                &mut sign,
            )
            .await
            {
                // Down, silent or refusing (a connection limit, a drain):
                // the next node may serve. A wrong key or proof is not a
                // node's trouble but the server's, and is said at once.
                Err(e) if e.is_disconnect() || matches!(e, ConnectionError::Refused(_)) => {
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

    async fn connect_node(
        addr: &str,
        (connect_limit, handshake_limit): (Duration, Duration),
        client_id: ClientId,
        check_server_key: &mut impl FnMut(&[u8; 32]) -> Result<(), String>,
        sign: &mut impl FnMut(&[u8]) -> [u8; 64],
    ) -> Result<Connection, ConnectionError> {
        let mut framed = open(addr, connect_limit).await?;
        let (challenge, limits) = handshake(addr, handshake_limit, async {
            let mut client_nonce = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut client_nonce);
            let challenge = match exchange(
                &mut framed,
                client_id,
                v3::Request::Hello(v3::Hello { client_nonce }),
            )
            .await
            {
                Ok(v3::Response::Challenge(c)) => c,
                Ok(other) => return Err(ConnectionError::Unexpected(format!("{other:?}"))),
                // A Sealpost server proves its key before it judges an
                // account; this one did not.
                Err(ConnectionError::Refused(e)) if e.reason == ErrorReason::UnknownClient => {
                    return Err(ConnectionError::Unproven {
                        node: addr.to_string(),
                        refusal: e.text,
                    });
                }
                Err(e) => return Err(e),
            };
            let server_key = ed25519_dalek::VerifyingKey::from_bytes(&challenge.server_key)
                .map_err(|_| ConnectionError::BadServerProof)?;
            server_key
                .verify_strict(
                    &server_proof_message(&client_id, &client_nonce, &challenge.server_nonce),
                    &ed25519_dalek::Signature::from_bytes(&challenge.signature),
                )
                .map_err(|_| ConnectionError::BadServerProof)?;
            check_server_key(&challenge.server_key).map_err(|reason| {
                ConnectionError::ServerKeyRejected {
                    node: addr.to_string(),
                    reason,
                }
            })?;
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
        let (push_tx, pushes) = queue::push_queue();
        let (room_push_tx, room_pushes) = queue::push_queue();
        tokio::spawn(write_loop(sink, requests, shared.clone()));
        tokio::spawn(read_loop(source, push_tx, room_push_tx, shared.clone()));
        Ok(Connection {
            client_id,
            node: addr.to_string(),
            server_key: challenge.server_key,
            limits,
            queue,
            pushes: Mutex::new(Some(pushes)),
            room_pushes: Mutex::new(Some(room_pushes)),
            presence: AtomicU8::new(0),
            shared,
        })
    }

    /// The authenticated client id.
    pub fn client_id(&self) -> ClientId {
        self.client_id
    }

    /// The node this connection reached, as listed (`host:port`): with
    /// several nodes, the one that answered.
    pub fn node(&self) -> &str {
        &self.node
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
}
