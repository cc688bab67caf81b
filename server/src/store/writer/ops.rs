//! What the writer is asked to do ([`WriteOp`]) and what it owes each caller
//! ([`Pending`]): the answer, sent once the batch's fate is known. Apart
//! from the loop (`mod.rs`) so that the operations can name these without
//! naming the loop.

use bytes::Bytes;
use protocol::{ClientId, Name, PublicKey, UploadId};
use tokio::sync::oneshot;

use crate::error::StoreError;
use crate::fault::Fault;
use crate::store::directory::{ClientRecord, Protocol};
use crate::store::values::{
    DeletedRoom, ExpiredUploads, NewMessage, Removed, RemovedAccount, Stored, UploadRecord,
    UploadTo,
};
use protocol::RoomId;
use protocol::v3::{ClaimedKeyPackage, CommitAccepted, GoneReason, KeyPackageStock, RoomCursor};

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
        to: UploadTo,
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
        before_ms: u64,
        reply: Reply<ExpiredUploads>,
    },
    /// The operator removes an account by name (its `name_key`).
    RemoveAccount {
        name_key: String,
        /// Told to the senders of its deleted messages (type 7).
        reason: GoneReason,
        reply: Reply<Option<RemovedAccount>>,
    },
    /// A change to rooms or key packages (`rooms.rs`, `key_packages.rs`).
    Room {
        caller: ClientId,
        op: RoomWrite,
        reply: Reply<RoomDone>,
    },
}

/// A change to rooms or key packages, made by the authenticated `caller`.
pub(crate) enum RoomWrite {
    UploadKeyPackages {
        last_resort: bool,
        packages: Vec<Bytes>,
    },
    ClaimKeyPackages {
        clients: Vec<ClientId>,
    },
    Create {
        room: RoomId,
        group_info: Bytes,
        tree: Bytes,
    },
    Commit {
        room: RoomId,
        epoch: u64,
        commit: Bytes,
        welcome: Option<Bytes>,
        /// The caller's connection proved the room's password.
        proven: bool,
    },
    Send {
        room: RoomId,
        epoch: u64,
        file: Option<UploadId>,
        message: Bytes,
    },
    Ack {
        acks: Vec<RoomCursor>,
    },
    /// Retention: entries stored before `before_ms` go, read or not.
    Expire {
        before_ms: u64,
    },
    /// A member keeps the room's group info for joiners.
    GroupInfo {
        room: RoomId,
        epoch: u64,
        group_info: Bytes,
    },
    /// Keeps this OPAQUE setup unless the database has one.
    PasswordSetup {
        fresh: Vec<u8>,
    },
    /// An admin replaces the room's OPAQUE record.
    Password {
        room: RoomId,
        record: Vec<u8>,
    },
    /// The owner deletes the room, with its notice to the members.
    Delete {
        room: RoomId,
        epoch: u64,
        notice: Bytes,
    },
    /// A member holds (or releases) a room entry naming a file.
    Hold {
        room: RoomId,
        seq: u64,
        hold: bool,
    },
    /// A member re-founds a room a restored server holds behind it.
    Refound {
        room: RoomId,
        group_info: Bytes,
        tree: Bytes,
    },
}

/// What a [`RoomWrite`] produced, one variant per kind.
#[derive(Debug)]
pub(crate) enum RoomDone {
    Stock(KeyPackageStock),
    Claimed(Vec<ClaimedKeyPackage>),
    Created(RoomId),
    Committed(CommitAccepted),
    Sent(u64),
    /// Whether each cursor moved, and the blobs of room files deleted.
    Acked(Vec<bool>, Vec<String>),
    /// How many entries went, and the blobs of room files deleted.
    Expired(usize, Vec<String>),
    /// The epoch of the group info now kept.
    GroupInfoStored(u64),
    /// The room is deleted; its files and part files to delete.
    Deleted(DeletedRoom),
    /// The OPAQUE setup the database keeps.
    PasswordSetup(Vec<u8>),
    /// The room's OPAQUE record is stored.
    PasswordStored,
    /// Whether the caller holds the entry now, and the blobs of a room file
    /// its release deleted.
    Held(bool, Vec<String>),
    /// The epoch the server holds the re-founded room at now.
    Refounded(u64),
}

/// An answer owed to a caller, with the outcome to send once the batch
/// commits (or the error that replaces it if it does not).
pub(super) enum Pending {
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
    Expired(Reply<ExpiredUploads>, Result<ExpiredUploads, StoreError>),
    Recorded(Reply<()>, Result<(), StoreError>),
    Account(
        Reply<Option<RemovedAccount>>,
        Result<Option<RemovedAccount>, StoreError>,
    ),
    Room(Reply<RoomDone>, Result<RoomDone, StoreError>),
}

impl Pending {
    pub(super) fn send(self) {
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
            Pending::Account(r, v) => drop(r.send(v)),
            Pending::Room(r, v) => drop(r.send(v)),
        }
    }

    /// The storage fault an op failed with, if any.
    pub(super) fn fault(&self) -> Option<Fault> {
        let e = match self {
            Pending::Client(_, Err(e))
            | Pending::Stored(_, Err(e))
            | Pending::Removed(_, Err(e))
            | Pending::Upload(_, Err(e))
            | Pending::Completed(_, Err(e))
            | Pending::Expired(_, Err(e))
            | Pending::Account(_, Err(e)) => e,
            Pending::Room(_, Err(e)) => e,
            _ => return None,
        };
        e.fault()
    }

    pub(super) fn fail(self, make: impl Fn() -> StoreError) {
        match self {
            Pending::Client(r, _) => drop(r.send(Err(make()))),
            Pending::Stored(r, _) => drop(r.send(Err(make()))),
            Pending::Removed(r, _) => drop(r.send(Err(make()))),
            Pending::Upload(r, _) => drop(r.send(Err(make()))),
            Pending::Completed(r, _) => drop(r.send(Err(make()))),
            Pending::Expired(r, _) => drop(r.send(Err(make()))),
            Pending::Recorded(r, _) => drop(r.send(Err(make()))),
            Pending::Account(r, _) => drop(r.send(Err(make()))),
            Pending::Room(r, _) => drop(r.send(Err(make()))),
        }
    }
}

/// The answer owed for an op that will not be applied (its result is
/// replaced by [`Pending::fail`]).
pub(super) fn into_pending(op: WriteOp) -> Option<Pending> {
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
        WriteOp::RemoveAccount { reply, .. } => Pending::Account(reply, unset()),
        WriteOp::Room { reply, .. } => Pending::Room(reply, unset()),
        WriteOp::Touch { .. } | WriteOp::UploadProgress { .. } => return None,
    })
}
