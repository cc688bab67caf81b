//! A version-3 session: one task per connection runs [`Session::run`], which
//! reads requests, dispatches them to the operations (`v3::ops`, plus
//! hello, authenticate and subscribe, which change this connection's state)
//! and writes the answers and pushed deliveries.
//!
//! Sends and acknowledgements are *pipelined*: each is queued to the store's
//! writer and the session reads on, so that one connection's burst shares
//! commits (the writer applies them in order; answers go out in order). Every
//! other request first waits for the pipelined ones, so that, say, a pull
//! sees the sends before it. Responses are flushed only when nothing else is
//! ready, so bursts cost few system calls.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::future;
use futures::stream::FuturesOrdered;
use futures::{FutureExt, SinkExt, StreamExt};
use protocol::codec::Inbound;
use protocol::v3::{self, ServerError};
use protocol::{ClientId, ErrorReason, PROTOCOL_V3, Request, RequestFrame, Response, UploadId};

use crate::conn::{Conn, Next, error_for, next_item, timeout_text, to_next, v3_error, within};
use crate::hub::HubEvent;
use crate::shared::Shared;
use crate::v3::auth::Auth;
use crate::v3::ops::download::{self, OpenFile};
use crate::v3::ops::room_password::{self, RoomLogins};
use crate::v3::ops::{
    account, directory, key_packages, pull, register, room_files, rooms, send, upload,
};
use crate::v3::presence::ConnPresence;
use crate::v3::push::{self, Push};
use crate::v3::rate::RateLimiter;
use crate::v3::reply::{Pipelined, error};
use crate::v3::watchdog::Watchdog;

/// Requests answered out of band at once per connection (pipelined).
const MAX_PIPELINE: usize = 1024;

enum Event {
    Frame(Next),
    Reply(v3::Response),
    Hub(HubEvent),
    Presence(v3::PresenceChanges),
    Shutdown,
    /// The operator removed this session's account.
    Removed,
}

/// One version-3 connection and what it holds.
pub(crate) struct Session {
    conn: Conn,
    peer: SocketAddr,
    shared: Arc<Shared>,
    auth: Auth,
    pending: FuturesOrdered<Pipelined>,
    /// Frames were written since the last flush.
    dirty: bool,
    /// The session ends after the current event.
    closing: bool,
    /// Idle and stall timeouts, and giving back a quiet one's buffers.
    watchdog: Watchdog,
    push: Option<Push>,
    /// Pulled with bit 15 set: type 7 may be pulled and pushed here.
    reads_not_delivered: bool,
    /// Shown as online or not, watching presence or not (141).
    presence: ConnPresence,
    rate: Option<RateLimiter>,
    /// Uploads this connection wrote to or resumed: synced when it closes.
    touched_uploads: HashSet<UploadId>,
    /// The file this connection downloaded from last.
    download: Option<OpenFile>,
    /// Room passwords: a login under way, the room last proven.
    logins: RoomLogins,
    requests: u64,
    /// Set once authenticated: listed for the operator, and closed if the
    /// account is removed.
    online: Option<crate::sessions::Online>,
}

impl Session {
    /// A fresh, unauthenticated session over `conn`.
    pub(crate) fn new(conn: Conn, peer: SocketAddr, shared: Arc<Shared>) -> Self {
        let rate = RateLimiter::new(shared.config.requests_per_second);
        let watchdog = Watchdog::new(shared.config.idle_timeout, shared.config.stall_timeout);
        Session {
            conn,
            peer,
            shared,
            auth: Auth::new(),
            pending: FuturesOrdered::new(),
            dirty: false,
            closing: false,
            watchdog,
            push: None,
            reads_not_delivered: false,
            presence: ConnPresence::default(),
            rate,
            touched_uploads: HashSet::new(),
            download: None,
            logins: RoomLogins::default(),
            requests: 0,
            online: None,
        }
    }

