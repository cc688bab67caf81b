//! Scenario `v3`: version 3 end to end with real client cryptography.
//!
//! `users` clients, each on one persistent authenticated connection, form a
//! ring: user i sends to user i+1. Setup agrees a session per pair through
//! the server (a key-agreement offer, type 1, accepted and answered, type
//! 2) and subscribes every user to pushes. Then:
//!
//! 1. **throughput**: every sender seals texts (XChaCha20-Poly1305, counter
//!    in the associated data) and sends them pipelined, as fast as the
//!    server answers, for `seconds`; every receiver opens each pushed text
//!    (tag and counter checked), and acknowledges in batches, one
//!    unanswered at a time as the client's `watch` does (what arrives
//!    meanwhile goes into the next; `--v3-acks-in-flight`). A message
//!    counts once its acknowledgement says *removed*: sent, durable,
//!    delivered and acknowledged.
//! 2. **latency**: the same at a fixed offered rate (half the throughput
//!    just measured, unless `--v3-rate` says otherwise), open loop, each
//!    text stamped with the instant it was due; push latency is the time
//!    from that instant to the moment the recipient has opened it.
//!
//! Checks: every message opened exactly once, counters strictly increasing
//! per session, no decryption failure, every inbox empty at the end.
//!
//! The clients keep session keys and counters in memory here. The product's
//! client (`client::Client`) also persists each counter and each handled id
//! in its key store with an fsync, which bounds one client to a few thousand
//! messages a second; this scenario measures the protocol, the server and
//! the cryptography, not that bookkeeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use bytes::Bytes;
use clap::Args;
use client::crypto::SealedKind;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use hdrhistogram::Histogram;
use protocol::MessageKind;
use protocol::v3;
use serde::Serialize;

use super::v3_latency::{self, CurvePoint, Measured};
use super::v3_receive::{AckPolicy, Books, receive};
use super::v3_setup::User;
use super::v3_windows::Windows;
use crate::cores::{self, Busy};
use crate::report::{self, Latency, Outcome};

/// The version-3 workload.
#[derive(Debug, Clone, Args)]
pub struct V3Args {
    /// Clients (one connection each, in a ring).
    #[arg(long = "v3-users", id = "v3-users", default_value_t = 32)]
    pub users: usize,
    /// Plaintext bytes per text (at least 16: the stamp).
    #[arg(long = "v3-size", id = "v3-size", default_value_t = 100)]
    pub size: usize,
    /// Seconds of load in each phase.
    #[arg(long = "v3-seconds", id = "v3-seconds", default_value_t = 10)]
    pub seconds: u64,
    /// Sends in flight per client in the throughput phase.
    #[arg(long = "v3-window", id = "v3-window", default_value_t = 128)]
    pub window: usize,
    /// Offered rate of the latency phase, texts per second (0: half the
    /// throughput phase's figure).
    #[arg(long = "v3-rate", id = "v3-rate", default_value_t = 0)]
    pub rate: u64,
    /// Acknowledge after this many deliveries (or when no more are queued).
    #[arg(long = "v3-ack-batch", id = "v3-ack-batch", default_value_t = 256)]
    pub ack_batch: usize,
    /// Acknowledgements a receiver keeps in flight (0: no limit). At 1 it
    /// acknowledges as the client's `watch` does: what arrives while one
    /// acknowledgement is answered goes into the next.
    #[arg(
        long = "v3-acks-in-flight",
        id = "v3-acks-in-flight",
        default_value_t = 1
    )]
    pub acks_in_flight: usize,
    /// Latency phases to run instead of the one at `--v3-rate`, comma
    /// separated: texts per second, or shares of the measured maximum
    /// (`1000,5000,0.25x,0.5x`): the latency-versus-load curve.
    #[arg(long = "v3-curve", id = "v3-curve", default_value = "")]
    pub curve: String,
}

impl Default for V3Args {
    fn default() -> Self {
        Self {
            users: 32,
            size: 100,
            seconds: 10,
            window: 128,
            rate: 0,
            ack_batch: 256,
            acks_in_flight: 1,
            curve: String::new(),
        }
    }
}

