//! A room member for the delivery-service tests: a raw version-3 connection
//! ([`V3Conn`]) plus a real MLS engine ([`RoomEngine`] over a state file),
//! so that tests exercise the server's room log, cursors, key packages and
//! refusals with real MLS messages, and can also misbehave on purpose (the
//! real client, driven through its commands, is tested elsewhere). Its room
//! messages are the client's typed room content; files go through the
//! client library's room file transfers over a library connection.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, bail};
use bytes::Bytes;
use client::Progress;
use client::client::NoProgress;
use client::connection::Connection;
use client::rooms::{FinishedUpload, RoomContent, RoomFile};
use ed25519_dalek::Signer as _;
use protocol::bundle::KeyBundle;
use protocol::v3::{self, KeyPackageKind, KeyPackagesUpload, RoomCommit, RoomCursor, RoomSend};
use protocol::{ClientId, ErrorReason, MessageKind, RoomId, UploadId};
use sealpost_rooms::{IdentitySigner, Outgoing, Pins, RoomEngine};

use crate::raw_v3::{TestIdentity, V3Conn, reason_of};

mod seen;

pub use seen::Seen;

/// The identity key every client registered, as pins (the tests' members
/// trust the server's directory; the malicious-server tests say otherwise).
#[derive(Clone, Default)]
pub struct Book(pub HashMap<[u8; 16], [u8; 32]>);

impl Pins for Book {
    fn pinned_identity_key(&self, client: &sealpost_rooms::ClientId) -> Option<[u8; 32]> {
        self.0.get(&client.0).copied()
    }
}

struct MemberSigner<'a>(&'a TestIdentity, ClientId);

impl IdentitySigner for MemberSigner<'_> {
    fn client_id(&self) -> sealpost_rooms::ClientId {
        sealpost_rooms::ClientId(self.1.0)
    }
    fn identity_key(&self) -> [u8; 32] {
        self.0.signing.verifying_key().to_bytes()
    }
    fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.signing.sign(message).to_bytes()
    }
}

/// A registered user with a rooms engine.
pub struct RoomUser {
    /// Its client id.
    id: ClientId,
    /// Its authenticated connection.
    pub conn: V3Conn,
    /// Its keys.
    pub keys: TestIdentity,
    /// Its MLS state.
    pub engine: RoomEngine,
    /// Whom it trusts.
    pub book: Book,
    /// What reads of the log saw and [`RoomUser::sync`] has not returned yet.
    backlog: Vec<Seen>,
    /// The last entry read in each room.
    read_up_to: HashMap<RoomId, u64>,
    /// The files announced to it, by room and entry.
    files: HashMap<(RoomId, u64), RoomFile>,
}

impl RoomUser {
    /// Registers `name`, opens its engine in `dir` and uploads 5 one-time
    /// key packages and a last-resort one.
    pub async fn new(addr: SocketAddr, dir: &Path, name: &str) -> anyhow::Result<RoomUser> {
        let (conn, keys) = V3Conn::new_user(addr, name).await?;
        let engine = RoomEngine::open(
            &dir.join(format!("{name}.rooms.db")),
            &MemberSigner(&keys, conn.client_id),
        )?;
        let mut book = Book::default();
        // Every member checks every leaf, its own included.
        book.0.insert(
            conn.client_id.0,
            KeyBundle::from_public_key(&keys.bundle).identity_key,
        );
        let mut user = RoomUser {
            id: conn.client_id,
            conn,
            keys,
            engine,
            book,
            backlog: Vec::new(),
            read_up_to: HashMap::new(),
            files: HashMap::new(),
        };
        user.upload_key_packages(5).await?;
        let last = user.engine.generate_last_resort_key_package()?;
        user.call_ok(v3::Request::KeyPackagesUpload(KeyPackagesUpload {
            kind: KeyPackageKind::LastResort,
            packages: vec![Bytes::from(last.bytes)],
        }))
        .await?;
        Ok(user)
    }

    /// The user's client id.
    pub fn id(&self) -> ClientId {
        self.id
    }

    /// Pins what the server's directory says of `others` (their identity keys).
    pub fn trust(&mut self, others: &[&RoomUser]) {
        for o in others {
            self.book.0.insert(
                o.id().0,
                KeyBundle::from_public_key(&o.keys.bundle).identity_key,
            );
        }
    }