    /// Serves the connection, starting with its first frame, until it
    /// closes.
    pub(crate) async fn run(&mut self, first: Inbound) {
        self.handle_item(first).await;
        while !self.closing {
            let event = self.next_event().await;
            match event {
                Event::Frame(Next::Item(item)) => self.handle_item(item).await,
                Event::Frame(Next::Closed) => break,
                Event::Frame(Next::TimedOut { mid_frame }) => {
                    let config = &self.shared.config;
                    let text = timeout_text(mid_frame, config.idle_timeout, config.stall_timeout);
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
                Event::Presence(changes) => {
                    let push = v3::Response::PresenceChanges(changes);
                    self.write(Response::V3(push)).await;
                }
                Event::Removed => {
                    tracing::info!(peer = %self.peer, "account removed; closing");
                    self.drain().await;
                    self.say_goodbye(
                        ErrorReason::UnknownClient,
                        "this account was deleted (by its owner, or by the server's operator)",
                    )
                    .await;
                }
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
        self.watchdog.saw_event();
        if let Some(event) = self.ready_event() {
            return event;
        }
        if self.dirty {
            self.flush().await;
            if self.closing {
                return Event::Frame(Next::Closed);
            }
        }
        // Borrowed, not cloned: a token's clone and drop each take its lock.
        let shutdown = &self.shared.shutdown;
        let removed = self.online.as_ref().map(|o| &o.removed);
        loop {
            let room = self.pending.len() < MAX_PIPELINE;
            tokio::select! {
                Some(reply) = self.pending.next(), if !self.pending.is_empty() => return Event::Reply(reply),
                Some(event) = async {
                    match self.push.as_mut() {
                        Some(p) => p.next_event().await,
                        None => future::pending().await,
                    }
                } => return Event::Hub(event),
                changes = self.presence.next() => return Event::Presence(changes),
                next = self.conn.next(), if room => return Event::Frame(to_next(next)),
                () = shutdown.cancelled() => return Event::Shutdown,
                () = async {
                    match removed {
                        Some(token) => token.cancelled().await,
                        None => future::pending().await,
                    }
                } => return Event::Removed,
                () = self.watchdog.fired() => {}
            }
            // Only the watchdog's branch gets here.
            if let Some(timeout) = self.watchdog.check(&mut self.conn) {
                return Event::Frame(timeout);
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
            if let Some(event) = push.ready_event() {
                return Some(Event::Hub(event));
            }
        }
        if self.pending.len() < MAX_PIPELINE {
            if let Some(next) = self.conn.next().now_or_never() {
                return Some(Event::Frame(to_next(next)));
            }
        }
        None
    }

    async fn write(&mut self, response: Response) {
        let stall = self.shared.config.stall_timeout;
        // Ready first, then the frame: the timed future stays small, and the
        // frame is moved once, into the buffer.
        let ready = within(stall, future::poll_fn(|cx| self.conn.poll_ready_unpin(cx))).await;
        match ready.map(|r| r.and_then(|()| self.conn.start_send_unpin(response.into()))) {
            Some(Ok(())) => self.dirty = true,
            Some(Err(e)) => {
                tracing::debug!(peer = %self.peer, error = %e, "write failed");
                self.closing = true;
            }
            None => {
                tracing::info!(peer = %self.peer, "peer stopped reading; closing");
                self.closing = true;
            }
        }
    }

    async fn flush(&mut self) {
        let stall = self.shared.config.stall_timeout;
        match within(stall, self.conn.flush()).await {
            Some(Ok(())) => {
                self.dirty = false;
                if let Some(push) = self.push.as_mut() {
                    push.flushed();
                }
            }
            Some(Err(_)) | None => self.closing = true,
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
                Some(item) => to_next(item),
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
        let who = match self.auth.client() {
            Some(id) => id.to_string(),
            None => "unauthenticated".into(),
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
        let me = match (self.auth.client(), &request) {
            (_, v3::Request::Ping(token)) => {
                return self.respond(v3::Response::Pong(*token)).await;
            }
            (_, v3::Request::Register(_)) => None,
            (Some(me), _) => {
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
        // A cluster node reads what its directory misses; boxed, so that a
        // single node's frames never carry the read's future.
        if self.shared.store.is_shared() {
            Box::pin(directory::read_through(&self.shared, header_id, &request)).await;
        }
        // Sends and acknowledgements are pipelined; everything else waits for
        // them so that it observes their effects.
        match (me, request) {
            (Some(me), v3::Request::SendMessage(m)) => {
                self.pending
                    .push_back(send::send_message(&self.shared, me, m));
            }
            (Some(me), v3::Request::Ack(ids)) => {
                if let Some(push) = self.push.as_mut() {
                    push.acknowledged(&ids);
                }
                self.pending.push_back(pull::ack(&self.shared, me, ids));
            }
            (me, request) => {
                self.drain().await;
                // Boxed: its future holds the largest operation's, several
                // KiB that every frame's future would otherwise carry and
                // copy, sends and acknowledgements included.
                let response = Box::pin(self.answer(me, header_id, request)).await;
                if let v3::Response::Error(e) = &response {
                    tracing::info!(peer = %self.peer, code, reason = %e.reason, text = %e.text, "request refused");
                }
                self.write(Response::V3(response)).await;
            }
        }
    }

    /// Answers a request that is not pipelined: the dispatch to the
    /// operations. `me` is the authenticated client, if any.
    async fn answer(
        &mut self,
        me: Option<ClientId>,
        header_id: ClientId,
        request: v3::Request,
    ) -> v3::Response {
        let shared = self.shared.clone();
        let peer = self.peer;
        match (me, request) {
            (_, v3::Request::Register(r)) => register::register(&shared, peer, r).await,
            (Some(_), v3::Request::Hello(_) | v3::Request::Authenticate(_)) => error(
                ErrorReason::AlreadyAuthenticated,
                "this connection is already authenticated",
            ),
            (None, v3::Request::Hello(hello)) => {
                self.auth.hello(&shared, header_id, hello.client_nonce)
            }
            (None, v3::Request::Authenticate(signature)) => {
                let response = self.auth.authenticate(&shared, peer, header_id, &signature);
                if self.auth.gave_up() {
                    self.closing = true;
                }
                if let Some(me) = self.auth.client() {
                    let online = shared.sessions.online(me);
                    // An account removed between the check and this entry
                    // was not closed by the removal: close it here.
                    if !shared.store.directory().contains_any(&me) {
                        online.removed.cancel();
                    }
                    self.online = Some(online);
                }
                response
            }
            (Some(me), v3::Request::ListClients { after }) => {
                directory::list_clients(&shared, me, after)
            }
            (Some(_), v3::Request::GetPublicKey(id)) => directory::get_public_key(&shared, id),
            (Some(_), v3::Request::LookupName(name)) => {
                directory::lookup_name(&shared, name.as_str())
            }
            (Some(me), v3::Request::Pull(p)) => {
                pull::pull(&shared, me, p, &mut self.reads_not_delivered).await
            }
            (Some(me), v3::Request::DeleteAccount(name)) => {
                let response = account::delete(&shared, me, name).await;
                // Its sessions are closed; this one after the answer.
                if matches!(response, v3::Response::AccountDeleted(_)) {
                    self.closing = true;
                }
                response
            }
            (Some(me), v3::Request::Subscribe) => {
                push::subscribe(&shared, &mut self.push, me).await
            }
            (Some(me), v3::Request::UploadBegin(u)) => {
                upload::begin(&shared, me, u, &mut self.touched_uploads).await
            }
            (Some(me), v3::Request::UploadResume(id)) => {
                upload::resume(&shared, me, id, &mut self.touched_uploads).await
            }
            (Some(me), v3::Request::UploadChunk(c)) => {
                upload::chunk(&shared, peer, me, c, &mut self.touched_uploads).await
            }
            (Some(me), v3::Request::UploadCancel(id)) => upload::cancel(&shared, me, id).await,
            (Some(me), v3::Request::Download(d)) => {
                download::download(&shared, me, d, &mut self.download).await
            }
            (Some(me), v3::Request::KeyPackagesUpload(u)) => {
                key_packages::upload(&shared, me, u).await
            }
            (Some(me), v3::Request::KeyPackagesClaim(c)) => {
                key_packages::claim(&shared, me, c).await
            }
            (Some(me), v3::Request::RoomCreate(c)) => rooms::create(&shared, me, c).await,
            (Some(me), v3::Request::RoomRefound(c)) => rooms::refound(&shared, me, c).await,
            (Some(me), v3::Request::RoomCommit(c)) => {
                let proven = self.logins.proven(c.room);
                rooms::commit(&shared, me, c, proven).await
            }
            (Some(me), v3::Request::RoomSend(m)) => rooms::send(&shared, me, m).await,
            (Some(me), v3::Request::RoomPull(p)) => rooms::pull(&shared, me, p).await,
            (Some(me), v3::Request::RoomAck(cursors)) => rooms::ack(&shared, me, cursors).await,
            (Some(me), v3::Request::RoomState(room)) => rooms::state(&shared, me, room).await,
            (Some(me), v3::Request::RoomList) => rooms::list(&shared, me).await,
            (Some(me), v3::Request::RoomUploadBegin(u)) => {
                room_files::begin(&shared, me, u, &mut self.touched_uploads).await
            }
            (Some(me), v3::Request::RoomDownload(d)) => {
                room_files::download(&shared, me, d, &mut self.download).await
            }
            (Some(me), v3::Request::Presence(p)) => self.presence.request(&shared, me, p),
            (Some(me), v3::Request::RoomGroupInfo(g)) => rooms::group_info(&shared, me, g).await,
            (Some(_), v3::Request::ListedRooms) => rooms::listed(&shared).await,
            (Some(me), v3::Request::FindRoom(name)) => rooms::find(&shared, me, name).await,
            (Some(me), v3::Request::RoomDelete(d)) => rooms::delete(&shared, me, d).await,
            (Some(me), v3::Request::RoomFileHold(h)) => room_files::hold(&shared, me, h).await,
            (Some(me), v3::Request::RoomPasswordRegister(p)) => {
                room_password::register(&shared, me, p).await
            }
            (Some(me), v3::Request::RoomPasswordSet(p)) => room_password::set(&shared, me, p).await,
            (Some(me), v3::Request::RoomLogin(p)) => {
                room_password::login(&shared, me, p, &mut self.logins).await
            }
            (Some(_), v3::Request::RoomLoginFinish(p)) => {
                room_password::login_finish(&shared, p, &mut self.logins).await
            }
            (_, request) => {
                // Every authenticated request is matched above; this is a
                // request needing authentication that slipped through.
                tracing::error!(code = request.code().value(), "request reached no handler");
                error(ErrorReason::NotAuthenticated, "authenticate first")
            }
        }
    }

    fn on_hub(&mut self, event: HubEvent) {
        let window = self.shared.config.push_window;
        if let Some(push) = self.push.as_mut() {
            push.on_hub(event, window);
        }
    }

    /// Writes queued pushes while the window allows (see `v3::push` and
    /// `v3::room_push`): messages, then room entries, then a key packages
    /// notice.
    async fn pump_pushes(&mut self) {
        let window = self.shared.config.push_window;
        let Some(me) = self.auth.client() else {
            return;
        };
        let reads = self.reads_not_delivered;
        loop {
            let Some(push) = self.push.as_mut() else {
                return;
            };
            let store = &self.shared.store;
            let response = if let Some(message) = push.next_to_write(store, me, window, reads).await
            {
                v3::Response::Delivery(message.to_delivery())
            } else if let Some(entry) = push
                .rooms
                .next_to_write(&self.shared.store, me, window)
                .await
            {
                v3::Response::RoomDelivery((*entry).clone())
            } else if let Some(stock) = push.key_packages_low.take() {
                v3::Response::KeyPackagesLow(stock)
            } else {
                return;
            };
            self.write(Response::V3(response)).await;
            if self.closing {
                return;
            }
        }
    }
}
