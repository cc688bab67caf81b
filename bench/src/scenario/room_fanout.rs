//! The fan-out phases of the `room` scenario: every member but the owner
//! subscribed to pushes (1310) with a receiving task of its own that notes
//! when each entry reached it, keeps its bytes for the decryption check and
//! acknowledges cumulatively (one 136 in flight per member, the newest
//! entry each time) unless told to hold back; the owner sends.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use bytes::Bytes;
use client::connection::{Connection, PushQueue, Pushed, RoomPush};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use hdrhistogram::Histogram;
use protocol::v3::{self, RoomCursor, RoomEntryKind};
use protocol::{ClientId, RoomId};
use tokio::sync::Notify;

use super::room_figures::{FanOut, RoomArgs, StoredFigures, per_text, text};
use super::room_member::{self as rm, Members, timed};
use crate::report::{self, Latency};
use crate::target::proc_work;

/// How long one text may take to reach every member.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);

/// When each entry reached each member.
struct Tracker {
    receivers: usize,
    arrivals: Mutex<HashMap<u64, Vec<Instant>>>,
    complete: Notify,
}

impl Tracker {
    fn arrived(&self, seq: u64, at: Instant) {
        let mut a = self.arrivals.lock().unwrap_or_else(|e| e.into_inner());
        let v = a.entry(seq).or_default();
        v.push(at);
        if v.len() >= self.receivers {
            self.complete.notify_waiters();
        }
    }

    /// Waits until entry `seq` reached every receiver; their arrival times.
    async fn all(&self, seq: u64) -> anyhow::Result<Vec<Instant>> {
        let deadline = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
        loop {
            let wake = self.complete.notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            {
                let a = self.arrivals.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(v) = a.get(&seq).filter(|v| v.len() >= self.receivers) {
                    return Ok(v.clone());
                }
            }
            if tokio::time::timeout_at(deadline, wake).await.is_err() {
                let got = self
                    .arrivals
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(&seq)
                    .map_or(0, Vec::len);
                bail!(
                    "entry {seq} reached {got} of {} members within {DELIVERY_TIMEOUT:?}",
                    self.receivers
                );
            }
        }
    }
}

/// What the receivers share with the sender.
struct Shared {
    tracker: Tracker,
    /// Members acknowledge only while this is set.
    acking: AtomicBool,
    /// The receivers stop when this is set.
    stop: AtomicBool,
    /// Per receiver: the highest entry its acknowledgement moved to.
    acked: Vec<AtomicU64>,
    /// Acknowledgements sent, in all.
    acks_sent: AtomicU64,
}

/// What the receivers kept, for the decryption check.
pub struct Kept {
    /// Per member index (0, the owner, keeps nothing): seq to bytes.
    pub entries: Vec<HashMap<u64, Bytes>>,
    /// The seq of every text sent, in order.
    pub sent: Vec<u64>,
    /// Per member index: its room pushes, handed back by its receiver (the
    /// owner's were never taken: `None`).
    pub pushes: Vec<Option<PushQueue<RoomPush>>>,
}

/// What one receiver kept, and its pushes back.
type Received = (HashMap<u64, Bytes>, PushQueue<RoomPush>);

/// The room with its receivers running.
pub struct FanOutRoom {
    room: RoomId,
    shared: Arc<Shared>,
    receivers: Vec<tokio::task::JoinHandle<anyhow::Result<Received>>>,
    sent: Mutex<Vec<u64>>,
}

impl FanOutRoom {
    /// Subscribes every member but the owner and starts its receiver.
    ///
    /// # Errors
    /// A subscription failed.
    pub async fn start(
        members: &Members,
        room: RoomId,
        _problems: &mut [String],
    ) -> anyhow::Result<Self> {
        let n = members.all.len();
        let shared = Arc::new(Shared {
            tracker: Tracker {
                receivers: n - 1,
                arrivals: Mutex::new(HashMap::new()),
                complete: Notify::new(),
            },
            acking: AtomicBool::new(true),
            stop: AtomicBool::new(false),
            acked: (0..n).map(|_| AtomicU64::new(0)).collect(),
            acks_sent: AtomicU64::new(0),
        });
        let indices: Vec<usize> = (1..n).collect();
        let subscribed = rm::net_map(&indices, |i| {
            let conn = members.all[i].conn.clone();
            async move {
                let pushes = conn.take_room_pushes().context("room pushes taken")?;
                conn.subscribe().await?;
                anyhow::Ok(pushes)
            }
        })
        .await;
        let owner = members.all[0].id;
        let mut receivers = Vec::with_capacity(n - 1);
        for (i, pushes) in indices.into_iter().zip(subscribed) {
            let pushes = pushes?;
            let conn = members.all[i].conn.clone();
            let shared = shared.clone();
            receivers.push(tokio::spawn(async move {
                receive(i, conn, pushes, room, owner, &shared).await
            }));
        }
        Ok(Self {
            room,
            shared,
            receivers,
            sent: Mutex::new(Vec::new()),
        })
    }

