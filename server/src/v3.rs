//! Version-3 sessions: persistent, authenticated connections (PROTOCOL.md,
//! Version 3).
//!
//! One task per connection runs [`Session::run`]. Sends and acknowledgements
//! are *pipelined*: each is queued to the store's writer and the session reads
//! on, so that one connection's burst shares commits (the writer applies them
//! in order; answers go out in order). Every other request first waits for
//! the pipelined ones, so that, say, a pull sees the sends before it.
//! Responses are flushed only when nothing else is ready, so bursts cost few
//! system calls.
//!
//! Push: a subscribed session queues new messages from the hub and writes them
//! as 1104 frames between responses, with at most `push_window` of them
//! unacknowledged; when it falls behind (window full, or the hub marked it
//! lagged) it catches up from the database instead of buffering.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, VerifyingKey};
use futures::future::{self, BoxFuture};
use futures::stream::FuturesOrdered;
use futures::{FutureExt, SinkExt, StreamExt};
use protocol::auth::{client_proof_message, server_proof_message};
use protocol::bundle::KeyBundle;
use protocol::codec::Inbound;
use protocol::v3::{self, ServerError, ServerLimits};
use protocol::{
    ClientId, ErrorReason, MAX_ACK_IDS, MAX_CHUNK_LEN, MAX_LIST_PAGE, MAX_PULL_BYTES,
    MAX_PULL_MESSAGES, PROTOCOL_V3, Request, RequestFrame, Response, UploadId,
};
use rand::RngCore;

use crate::Shared;
use crate::blobs::BlobReader;
use crate::bundle::verify_bundle;
use crate::error::StoreError;
use crate::conn::{Conn, Next, error_for, next_item, v3_error};
use crate::hub::{HubEvent, Subscription};
use crate::names;
use crate::store::{MessageBody, NewMessage, Protocol, WaitingMessage};
use crate::uploads::{ChunkError, ChunkOutcome};

/// Requests answered out of band at once per connection (pipelined).
const MAX_PIPELINE: usize = 1024;
/// Failed authentications after which the connection is closed.
const MAX_AUTH_FAILURES: u32 = 3;
/// Silence after which a connection frees its read and write buffers.
const SHRINK_AFTER: Duration = Duration::from_secs(1);

pub(crate) async fn serve(conn: Conn, peer: SocketAddr, shared: Arc<Shared>, first: Inbound) {
    let mut session = Session {
        conn,
        peer,
        shared,
        auth: Auth::Fresh,
        auth_failures: 0,
        pending: FuturesOrdered::new(),
        dirty: false,
        closing: false,
        push: None,
        rate: None,
        touched_uploads: HashSet::new(),
        download: None,
        requests: 0,
    };
    session.rate = RateLimiter::new(session.shared.config.requests_per_second);
    session.run(first).await;
}

enum Auth {
    Fresh,
    Challenged {
        client_id: ClientId,
        client_nonce: [u8; 32],
        server_nonce: [u8; 32],
    },
    Authenticated(ClientId),
}

/// Push state of a subscribed session.
struct Push {
    subscription: Subscription,
    /// Messages to write, oldest first.
    queue: VecDeque<Arc<WaitingMessage>>,
    /// Written and not yet acknowledged (by anyone).
    in_flight: HashSet<u64>,
    /// Highest id queued or written.
    pushed_up_to: u64,
    /// Whether the database may hold messages after `pushed_up_to` that are
    /// not queued.
    backlog: bool,
}

struct RateLimiter {
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    fn new(per_second: u32) -> Option<Self> {
        (per_second > 0).then(|| Self {
            per_second: f64::from(per_second),
            tokens: f64::from(per_second),
            last: Instant::now(),
        })
    }

