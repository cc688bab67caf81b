//! The single writer thread: every change to the database goes through it.
//!
//! It blocks on its queue, then takes everything else already queued (up to
//! [`MAX_BATCH`]) and applies the whole batch in one transaction, so that many
//! concurrent sends share one commit and one fsync (group commit). Only after
//! the commit succeeds does it answer the callers, update the in-memory
//! accounts and directory, and publish events; a failed commit answers every
//! caller in the batch with an error and changes nothing.
//!
//! Quotas are enforced here because this thread is the only one that changes
//! what they count, so a check and the change it allows cannot race (the
//! counts and checks are in `quota.rs`).
//!
//! This file is the thread's loop: the queue, batching, the commit and the
//! answers. What it is asked and owes is in `ops.rs`, the batch as the
//! operations see it in `batch.rs`, and what each operation does inside the
//! batch's transaction in `apply.rs` (the dispatch and accounts),
//! `messages.rs` and `uploads.rs`; the messages stored lately, which an
//! acknowledgement removes without reading them, in `recent.rs`.

mod apply;
mod batch;
mod key_packages;
mod messages;
mod ops;
mod recent;
mod remove;
mod room_access;
mod room_acks;
mod room_delete;
mod room_files;
mod room_holds;
mod room_password;
mod room_refound;
mod rooms;
mod uploads;

/// The limits the PostgreSQL engine shares with the writer.
pub(super) use key_packages::{LOW_KEY_PACKAGES, MAX_STORED_KEY_PACKAGES};
pub(super) use rooms::MAX_ROOM_ENTRIES;

use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::Instant;

use rusqlite::Connection;

use crate::error::StoreError;
use crate::fault::{self, Fault};
use crate::store::directory::Directory;
use crate::store::quota::{Limits, Tally};
use crate::store::values::StoreEvent;
use crate::timing::{Applied, Stage};
use batch::{Staged, View};
pub(crate) use ops::{MAX_BATCH, Reply, RoomDone, RoomWrite, WriteOp};
use ops::{Pending, into_pending};
pub(crate) use recent::Recent;

pub(crate) struct Writer {
    pub(crate) conn: Connection,
    /// The next message id (see `meta.next_message_id`).
    pub(crate) next_id: u64,
    pub(crate) accounts: Tally,
    pub(crate) directory: Directory,
    pub(crate) limits: Limits,
    pub(crate) notify: Arc<dyn Fn(Vec<StoreEvent>) + Send + Sync>,
    /// Messages stored lately and still waiting (acknowledged without a read).
    pub(crate) recent: Recent,
    /// Set for good when the database failed to sync: every later write is
    /// refused with [`StoreError::WritesStopped`] until a restart.
    pub(crate) stopped: bool,
}

