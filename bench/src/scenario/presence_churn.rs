//! The moving parts of the `presence` scenario: the users' connections
//! (one slot per user), the churn that opens and closes them at a set rate,
//! and the watchers that read the presence pushes (1313), count their bytes
//! and match each change to the moment it was made.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use client::connection::{Connection, PushQueue, Pushed, RoomPush};
use client::crypto::Identity;
use hdrhistogram::Histogram;
use protocol::ClientId;
use protocol::v3::{self, PresenceChanges};

use tokio::task::JoinSet;

use crate::report;

/// Connections being opened by the churn at once; past this a tick opens
/// none (counted as skipped: the server or the load generator fell behind).
const MAX_OPENING: usize = 256;
/// A 1313 frame: header (version u8, code u16, length u32), resync u8,
/// count u16, then 17 bytes per change (PROTOCOL.md "141 presence").
pub const FRAME_OVERHEAD: u64 = 7 + 1 + 2;
/// Bytes per change in a 1313.
pub const BYTES_PER_CHANGE: u64 = 17;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Which users are where.
#[derive(Default)]
struct Sets {
    /// Connected and shown.
    shown: Vec<usize>,
    /// Connected, not shown (the quiet phase's).
    quiet: Vec<usize>,
    /// Not connected.
    offline: Vec<usize>,
}

/// What the watchers counted while measuring.
#[derive(Default)]
pub struct Counts {
    /// 1313 frames, all watchers.
    pub frames: AtomicU64,
    /// Their bytes.
    pub bytes: AtomicU64,
    /// Changes they held.
    pub changes: AtomicU64,
    /// Frames with resync set.
    pub resyncs: AtomicU64,
    /// Changes no event of this run explains (should stay 0).
    pub unmatched: AtomicU64,
}

/// Everything the churn and the watchers share.
pub struct Ctx {
    addr: String,
    identities: Vec<Identity>,
    ids: Vec<ClientId>,
    slots: Vec<Mutex<Option<Connection>>>,
    sets: Mutex<Sets>,
    /// Per client: when it last went offline and came online.
    events: Mutex<HashMap<ClientId, [Option<Instant>; 2]>>,
    /// Watchers count and time only while this is set.
    pub measuring: AtomicBool,
    /// What they counted.
    pub counts: Counts,
    /// Change to arrival at a watcher, µs.
    pub delay: Mutex<Histogram<u64>>,
}

/// What one churn phase did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Churned {
    /// Connections opened (and 141 answered).
    pub connects: u64,
    /// Connections closed.
    pub disconnects: u64,
    /// Opens that failed.
    pub failed: u64,
    /// Ticks that opened nothing because [`MAX_OPENING`] were in flight.
    pub skipped: u64,
}

impl Ctx {
    /// The users of `identities`, registered as `ids`; `0..held` are for
    /// the caller to connect, the others offline.
    pub fn new(
        addr: String,
        identities: Vec<Identity>,
        ids: Vec<ClientId>,
        held: usize,
    ) -> Arc<Self> {
        let n = ids.len();
        Arc::new(Self {
            addr,
            identities,
            slots: (0..n).map(|_| Mutex::new(None)).collect(),
            sets: Mutex::new(Sets {
                offline: (held.min(n)..n).collect(),
                ..Sets::default()
            }),
            ids,
            events: Mutex::new(HashMap::new()),
            measuring: AtomicBool::new(false),
            counts: Counts::default(),
            delay: Mutex::new(report::histogram()),
        })
    }

    /// How many are connected and shown.
    pub fn shown(&self) -> usize {
        lock(&self.sets).shown.len()
    }

    fn take_random(list: &mut Vec<usize>) -> Option<usize> {
        if list.is_empty() {
            return None;
        }
        let k = rand::random::<u64>() as usize % list.len();
        Some(list.swap_remove(k))
    }

    /// Connects user `i` (out of the offline set already) and sends 141
    /// (shown or not, never watching, an empty page); the instant it was
    /// sent is the change's, for the watchers.
    pub async fn connect(self: Arc<Self>, i: usize, show: bool) -> anyhow::Result<Duration> {
        let t = Instant::now();
        let opened = async {
            let conn = Connection::connect(
                &self.addr,
                self.ids[i],
                |_| Ok(()),
                |m| self.identities[i].sign(m),
            )
            .await?;
            if show {
                lock(&self.events).entry(self.ids[i]).or_default()[1] = Some(Instant::now());
            }
            let answer = conn
                .call(v3::Request::Presence(v3::Presence {
                    show,
                    watch: false,
                    // After every id: an empty page, whatever is online.
                    after: ClientId([0xff; 16]),
                }))
                .await?;
            match answer {
                v3::Response::Online(_) => anyhow::Ok(conn),
                other => bail!("141 answered {:?}", other.code()),
            }
        };
        match opened.await {
            Ok(conn) => {
                *lock(&self.slots[i]) = Some(conn);
                let mut sets = lock(&self.sets);
                if show {
                    sets.shown.push(i);
                } else {
                    sets.quiet.push(i);
                }
                Ok(t.elapsed())
            }
            Err(e) => {
                lock(&self.sets).offline.push(i);
                Err(e)
            }
        }
    }