    /// Uploads `n` one-time key packages; returns the stock.
    pub async fn upload_key_packages(&mut self, n: usize) -> anyhow::Result<v3::KeyPackageStock> {
        let packages = self
            .engine
            .generate_key_packages(n)?
            .into_iter()
            .map(|p| Bytes::from(p.bytes))
            .collect();
        match self
            .call_ok(v3::Request::KeyPackagesUpload(KeyPackagesUpload {
                kind: KeyPackageKind::OneTime,
                packages,
            }))
            .await?
        {
            v3::Response::KeyPackageStock(s) => Ok(s),
            other => bail!("upload answered {other:?}"),
        }
    }

    /// Sends a request and fails on an error answer.
    pub async fn call_ok(&mut self, request: v3::Request) -> anyhow::Result<v3::Response> {
        let response = self.conn.call(request).await?;
        if let v3::Response::Error(e) = &response {
            bail!("refused: {} {}", e.reason, e.text);
        }
        Ok(response)
    }

    /// Creates a room with a random id.
    pub async fn create(&mut self) -> anyhow::Result<RoomId> {
        let room = RoomId(rand::random());
        let created = self.engine.create_room(sealpost_rooms::RoomId(room.0))?;
        self.call_ok(v3::Request::RoomCreate(v3::RoomCreate {
            room,
            group_info: created.group_info.into(),
            ratchet_tree: created.ratchet_tree.into(),
        }))
        .await?;
        Ok(room)
    }

    /// Claims one key package of each of `clients`.
    pub async fn claim(&mut self, clients: &[ClientId]) -> anyhow::Result<Vec<Vec<u8>>> {
        match self
            .call_ok(v3::Request::KeyPackagesClaim(clients.to_vec()))
            .await?
        {
            v3::Response::KeyPackages(claimed) => Ok(claimed
                .into_iter()
                .map(|c| c.key_package.to_vec())
                .collect()),
            other => bail!("claim answered {other:?}"),
        }
    }

    /// Sends a commit the engine made; once the log has it, reads the log up
    /// to it (merging it there, after the entries before it), else discards
    /// it and returns the refusal.
    pub async fn publish(&mut self, out: Outgoing) -> anyhow::Result<Result<u64, ErrorReason>> {
        let room = RoomId(out.room.0);
        // On a lost connection the commit stays pending, for `settle`.
        let response = self
            .conn
            .call(v3::Request::RoomCommit(RoomCommit {
                room,
                epoch: out.epoch,
                commit: out.commit.into(),
                welcome: out.welcome.map(Bytes::from).unwrap_or_default(),
            }))
            .await?;
        match response {
            v3::Response::CommitAccepted(a) => {
                self.read_log().await?;
                Ok(Ok(a.epoch))
            }
            other => {
                self.engine.discard_commit(out.room)?;
                Ok(Err(reason_of(&other)?))
            }
        }
    }

    /// Adds `users` to `room` (claiming their key packages).
    pub async fn add(&mut self, room: RoomId, users: &[ClientId]) -> anyhow::Result<u64> {
        let packages = self.claim(users).await?;
        let out = self
            .engine
            .add_members(sealpost_rooms::RoomId(room.0), &packages, &self.book)?;
        match self.publish(out).await? {
            Ok(epoch) => Ok(epoch),
            Err(reason) => bail!("the add was refused: {reason}"),
        }
    }

    /// Removes `users` from `room`.
    pub async fn remove(&mut self, room: RoomId, users: &[ClientId]) -> anyhow::Result<u64> {
        let ids: Vec<_> = users
            .iter()
            .map(|u| sealpost_rooms::ClientId(u.0))
            .collect();
        let out = self
            .engine
            .remove_members(sealpost_rooms::RoomId(room.0), &ids)?;
        match self.publish(out).await? {
            Ok(epoch) => Ok(epoch),
            Err(reason) => bail!("the removal was refused: {reason}"),
        }
    }

    /// Encrypts and sends `text` to `room`; returns the entry's seq.
    pub async fn say(&mut self, room: RoomId, text: &str) -> anyhow::Result<u64> {
        match self.try_say(room, text).await? {
            Ok(seq) => Ok(seq),
            Err(reason) => bail!("the message was refused: {reason}"),
        }
    }

