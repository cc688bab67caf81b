//! Scenario `v3`'s setup: registers the ring of users, connects each, agrees
//! a session around the ring through the server (an offer, type 1, accepted
//! and answered, type 2) and subscribes every user to pushes.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use anyhow::{Context, ensure};
use bytes::Bytes;
use client::connection::{self, Connection};
use client::crypto::{Identity, Session, VerifiedBundle};
use protocol::v3;
use protocol::{ClientId, MessageKind, Name};
use tokio::sync::Mutex;

/// One user of the ring: its connection, the session it sends in and the
/// one it receives in, and where its counters stand between phases.
pub(super) struct User {
    pub(super) id: ClientId,
    pub(super) conn: Arc<Connection>,
    /// Session in which this user sends (it started it).
    pub(super) outgoing: Session,
    /// Session in which this user receives.
    pub(super) incoming: Session,
    /// The next send counter (phases continue it).
    pub(super) next_send: AtomicU64,
    /// The highest counter opened so far.
    pub(super) highest_received: AtomicU64,
    /// Pushed deliveries; a phase's receiver takes them and puts them back.
    pub(super) pushes: Mutex<Option<client::connection::PushQueue<v3::Delivery>>>,
}

pub(super) async fn setup(addrs: &[std::net::SocketAddr], n: usize) -> anyhow::Result<Vec<User>> {
    let node = |i: usize| addrs[i % addrs.len()].to_string();
    let tag: u32 = rand::random();
    let mut identities = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let identity = Identity::generate()?;
        let name = Name::new(format!("v3-{tag:08x}-{i}"))?;
        ids.push(connection::register(&node(i), &name, &identity.bundle()).await?);
        identities.push(identity);
    }
    let mut conns = Vec::with_capacity(n);
    for (i, (identity, id)) in identities.iter().zip(&ids).enumerate() {
        let conn = Connection::connect(&node(i), *id, |_| Ok(()), |m| identity.sign(m)).await?;
        conns.push(Arc::new(conn));
    }
    // Offers around the ring, through the server.
    let mut outgoing = Vec::with_capacity(n);
    for i in 0..n {
        let to = (i + 1) % n;
        let bundle = VerifiedBundle::verify(&conns[i].public_key(ids[to]).await?.public_key)?;
        let (session, offer) = Session::initiate(&identities[i], ids[i], ids[to], &bundle)?;
        conns[i]
            .send_message(
                ids[to],
                MessageKind::SymmetricKeyRequest,
                Bytes::from(offer),
            )
            .await?;
        outgoing.push(session);
    }
    let mut incoming = Vec::with_capacity(n);
    for i in 0..n {
        let from = (i + n - 1) % n;
        let batch = conns[i].pull(0).await?;
        let offer = batch
            .messages
            .iter()
            .find(|d| d.kind == MessageKind::SymmetricKeyRequest && d.sender == ids[from])
            .context("an offer did not arrive")?;
        let bundle = VerifiedBundle::verify(&conns[i].public_key(ids[from]).await?.public_key)?;
        let (session, answer) =
            Session::accept_offer(&identities[i], ids[i], ids[from], &bundle, &offer.content)?;
        conns[i]
            .send_message(ids[from], MessageKind::SymmetricKey, Bytes::from(answer))
            .await?;
        conns[i].ack(vec![offer.message_id]).await?;
        incoming.push(session);
    }
    let mut pushes = Vec::with_capacity(n);
    for i in 0..n {
        let batch = conns[i].pull(0).await?;
        let answer = batch
            .messages
            .iter()
            .find(|d| d.kind == MessageKind::SymmetricKey)
            .context("an answer did not arrive")?;
        outgoing[i].confirm(&answer.content)?;
        conns[i].ack(vec![answer.message_id]).await?;
        let (waiting, stream) = conns[i].subscribe().await?;
        ensure!(
            waiting == 0,
            "{waiting} messages left after the key agreement"
        );
        pushes.push(stream.context("no push stream")?);
    }
    Ok(ids
        .into_iter()
        .zip(conns)
        .zip(outgoing.into_iter().zip(incoming))
        .zip(pushes)
        .map(|(((id, conn), (outgoing, incoming)), pushes)| User {
            id,
            conn,
            outgoing,
            incoming,
            next_send: AtomicU64::new(1),
            highest_received: AtomicU64::new(0),
            pushes: Mutex::new(Some(pushes)),
        })
        .collect())
}