    /// Closes one random connection of the shown (or quiet) set.
    fn disconnect_one(&self, shown: bool) -> bool {
        let i = {
            let mut sets = lock(&self.sets);
            let list = if shown {
                &mut sets.shown
            } else {
                &mut sets.quiet
            };
            match Self::take_random(list) {
                Some(i) => i,
                None => return false,
            }
        };
        let conn = lock(&self.slots[i]).take();
        if shown {
            lock(&self.events).entry(self.ids[i]).or_default()[0] = Some(Instant::now());
        }
        // Dropping it closes it: the server sees the end of the stream.
        drop(conn);
        lock(&self.sets).offline.push(i);
        true
    }

    /// Closes every quiet connection (after the quiet phase).
    pub fn close_quiet(&self) {
        while self.disconnect_one(false) {}
    }

    /// Closes everything.
    pub fn close_all(&self) {
        for s in &self.slots {
            drop(lock(s).take());
        }
    }

    /// For `seconds`, `rate` times a second: one random connected user
    /// (shown ones if `show`, else the quiet ones) disconnects and one
    /// offline user connects (shown if `show`).
    pub async fn churn(self: &Arc<Self>, show: bool, rate: u32, seconds: f64) -> Churned {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
        let end = Instant::now() + Duration::from_secs_f64(seconds);
        let mut opening = JoinSet::new();
        let mut done = Churned::default();
        let reap = |r: Result<anyhow::Result<Duration>, tokio::task::JoinError>,
                    done: &mut Churned| match r {
            Ok(Ok(_)) => done.connects += 1,
            Ok(Err(e)) => {
                if done.failed == 0 {
                    tracing::warn!(error = %format!("{e:#}"), "a churn connection failed");
                }
                done.failed += 1;
            }
            Err(_) => done.failed += 1,
        };
        while Instant::now() < end {
            tick.tick().await;
            while let Some(r) = opening.try_join_next() {
                reap(r, &mut done);
            }
            if self.disconnect_one(show) {
                done.disconnects += 1;
            }
            if opening.len() >= MAX_OPENING {
                done.skipped += 1;
                continue;
            }
            let next = Self::take_random(&mut lock(&self.sets).offline);
            if let Some(i) = next {
                opening.spawn(self.clone().connect(i, show));
            }
        }
        while let Some(r) = opening.join_next().await {
            reap(r, &mut done);
        }
        done
    }

    /// Reads one watcher's pushes until its connection closes.
    pub async fn watch(self: Arc<Self>, mut rx: PushQueue<RoomPush>) {
        while let Some(p) = rx.recv().await {
            let c = match p {
                Pushed::Item(RoomPush::Presence(c)) => c,
                // The client's queue dropped pushes: its view is stale, as
                // after a resync of the server's.
                Pushed::Lagged => PresenceChanges {
                    resync: true,
                    changes: Arc::new([]),
                },
                Pushed::Item(_) => continue,
            };
            let at = Instant::now();
            if !self.measuring.load(Ordering::SeqCst) {
                continue;
            }
            let n = c.changes.len() as u64;
            let k = &self.counts;
            k.frames.fetch_add(1, Ordering::Relaxed);
            k.bytes
                .fetch_add(FRAME_OVERHEAD + BYTES_PER_CHANGE * n, Ordering::Relaxed);
            k.changes.fetch_add(n, Ordering::Relaxed);
            if c.resync {
                k.resyncs.fetch_add(1, Ordering::Relaxed);
            }
            let delays: Vec<Option<Duration>> = {
                let events = lock(&self.events);
                c.changes
                    .iter()
                    .map(|ch| {
                        events
                            .get(&ch.client)
                            .and_then(|e| e[usize::from(ch.online)])
                            .map(|t| at.saturating_duration_since(t))
                    })
                    .collect()
            };
            let mut h = lock(&self.delay);
            for d in delays {
                match d {
                    Some(d) => report::record(&mut h, d),
                    None => {
                        k.unmatched.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }

    /// Connects `n` watchers (users of their own, not shown, watching);
    /// their reading tasks run until the connections close.
    ///
    /// # Errors
    /// A watcher could not connect or subscribe.
    pub async fn watchers(
        self: &Arc<Self>,
        addr: &str,
        watchers: &[(Identity, ClientId)],
    ) -> anyhow::Result<(Vec<Connection>, Vec<tokio::task::JoinHandle<()>>)> {
        let mut conns = Vec::new();
        let mut tasks = Vec::new();
        for (identity, id) in watchers {
            let conn = Connection::connect(addr, *id, |_| Ok(()), |m| identity.sign(m)).await?;
            let rx = conn.take_room_pushes().context("room pushes taken")?;
            conn.set_presence(false, true).await?;
            tasks.push(tokio::spawn(self.clone().watch(rx)));
            conns.push(conn);
        }
        Ok((conns, tasks))
    }
}