    /// Takes a token if one is there; a second's worth may accumulate.
    fn allow(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + refill).min(self.per_second);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

enum Event {
    Frame(Next),
    Reply(v3::Response),
    Hub(HubEvent),
    Shutdown,
}

struct Session {
    conn: Conn,
    peer: SocketAddr,
    shared: Arc<Shared>,
    auth: Auth,
    auth_failures: u32,
    pending: FuturesOrdered<BoxFuture<'static, v3::Response>>,
    /// Frames were written since the last flush.
    dirty: bool,
    /// The session ends after the current event.
    closing: bool,
    push: Option<Push>,
    rate: Option<RateLimiter>,
    touched_uploads: HashSet<UploadId>,
    download: Option<(u64, BlobReader)>,
    requests: u64,
}

fn error(reason: ErrorReason, text: impl Into<String>) -> v3::Response {
    v3::Response::Error(ServerError::new(reason, text))
}

fn store_error(e: &StoreError) -> v3::Response {
    e.log();
    error(e.reason(), e.public_text())
}

impl Session {
    async fn run(&mut self, first: Inbound) {
        self.handle_item(first).await;
        while !self.closing {
            let event = self.next_event().await;
            match event {
                Event::Frame(Next::Item(item)) => self.handle_item(item).await,
                Event::Frame(Next::Closed) => break,
                Event::Frame(Next::TimedOut { mid_frame }) => {
                    let text = if mid_frame {
                        format!("a frame stalled for {:?}", self.shared.config.stall_timeout)
                    } else {
                        format!("idle for {} s", self.shared.config.idle_timeout.as_secs())
                    };
                    tracing::info!(peer = %self.peer, %text, "closing connection");
                    self.say_goodbye(ErrorReason::IdleTimeout, text).await;
                }
                Event::Frame(Next::Broken(e)) => {
                    tracing::info!(peer = %self.peer, error = %e, "malformed frame; closing");
                    let response = error_for(&e);
                    self.write(response).await;
                    self.closing = true;
                }
                Event::Reply(response) => self.write(Response::V3(response)).await,
                Event::Hub(event) => self.on_hub(event),
                Event::Shutdown => {
                    self.finish_request_in_progress().await;
                    self.drain().await;
                    self.say_goodbye(ErrorReason::ShuttingDown, "the server is shutting down")
                        .await;
                }
            }
            if !self.closing {
                self.pump_pushes().await;
            }
        }
        self.finish().await;
    }

    /// The next thing to do. Whatever is ready now comes first; only when
    /// nothing is ready are written frames flushed and the session waits.
    async fn next_event(&mut self) -> Event {
        if let Some(event) = self.ready_event() {
            return event;
        }
        if self.dirty {
            self.flush().await;
            if self.closing {
                return Event::Frame(Next::Closed);
            }
        }
        let config = &self.shared.config;
        let (idle, stall) = (config.idle_timeout, config.stall_timeout);
        let shutdown = self.shared.shutdown.clone();
        let mut shrink_armed = true;
        loop {
            let room = self.pending.len() < MAX_PIPELINE;
            tokio::select! {
                Some(reply) = self.pending.next(), if !self.pending.is_empty() => return Event::Reply(reply),
                Some(event) = async {
                    match self.push.as_mut() {
                        Some(p) => p.subscription.events.recv().await,
                        None => future::pending().await,
                    }
                } => return Event::Hub(event),
                next = next_item(&mut self.conn, idle, stall), if room => return Event::Frame(next),
                () = shutdown.cancelled() => return Event::Shutdown,
                () = tokio::time::sleep(SHRINK_AFTER), if shrink_armed => {
                    // A quiet connection gives its buffers back: idle
                    // connections then cost a few KiB each.
                    shrink_armed = false;
                    if self.conn.read_buffer().is_empty() {
                        *self.conn.read_buffer_mut() = bytes::BytesMut::new();
                    }
                    if self.conn.write_buffer().is_empty() {
                        *self.conn.write_buffer_mut() = bytes::BytesMut::new();
                    }
                }
            }
        }
    }

