//! Raw version-3 sessions for the end-to-end tests: a test user's keys
//! (identity and signed bundle), and a connection that authenticates, sends
//! requests and keeps pushed deliveries aside, built from the `protocol`
//! crate alone, so that tests can say exactly which bytes a server gets
//! (the real client is driven through `client::Client` instead).
//!
//! Apart from the harness in `lib.rs` (servers, processes, sockets), which
//! only knows how to open a connection.

use std::net::SocketAddr;

use anyhow::{Context, bail};
use bytes::Bytes;
use ed25519_dalek::{Signer, SigningKey};
use futures::{SinkExt, StreamExt};
use protocol::auth::{client_proof_message, server_proof_message};
use protocol::bundle::KeyBundle;
use protocol::codec::ResponseItem;
use protocol::{ClientId, Name, PublicKey, Request, RequestFrame, Response, v3};

use crate::{RawConn, bounded, connect, read_response};

/// A test user's keys: an Ed25519 identity and a signed bundle.
pub struct TestIdentity {
    /// The identity key.
    pub signing: SigningKey,
    /// The 160-byte bundle.
    pub bundle: PublicKey,
}

impl TestIdentity {
    /// Fresh random keys.
    pub fn generate() -> Self {
        let signing = SigningKey::generate(&mut rand::rngs::OsRng);
        let dh = x25519_dalek::StaticSecret::random_from_rng(rand::rngs::OsRng);
        let prekey = x25519_dalek::StaticSecret::random_from_rng(rand::rngs::OsRng);
        let identity_key = signing.verifying_key().to_bytes();
        let dh_identity_key = x25519_dalek::PublicKey::from(&dh).to_bytes();
        let signed_prekey = x25519_dalek::PublicKey::from(&prekey).to_bytes();
        let signature = signing
            .sign(&KeyBundle::signed_message_for(
                &identity_key,
                &dh_identity_key,
                &signed_prekey,
            ))
            .to_bytes();
        let bundle = KeyBundle {
            identity_key,
            dh_identity_key,
            signed_prekey,
            signature,
        }
        .to_public_key();
        Self { signing, bundle }
    }
}

/// A raw version-3 connection that keeps pushed deliveries aside.
pub struct V3Conn {
    /// The framed socket.
    pub conn: RawConn,
    /// The id in request headers.
    pub client_id: ClientId,
    /// Pushed deliveries received while waiting for answers.
    pub pushed: std::collections::VecDeque<v3::Delivery>,
    /// Other unsolicited frames (room entries 1310, key packages low 1311)
    /// received while waiting for answers.
    pub notices: std::collections::VecDeque<v3::Response>,
    /// A closing notice, if the server sent one.
    pub closing: Option<v3::ServerError>,
    /// The server key seen in the last challenge.
    pub server_key: Option<[u8; 32]>,
}

impl V3Conn {
    /// Opens a connection.
    pub async fn open(addr: SocketAddr) -> anyhow::Result<V3Conn> {
        Ok(V3Conn {
            conn: connect(addr).await?,
            client_id: ClientId::NIL,
            pushed: Default::default(),
            notices: Default::default(),
            closing: None,
            server_key: None,
        })
    }

    /// Sends a request without waiting.
    pub async fn send(&mut self, request: v3::Request) -> anyhow::Result<()> {
        let frame = RequestFrame {
            client_id: self.client_id,
            request: Request::V3(request),
        };
        bounded("send", self.conn.send(frame.into())).await??;
        Ok(())
    }

    /// Queues a request without flushing.
    pub async fn feed(&mut self, request: v3::Request) -> anyhow::Result<()> {
        let frame = RequestFrame {
            client_id: self.client_id,
            request: Request::V3(request),
        };
        bounded("feed", self.conn.feed(frame.into())).await??;
        Ok(())
    }

    /// Writes out the requests queued with [`V3Conn::feed`].
    pub async fn flush(&mut self) -> anyhow::Result<()> {
        bounded("flush", self.conn.flush()).await??;
        Ok(())
    }

    /// The next frame of any kind; `None` when the server closed.
    pub async fn next_frame(&mut self) -> anyhow::Result<Option<v3::Response>> {
        match bounded("a response", read_response(&mut self.conn)).await?? {
            Some(Response::V3(r)) => Ok(Some(r)),
            Some(other) => bail!("expected version 3, got {other:?}"),
            None => Ok(None),
        }
    }

    /// The next answer to a request, setting pushes and closing notices aside.
    pub async fn answer(&mut self) -> anyhow::Result<v3::Response> {
        loop {
            match self.next_frame().await? {
                Some(v3::Response::Delivery(d)) => self.pushed.push_back(d),
                Some(v3::Response::Closing(e)) => self.closing = Some(e),
                Some(r @ (v3::Response::RoomDelivery(_) | v3::Response::KeyPackagesLow(_))) => {
                    self.notices.push_back(r);
                }
                Some(r) => return Ok(r),
                None => bail!("the server closed the connection"),
            }
        }
    }

    /// Sends a request and returns its answer.
    pub async fn call(&mut self, request: v3::Request) -> anyhow::Result<v3::Response> {
        self.send(request).await?;
        self.answer().await
    }