    /// Like [`RoomUser::say`], returning a refusal's reason (a stale epoch:
    /// [`RoomUser::sync`], then send again).
    pub async fn try_say(
        &mut self,
        room: RoomId,
        text: &str,
    ) -> anyhow::Result<Result<u64, ErrorReason>> {
        let content = RoomContent::Text(text.into()).encode()?;
        self.try_send_content(room, &content, None).await
    }

    /// Encrypts room content (PROTOCOL.md "Room content") for `room` at
    /// its current epoch and sends it (134), naming `file` if given;
    /// returns the entry's seq or the refusal's reason.
    pub async fn try_send_content(
        &mut self,
        room: RoomId,
        content: &[u8],
        file: Option<UploadId>,
    ) -> anyhow::Result<Result<u64, ErrorReason>> {
        let epoch = self.engine.epoch(sealpost_rooms::RoomId(room.0))?;
        let message = self.engine.send(sealpost_rooms::RoomId(room.0), content)?;
        let answer = self
            .conn
            .call(v3::Request::RoomSend(RoomSend {
                room,
                epoch,
                file,
                message: message.into(),
            }))
            .await?;
        Ok(match answer {
            v3::Response::RoomMessageStored(s) => Ok(s.seq),
            other => Err(reason_of(&other)?),
        })
    }

    /// A connection of the client library for this user (the file
    /// transfers are the library's).
    pub async fn client_conn(&self, addr: SocketAddr) -> anyhow::Result<Connection> {
        let signing = self.keys.signing.clone();
        Ok(Connection::connect(
            &addr.to_string(),
            self.id,
            |_| Ok(()),
            move |m| signing.sign(m).to_bytes(),
        )
        .await?)
    }

    /// Sends the file at `path` to `room` with the client library's upload
    /// (over `conn`), announced by this member's engine; returns the entry's
    /// seq and what the announcement carried.
    pub async fn send_file(
        &mut self,
        conn: &Connection,
        room: RoomId,
        path: &Path,
    ) -> anyhow::Result<(u64, FinishedUpload)> {
        let finished = client::rooms::upload_room_file(
            conn,
            room,
            path,
            &NoProgress,
            &tokio_util::sync::CancellationToken::new(),
        )
        .await?;
        let content = RoomContent::File(finished.file.clone()).encode()?;
        match self
            .try_send_content(room, &content, Some(finished.upload_id))
            .await?
        {
            Ok(seq) => Ok((seq, finished)),
            Err(reason) => bail!("the announcement was refused: {reason}"),
        }
    }

    /// The file entry `seq` of `room` announced, once read.
    pub fn room_file(&self, room: RoomId, seq: u64) -> Option<&RoomFile> {
        self.files.get(&(room, seq))
    }

    /// Downloads and decrypts the file entry `seq` of `room` announced into
    /// `dir` with the client library (resuming a part left there).
    pub async fn fetch_file(
        &self,
        conn: &Connection,
        room: RoomId,
        seq: u64,
        dir: &Path,
        progress: &dyn Progress,
    ) -> anyhow::Result<std::path::PathBuf> {
        let file = self
            .room_file(room, seq)
            .with_context(|| format!("no file announced at entry {seq}"))?;
        Ok(client::rooms::download_room_file(
            conn,
            room,
            seq,
            file,
            dir,
            progress,
            &tokio_util::sync::CancellationToken::new(),
        )
        .await?)
    }

    /// Reads the waiting room entries (one pull) without acknowledging
    /// them, so that their files stay on the server; [`RoomUser::sync`]
    /// acknowledges them later without reading them twice.
    pub async fn peek(&mut self) -> anyhow::Result<Vec<Seen>> {
        self.pull_welcomes().await?;
        let batch = match self
            .call_ok(v3::Request::RoomPull(v3::Pull::default()))
            .await?
        {
            v3::Response::RoomEntries(b) => b,
            other => bail!("room pull answered {other:?}"),
        };
        for e in &batch.entries {
            if self.read_up_to.get(&e.room).is_some_and(|&s| e.seq <= s) {
                continue;
            }
            if e.sender != self.id() {
                self.read_into_backlog(e)?;
            }
            self.read_up_to.insert(e.room, e.seq);
        }
        Ok(std::mem::take(&mut self.backlog))
    }

