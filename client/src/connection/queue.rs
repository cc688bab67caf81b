//! The queues between the connection's reader and whoever takes what the
//! server pushes (deliveries, room pushes). A server bounds what it pushes
//! unacknowledged, but the client trusts no server for its memory, and even
//! an honest one may push a thousand texts of 256 KiB to a reader that is
//! busy with a download: each queue holds at most [`MAX_QUEUED_PUSHES`]
//! items and [`MAX_QUEUED_PUSH_BYTES`] bytes. What does not fit is dropped,
//! and the taker is told once ([`Pushed::Lagged`]) that it must read what
//! is waiting from the server instead (a dropped delivery is still there:
//! unacknowledged, it is never lost). Until it has taken that notice,
//! everything else pushed is dropped too, so that what it reads afterwards
//! is never older than something it was handed before.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

/// Most items a push queue holds.
pub const MAX_QUEUED_PUSHES: usize = 4096;
/// Most bytes (the pushes' contents) a push queue holds.
pub const MAX_QUEUED_PUSH_BYTES: usize = 8 * 1024 * 1024;

/// What a push queue hands over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed<T> {
    /// The next push.
    Item(T),
    /// Pushes were dropped here (the queue was full): read what is waiting
    /// from the server.
    Lagged,
}

/// What the queue holds now, shared by its two ends.
#[derive(Debug)]
struct Held {
    items: AtomicUsize,
    bytes: AtomicUsize,
    /// Dropping until the taker has taken [`Pushed::Lagged`].
    lagged: AtomicBool,
}

/// The reader's end.
#[derive(Debug)]
pub(crate) struct PushSender<T> {
    tx: mpsc::UnboundedSender<(Pushed<T>, usize)>,
    held: Arc<Held>,
}

/// The taker's end.
#[derive(Debug)]
pub struct PushQueue<T> {
    rx: mpsc::UnboundedReceiver<(Pushed<T>, usize)>,
    held: Arc<Held>,
}

/// A push queue's two ends.
pub(crate) fn push_queue<T>() -> (PushSender<T>, PushQueue<T>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let held = Arc::new(Held {
        items: AtomicUsize::new(0),
        bytes: AtomicUsize::new(0),
        lagged: AtomicBool::new(false),
    });
    (
        PushSender {
            tx,
            held: held.clone(),
        },
        PushQueue { rx, held },
    )
}

impl<T> PushSender<T> {
    /// Queues `item` of `bytes` if it fits; else drops it and, the first
    /// time, queues the notice. Returns whether it was queued. A taker that
    /// went away takes nothing, which is fine.
    pub(crate) fn offer(&self, item: T, bytes: usize) -> bool {
        let held = &self.held;
        if held.lagged.load(Ordering::Acquire) {
            return false;
        }
        // Only this end adds, so the check and the adds cannot race with
        // another add; the taker only ever lowers the counts.
        let items = held.items.load(Ordering::Acquire);
        let queued = held.bytes.load(Ordering::Acquire);
        if items >= MAX_QUEUED_PUSHES || queued.saturating_add(bytes) > MAX_QUEUED_PUSH_BYTES {
            held.lagged.store(true, Ordering::Release);
            // Info, not a warning: an honest server does this to a client
            // that came online to a backlog of large texts, and nothing is
            // lost.
            tracing::info!(
                items,
                bytes = queued,
                "pushes come faster than they are taken; dropping them until what waits is read from the server"
            );
            let _ = self.tx.send((Pushed::Lagged, 0));
            return false;
        }
        held.items.fetch_add(1, Ordering::AcqRel);
        held.bytes.fetch_add(bytes, Ordering::AcqRel);
        let _ = self.tx.send((Pushed::Item(item), bytes));
        true
    }
}

impl<T> PushQueue<T> {
    /// The next push; `None` once the connection's reader has ended and
    /// everything queued was taken.
    pub async fn recv(&mut self) -> Option<Pushed<T>> {
        let next = self.rx.recv().await;
        next.map(|n| self.taken(n))
    }

    /// The next push if one is queued.
    ///
    /// # Errors
    /// Nothing queued ([`TryRecvError::Empty`]) or the reader ended.
    pub fn try_recv(&mut self) -> Result<Pushed<T>, TryRecvError> {
        self.rx.try_recv().map(|n| self.taken(n))
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    fn taken(&self, (pushed, bytes): (Pushed<T>, usize)) -> Pushed<T> {
        match &pushed {
            Pushed::Item(_) => {
                self.held.items.fetch_sub(1, Ordering::AcqRel);
                self.held.bytes.fetch_sub(bytes, Ordering::AcqRel);
            }
            // The taker knows now: new pushes are queued again.
            Pushed::Lagged => self.held.lagged.store(false, Ordering::Release),
        }
        pushed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_until_the_taker_has_heard_so() {
        let (tx, mut rx) = push_queue::<u32>();
        for i in 0..MAX_QUEUED_PUSHES as u32 {
            assert!(tx.offer(i, 1));
        }
        // Full: dropped, the notice queued once, and everything after it
        // dropped too even once there is room.
        assert!(!tx.offer(9_999, 1));
        assert_eq!(rx.try_recv().unwrap(), Pushed::Item(0));
        assert!(!tx.offer(10_000, 1));
        let mut rest = Vec::new();
        while let Ok(p) = rx.try_recv() {
            rest.push(p);
        }
        assert_eq!(rest.len(), MAX_QUEUED_PUSHES);
        assert_eq!(rest.last(), Some(&Pushed::Lagged));
        assert!(
            rest[..rest.len() - 1]
                .iter()
                .all(|p| matches!(p, Pushed::Item(_)))
        );
        // Heard: queued again, from an empty queue.
        assert!(tx.offer(10_001, 1));
        assert_eq!(rx.try_recv().unwrap(), Pushed::Item(10_001));
        assert!(rx.is_empty());
    }

    #[test]
    fn the_queue_holds_a_bounded_number_of_bytes() {
        let (tx, mut rx) = push_queue::<&str>();
        let quarter = MAX_QUEUED_PUSH_BYTES / 4;
        for _ in 0..4 {
            assert!(tx.offer("big", quarter));
        }
        assert!(!tx.offer("one byte more", 1));
        for _ in 0..4 {
            assert_eq!(rx.try_recv().unwrap(), Pushed::Item("big"));
        }
        assert_eq!(rx.try_recv().unwrap(), Pushed::Lagged);
        // Taken, the bytes are free again.
        assert!(tx.offer("big", MAX_QUEUED_PUSH_BYTES));
        assert!(!tx.offer("more", 1));
    }
}
