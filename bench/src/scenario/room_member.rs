//! The simulated members of the `room` scenario: each one a registered
//! user with its own authenticated version-3 connection, its own MLS state
//! (a `sealpost_rooms::RoomEngine` over a state file of its own) and its own
//! key packages, doing what a member does with the server (PROTOCOL.md
//! "Rooms"): join from a type-5 welcome, read the room's log (135) and
//! read each entry with its engine as the client does ([`read_entry`]),
//! acknowledge (136).
//!
//! The engine is synchronous and every operation loads the room from its
//! state file and commits (fsync) there, as the product's client does; the
//! scenario runs that work on [`CPU_THREADS`] plain threads
//! ([`par_map`]), never on the runtime's workers, and times each member's
//! operation on its own (on a real deployment every member has its own
//! device).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use bytes::Bytes;
use client::connection::{self, Connection};
use client::crypto::Identity;
use futures::StreamExt;
use protocol::v3::{self, ClaimStatus, KeyPackageKind, RoomCursor, RoomEntry, RoomEntryKind};
use protocol::{ClientId, MessageKind, Name, RoomId};
use sealpost_rooms::{EntryOutcome, IdentitySigner, Incoming, Pins, RoomEngine};

/// Threads that run members' MLS work (the machine has two cores).
pub const CPU_THREADS: usize = 2;
/// Network requests of different members in flight at once.
const NET_CONCURRENCY: usize = 64;

/// Every member's registered identity key: the pins each member checks
/// every leaf against (all members trust the server's directory here).
#[derive(Default)]
pub struct Book(HashMap<[u8; 16], [u8; 32]>);

impl Book {
    /// Pins `key` as `id`'s identity key.
    pub fn pin(&mut self, id: ClientId, key: [u8; 32]) {
        self.0.insert(id.0, key);
    }
}

impl Pins for Book {
    fn pinned_identity_key(&self, client: &sealpost_rooms::ClientId) -> Option<[u8; 32]> {
        self.0.get(&client.0).copied()
    }
}

struct Signer<'a>(&'a Identity, ClientId);

impl IdentitySigner for Signer<'_> {
    fn client_id(&self) -> sealpost_rooms::ClientId {
        sealpost_rooms::ClientId(self.1.0)
    }
    fn identity_key(&self) -> [u8; 32] {
        self.0.identity_key()
    }
    fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message)
    }
}

/// One simulated member.
pub struct Member {
    /// Its client id.
    pub id: ClientId,
    /// Its authenticated connection.
    pub conn: Arc<Connection>,
    /// Its MLS state (used by one thread at a time).
    pub engine: Mutex<RoomEngine>,
}

impl Member {
    /// Runs `f` on the member's engine.
    pub fn with_engine<R>(&self, f: impl FnOnce(&RoomEngine) -> R) -> R {
        let engine = self.engine.lock().unwrap_or_else(|e| e.into_inner());
        f(&engine)
    }
}

/// The members of one run and what they share.
pub struct Members {
    /// Member 0 is the room's owner.
    pub all: Vec<Member>,
    /// Users set up like the members (connected, engine open, pinned in
    /// everyone's book) but never added: the external joiners.
    pub spare: Vec<Member>,
    /// Everyone's pins.
    pub book: Arc<Book>,
    /// Holds the state files.
    _dir: tempfile::TempDir,
}

/// Runs `f` over `items` on [`CPU_THREADS`] threads; results in item order.
/// Blocks the calling thread (call it through `block_in_place`).
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let mut out: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    let parts: Vec<Vec<(usize, R)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CPU_THREADS)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= items.len() {
                            return done;
                        }
                        done.push((i, f(&items[i])));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for (i, r) in parts.into_iter().flatten() {
        out[i] = Some(r);
    }
    out.into_iter().flatten().collect()
}