    /// Processes one entry into the backlog, keeping a file's key.
    fn read_into_backlog(&mut self, e: &v3::RoomEntry) -> anyhow::Result<()> {
        let (seen, file) = self.read_content(e)?;
        if let Some(file) = file {
            self.files.insert((e.room, e.seq), file);
        }
        self.backlog.push(seen);
        Ok(())
    }

    /// A new authenticated connection to `addr` (after a server restart).
    pub async fn reconnect(&mut self, addr: SocketAddr) -> anyhow::Result<()> {
        let id = self.id();
        let mut conn = V3Conn::open(addr).await?;
        conn.authenticate(id, &self.keys).await?;
        self.conn = conn;
        Ok(())
    }

    /// Settles a commit left pending by a lost connection (PROTOCOL.md,
    /// "Commit"): reads the log (our commit there is merged on the way);
    /// if the room is still at our epoch, the commit never made it and is
    /// discarded.
    pub async fn settle(&mut self, room: RoomId) -> anyhow::Result<()> {
        self.read_log().await?;
        let ours = self.engine.epoch(sealpost_rooms::RoomId(room.0))?;
        if self.status(room).await?.epoch == ours {
            // Nothing pending is fine too.
            let _ = self.engine.discard_commit(sealpost_rooms::RoomId(room.0));
        }
        Ok(())
    }

    /// Joins rooms from waiting welcomes, then reads and acknowledges every
    /// waiting room entry, in order.
    ///
    /// What was read before a failure (a lost connection mid-way) is kept for
    /// the next call: it may already be acknowledged, so it never comes back.
    pub async fn sync(&mut self) -> anyhow::Result<Vec<Seen>> {
        self.pull_welcomes().await?;
        self.read_log().await?;
        Ok(std::mem::take(&mut self.backlog))
    }

    async fn pull_welcomes(&mut self) -> anyhow::Result<()> {
        loop {
            let batch = self.conn.pull().await?;
            let mut ids = Vec::new();
            for m in &batch.messages {
                ids.push(m.message_id);
                if m.kind != MessageKind::RoomWelcome {
                    continue;
                }
                let w = v3::RoomWelcome::decode(m.content.clone())?;
                let at = self.engine.epoch(sealpost_rooms::RoomId(w.room.0));
                if at.is_ok_and(|epoch| epoch >= w.epoch) {
                    // Read before, its acknowledgement lost with the connection.
                    continue;
                }
                let joined = self.engine.join(&w.welcome, &self.book)?;
                self.backlog.push(Seen::Joined {
                    room: RoomId(joined.room.0),
                    epoch: joined.epoch,
                });
            }
            if !ids.is_empty() {
                self.conn.ack(ids).await?;
            }
            if !batch.more {
                return Ok(());
            }
        }
    }

    /// Reads and acknowledges every waiting room entry, in order, into the
    /// backlog. Entries already read (their acknowledgement lost with the
    /// connection) are skipped: their keys are spent.
    async fn read_log(&mut self) -> anyhow::Result<()> {
        loop {
            let batch = match self
                .call_ok(v3::Request::RoomPull(v3::Pull::default()))
                .await?
            {
                v3::Response::RoomEntries(b) => b,
                other => bail!("room pull answered {other:?}"),
            };
            let mut cursors = Vec::new();
            for e in &batch.entries {
                cursors.push(RoomCursor {
                    room: e.room,
                    seq: e.seq,
                });
                if self.read_up_to.get(&e.room).is_some_and(|&s| e.seq <= s) {
                    continue;
                }
                if e.sender != self.id() {
                    self.read_into_backlog(e)?;
                } else if e.kind == v3::RoomEntryKind::Commit {
                    // Our own commit, read back in order: merged here.
                    self.engine
                        .process(&e.message, &self.book)
                        .with_context(|| format!("our own commit, entry {}", e.seq))?;
                }
                // Our own messages come back only behind entries we had not
                // read; we made them, so there is nothing to process.
                self.read_up_to.insert(e.room, e.seq);
            }
            if !cursors.is_empty() {
                self.call_ok(v3::Request::RoomAck(cursors)).await?;
            }
            if !batch.more {
                return Ok(());
            }
        }
    }

    /// The room as the server reports it.
    pub async fn status(&mut self, room: RoomId) -> anyhow::Result<v3::RoomStatus> {
        match self.call_ok(v3::Request::RoomState(room)).await? {
            v3::Response::RoomStatus(s) => Ok(s),
            other => bail!("state answered {other:?}"),
        }
    }
}