/// Every figure of a v3 run.
#[derive(Debug, Clone, Serialize)]
pub struct V3Figures {
    /// Clients.
    pub users: usize,
    /// Plaintext bytes per text.
    pub size: usize,
    /// Acknowledgements each receiver kept in flight (0: no limit).
    pub acks_in_flight: usize,
    /// Throughput phase: messages acknowledged as removed.
    pub throughput_messages: u64,
    /// Throughput phase: seconds from the first send to the last removal.
    pub throughput_seconds: f64,
    /// End-to-end messages per second (sent, durable, delivered, acknowledged).
    pub e2e_msgs_per_s: f64,
    /// Send answers (durable) per second in the throughput phase.
    pub stored_msgs_per_s: f64,
    /// Push latency in the throughput phase (closed loop: includes queueing).
    pub throughput_push_latency: Latency,
    /// How busy the cores were in the throughput phase.
    pub throughput_cpu_busy: Busy,
    /// What storing and acknowledging cost the server's writer in the
    /// throughput phase (a server this run started).
    pub throughput_writer: Option<server::timing::WriterWork>,
    /// The generator's and the server's cores, when `--split-cores` split them.
    pub cores: Option<cores::Split>,
    /// Offered rate of the latency phase.
    pub latency_offered_per_s: f64,
    /// Messages the latency phase delivered and acknowledged.
    pub latency_messages: u64,
    /// Achieved end-to-end rate in the latency phase.
    pub latency_achieved_per_s: f64,
    /// Push latency at the offered rate, from the moment each text was due.
    pub push_latency: Latency,
    /// Every latency phase (the first is the one above) with where the time
    /// went.
    pub curve: Vec<CurvePoint>,
}

/// Runs both phases against the nodes at `addrs` (one server, or the nodes
/// of a cluster: user i registers and stays on node i mod n, so with two
/// nodes and an even ring every text crosses from one node to the other).
///
/// # Errors
/// Setup failed (registration, connections, key agreement).
/// `data_dir` is the server's data folder when this run started it: its
/// stage figures are read there (see `v3_latency`).
pub async fn run(
    addrs: &[std::net::SocketAddr],
    args: &V3Args,
    target: &str,
    data_dir: Option<&std::path::Path>,
) -> anyhow::Result<(Outcome, V3Figures)> {
    ensure!(args.users >= 2, "v3 needs at least 2 users");
    ensure!(
        args.size >= STAMP,
        "v3 texts are at least {STAMP} bytes (the stamps)"
    );
    ensure!(!addrs.is_empty(), "v3 needs a server address");
    let users = super::v3_setup::setup(addrs, args.users)
        .await
        .context("setting up v3 users")?;
    let users = Arc::new(users);
    let mut problems = Vec::new();

    v3_latency::server_figures(data_dir, true).await;
    let ticks = cores::Ticks::now();
    let throughput = phase(&users, args, None).await?;
    let throughput_cpu_busy = Busy::between(&ticks, &cores::Ticks::now());
    let throughput_writer = v3_latency::server_figures(data_dir, true)
        .await
        .map(|b| b.writer);
    problems.extend(throughput.problems.iter().cloned());
    let e2e = report::per_second(throughput.removed as f64, throughput.elapsed);
    let rates = v3_latency::rates(&args.curve, args.rate, e2e)?;
    let offered = rates[0];
    let mut curve = Vec::with_capacity(rates.len());
    let mut first = None;
    for rate in rates {
        v3_latency::server_figures(data_dir, true).await;
        let ticks = cores::Ticks::now();
        let latency = phase(&users, args, Some(rate)).await?;
        let busy = Busy::between(&ticks, &cores::Ticks::now());
        let server = v3_latency::server_figures(data_dir, true).await;
        problems.extend(latency.problems.iter().cloned());
        let achieved = report::per_second(latency.removed as f64, latency.elapsed);
        let measured = Measured {
            total: &latency.latency,
            send: &latency.send,
            after_send: &latency.after_send,
        };
        curve.push(v3_latency::point(
            rate,
            e2e,
            achieved,
            &measured,
            server.as_ref(),
            busy,
            latency.windows.clone(),
        ));
        first.get_or_insert(latency);
    }
    let latency = first.context("no latency phase")?;

    // Every inbox must be empty now.
    for user in users.iter() {
        let batch = user.conn.pull(0).await?;
        if !batch.messages.is_empty() {
            problems.push(format!(
                "{} messages left for user {}",
                batch.messages.len(),
                user.id
            ));
        }
    }
    let figures = V3Figures {
        users: args.users,
        size: args.size,
        acks_in_flight: args.acks_in_flight,
        throughput_messages: throughput.removed,
        throughput_seconds: throughput.elapsed.as_secs_f64(),
        e2e_msgs_per_s: e2e,
        stored_msgs_per_s: report::per_second(throughput.stored as f64, throughput.send_elapsed),
        throughput_push_latency: Latency::of(&throughput.latency),
        throughput_cpu_busy,
        throughput_writer,
        cores: cores::current().cloned(),
        latency_offered_per_s: offered,
        latency_messages: latency.removed,
        latency_achieved_per_s: report::per_second(latency.removed as f64, latency.elapsed),
        push_latency: Latency::of(&latency.latency),
        curve,
    };
    let summary = format!(
        "v3 ({target}, {} users, {} B texts): {} msg/s end to end (sealed, durable, pushed, opened, acknowledged); \
         push latency at {} msg/s offered: {}",
        args.users,
        args.size,
        report::thousands(figures.e2e_msgs_per_s),
        report::thousands(offered),
        figures.push_latency.short(),
    );
    let outcome = Outcome {
        name: "v3".into(),
        target: target.into(),
        passed: problems.is_empty(),
        problems,
        summary,
        figures: serde_json::to_value(&figures)?,
        comparisons: Vec::new(),
    };
    Ok((outcome, figures))
}