/// How long an operation took: wall clock, and the CPU time of the thread
/// that ran it (the machine is shared: CPU time is what the operation
/// itself costs, without waiting for a core or for the disk).
#[derive(Debug, Clone, Copy, Default)]
pub struct Took {
    /// Wall clock.
    pub wall: Duration,
    /// The running thread's CPU time.
    pub cpu: Duration,
}

/// CPU time of the calling thread so far (zero if the clock is missing).
fn thread_cpu() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}

/// `f` timed (on this thread).
pub fn timed<R>(f: impl FnOnce() -> R) -> (R, Took) {
    let (t, c) = (Instant::now(), thread_cpu());
    let r = f();
    let cpu = thread_cpu().saturating_sub(c);
    (
        r,
        Took {
            wall: t.elapsed(),
            cpu,
        },
    )
}

/// Two histograms (wall, CPU) of [`Took`]s.
pub struct TookHistograms {
    /// Wall clock, µs.
    pub wall: hdrhistogram::Histogram<u64>,
    /// CPU time, µs.
    pub cpu: hdrhistogram::Histogram<u64>,
}

impl TookHistograms {
    /// Empty.
    pub fn new() -> Self {
        Self {
            wall: crate::report::histogram(),
            cpu: crate::report::histogram(),
        }
    }

    /// Records one.
    pub fn record(&mut self, t: Took) {
        crate::report::record(&mut self.wall, t.wall);
        crate::report::record(&mut self.cpu, t.cpu);
    }
}

