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
//! answers. What each operation does inside the batch's transaction is in
//! [`apply`] (the dispatch and accounts), `messages.rs` and `uploads.rs`.

mod apply;
mod messages;
mod uploads;

use std::sync::Arc;
use std::sync::mpsc::Receiver;

use bytes::Bytes;
use protocol::{ClientId, Name, PublicKey, UploadId};
use rusqlite::{Connection, Transaction};
use tokio::sync::oneshot;

use crate::error::StoreError;
use crate::fault::{self, Fault};
use crate::store::directory::{ClientRecord, Directory, Protocol};
use crate::store::quota::{Counts, Tally};
use crate::store::{Limits, NewMessage, Removed, StoreEvent, Stored, UploadRecord};

/// Most operations committed together.
pub(crate) const MAX_BATCH: usize = 4096;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// A change for the writer to make.
pub(crate) enum WriteOp {
    Register {
        name: Name,
        public_key: PublicKey,
        protocol: Protocol,
        /// The name's confusability key (version 3 only).
        skeleton: Option<String>,
        reply: Reply<ClientRecord>,
    },
    Insert {
        message: NewMessage,
        reply: Reply<Stored>,
    },
    Delete {
        recipient: ClientId,
        ids: Vec<u64>,
        reply: Reply<Vec<Option<Removed>>>,
    },
    Touch {
        id: ClientId,
    },
    UploadBegin {
        owner: ClientId,
        destination: ClientId,
        file_size: u64,
        meta: Bytes,
        reply: Reply<UploadRecord>,
    },
    UploadProgress {
        id: UploadId,
        durable_offset: u64,
        /// Told once the offset is committed, for a caller that reports it
        /// as durable.
        reply: Option<Reply<()>>,
    },
    UploadComplete {
        id: UploadId,
        owner: ClientId,
        blob: String,
        reply: Reply<(UploadRecord, Stored)>,
    },
    UploadCancel {
        id: UploadId,
        owner: ClientId,
        reply: Reply<UploadRecord>,
    },
    ExpireUploads {
        created_before_ms: u64,
        reply: Reply<Vec<UploadId>>,
    },
}

/// Changes made by the current batch, applied to the writer's counts after commit.
#[derive(Default)]
struct Staged {
    tally: Tally,
    clients: Vec<ClientRecord>,
    events: Vec<StoreEvent>,
}

/// What an operation sees and changes of the batch in progress.
struct View<'a> {
    accounts: &'a Tally,
    staged: &'a mut Staged,
    directory: &'a Directory,
    /// The next message id; advances only if the batch commits.
    next_id: &'a mut u64,
}

impl View<'_> {
    fn counts(&self) -> Counts<'_> {
        Counts {
            committed: self.accounts,
            staged: &self.staged.tally,
        }
    }

    /// Whether a client is registered, committed or earlier in this batch.
    fn client_known(&self, id: &ClientId) -> bool {
        self.directory.contains_any(id) || self.staged.clients.iter().any(|c| c.id == *id)
    }
}

/// Runs several statements as one: all or none of them stay in the batch.
fn atomically<T>(
    tx: &Transaction<'_>,
    f: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    tx.execute_batch("SAVEPOINT op")?;
    match f() {
        Ok(v) => {
            tx.execute_batch("RELEASE op")?;
            Ok(v)
        }
        Err(e) => {
            if let Err(undo) = tx.execute_batch("ROLLBACK TO op; RELEASE op") {
                tracing::error!(error = %undo, "could not undo a failed operation");
            }
            Err(e)
        }
    }
}

pub(crate) struct Writer {
    pub(crate) conn: Connection,
    /// The next message id (see `meta.next_message_id`).
    pub(crate) next_id: u64,
    pub(crate) accounts: Tally,
    pub(crate) directory: Directory,
    pub(crate) limits: Limits,
    pub(crate) notify: Arc<dyn Fn(Vec<StoreEvent>) + Send + Sync>,
    /// Set for good when the database failed to sync: every later write is
    /// refused with [`StoreError::WritesStopped`] until a restart.
    pub(crate) stopped: bool,
}

enum Pending {
    Client(Reply<ClientRecord>, Result<ClientRecord, StoreError>),
    Stored(Reply<Stored>, Result<Stored, StoreError>),
    Removed(
        Reply<Vec<Option<Removed>>>,
        Result<Vec<Option<Removed>>, StoreError>,
    ),
    Upload(Reply<UploadRecord>, Result<UploadRecord, StoreError>),
    Completed(
        Reply<(UploadRecord, Stored)>,
        Result<(UploadRecord, Stored), StoreError>,
    ),
    Expired(Reply<Vec<UploadId>>, Result<Vec<UploadId>, StoreError>),
    Recorded(Reply<()>, Result<(), StoreError>),
}