struct PhaseResult {
    stored: u64,
    removed: u64,
    send_elapsed: Duration,
    elapsed: Duration,
    latency: Histogram<u64>,
    /// Due to handed to the connection, and from there to opened.
    send: Histogram<u64>,
    after_send: Histogram<u64>,
    /// When the slow messages were due.
    windows: Windows,
    problems: Vec<String>,
}

/// Plaintext bytes the stamps take: due (ns from the phase start), counter,
/// handed to the connection (ns from the phase start).
const STAMP: usize = 24;

/// One phase: `rate` None is as fast as possible, Some(r) an open-loop offer
/// of r texts per second in all.
async fn phase(
    users: &Arc<Vec<User>>,
    args: &V3Args,
    rate: Option<f64>,
) -> anyhow::Result<PhaseResult> {
    let n = users.len();
    // The receivers' books are made before the clock starts: their memory
    // is the generator's, not a delay of the server's.
    let mut books: Vec<Books> = (0..n).map(|_| Books::new(args.seconds)).collect();
    let start = Instant::now();
    let started_unix_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let duration = Duration::from_secs(args.seconds);
    let stored = Arc::new(AtomicU64::new(0));
    let sent_per_user: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let done_sending = Arc::new(tokio::sync::Notify::new());
    let sending_over = Arc::new(std::sync::atomic::AtomicBool::new(false));

    // Receivers: open every push, record latency, acknowledge in batches.
    let mut receivers = Vec::with_capacity(n);
    for j in 0..n {
        let users = users.clone();
        let acks = AckPolicy {
            batch: args.ack_batch.max(1),
            in_flight: args.acks_in_flight,
        };
        let sent = sent_per_user.clone();
        let over = sending_over.clone();
        let notify = done_sending.clone();
        let book = books.pop().expect("one book per receiver");
        receivers.push(tokio::spawn(async move {
            receive(&users, j, start, acks, sent, over, notify, book).await
        }));
    }

    // Senders, paced by one thread when a rate is offered.
    let mut slots = Vec::with_capacity(n);
    let mut senders = Vec::with_capacity(n);
    for i in 0..n {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        slots.push(tx);
        let users = users.clone();
        let stored = stored.clone();
        let sent = sent_per_user.clone();
        let window = args.window.max(1);
        let size = args.size;
        let paced = rate.map(|_| rx);
        senders.push(tokio::spawn(async move {
            send(
                &users, i, start, duration, window, size, paced, &stored, &sent[i],
            )
            .await
        }));
    }
    if let Some(r) = rate {
        v3_latency::pace(r, start, duration, slots).await?;
    }
    let mut problems = Vec::new();
    for s in senders {
        if let Err(e) = s.await? {
            problems.push(format!("sender: {e:#}"));
        }
    }
    let send_elapsed = start.elapsed();
    sending_over.store(true, Ordering::SeqCst);
    done_sending.notify_waiters();
    let mut latency = report::histogram();
    let mut send_lag = report::histogram();
    let mut after_send = report::histogram();
    let mut windows = Windows {
        started_unix_us,
        ..Windows::default()
    };
    let mut removed = 0u64;
    let mut last_removal = start;
    for (j, r) in receivers.into_iter().enumerate() {
        match tokio::time::timeout(Duration::from_secs(60), r).await {
            Ok(Ok(Ok(result))) => {
                removed += result.removed;
                latency.add(&result.latency)?;
                send_lag.add(&result.send)?;
                after_send.add(&result.after_send)?;
                windows.add(&result.windows);
                last_removal = last_removal.max(result.last_removal);
                problems.extend(result.problems);
            }
            Ok(Ok(Err(e))) => problems.push(format!("receiver {j}: {e:#}")),
            Ok(Err(e)) => problems.push(format!("receiver {j} panicked: {e}")),
            Err(_) => problems.push(format!("receiver {j} did not finish within 60 s")),
        }
    }
    let total_sent: u64 = sent_per_user.iter().map(|s| s.load(Ordering::SeqCst)).sum();
    if removed != total_sent {
        problems.push(format!(
            "{total_sent} sent but {removed} acknowledged as removed"
        ));
    }
    Ok(PhaseResult {
        stored: stored.load(Ordering::SeqCst),
        removed,
        send_elapsed,
        elapsed: last_removal.duration_since(start),
        latency,
        send: send_lag,
        after_send,
        windows,
        problems,
    })
}