    fn ready_event(&mut self) -> Option<Event> {
        if !self.pending.is_empty() {
            if let Some(Some(reply)) = self.pending.next().now_or_never() {
                return Some(Event::Reply(reply));
            }
        }
        if let Some(push) = self.push.as_mut() {
            if let Ok(event) = push.subscription.events.try_recv() {
                return Some(Event::Hub(event));
            }
        }
        if self.pending.len() < MAX_PIPELINE {
            if let Some(next) = self.conn.next().now_or_never() {
                return Some(Event::Frame(match next {
                    None => Next::Closed,
                    Some(Ok(item)) => Next::Item(item),
                    Some(Err(e)) => Next::Broken(e),
                }));
            }
        }
        None
    }

    async fn write(&mut self, response: Response) {
        let stall = self.shared.config.stall_timeout;
        match tokio::time::timeout(stall, self.conn.feed(response.into())).await {
            Ok(Ok(())) => self.dirty = true,
            Ok(Err(e)) => {
                tracing::debug!(peer = %self.peer, error = %e, "write failed");
                self.closing = true;
            }
            Err(_) => {
                tracing::info!(peer = %self.peer, "peer stopped reading; closing");
                self.closing = true;
            }
        }
    }

    async fn flush(&mut self) {
        let stall = self.shared.config.stall_timeout;
        match tokio::time::timeout(stall, self.conn.flush()).await {
            Ok(Ok(())) => self.dirty = false,
            Ok(Err(_)) | Err(_) => self.closing = true,
        }
    }

    /// On shutdown, handles the requests that have arrived, whole or in
    /// part: a frame whose first bytes are here is read to its end (while
    /// its bytes keep coming, within the grace period) and answered.
    /// Nothing that starts after that is read.
    async fn finish_request_in_progress(&mut self) {
        let stall = self.shared.config.stall_timeout;
        for _ in 0..MAX_PIPELINE {
            let next = match self.conn.next().now_or_never() {
                Some(None) => return,
                Some(Some(Ok(item))) => Next::Item(item),
                Some(Some(Err(e))) => Next::Broken(e),
                None => {
                    let mid_frame =
                        !self.conn.read_buffer().is_empty() || !self.conn.codec().is_idle();
                    if !mid_frame {
                        return;
                    }
                    next_item(&mut self.conn, stall, stall).await
                }
            };
            match next {
                Next::Item(item) => self.handle_item(item).await,
                Next::Broken(e) => {
                    self.write(error_for(&e)).await;
                    self.closing = true;
                }
                Next::Closed | Next::TimedOut { .. } => return,
            }
            if self.closing {
                return;
            }
        }
    }

    /// Writes every pipelined answer still owed.
    async fn drain(&mut self) {
        while let Some(reply) = self.pending.next().await {
            self.write(Response::V3(reply)).await;
        }
    }

    async fn say_goodbye(&mut self, reason: ErrorReason, text: impl Into<String>) {
        self.write(Response::V3(v3::Response::Closing(ServerError::new(
            reason, text,
        ))))
        .await;
        self.closing = true;
    }

    /// Answers in order: behind any pipelined answers still owed.
    async fn respond(&mut self, response: v3::Response) {
        if self.pending.is_empty() {
            self.write(Response::V3(response)).await;
        } else {
            self.pending.push_back(future::ready(response).boxed());
        }
    }

    async fn finish(&mut self) {
        let touched: Vec<UploadId> = self.touched_uploads.drain().collect();
        self.shared.uploads.sync_all(touched).await;
        if self.dirty {
            self.flush().await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), self.conn.close()).await;
        let who = match &self.auth {
            Auth::Authenticated(id) => id.to_string(),
            _ => "unauthenticated".into(),
        };
        tracing::info!(peer = %self.peer, client = %who, requests = self.requests, "connection closed");
    }