impl Pending {
    fn send(self) {
        // A caller that gave up (its connection closed) no longer listens;
        // the change is committed either way.
        match self {
            Pending::Client(r, v) => drop(r.send(v)),
            Pending::Stored(r, v) => drop(r.send(v)),
            Pending::Removed(r, v) => drop(r.send(v)),
            Pending::Upload(r, v) => drop(r.send(v)),
            Pending::Completed(r, v) => drop(r.send(v)),
            Pending::Expired(r, v) => drop(r.send(v)),
            Pending::Recorded(r, v) => drop(r.send(v)),
        }
    }

    /// The storage fault an op failed with, if any.
    fn fault(&self) -> Option<Fault> {
        let e = match self {
            Pending::Client(_, Err(e))
            | Pending::Stored(_, Err(e))
            | Pending::Removed(_, Err(e))
            | Pending::Upload(_, Err(e))
            | Pending::Completed(_, Err(e))
            | Pending::Expired(_, Err(e)) => e,
            _ => return None,
        };
        e.fault()
    }

    fn fail(self, make: impl Fn() -> StoreError) {
        match self {
            Pending::Client(r, _) => drop(r.send(Err(make()))),
            Pending::Stored(r, _) => drop(r.send(Err(make()))),
            Pending::Removed(r, _) => drop(r.send(Err(make()))),
            Pending::Upload(r, _) => drop(r.send(Err(make()))),
            Pending::Completed(r, _) => drop(r.send(Err(make()))),
            Pending::Expired(r, _) => drop(r.send(Err(make()))),
            Pending::Recorded(r, _) => drop(r.send(Err(make()))),
        }
    }
}

impl Writer {
    /// Runs until every sender of the queue is gone, then checkpoints.
    pub(crate) fn run(mut self, queue: Receiver<WriteOp>) {
        let mut batch = Vec::with_capacity(64);
        while let Ok(first) = queue.recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(op) => batch.push(op),
                    Err(_) => break,
                }
            }
            self.commit_batch(&mut batch);
        }
        // Fold the write-ahead log into the database so that a clean stop
        // leaves one file; failure only means the next start replays the log.
        if let Err(e) = self.conn.pragma_update(None, "wal_checkpoint", "TRUNCATE") {
            tracing::warn!(error = %e, "checkpoint at shutdown failed");
        }
    }

    fn commit_batch(&mut self, batch: &mut Vec<WriteOp>) {
        if self.stopped {
            for p in batch.drain(..).filter_map(into_pending) {
                p.fail(|| StoreError::WritesStopped);
            }
            return;
        }
        let mut staged = Staged::default();
        let mut pending = Vec::with_capacity(batch.len());
        let mut next_id = self.next_id;
        // Not `drain`: ops left over when the batch fails must still be answered.
        let mut ops = std::mem::take(batch).into_iter();
        let result = (|| -> Result<(), rusqlite::Error> {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut view = View {
                accounts: &self.accounts,
                staged: &mut staged,
                directory: &self.directory,
                next_id: &mut next_id,
            };
            for op in ops.by_ref() {
                if let Some(p) = apply::apply(&tx, &mut view, &self.limits, op) {
                    pending.push(p);
                }
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
            tx.commit()
        })();
        match result {
            Ok(()) => {
                self.next_id = next_id;
                self.accounts.apply(staged.tally);
                for client in staged.clients {
                    self.directory.insert(client);
                }
                for p in pending {
                    p.send();
                }
                if !staged.events.is_empty() {
                    (self.notify)(staged.events);
                }
                fault::recovered();
            }
            Err(e) => {
                pending.extend(ops.filter_map(into_pending));
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

/// The answer owed for an op that will not be applied (its result is
/// replaced by [`Pending::fail`]).
fn into_pending(op: WriteOp) -> Option<Pending> {
    fn unset<T>() -> Result<T, StoreError> {
        Err(StoreError::WritesStopped)
    }
    Some(match op {
        WriteOp::Register { reply, .. } => Pending::Client(reply, unset()),
        WriteOp::Insert { reply, .. } => Pending::Stored(reply, unset()),
        WriteOp::Delete { reply, .. } => Pending::Removed(reply, unset()),
        WriteOp::UploadBegin { reply, .. } | WriteOp::UploadCancel { reply, .. } => {
            Pending::Upload(reply, unset())
        }
        WriteOp::UploadComplete { reply, .. } => Pending::Completed(reply, unset()),
        WriteOp::ExpireUploads { reply, .. } => Pending::Expired(reply, unset()),
        WriteOp::Touch { .. } | WriteOp::UploadProgress { .. } => return None,
    })
}
