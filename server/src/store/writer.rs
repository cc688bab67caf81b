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

use std::sync::Arc;
use std::sync::mpsc::Receiver;

use bytes::Bytes;
use protocol::{ClientId, MessageKind, Name, PublicKey, UploadId};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tokio::sync::oneshot;

use super::directory::{ClientRecord, Directory, Protocol, name_key};
use super::fault::{self, Fault};
use super::quota::{Counts, Tally};
use super::{
    Limits, MessageBody, NewMessage, Removed, StoreEvent, Stored, UploadRecord, WaitingMessage,
    now_ms,
};
use crate::error::StoreError;

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
                if let Some(p) = apply(&tx, &mut view, &self.limits, op) {
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

fn client_id(bytes: &[u8]) -> Result<ClientId, StoreError> {
    bytes
        .try_into()
        .map(ClientId)
        .map_err(|_| StoreError::Corrupt(format!("client id of {} bytes", bytes.len())))
}

/// Applies one operation inside the batch's transaction. Statements that fail
/// because of the request (a taken name) leave the transaction usable.
fn apply(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    limits: &Limits,
    op: WriteOp,
) -> Option<Pending> {
    Some(match op {
        WriteOp::Register {
            name,
            public_key,
            protocol,
            skeleton,
            reply,
        } => Pending::Client(
            reply,
            register(tx, view, name, public_key, protocol, skeleton),
        ),
        WriteOp::Insert { message, reply } => {
            Pending::Stored(reply, insert(tx, view, limits, message))
        }
        WriteOp::Delete {
            recipient,
            ids,
            reply,
        } => Pending::Removed(reply, delete(tx, view, recipient, &ids)),
        WriteOp::Touch { id } => {
            if let Err(e) = tx
                .prepare_cached("UPDATE clients SET last_seen = ?1 WHERE id = ?2")
                .and_then(|mut s| s.execute(params![now_ms() as i64, &id.0[..]]))
            {
                tracing::warn!(error = %e, "could not record last seen");
            }
            return None;
        }
        WriteOp::UploadBegin {
            owner,
            destination,
            file_size,
            meta,
            reply,
        } => Pending::Upload(
            reply,
            upload_begin(tx, view, limits, owner, destination, file_size, meta),
        ),
        WriteOp::UploadProgress {
            id,
            durable_offset,
            reply,
        } => {
            let result = tx
                .prepare_cached("UPDATE uploads SET durable_offset = ?1 WHERE id = ?2")
                .and_then(|mut s| s.execute(params![durable_offset as i64, &id.0[..]]));
            if let Err(e) = &result {
                tracing::warn!(error = %e, "could not record upload progress");
            }
            return reply.map(|r| Pending::Recorded(r, result.map(drop).map_err(Into::into)));
        }
        WriteOp::UploadComplete {
            id,
            owner,
            blob,
            reply,
        } => Pending::Completed(reply, upload_complete(tx, view, id, owner, blob)),
        WriteOp::UploadCancel { id, owner, reply } => {
            Pending::Upload(reply, upload_remove(tx, view, id, Some(owner)))
        }
        WriteOp::ExpireUploads {
            created_before_ms,
            reply,
        } => Pending::Expired(reply, expire_uploads(tx, view, created_before_ms)),
    })
}

fn register(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    name: Name,
    public_key: PublicKey,
    protocol: Protocol,
    skeleton: Option<String>,
) -> Result<ClientRecord, StoreError> {
    let id = ClientId(*uuid::Uuid::new_v4().as_bytes());
    let now = now_ms() as i64;
    let key = name_key(name.as_str());
    // Both unique indexes (the name ignoring ASCII case, and the skeleton)
    // refuse here, in the same statement that registers: no check-then-act.
    let inserted = tx
        .prepare_cached(
            "INSERT INTO clients (id, name, name_key, public_key, registered_at, last_seen,
                                  protocol, skeleton)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            &id.0[..],
            name.as_str(),
            key,
            &public_key.0[..],
            now,
            protocol.code(),
            skeleton,
        ])?;
    if inserted == 0 {
        // Which index refused (reading this transaction, so names registered
        // earlier in the batch count too).
        let same_name = tx
            .prepare_cached("SELECT 1 FROM clients WHERE name_key = ?1")?
            .exists([&key])?;
        let look_alike: Option<String> = match &skeleton {
            Some(skeleton) if !same_name => tx
                .prepare_cached("SELECT name FROM clients WHERE skeleton = ?1")?
                .query_row([skeleton], |r| r.get(0))
                .optional()?,
            _ => None,
        };
        return Err(match look_alike {
            Some(existing) => StoreError::NameConfusable(existing),
            None => StoreError::NameTaken,
        });
    }
    let record = ClientRecord {
        id,
        name,
        public_key,
        protocol,
    };
    view.staged.clients.push(record.clone());
    Ok(record)
}

