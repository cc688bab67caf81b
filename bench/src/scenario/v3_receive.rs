//! The receiving side of scenario `v3`: each receiver opens every push,
//! records its latency (due to opened) in books made before the phase's
//! clock starts, and acknowledges as the client's `watch` does.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use client::connection::Pushed;
use client::crypto::{ReplayWindow, SealedKind};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use hdrhistogram::Histogram;
use protocol::v3::{self, AckStatus};

use super::v3_setup::User;
use super::v3_windows::Windows;
use crate::report;

/// What one receiver saw in a phase.
pub(super) struct ReceiveResult {
    pub(super) removed: u64,
    pub(super) latency: Histogram<u64>,
    pub(super) send: Histogram<u64>,
    pub(super) after_send: Histogram<u64>,
    pub(super) windows: Windows,
    pub(super) last_removal: Instant,
    pub(super) problems: Vec<String>,
}

/// When a receiver acknowledges what it opened.
#[derive(Debug, Clone, Copy)]
pub(super) struct AckPolicy {
    /// At most this many ids per acknowledgement; a full batch goes at once.
    pub(super) batch: usize,
    /// At most this many acknowledgements unanswered (0: no limit).
    pub(super) in_flight: usize,
}

impl AckPolicy {
    /// Whether the next acknowledgement goes now: there is something to
    /// acknowledge, a full batch or nothing more queued (`quiet`), and
    /// room in flight.
    pub(super) fn due(self, waiting_ids: usize, unanswered: usize, quiet: bool) -> bool {
        waiting_ids > 0
            && (waiting_ids >= self.batch || quiet)
            && (self.in_flight == 0 || unanswered < self.in_flight)
    }
}

/// What a receiver records, made before the phase's clock starts.
pub(super) struct Books {
    latency: Histogram<u64>,
    send: Histogram<u64>,
    after_send: Histogram<u64>,
    windows: Windows,
}

impl Books {
    pub(super) fn new(seconds: u64) -> Self {
        let touched = || {
            let mut h = report::histogram();
            // Writes every counter once (reset zeroes them all), so that no
            // page of it is first touched during the phase.
            h.reset();
            h
        };
        Books {
            latency: touched(),
            send: touched(),
            after_send: touched(),
            windows: Windows::for_seconds(seconds + 2),
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn receive(
    users: &[User],
    j: usize,
    start: Instant,
    policy: AckPolicy,
    sent: Arc<Vec<AtomicU64>>,
    over: Arc<std::sync::atomic::AtomicBool>,
    notify: Arc<tokio::sync::Notify>,
    books: Books,
) -> anyhow::Result<ReceiveResult> {
    let me = &users[j];
    let from = (j + users.len() - 1) % users.len();
    let mut highest = me.highest_received.load(Ordering::SeqCst);
    let mut stream = me.pushes.lock().await.take().context("no push stream")?;
    let Books {
        mut latency,
        send: mut send_lag,
        mut after_send,
        mut windows,
    } = books;
    let mut acks = Vec::with_capacity(policy.batch);
    let mut pending_acks = FuturesUnordered::new();
    // One timer for the whole phase (a new one per push would cost the
    // generator's core a timer-wheel insertion per message).
    let mut recheck = tokio::time::interval(Duration::from_millis(50));
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut received = 0u64;
    let mut removed = 0u64;
    let mut last_removal = start;
    let mut problems = Vec::new();
    loop {
        let expected = sent[from].load(Ordering::SeqCst);
        if over.load(Ordering::SeqCst)
            && received >= expected
            && acks.is_empty()
            && pending_acks.is_empty()
        {
            break;
        }
        tokio::select! {
            d = stream.recv() => {
                let d = match d {
                    Some(Pushed::Item(d)) => d,
                    Some(Pushed::Lagged) => bail!("the push queue dropped deliveries: the receiver fell behind"),
                    None => bail!("push stream ended"),
                };
                // In order only: everything up to `highest` counts as received.
                let window = ReplayWindow::from_stored(highest, None)?;
                match me.incoming.open(SealedKind::Text, &d.content, &window) {
                    Ok(opened) => {
                        if opened.counter != highest + 1 {
                            problems.push(format!("counter jumped from {highest} to {}", opened.counter));
                        }
                        highest = opened.counter;
                        let at = |offset: usize| {
                            let mut stamp = [0u8; 8];
                            stamp.copy_from_slice(&opened.plaintext[offset..offset + 8]);
                            start + Duration::from_nanos(u64::from_le_bytes(stamp))
                        };
                        let (due, handed, now) = (at(0), at(16), Instant::now());
                        report::record(&mut latency, now.saturating_duration_since(due));
                        report::record(&mut send_lag, handed.saturating_duration_since(due));
                        report::record(&mut after_send, now.saturating_duration_since(handed));
                        windows.record(due.saturating_duration_since(start), now.saturating_duration_since(due));
                        received += 1;
                        acks.push(d.message_id);
                    }
                    Err(e) => problems.push(format!("message {} did not open: {e}", d.message_id)),
                }
            }
            Some(answer) = pending_acks.next(), if !pending_acks.is_empty() => {
                match answer {
                    Ok(v3::Response::Acked(statuses)) => {
                        let ok = statuses.iter().filter(|s| **s == AckStatus::Removed).count() as u64;
                        if ok as usize != statuses.len() {
                            problems.push(format!("{} acknowledged ids were not waiting", statuses.len() - ok as usize));
                        }
                        removed += ok;
                        last_removal = Instant::now();
                    }
                    other => bail!("ack answered {other:?}"),
                }
            }
            () = notify.notified() => {}
            _ = recheck.tick() => {}
        }
        while policy.due(acks.len(), pending_acks.len(), stream.is_empty()) {
            let ids: Vec<u64> = acks.drain(..acks.len().min(policy.batch)).collect();
            pending_acks.push(me.conn.submit(v3::Request::Ack(ids)));
        }
    }
    me.highest_received.store(highest, Ordering::SeqCst);
    *me.pushes.lock().await = Some(stream);
    Ok(ReceiveResult {
        removed,
        latency,
        send: send_lag,
        after_send,
        windows,
        last_removal,
        problems,
    })
}