    /// Sends one text from the owner: (encrypt time, stored time, seq, instant
    /// before encryption).
    async fn send_one(
        &self,
        members: &Members,
        k: usize,
        size: usize,
    ) -> anyhow::Result<(rm::Took, Duration, u64, Instant)> {
        let owner = &members.all[0];
        let t0 = Instant::now();
        let (message, encrypt) = tokio::task::block_in_place(|| {
            timed(|| {
                owner.with_engine(|e| {
                    let r = sealpost_rooms::RoomId(self.room.0);
                    Ok::<_, sealpost_rooms::RoomsError>((e.epoch(r)?, e.send(r, &text(k, size))?))
                })
            })
        });
        let (epoch, message) = message?;
        let t = Instant::now();
        let seq = stored_seq(
            owner
                .conn
                .call(send_request(self.room, epoch, message))
                .await,
        )?;
        let stored = t.elapsed();
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(seq);
        Ok((encrypt, stored, seq, t0))
    }

    /// Texts nobody acknowledges, rows counted before and after; then every
    /// member acknowledges and the log must empty.
    ///
    /// # Errors
    /// A send or a database read failed.
    pub async fn stored_phase(
        &self,
        members: &Members,
        db: &Path,
        args: &RoomArgs,
        problems: &mut Vec<String>,
    ) -> anyhow::Result<StoredFigures> {
        let room = self.room;
        self.shared.acking.store(false, Ordering::SeqCst);
        let before = rm::count_rows(db, room)?;
        let mut last = 0;
        for k in 0..args.stored {
            let (_, _, seq, _) = self.send_one(members, self.next_k(), args.size).await?;
            self.shared.tracker.all(seq).await?;
            last = seq;
            let _ = k;
        }
        let after_send = rm::count_rows(db, room)?;
        self.shared.acking.store(true, Ordering::SeqCst);
        self.all_acked(last).await?;
        // The deletion is part of the acknowledgement's transaction.
        let after_acks = rm::count_rows(db, room)?;
        if after_acks.room_log != 0 {
            problems.push(format!(
                "{} log entries left after every member acknowledged",
                after_acks.room_log
            ));
        }
        let t = args.stored.max(1) as f64;
        Ok(StoredFigures {
            texts: args.stored,
            before,
            after_send,
            after_acks,
            log_rows_per_text: (after_send.room_log - before.room_log) as f64 / t,
            message_rows_per_text: (after_send.messages - before.messages) as f64 / t,
            member_rows_per_text: (after_send.room_members - before.room_members) as f64 / t,
            log_bytes_per_text: (after_send.room_log_bytes - before.room_log_bytes) as f64 / t,
        })
    }