fn insert(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    limits: &Limits,
    message: NewMessage,
) -> Result<Stored, StoreError> {
    let NewMessage {
        recipient,
        sender,
        kind,
        body,
    } = message;
    if !view.client_known(&recipient) {
        return Err(StoreError::UnknownClient);
    }
    let size = body.size();
    view.counts().check(limits, &sender, &recipient, size)?;
    let created_at = now_ms();
    let id = insert_row(tx, view, &recipient, &sender, kind, &body, created_at)?;
    view.staged
        .tally
        .add_message(recipient, Some(sender), 1, size as i64);
    let stored = Stored {
        id,
        created_at_ms: created_at,
    };
    view.staged.events.push(StoreEvent::NewMessage {
        recipient,
        message: Arc::new(WaitingMessage {
            id,
            sender,
            kind,
            size,
            created_at_ms: created_at,
            body,
        }),
    });
    Ok(stored)
}

fn insert_row(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    recipient: &ClientId,
    sender: &ClientId,
    kind: MessageKind,
    body: &MessageBody,
    created_at: u64,
) -> Result<u64, StoreError> {
    let (content, blob, meta): (Option<&[u8]>, Option<&str>, Option<&[u8]>) = match body {
        MessageBody::Inline(c) => (Some(c), None, None),
        MessageBody::File { blob, meta, .. } => (None, Some(blob), Some(meta)),
    };
    let id = *view.next_id;
    tx.prepare_cached(
        "INSERT INTO messages (id, recipient, sender, kind, size, content, blob, meta, created_at)
         VALUES (?9, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        &recipient.0[..],
        &sender.0[..],
        kind.code(),
        body.size() as i64,
        content,
        blob,
        meta,
        created_at as i64,
        id as i64
    ])?;
    // Only a stored row uses up its id (a refused one leaves a gap, which
    // is fine: ids must grow, not be dense).
    *view.next_id += 1;
    Ok(id)
}

fn delete(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    recipient: ClientId,
    ids: &[u64],
) -> Result<Vec<Option<Removed>>, StoreError> {
    let rows = atomically(tx, || {
        let mut stmt = tx.prepare_cached(
            "DELETE FROM messages WHERE id = ?1 AND recipient = ?2 RETURNING size, blob, sender",
        )?;
        let mut rows = Vec::with_capacity(ids.len());
        for id in ids {
            rows.push(
                stmt.query_row(params![*id as i64, &recipient.0[..]], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                    ))
                })
                .optional()?,
            );
        }
        Ok(rows)
    })?;
    let mut out = Vec::with_capacity(ids.len());
    let mut removed_ids = Vec::new();
    for (id, row) in ids.iter().zip(rows) {
        match row {
            Some((size, blob, sender)) => {
                let sender = client_id(&sender)?;
                view.staged
                    .tally
                    .add_message(recipient, Some(sender), -1, -size);
                removed_ids.push(*id);
                out.push(Some(Removed { blob }));
            }
            None => out.push(None),
        }
    }
    if !removed_ids.is_empty() {
        view.staged.events.push(StoreEvent::Removed {
            recipient,
            ids: removed_ids,
        });
    }
    Ok(out)
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