    async fn handle_item(&mut self, item: Inbound) {
        match item {
            Inbound::Request(RequestFrame {
                client_id,
                request: Request::V3(request),
            }) => self.handle_request(client_id, request).await,
            Inbound::Invalid { header, error } => {
                self.requests += 1;
                if header.version != PROTOCOL_V3 {
                    return self.version_switch().await;
                }
                tracing::info!(peer = %self.peer, code = header.code, %error, "malformed request");
                self.respond(v3::Response::Error(ServerError::new(
                    error.reason(),
                    error.to_string(),
                )))
                .await;
            }
            Inbound::Request(_) | Inbound::SendStart { .. } | Inbound::SendChunk { .. } => {
                self.version_switch().await;
            }
        }
    }

    async fn version_switch(&mut self) {
        tracing::info!(peer = %self.peer, "version switch on a version-3 connection; closing");
        self.drain().await;
        self.write(v3_error(
            ErrorReason::VersionSwitch,
            "this connection speaks version 3; open a new one for version 2",
        ))
        .await;
        self.closing = true;
    }

    async fn handle_request(&mut self, header_id: ClientId, request: v3::Request) {
        self.requests += 1;
        let code = request.code().value();
        if let Some(rate) = self.rate.as_mut() {
            if !rate.allow() {
                let limit = self.shared.config.requests_per_second;
                return self
                    .respond(error(
                        ErrorReason::RateLimited,
                        format!("more than {limit} requests per second on this connection"),
                    ))
                    .await;
            }
        }
        // Requests allowed in every state.
        let me = match (&self.auth, &request) {
            (_, v3::Request::Ping(token)) => {
                return self.respond(v3::Response::Pong(*token)).await;
            }
            (_, v3::Request::Register(_)) => None,
            (&Auth::Authenticated(me), _) => {
                if me != header_id {
                    tracing::warn!(peer = %self.peer, authenticated = %me, header = %header_id, "client id mismatch; closing");
                    self.drain().await;
                    self.write(v3_error(
                        ErrorReason::ClientIdMismatch,
                        format!("this connection is authenticated as {me}, not {header_id}"),
                    ))
                    .await;
                    self.closing = true;
                    return;
                }
                Some(me)
            }
            (_, v3::Request::Hello(_) | v3::Request::Authenticate(_)) => None,
            _ => {
                return self
                    .respond(error(
                        ErrorReason::NotAuthenticated,
                        "authenticate first (hello, then authenticate)",
                    ))
                    .await;
            }
        };
        // Sends and acknowledgements are pipelined; everything else waits for
        // them so that it observes their effects.
        match (me, request) {
            (Some(me), v3::Request::SendMessage(m)) => self.send_message(me, m),
            (Some(me), v3::Request::Ack(ids)) => self.ack(me, ids),
            (me, request) => {
                self.drain().await;
                let response = self.answer(me, header_id, request).await;
                if let v3::Response::Error(e) = &response {
                    tracing::info!(peer = %self.peer, code, reason = %e.reason, text = %e.text, "request refused");
                }
                self.write(Response::V3(response)).await;
            }
        }
    }