    fn next_k(&self) -> usize {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Waits until every receiver acknowledged `seq`.
    async fn all_acked(&self, seq: u64) -> anyhow::Result<()> {
        let deadline = Instant::now() + DELIVERY_TIMEOUT;
        while self.shared.acked[1..]
            .iter()
            .any(|a| a.load(Ordering::SeqCst) < seq)
        {
            ensure!(
                Instant::now() < deadline,
                "not every member acknowledged entry {seq} within {DELIVERY_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }

    /// One text at a time, each once the previous one reached everyone.
    ///
    /// # Errors
    /// A send failed or a text did not reach everyone in time.
    pub async fn latency_phase(
        &self,
        members: &Members,
        pid: Option<u32>,
        args: &RoomArgs,
        _problems: &mut [String],
    ) -> anyhow::Result<FanOut> {
        let acks_before = self.shared.acks_sent.load(Ordering::SeqCst);
        let work_before = pid.and_then(|p| proc_work(p).ok());
        let start = Instant::now();
        let (mut last_h, mut each_h, mut enc_h, mut stored_h) = (
            report::histogram(),
            report::histogram(),
            report::histogram(),
            report::histogram(),
        );
        let mut last_seq = 0;
        let mut delivering = Duration::ZERO;
        for _ in 0..args.messages {
            let (encrypt, stored, seq, t0) =
                self.send_one(members, self.next_k(), args.size).await?;
            let arrivals = self.shared.tracker.all(seq).await?;
            record_arrivals(&mut last_h, &mut each_h, t0, &arrivals);
            delivering += arrivals.iter().max().map_or(Duration::ZERO, |l| *l - t0);
            report::record(&mut enc_h, encrypt.wall);
            report::record(&mut stored_h, stored);
            last_seq = seq;
        }
        self.all_acked(last_seq).await?;
        let seconds = start.elapsed().as_secs_f64();
        let (cpu, writes) = per_text(pid, work_before, args.messages);
        let receivers = self.shared.tracker.receivers;
        Ok(FanOut {
            texts: args.messages,
            receivers,
            to_last_member: Latency::of(&last_h),
            to_each_member: Latency::of(&each_h),
            encrypt: Latency::of(&enc_h),
            stored: Latency::of(&stored_h),
            seconds,
            member_deliveries_per_s: report::per_second(
                (args.messages * receivers) as f64,
                delivering,
            ),
            acks_per_text: (self.shared.acks_sent.load(Ordering::SeqCst) - acks_before) as f64
                / args.messages.max(1) as f64,
            server_cpu_ms_per_text: cpu,
            server_write_bytes_per_text: writes,
        })
    }

    /// Texts encrypted beforehand, `window` in flight.
    ///
    /// # Errors
    /// A send failed or a text did not reach everyone in time.
    pub async fn throughput_phase(
        &self,
        members: &Members,
        pid: Option<u32>,
        args: &RoomArgs,
        _problems: &mut [String],
    ) -> anyhow::Result<FanOut> {
        let owner = &members.all[0];
        let first = self.next_k();
        let r = sealpost_rooms::RoomId(self.room.0);
        let mut enc_h = report::histogram();
        let mut sealed = Vec::with_capacity(args.burst);
        let epoch = owner.with_engine(|e| e.epoch(r))?;
        for k in first..first + args.burst {
            let (m, d) = tokio::task::block_in_place(|| {
                timed(|| owner.with_engine(|e| e.send(r, &text(k, args.size))))
            });
            sealed.push(m?);
            report::record(&mut enc_h, d.wall);
        }
        let acks_before = self.shared.acks_sent.load(Ordering::SeqCst);
        let work_before = pid.and_then(|p| proc_work(p).ok());
        let start = Instant::now();
        let mut stored_h = report::histogram();
        let mut in_flight = FuturesUnordered::new();
        let mut seqs = Vec::with_capacity(args.burst);
        for message in sealed {
            let sent_at = Instant::now();
            let answer = owner.conn.submit(send_request(self.room, epoch, message));
            in_flight.push(async move { (answer.await, sent_at) });
            while in_flight.len() >= args.window.max(1) {
                if let Some((a, at)) = in_flight.next().await {
                    seqs.push(stored_seq(a)?);
                    report::record(&mut stored_h, at.elapsed());
                }
            }
        }
        while let Some((a, at)) = in_flight.next().await {
            seqs.push(stored_seq(a)?);
            report::record(&mut stored_h, at.elapsed());
        }
        // Answers come in request order: seqs are in sending order.
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(&seqs);
        let (mut last_h, mut each_h) = (report::histogram(), report::histogram());
        let mut last_delivery = start;
        for &seq in &seqs {
            let arrivals = self.shared.tracker.all(seq).await?;
            record_arrivals(&mut last_h, &mut each_h, start, &arrivals);
            if let Some(l) = arrivals.iter().max() {
                last_delivery = last_delivery.max(*l);
            }
        }
        let last_seq = seqs.iter().copied().max().unwrap_or(0);
        self.all_acked(last_seq).await?;
        let seconds = start.elapsed().as_secs_f64();
        let (cpu, writes) = per_text(pid, work_before, args.burst);
        let receivers = self.shared.tracker.receivers;
        Ok(FanOut {
            texts: args.burst,
            receivers,
            to_last_member: Latency::of(&last_h),
            to_each_member: Latency::of(&each_h),
            encrypt: Latency::of(&enc_h),
            stored: Latency::of(&stored_h),
            seconds,
            member_deliveries_per_s: report::per_second(
                (args.burst * receivers) as f64,
                last_delivery - start,
            ),
            acks_per_text: (self.shared.acks_sent.load(Ordering::SeqCst) - acks_before) as f64
                / args.burst.max(1) as f64,
            server_cpu_ms_per_text: cpu,
            server_write_bytes_per_text: writes,
        })
    }

    /// Stops the receivers; what they kept.
    ///
    /// # Errors
    /// A receiver failed.
    pub async fn stop(self, problems: &mut Vec<String>) -> anyhow::Result<Kept> {
        self.shared.stop.store(true, Ordering::SeqCst);
        let mut entries = vec![HashMap::new()];
        let mut pushes = vec![None];
        for (i, r) in self.receivers.into_iter().enumerate() {
            match r.await {
                Ok(Ok((kept, rx))) => {
                    entries.push(kept);
                    pushes.push(Some(rx));
                }
                Ok(Err(e)) => {
                    problems.push(format!("receiver {}: {e:#}", i + 1));
                    entries.push(HashMap::new());
                    pushes.push(None);
                }
                Err(e) => bail!("receiver {} panicked: {e}", i + 1),
            }
        }
        let sent = self.sent.into_inner().unwrap_or_else(|e| e.into_inner());
        let expected: usize = sent.len();
        let short = entries[1..].iter().filter(|e| e.len() != expected).count();
        if short > 0 {
            problems.push(format!(
                "{short} members did not get exactly the {expected} texts sent"
            ));
        }
        Ok(Kept {
            entries,
            sent,
            pushes,
        })
    }
}

fn send_request(room: RoomId, epoch: u64, message: Vec<u8>) -> v3::Request {
    v3::Request::RoomSend(v3::RoomSend {
        room,
        epoch,
        file: None,
        message: Bytes::from(message),
    })
}

fn stored_seq(
    answer: Result<v3::Response, client::connection::ConnectionError>,
) -> anyhow::Result<u64> {
    match answer? {
        v3::Response::RoomMessageStored(m) => Ok(m.seq),
        other => bail!("room send answered {:?}", other.code()),
    }
}

fn record_arrivals(
    last: &mut Histogram<u64>,
    each: &mut Histogram<u64>,
    from: Instant,
    arrivals: &[Instant],
) {
    for a in arrivals {
        report::record(each, a.saturating_duration_since(from));
    }
    if let Some(l) = arrivals.iter().max() {
        report::record(last, l.saturating_duration_since(from));
    }
}

/// One member's receiver: notes each pushed entry, keeps its bytes, and
/// acknowledges the newest one with one acknowledgement in flight at most.
async fn receive(
    i: usize,
    conn: Arc<Connection>,
    mut pushes: PushQueue<RoomPush>,
    room: RoomId,
    owner: ClientId,
    shared: &Shared,
) -> anyhow::Result<Received> {
    let mut kept = HashMap::new();
    let mut newest = 0u64;
    let mut pending = FuturesUnordered::new();
    loop {
        if pending.is_empty() && shared.acking.load(Ordering::SeqCst) && newest > 0 {
            let acked = shared.acked[i].load(Ordering::SeqCst);
            if newest > acked && pushes.is_empty() {
                shared.acks_sent.fetch_add(1, Ordering::Relaxed);
                let answer =
                    conn.submit(v3::Request::RoomAck(vec![RoomCursor { room, seq: newest }]));
                let seq = newest;
                pending.push(async move { (answer.await, seq) });
            }
        }
        if shared.stop.load(Ordering::SeqCst) && pending.is_empty() {
            return Ok((kept, pushes));
        }
        tokio::select! {
            p = pushes.recv() => match p {
                Some(Pushed::Item(RoomPush::Entry(e))) => {
                    let at = Instant::now();
                    ensure!(
                        e.room == room && e.sender == owner && e.kind == RoomEntryKind::Application,
                        "unexpected entry {} ({:?} from {})", e.seq, e.kind, e.sender
                    );
                    ensure!(kept.insert(e.seq, e.message).is_none(), "entry {} twice", e.seq);
                    shared.tracker.arrived(e.seq, at);
                    newest = newest.max(e.seq);
                }
                // The bench's connections never ask for presence.
                Some(Pushed::Item(RoomPush::KeyPackagesLow(_) | RoomPush::Presence(_))) => {}
                Some(Pushed::Lagged) => bail!("member {i}'s push queue dropped entries: it fell behind"),
                None => bail!("the connection closed"),
            },
            Some((answer, seq)) = pending.next(), if !pending.is_empty() => {
                match answer? {
                    v3::Response::RoomAcked(s) if s == [v3::RoomAckStatus::Moved] => {
                        shared.acked[i].fetch_max(seq, Ordering::SeqCst);
                    }
                    other => bail!("room ack answered {other:?}"),
                }
            }
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
}