impl Writer {
    /// Runs until every sender of the queue is gone, then checkpoints.
    ///
    /// The commit is adaptive: the thread never waits for a batch to fill.
    /// An operation reaching an idle writer is committed at once, alone;
    /// operations that arrive while a commit is in progress queue up and
    /// form the next batch, so batches grow only with the load.
    pub(crate) fn run(mut self, queue: Receiver<(WriteOp, Instant)>) {
        let mut batch = Vec::with_capacity(64);
        while let Ok(first) = queue.recv() {
            let mut sends = 0;
            let mut note = |(op, queued): (WriteOp, Instant),
                            batch: &mut Vec<(WriteOp, Instant)>| {
                if matches!(op, WriteOp::Insert { .. }) {
                    sends += 1;
                    crate::timing::record(Stage::Queue, queued.elapsed(), 1);
                }
                batch.push((op, queued));
            };
            note(first, &mut batch);
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(op) => note(op, &mut batch),
                    Err(_) => break,
                }
            }
            crate::timing::commit(batch.len());
            self.commit_batch(&mut batch, sends);
        }
        // Fold the write-ahead log into the database so that a clean stop
        // leaves one file; failure only means the next start replays the log.
        if let Err(e) = self.conn.pragma_update(None, "wal_checkpoint", "TRUNCATE") {
            tracing::warn!(error = %e, "checkpoint at shutdown failed");
        }
    }

    /// Commits `batch`, of which `sends` are new messages (for `timing`).
    fn commit_batch(&mut self, batch: &mut Vec<(WriteOp, Instant)>, sends: u64) {
        if self.stopped {
            for p in batch.drain(..).filter_map(|(op, _)| into_pending(op)) {
                p.fail(|| StoreError::WritesStopped);
            }
            return;
        }
        let mut staged = Staged::default();
        let mut pending = Vec::with_capacity(batch.len());
        let mut next_id = self.next_id;
        // Not `drain`: ops left over when the batch fails must still be answered.
        let mut ops = std::mem::take(batch).into_iter();
        let began = Instant::now();
        let mut applied = began;
        let result = (|| -> Result<(), rusqlite::Error> {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut view = View {
                accounts: &self.accounts,
                staged: &mut staged,
                directory: &self.directory,
                recent: &self.recent,
                next_id: &mut next_id,
                queued: began,
            };
            let mut op_start = Instant::now();
            for (op, queued) in ops.by_ref() {
                view.queued = queued;
                let measured = match &op {
                    WriteOp::Insert { .. } => Some(Applied::Send),
                    WriteOp::Delete { ids, .. } => Some(Applied::Ack { ids: ids.len() }),
                    _ => None,
                };
                if let Some(p) = apply::apply(&tx, &mut view, &self.limits, op) {
                    pending.push(p);
                }
                // One clock read per operation: its end is the next one's start.
                let now = Instant::now();
                if let Some(measured) = measured {
                    crate::timing::applied(measured, now - op_start);
                }
                op_start = now;
                if tx.is_autocommit() {
                    // SQLite rolled the whole transaction back (a full disk,
                    // an I/O error): nothing of this batch is stored, and
                    // later statements must not run outside a transaction.
                    let fault = pending.last().and_then(Pending::fault);
                    return Err(fault::sqlite_error(fault.unwrap_or(Fault::Io)));
                }
            }
            if next_id != self.next_id {
                // Once per batch, not per message: ids never repeat, even
                // after every message is deleted and the server restarts.
                tx.prepare_cached("UPDATE meta SET value = ?1 WHERE key = 'next_message_id'")?
                    .execute([next_id as i64])?;
            }
            fail::fail_point!("store-commit", |name| {
                let fault = name.as_deref().and_then(fault::injected);
                Err(fault::sqlite_error(fault.unwrap_or(Fault::Io)))
            });
            applied = Instant::now();
            tx.commit()
        })();
        if sends > 0 {
            crate::timing::record(Stage::Apply, applied - began, sends);
            crate::timing::record(Stage::Commit, applied.elapsed(), sends);
        }
        match result {
            Ok(()) => {
                self.next_id = next_id;
                self.accounts.apply(staged.tally);
                for client in staged.clients {
                    self.directory.insert(client);
                }
                for id in &staged.removed_clients {
                    self.directory.remove(id);
                }
                for p in pending {
                    p.send();
                }
                if !staged.events.is_empty() {
                    self.recent.committed(&staged.events);
                    (self.notify)(staged.events);
                }
                fault::recovered();
            }
            Err(e) => {
                pending.extend(ops.filter_map(|(op, _)| into_pending(op)));
                let text = e.to_string();
                let fault = fault::classify_sqlite(&e);
                if fault == Some(Fault::SyncFailed) {
                    // What the database holds on disk is now uncertain
                    // (PostgreSQL's fsync lesson): never report a later
                    // write as durable on top of it.
                    self.stopped = true;
                }
                let make = || match fault {
                    Some(f) => StoreError::Fault(f, text.clone()),
                    None => StoreError::CommitRefused(text.clone()),
                };
                match fault {
                    Some(f) => fault::report(f, &make()),
                    None => tracing::error!(error = %e, "commit failed; the batch is refused"),
                }
                for p in pending {
                    p.fail(make);
                }
            }
        }
    }
}