    /// The next pushed delivery.
    pub async fn next_push(&mut self) -> anyhow::Result<v3::Delivery> {
        if let Some(d) = self.pushed.pop_front() {
            return Ok(d);
        }
        match self.next_frame().await? {
            Some(v3::Response::Delivery(d)) => Ok(d),
            Some(v3::Response::Closing(e)) => bail!("server closing: {e}"),
            Some(other) => bail!("expected a push, got {other:?}"),
            None => bail!("the server closed the connection"),
        }
    }

    /// Whether the server closes the connection (reads until end of stream).
    pub async fn expect_closed(&mut self) -> anyhow::Result<()> {
        loop {
            match bounded("connection to close", self.conn.next()).await? {
                None | Some(Err(_)) => return Ok(()),
                Some(Ok(ResponseItem::Response(Response::V3(v3::Response::Closing(e))))) => {
                    self.closing = Some(e);
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Registers `name` with `identity`'s bundle; returns the new id.
    pub async fn register(
        &mut self,
        name: &str,
        identity: &TestIdentity,
    ) -> anyhow::Result<ClientId> {
        let response = self
            .call(v3::Request::Register(v3::Register {
                name: Name::new(name)?,
                public_key: identity.bundle,
            }))
            .await?;
        match response {
            v3::Response::Registered(id) => Ok(id),
            other => bail!("register {name}: {other:?}"),
        }
    }

    /// Says hello as `id` and checks the server's proof; returns the challenge.
    pub async fn hello(
        &mut self,
        id: ClientId,
        client_nonce: [u8; 32],
    ) -> anyhow::Result<v3::Challenge> {
        self.client_id = id;
        match self
            .call(v3::Request::Hello(v3::Hello { client_nonce }))
            .await?
        {
            v3::Response::Challenge(c) => {
                let key = ed25519_dalek::VerifyingKey::from_bytes(&c.server_key)?;
                key.verify_strict(
                    &server_proof_message(&id, &client_nonce, &c.server_nonce),
                    &ed25519_dalek::Signature::from_bytes(&c.signature),
                )
                .context("the server's proof does not verify")?;
                self.server_key = Some(c.server_key);
                Ok(c)
            }
            other => bail!("hello: {other:?}"),
        }
    }

    /// The signature answering `challenge` for `id` with `signing`.
    pub fn proof(
        signing: &SigningKey,
        id: ClientId,
        client_nonce: &[u8; 32],
        challenge: &v3::Challenge,
    ) -> [u8; 64] {
        signing
            .sign(&client_proof_message(
                &challenge.server_key,
                &id,
                client_nonce,
                &challenge.server_nonce,
            ))
            .to_bytes()
    }

    /// The whole handshake as `id`.
    pub async fn authenticate(
        &mut self,
        id: ClientId,
        identity: &TestIdentity,
    ) -> anyhow::Result<v3::ServerLimits> {
        let nonce: [u8; 32] = rand::random();
        let challenge = self.hello(id, nonce).await?;
        let proof = Self::proof(&identity.signing, id, &nonce, &challenge);
        match self.call(v3::Request::Authenticate(proof)).await? {
            v3::Response::Authenticated(limits) => Ok(limits),
            other => bail!("authenticate: {other:?}"),
        }
    }

    /// Opens a connection, registers `name` and authenticates.
    pub async fn new_user(addr: SocketAddr, name: &str) -> anyhow::Result<(V3Conn, TestIdentity)> {
        let identity = TestIdentity::generate();
        let mut conn = V3Conn::open(addr).await?;
        let id = conn.register(name, &identity).await?;
        conn.authenticate(id, &identity).await?;
        Ok((conn, identity))
    }

    /// Opens another authenticated connection of the same user.
    pub async fn again(&self, addr: SocketAddr, identity: &TestIdentity) -> anyhow::Result<V3Conn> {
        let mut conn = V3Conn::open(addr).await?;
        conn.authenticate(self.client_id, identity).await?;
        Ok(conn)
    }

    /// Sends a text (type 3) and returns its message id.
    pub async fn send_text(&mut self, to: ClientId, content: &[u8]) -> anyhow::Result<u64> {
        match self
            .call(v3::Request::SendMessage(v3::SendMessage {
                destination: to,
                kind: protocol::MessageKind::Text,
                content: Bytes::copy_from_slice(content),
            }))
            .await?
        {
            v3::Response::MessageStored(m) => Ok(m.message_id),
            other => bail!("send: {other:?}"),
        }
    }

    /// Pulls a batch.
    pub async fn pull(&mut self) -> anyhow::Result<v3::MessageBatch> {
        match self.call(v3::Request::Pull(v3::Pull::default())).await? {
            v3::Response::Messages(b) => Ok(b),
            other => bail!("pull: {other:?}"),
        }
    }

    /// Acknowledges ids; returns their statuses.
    pub async fn ack(&mut self, ids: Vec<u64>) -> anyhow::Result<Vec<v3::AckStatus>> {
        match self.call(v3::Request::Ack(ids)).await? {
            v3::Response::Acked(s) => Ok(s),
            other => bail!("ack: {other:?}"),
        }
    }
}

/// The reason of a version-3 error answer, or a failure describing what came instead.
pub fn reason_of(response: &v3::Response) -> anyhow::Result<protocol::ErrorReason> {
    match response {
        v3::Response::Error(e) => Ok(e.reason),
        other => bail!("expected an error, got {other:?}"),
    }
}