fn upload_begin(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    limits: &Limits,
    owner: ClientId,
    destination: ClientId,
    file_size: u64,
    meta: Bytes,
) -> Result<UploadRecord, StoreError> {
    if !view.client_known(&destination) {
        return Err(StoreError::UnknownClient);
    }
    if view.counts().uploads(&owner) >= i64::from(limits.max_uploads_per_client) {
        return Err(StoreError::TooManyUploads(limits.max_uploads_per_client));
    }
    // Reserve now everything the finished file will hold (quota.rs), so
    // that uploads begun side by side cannot together overfill a quota.
    view.counts()
        .check(limits, &owner, &destination, file_size)?;
    let id = UploadId(*uuid::Uuid::new_v4().as_bytes());
    let created_at = now_ms();
    tx.prepare_cached(
        "INSERT INTO uploads (id, owner, destination, file_size, meta, durable_offset, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
    )?
    .execute(params![
        &id.0[..],
        &owner.0[..],
        &destination.0[..],
        file_size as i64,
        &meta[..],
        created_at as i64
    ])?;
    view.staged
        .tally
        .reserve_upload(owner, destination, file_size, 1);
    Ok(UploadRecord {
        id,
        owner,
        destination,
        file_size,
        meta,
        durable_offset: 0,
        created_at_ms: created_at,
    })
}

/// Finds the caller's upload; `owner` None means any owner (expiry).
fn owned_upload(
    tx: &Transaction<'_>,
    id: &UploadId,
    owner: Option<ClientId>,
) -> Result<UploadRecord, StoreError> {
    let record = super::read_upload(tx, id)?.ok_or(StoreError::UnknownUpload)?;
    if owner.is_some_and(|o| o != record.owner) {
        return Err(StoreError::UnknownUpload);
    }
    Ok(record)
}

/// Gives back what an unfinished upload reserved.
fn unstage_upload(view: &mut View<'_>, record: &UploadRecord) {
    view.staged
        .tally
        .reserve_upload(record.owner, record.destination, record.file_size, -1);
}

fn upload_remove(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    id: UploadId,
    owner: Option<ClientId>,
) -> Result<UploadRecord, StoreError> {
    let record = owned_upload(tx, &id, owner)?;
    tx.prepare_cached("DELETE FROM uploads WHERE id = ?1")?
        .execute([&id.0[..]])?;
    unstage_upload(view, &record);
    Ok(record)
}

fn upload_complete(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    id: UploadId,
    owner: ClientId,
    blob: String,
) -> Result<(UploadRecord, Stored), StoreError> {
    let record = owned_upload(tx, &id, Some(owner))?;
    let body = MessageBody::File {
        blob,
        meta: record.meta.clone(),
        size: record.file_size,
    };
    let created_at = now_ms();
    let message_id = atomically(tx, || {
        tx.prepare_cached("DELETE FROM uploads WHERE id = ?1")?
            .execute([&id.0[..]])?;
        insert_row(
            tx,
            view,
            &record.destination,
            &owner,
            MessageKind::File,
            &body,
            created_at,
        )
    })?;
    // The reservation made at begin becomes the message: every quota
    // already counts it, so a file accepted at begin is always delivered.
    view.staged.tally.complete_upload(owner);
    view.staged.events.push(StoreEvent::NewMessage {
        recipient: record.destination,
        message: Arc::new(WaitingMessage {
            id: message_id,
            sender: owner,
            kind: MessageKind::File,
            size: record.file_size,
            created_at_ms: created_at,
            body,
        }),
    });
    Ok((
        record,
        Stored {
            id: message_id,
            created_at_ms: created_at,
        },
    ))
}

fn expire_uploads(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    created_before_ms: u64,
) -> Result<Vec<UploadId>, StoreError> {
    let records = atomically(tx, || {
        let ids: Vec<Vec<u8>> = tx
            .prepare_cached("SELECT id FROM uploads WHERE created_at < ?1")?
            .query_map([created_before_ms as i64], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut records = Vec::with_capacity(ids.len());
        for raw in ids {
            let id = UploadId(
                raw.as_slice()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("upload id".into()))?,
            );
            records.push(owned_upload(tx, &id, None)?);
            tx.prepare_cached("DELETE FROM uploads WHERE id = ?1")?
                .execute([&id.0[..]])?;
        }
        Ok(records)
    })?;
    for record in &records {
        unstage_upload(view, record);
    }
    Ok(records.into_iter().map(|r| r.id).collect())
}