#[allow(clippy::too_many_arguments)]
async fn send(
    users: &[User],
    i: usize,
    start: Instant,
    duration: Duration,
    window: usize,
    size: usize,
    mut paced: Option<tokio::sync::mpsc::UnboundedReceiver<Instant>>,
    stored: &AtomicU64,
    sent: &AtomicU64,
) -> anyhow::Result<()> {
    let me = &users[i];
    let to = users[(i + 1) % users.len()].id;
    let mut next = me.next_send.load(Ordering::SeqCst);
    let mut in_flight = FuturesUnordered::new();
    let mut padding = vec![0x5au8; size];
    loop {
        let due = match paced.as_mut() {
            // Paced: one slot per text, stamped with the instant it is due;
            // the pacer closes the channel when the phase is over.
            Some(slots) => match slots.recv().await {
                Some(due) => due,
                None => break,
            },
            None if start.elapsed() < duration => Instant::now(),
            None => break,
        };
        // The stamp: nanoseconds from the phase start to the moment this
        // text was due (for closed loop: when it was sealed).
        let stamp = due.saturating_duration_since(start).as_nanos() as u64;
        padding[..8].copy_from_slice(&stamp.to_le_bytes());
        padding[8..16].copy_from_slice(&next.to_le_bytes());
        let handed = start.elapsed().as_nanos() as u64;
        padding[16..24].copy_from_slice(&handed.to_le_bytes());
        let content = me.outgoing.seal(SealedKind::Text, next, &padding)?;
        next += 1;
        in_flight.push(me.conn.submit(v3::Request::SendMessage(v3::SendMessage {
            destination: to,
            kind: MessageKind::Text,
            content: Bytes::from(content),
        })));
        sent.fetch_add(1, Ordering::SeqCst);
        while in_flight.len() >= window {
            match in_flight.next().await {
                Some(Ok(v3::Response::MessageStored(_))) => {
                    stored.fetch_add(1, Ordering::Relaxed);
                }
                Some(other) => bail!("send answered {other:?}"),
                None => break,
            }
        }
    }
    while let Some(answer) = in_flight.next().await {
        match answer {
            Ok(v3::Response::MessageStored(_)) => {
                stored.fetch_add(1, Ordering::Relaxed);
            }
            other => bail!("send answered {other:?}"),
        }
    }
    me.next_send.store(next, Ordering::SeqCst);
    Ok(())
}