    fn send_message(&mut self, me: ClientId, m: v3::SendMessage) {
        let max = self.shared.config.max_message_len as usize;
        let future: BoxFuture<'static, v3::Response> = if m.content.len() > max {
            future::ready(error(
                ErrorReason::MessageTooLarge,
                format!(
                    "message content is {} bytes; this server takes at most {max}",
                    m.content.len()
                ),
            ))
            .boxed()
        } else if !self
            .shared
            .store
            .directory()
            .contains(Protocol::V3, &m.destination)
        {
            future::ready(error(
                ErrorReason::UnknownClient,
                format!("no client {}", m.destination),
            ))
            .boxed()
        } else {
            let destination = m.destination;
            let message = NewMessage {
                recipient: destination,
                sender: me,
                kind: m.kind,
                body: MessageBody::Inline(m.content),
            };
            match self.shared.store.insert_later(message) {
                Ok(rx) => async move {
                    match rx.await {
                        Ok(Ok(stored)) => v3::Response::MessageStored(v3::MessageStored {
                            destination,
                            message_id: stored.id,
                        }),
                        Ok(Err(e)) => store_error(&e),
                        Err(_) => store_error(&StoreError::Closed),
                    }
                }
                .boxed(),
                Err(e) => future::ready(store_error(&e)).boxed(),
            }
        };
        self.pending.push_back(future);
    }

    fn ack(&mut self, me: ClientId, ids: Vec<u64>) {
        let blobs = self.shared.blobs.clone();
        let future: BoxFuture<'static, v3::Response> = match self.shared.store.delete_later(me, ids)
        {
            Ok(rx) => async move {
                match rx.await {
                    Ok(Ok(removed)) => {
                        let files: Vec<String> = removed
                            .iter()
                            .flatten()
                            .filter_map(|r| r.blob.clone())
                            .collect();
                        if !files.is_empty() {
                            tokio::spawn(async move { blobs.delete(files).await });
                        }
                        v3::Response::Acked(
                            removed
                                .iter()
                                .map(|r| {
                                    if r.is_some() {
                                        v3::AckStatus::Removed
                                    } else {
                                        v3::AckStatus::NotWaiting
                                    }
                                })
                                .collect(),
                        )
                    }
                    Ok(Err(e)) => store_error(&e),
                    Err(_) => store_error(&StoreError::Closed),
                }
            }
            .boxed(),
            Err(e) => future::ready(store_error(&e)).boxed(),
        };
        self.pending.push_back(future);
    }

    /// Answers a request that is not pipelined. `me` is the authenticated
    /// client, if any.
    async fn answer(
        &mut self,
        me: Option<ClientId>,
        header_id: ClientId,
        request: v3::Request,
    ) -> v3::Response {
        let shared = self.shared.clone();
        let store = &shared.store;
        let directory = store.directory();
        match (me, request) {
            (_, v3::Request::Register(r)) => {
                if let Err(why) = verify_bundle(&r.public_key) {
                    return error(ErrorReason::BadKeyBundle, why);
                }
                let checked = match names::check(&r.name) {
                    Ok(c) => c,
                    Err(why) => return error(ErrorReason::BadName, why.to_string()),
                };
                match store
                    .register(
                        checked.name,
                        r.public_key,
                        Protocol::V3,
                        Some(checked.skeleton),
                    )
                    .await
                {
                    Ok(record) => {
                        tracing::info!(peer = %self.peer, client = %record.id, "registered");
                        v3::Response::Registered(record.id)
                    }
                    Err(StoreError::NameTaken) => error(
                        ErrorReason::NameTaken,
                        "that name is taken (names ignore ASCII case)",
                    ),
                    Err(e) => store_error(&e),
                }
            }
            (Some(_), v3::Request::Hello(_) | v3::Request::Authenticate(_)) => error(
                ErrorReason::AlreadyAuthenticated,
                "this connection is already authenticated",
            ),
            (None, v3::Request::Hello(hello)) => self.hello(header_id, hello.client_nonce),
            (None, v3::Request::Authenticate(signature)) => {
                self.authenticate(header_id, &signature)
            }
            (Some(me), v3::Request::ListClients { after }) => {
                let (page, more) = directory.page(Protocol::V3, &me, &after, MAX_LIST_PAGE);
                v3::Response::ClientList(v3::ClientPage {
                    more,
                    clients: page
                        .iter()
                        .map(|r| v3::ClientEntry {
                            id: r.id,
                            name: r.name.clone(),
                        })
                        .collect(),
                })
            }
            (Some(_), v3::Request::GetPublicKey(id)) => match directory.get(Protocol::V3, &id) {
                Some(r) => v3::Response::PublicKey(v3::PeerKey {
                    client_id: r.id,
                    public_key: r.public_key,
                    name: r.name.clone(),
                }),
                None => error(ErrorReason::UnknownClient, format!("no client {id}")),
            },
            (Some(_), v3::Request::LookupName(name)) => {
                match directory.find_name(Protocol::V3, &names::normalise(name.as_str())) {
                    Some(r) => v3::Response::PublicKey(v3::PeerKey {
                        client_id: r.id,
                        public_key: r.public_key,
                        name: r.name.clone(),
                    }),
                    None => error(ErrorReason::UnknownClient, "no client has that name"),
                }
            }
            (Some(me), v3::Request::Pull(p)) => {
                let count = match p.max_messages {
                    0 => MAX_PULL_MESSAGES,
                    n => n.min(MAX_PULL_MESSAGES),
                };
                let bytes = match p.max_bytes {
                    0 => MAX_PULL_BYTES,
                    n => n.min(MAX_PULL_BYTES),
                };
                match store.waiting(me, 0, count.into(), bytes as usize).await {
                    Ok((messages, more)) => v3::Response::Messages(v3::MessageBatch {
                        more,
                        messages: messages.iter().map(WaitingMessage::to_delivery).collect(),
                    }),
                    Err(e) => store_error(&e),
                }
            }
            (Some(me), v3::Request::Subscribe) => self.subscribe(me).await,
            (Some(me), v3::Request::UploadBegin(u)) => self.upload_begin(me, u).await,
            (Some(me), v3::Request::UploadResume(id)) => {
                self.touched_uploads.insert(id);
                match shared.uploads.resume(&id, me).await {
                    Ok(record) => v3::Response::UploadStatus(v3::UploadStatus {
                        upload_id: id,
                        destination: record.destination,
                        file_size: record.file_size,
                        offset: record.durable_offset,
                    }),
                    Err(e) => store_error(&e),
                }
            }
            (Some(me), v3::Request::UploadChunk(c)) => self.upload_chunk(me, c).await,
            (Some(me), v3::Request::UploadCancel(id)) => match shared.uploads.cancel(&id, me).await {
                Ok(()) => v3::Response::UploadCancelled(id),
                Err(e) => store_error(&e),
            },
            (Some(me), v3::Request::Download(d)) => self.download(me, d).await,
            (_, request) => {
                // Every authenticated request is matched above; this is a
                // request needing authentication that slipped through.
                tracing::error!(code = request.code().value(), "request reached no handler");
                error(ErrorReason::NotAuthenticated, "authenticate first")
            }
        }
    }

    fn hello(&mut self, client_id: ClientId, client_nonce: [u8; 32]) -> v3::Response {
        if !self
            .shared
            .store
            .directory()
            .contains(Protocol::V3, &client_id)
        {
            return error(
                ErrorReason::UnknownClient,
                format!("no client {client_id} is registered"),
            );
        }
        let mut server_nonce = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut server_nonce);
        let signature = self.shared.identity.sign(&server_proof_message(
            &client_id,
            &client_nonce,
            &server_nonce,
        ));
        self.auth = Auth::Challenged {
            client_id,
            client_nonce,
            server_nonce,
        };
        v3::Response::Challenge(v3::Challenge {
            server_key: self.shared.identity.public_key(),
            server_nonce,
            signature,
        })
    }

    fn authenticate(&mut self, header_id: ClientId, signature: &[u8; 64]) -> v3::Response {
        // The challenge is spent by this attempt, right or wrong.
        let Auth::Challenged {
            client_id,
            client_nonce,
            server_nonce,
        } = std::mem::replace(&mut self.auth, Auth::Fresh)
        else {
            return error(
                ErrorReason::NoChallenge,
                "say hello first; each challenge answers once",
            );
        };
        let verified = header_id == client_id
            && self
                .shared
                .store
                .directory()
                .get(Protocol::V3, &client_id)
                .is_some_and(|record| {
                    let bundle = KeyBundle::from_public_key(&record.public_key);
                    let message = client_proof_message(
                        &self.shared.identity.public_key(),
                        &client_id,
                        &client_nonce,
                        &server_nonce,
                    );
                    VerifyingKey::from_bytes(&bundle.identity_key).is_ok_and(|key| {
                        key.verify_strict(&message, &Signature::from_bytes(signature))
                            .is_ok()
                    })
                });
        if !verified {
            self.auth_failures += 1;
            tracing::warn!(peer = %self.peer, client = %client_id, failures = self.auth_failures, "authentication failed");
            if self.auth_failures >= MAX_AUTH_FAILURES {
                self.closing = true;
            }
            return error(
                ErrorReason::AuthFailed,
                "the answer to the challenge does not verify with this client's identity key",
            );
        }
        self.auth = Auth::Authenticated(client_id);
        self.shared.store.touch(client_id);
        tracing::info!(peer = %self.peer, client = %client_id, "authenticated");
        let config = &self.shared.config;
        v3::Response::Authenticated(ServerLimits {
            max_message_len: config.max_message_len,
            max_chunk_len: MAX_CHUNK_LEN as u32,
            max_file_size: config.max_file_size,
            max_pull_messages: MAX_PULL_MESSAGES,
            max_ack_ids: MAX_ACK_IDS as u16,
            max_pull_bytes: MAX_PULL_BYTES,
            requests_per_second: config.requests_per_second,
            idle_timeout_secs: config.idle_timeout.as_secs().try_into().unwrap_or(u32::MAX),
        })
    }

    async fn subscribe(&mut self, me: ClientId) -> v3::Response {
        // Subscribe to the hub before counting, so that nothing committed in
        // between is missed (duplicates are filtered by id).
        if self.push.is_none() {
            self.push = Some(Push {
                subscription: self.shared.hub.subscribe(me),
                queue: VecDeque::new(),
                in_flight: HashSet::new(),
                pushed_up_to: 0,
                backlog: true,
            });
        }
        match self.shared.store.count_waiting(me).await {
            Ok(n) => v3::Response::Subscribed {
                waiting: n.try_into().unwrap_or(u32::MAX),
            },
            Err(e) => store_error(&e),
        }
    }

    fn on_hub(&mut self, event: HubEvent) {
        let window = self.shared.config.push_window;
        let Some(push) = self.push.as_mut() else {
            return;
        };
        match event {
            HubEvent::Message(m) => {
                if m.id <= push.pushed_up_to {
                    return;
                }
                if push.backlog || push.queue.len() + push.in_flight.len() >= window {
                    push.backlog = true;
                    return;
                }
                push.pushed_up_to = m.id;
                push.queue.push_back(m);
            }
            HubEvent::Removed(ids) => {
                for id in ids.iter() {
                    push.in_flight.remove(id);
                }
                if !push.queue.is_empty() {
                    push.queue.retain(|m| !ids.contains(&m.id));
                }
            }
        }
    }

    /// Writes queued pushes while the window allows, refilling from the
    /// database when the session has fallen behind.
    async fn pump_pushes(&mut self) {
        let window = self.shared.config.push_window;
        let Auth::Authenticated(me) = self.auth else {
            return;
        };
        loop {
            let Some(push) = self.push.as_mut() else {
                return;
            };
            if push.subscription.take_lagged() {
                push.backlog = true;
            }
            let room = window.saturating_sub(push.in_flight.len() + push.queue.len());
            if push.queue.is_empty() && push.backlog && room > 0 {
                let after = push.pushed_up_to;
                match self
                    .shared
                    .store
                    .waiting(me, after, room, MAX_PULL_BYTES as usize)
                    .await
                {
                    Ok((messages, more)) => {
                        let Some(push) = self.push.as_mut() else {
                            return;
                        };
                        for m in messages {
                            push.pushed_up_to = push.pushed_up_to.max(m.id);
                            push.queue.push_back(Arc::new(m));
                        }
                        push.backlog = more;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "could not load messages to push");
                        return;
                    }
                }
            }
            let Some(push) = self.push.as_mut() else {
                return;
            };
            if push.in_flight.len() >= window {
                return;
            }
            let Some(message) = push.queue.pop_front() else {
                return;
            };
            push.in_flight.insert(message.id);
            let delivery = message.to_delivery();
            self.write(Response::V3(v3::Response::Delivery(delivery)))
                .await;
            if self.closing {
                return;
            }
        }
    }

    async fn upload_begin(&mut self, me: ClientId, u: v3::UploadBegin) -> v3::Response {
        let max = self.shared.config.max_file_size;
        if u.file_size > max {
            return error(
                ErrorReason::FileTooLarge,
                format!(
                    "the file is {} bytes; this server takes at most {max}",
                    u.file_size
                ),
            );
        }
        if !self
            .shared
            .store
            .directory()
            .contains(Protocol::V3, &u.destination)
        {
            return error(
                ErrorReason::UnknownClient,
                format!("no client {}", u.destination),
            );
        }
        let record = match self
            .shared
            .uploads
            .begin(me, u.destination, u.file_size, u.meta)
            .await
        {
            Ok(r) => r,
            Err(e) => return store_error(&e),
        };
        let status = v3::UploadStatus {
            upload_id: record.id,
            destination: record.destination,
            file_size: record.file_size,
            offset: 0,
        };
        self.touched_uploads.insert(status.upload_id);
        v3::Response::UploadStatus(status)
    }

    async fn upload_chunk(&mut self, me: ClientId, c: v3::UploadChunk) -> v3::Response {
        self.touched_uploads.insert(c.upload_id);
        let shared = self.shared.clone();
        let outcome = shared
            .uploads
            .chunk(&c.upload_id, me, c.offset, c.data)
            .await;
        match outcome {
            Ok(ChunkOutcome::Stored(next_offset)) => v3::Response::ChunkStored(v3::ChunkStored {
                upload_id: c.upload_id,
                next_offset,
            }),
            Ok(ChunkOutcome::Completed(record, stored)) => {
                self.touched_uploads.remove(&c.upload_id);
                tracing::info!(peer = %self.peer, id = stored.id, bytes = record.file_size, "file received");
                v3::Response::FileSent(v3::FileSent {
                    upload_id: c.upload_id,
                    destination: record.destination,
                    message_id: stored.id,
                })
            }
            Err(ChunkError::BadOffset { expected }) => error(
                ErrorReason::BadOffset,
                format!("the upload stands at offset {expected}, not {}", c.offset),
            ),
            Err(ChunkError::PastEnd { file_size }) => error(
                ErrorReason::BadOffset,
                format!("the chunk goes past the file size of {file_size} bytes"),
            ),
            Err(ChunkError::Store(e)) => store_error(&e),
        }
    }

    async fn download(&mut self, me: ClientId, d: v3::Download) -> v3::Response {
        let message = match self.shared.store.waiting_message(me, d.message_id).await {
            Ok(Some(m)) => m,
            Ok(None) => {
                return error(
                    ErrorReason::UnknownMessage,
                    format!("message {} is not waiting for you", d.message_id),
                );
            }
            Err(e) => return store_error(&e),
        };
        let MessageBody::File { blob, size, .. } = &message.body else {
            return error(
                ErrorReason::BadMessageType,
                format!("message {} is not a file", d.message_id),
            );
        };
        if d.offset > *size {
            return error(
                ErrorReason::BadOffset,
                format!(
                    "offset {} is past the end of the {size}-byte file",
                    d.offset
                ),
            );
        }
        let len = (*size - d.offset).min(u64::from(d.max_len)) as usize;
        let reader = match self.download.take() {
            Some((id, reader)) if id == d.message_id => Ok(reader),
            _ => self.shared.blobs.open_blob(blob).await,
        };
        let mut reader = match reader {
            Ok(r) => r,
            Err(e) => return store_error(&e),
        };
        match reader.read_at(d.offset, len).await {
            Ok(data) if data.len() == len => {
                self.download = Some((d.message_id, reader));
                v3::Response::FileChunk(v3::FileChunk {
                    message_id: d.message_id,
                    offset: d.offset,
                    data,
                })
            }
            Ok(_) => store_error(&StoreError::Corrupt(format!(
                "file of message {} is shorter than stored",
                d.message_id
            ))),
            Err(e) => store_error(&e),
        }
    }
}