impl Default for TookHistograms {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs `f` for every index in `ids`, [`NET_CONCURRENCY`] at once; results
/// in order.
pub async fn net_map<R, Fut>(ids: &[usize], f: impl Fn(usize) -> Fut) -> Vec<R>
where
    Fut: std::future::Future<Output = R>,
{
    futures::stream::iter(ids.iter().map(|&i| f(i)))
        .buffered(NET_CONCURRENCY)
        .collect()
        .await
}

/// Registers `n + spare` users, connects each, opens its engine in a fresh
/// folder and uploads one one-time key package each; the last `spare` are
/// [`Members::spare`].
///
/// # Errors
/// Registration, connection, engine or upload failed.
pub async fn setup(
    addr: std::net::SocketAddr,
    members: usize,
    spare: usize,
) -> anyhow::Result<Members> {
    let n = members + spare;
    let server = addr.to_string();
    let tag: u32 = rand::random();
    let identities: Vec<Identity> = (0..n)
        .map(|_| Identity::generate())
        .collect::<Result<_, _>>()?;
    let indices: Vec<usize> = (0..n).collect();
    let ids: Vec<ClientId> = net_map(&indices, |i| {
        let server = &server;
        let bundle = identities[i].bundle();
        async move {
            let name = Name::new(format!("room-{tag:08x}-{i}"))?;
            anyhow::Ok(connection::register(server, &name, &bundle).await?)
        }
    })
    .await
    .into_iter()
    .collect::<Result<_, _>>()?;
    let conns: Vec<Arc<Connection>> = net_map(&indices, |i| {
        let (server, identity, id) = (&server, &identities[i], ids[i]);
        async move {
            let conn = Connection::connect(server, id, |_| Ok(()), |m| identity.sign(m)).await?;
            anyhow::Ok(Arc::new(conn))
        }
    })
    .await
    .into_iter()
    .collect::<Result<_, _>>()?;
    let mut book = Book::default();
    for (identity, id) in identities.iter().zip(&ids) {
        book.pin(*id, identity.identity_key());
    }
    let dir = tempfile::Builder::new().prefix("loadgen-room-").tempdir()?;
    let opened = tokio::task::block_in_place(|| {
        par_map(&indices, |&i| {
            open_engine(dir.path(), &identities[i], ids[i])
        })
    });
    let mut all = Vec::with_capacity(n);
    let mut packages = Vec::with_capacity(n);
    for ((r, id), conn) in opened.into_iter().zip(&ids).zip(conns) {
        let (engine, package) = r?;
        packages.push(package);
        all.push(Member {
            id: *id,
            conn,
            engine: Mutex::new(engine),
        });
    }
    let uploads = net_map(&indices, |i| {
        let conn = all[i].conn.clone();
        let package = packages[i].clone();
        async move {
            conn.upload_key_packages(KeyPackageKind::OneTime, vec![package])
                .await
        }
    })
    .await;
    for u in uploads {
        ensure!(u?.one_time == 1, "a key package upload did not count");
    }
    let spare = all.split_off(members);
    Ok(Members {
        all,
        spare,
        book: Arc::new(book),
        _dir: dir,
    })
}

/// Opens `id`'s engine on a state file of its own in `dir` and makes one
/// key package.
///
/// # Errors
/// The engine did not open or made no key package.
pub fn open_engine(
    dir: &Path,
    identity: &Identity,
    id: ClientId,
) -> anyhow::Result<(RoomEngine, Bytes)> {
    let engine = RoomEngine::open(&dir.join(format!("{id}.rooms.db")), &Signer(identity, id))?;
    let package = engine
        .generate_key_packages(1)?
        .pop()
        .context("no key package made")?;
    Ok((engine, Bytes::from(package.bytes)))
}

/// Claims one one-time key package of each of `ids` (owner's connection).
///
/// # Errors
/// The claim failed or a client had no one-time package left.
pub async fn claim(conn: &Connection, ids: Vec<ClientId>) -> anyhow::Result<Vec<Vec<u8>>> {
    let claimed = conn.claim_key_packages(ids).await?;
    claimed
        .into_iter()
        .map(|c| {
            ensure!(
                c.status == ClaimStatus::OneTime,
                "client {} had no one-time key package",
                c.client
            );
            Ok(c.key_package.to_vec())
        })
        .collect()
}

/// Pulls the room entries waiting for `m` without acknowledging them.
///
/// # Errors
/// The pull failed.
pub async fn pull_entries(m: &Member) -> anyhow::Result<Vec<RoomEntry>> {
    let batch = m.conn.room_pull(0).await?;
    // The scenario reads its commits one at a time: a full batch would mean
    // something else is waiting.
    ensure!(
        !batch.more,
        "more room entries than one pull returns for {}",
        m.id
    );
    Ok(batch.entries)
}

/// Moves `m`'s cursor in `room` to `seq`.
///
/// # Errors
/// The acknowledgement failed or did not move the cursor.
pub async fn ack_room(m: &Member, room: RoomId, seq: u64) -> anyhow::Result<()> {
    let statuses = m.conn.room_ack(vec![RoomCursor { room, seq }]).await?;
    ensure!(
        statuses == [v3::RoomAckStatus::Moved],
        "acknowledgement of entry {seq} answered {statuses:?}"
    );
    Ok(())
}

/// Fetches the one commit waiting for member `m` (by pull), for processing.
///
/// # Errors
/// Not exactly one commit entry was waiting.
pub async fn fetch_commit(m: &Member) -> anyhow::Result<RoomEntry> {
    let mut entries = pull_entries(m).await?;
    ensure!(
        entries.len() == 1 && entries[0].kind == RoomEntryKind::Commit,
        "expected one commit waiting for {}, got {} entries",
        m.id,
        entries.len()
    );
    Ok(entries.remove(0))
}

/// Reads entry `seq` of `room` as the client does: processed, marked read
/// and its result kept in one transaction (`process_entry`), then released
/// once recorded (`release_entries`; the client releases after each pulled
/// batch, and each of the scenario's pulls is one entry). Timed together.
///
/// # Errors
/// The engine refused the entry or had read it before.
pub fn read_entry(
    m: &Member,
    room: RoomId,
    seq: u64,
    message: &[u8],
    pins: &Book,
) -> anyhow::Result<(Incoming, Took)> {
    let room = sealpost_rooms::RoomId(room.0);
    let (r, took) = timed(|| {
        m.with_engine(|e| {
            let read = e.process_entry(room, seq, message, pins)?;
            e.release_entries(room, seq)?;
            Ok::<_, sealpost_rooms::RoomsError>(read)
        })
    });
    let read = r.with_context(|| format!("member {} reading entry {seq}", m.id))?;
    match read {
        Some(EntryOutcome::Read(read)) if !read.replay => Ok((read.incoming, took)),
        other => bail!("member {} had read entry {seq} before: {other:?}", m.id),
    }
}

/// Reads a commit of another member ([`read_entry`]); checks it moved the
/// epoch.
///
/// # Errors
/// The engine refused it or it was not a commit.
pub fn process_commit(m: &Member, entry: &RoomEntry, pins: &Book) -> anyhow::Result<Took> {
    let (incoming, took) = read_entry(m, entry.room, entry.seq, &entry.message, pins)?;
    match incoming {
        Incoming::Commit { summary, .. } if summary.epoch == entry.epoch + 1 => Ok(took),
        Incoming::OwnCommit { summary, .. } if summary.epoch == entry.epoch + 1 => Ok(took),
        other => bail!("member {} read {other:?} for a commit", m.id),
    }
}

/// Fetches the welcome waiting for `m` (a type-5 message) and its id.
///
/// # Errors
/// None was waiting, or it does not parse.
pub async fn fetch_welcome(m: &Member) -> anyhow::Result<(v3::RoomWelcome, u64)> {
    let batch = m.conn.pull(0).await?;
    let w = batch
        .messages
        .iter()
        .find(|d| d.kind == MessageKind::RoomWelcome)
        .with_context(|| format!("no welcome for {}", m.id))?;
    Ok((v3::RoomWelcome::decode(w.content.clone())?, w.message_id))
}

/// Joins from a welcome; checks the epoch.
///
/// # Errors
/// The engine refused the welcome.
pub fn join(m: &Member, w: &v3::RoomWelcome, pins: &Book) -> anyhow::Result<Took> {
    let (r, took) = timed(|| m.with_engine(|e| e.join(&w.welcome, pins)));
    let joined = r.with_context(|| format!("member {} joining", m.id))?;
    ensure!(
        joined.epoch == w.epoch && joined.room.0 == w.room.0,
        "member {} joined epoch {} of {:?}, the welcome said {}",
        m.id,
        joined.epoch,
        joined.room,
        w.epoch
    );
    Ok(took)
}

/// Rows of the server's database that a room's messages live in.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, PartialEq, Eq)]
pub struct ServerRows {
    /// Entries of this room's log.
    pub room_log: i64,
    /// Their bytes.
    pub room_log_bytes: i64,
    /// One-to-one messages waiting (welcomes are these).
    pub messages: i64,
    /// Member rows of this room (one per member, with its cursor).
    pub room_members: i64,
}

/// Counts [`ServerRows`] in the server's database at `db` (read only; the
/// server keeps writing in WAL mode).
///
/// # Errors
/// The database cannot be opened or read.
pub fn count_rows(db: &Path, room: RoomId) -> anyhow::Result<ServerRows> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("opening {}", db.display()))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let one = |sql: &str| -> anyhow::Result<i64> {
        Ok(conn.query_row(sql, rusqlite::params![&room.0[..]], |r| r.get(0))?)
    };
    Ok(ServerRows {
        room_log: one("SELECT COUNT(*) FROM room_log WHERE room = ?1")?,
        room_log_bytes: one("SELECT COALESCE(SUM(length(body)), 0) FROM room_log WHERE room = ?1")?,
        messages: one("SELECT COUNT(*) FROM messages WHERE ?1 IS NOT NULL")?,
        room_members: one("SELECT COUNT(*) FROM room_members WHERE room = ?1")?,
    })
}
