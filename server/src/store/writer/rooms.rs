//! The writer's statements for rooms (PROTOCOL.md "Rooms"): create a room,
//! append a commit or a message to its log (a message may name a room file:
//! `room_files.rs`). Acknowledgements and deletions: `room_acks.rs`.
//!
//! The rooms' MLS public state lives in this database (openmls's tables), so
//! the observer's check and merge of a commit, the epoch compare-and-set and
//! the log append happen in one savepoint of the batch's transaction: after
//! a crash the log and the observer agree, and two commits for one epoch can
//! never both be accepted (the writer applies them one after the other; the
//! second finds the epoch moved).
//!
//! Counts and events are staged only after an operation's savepoint is
//! released, so a refused operation leaves no trace in them.

use std::sync::Arc;

use bytes::Bytes;
use protocol::bundle::KeyBundle;
use protocol::v3::{CommitAccepted, RoomEntry, RoomEntryKind, RoomWelcome};
use protocol::{ClientId, MessageKind, RoomId, UploadId};
use rusqlite::{OptionalExtension, Transaction, params};
use sealpost_rooms::{MAX_ROOM_MEMBERS, Observed, ObserverTx, Pins, Role, peek_header};

use super::batch::{View, atomically};
use super::messages::insert_row;
use super::room_access::{self, member_epoch, room_error};
use super::room_files;
use crate::error::StoreError;
use crate::store::directory::{Directory, Protocol};
use crate::store::quota::Limits;
use crate::store::rows::fixed;
use crate::store::values::{MessageBody, StoreEvent, WaitingMessage, now_ms};

/// Most entries one room's log holds (`ROOM_LOG_FULL` beyond).
pub(crate) const MAX_ROOM_ENTRIES: i64 = 100_000;

/// The identity keys clients registered, as the observer checks leaves.
pub(super) struct Registered<'a>(pub(super) &'a Directory);

impl Pins for Registered<'_> {
    fn pinned_identity_key(&self, client: &sealpost_rooms::ClientId) -> Option<[u8; 32]> {
        self.0
            .get(Protocol::V3, &ClientId(client.0))
            .map(|r| KeyBundle::from_public_key(&r.public_key).identity_key)
    }
}

/// Creates a room from its creator's epoch-0 group info and tree.
pub(super) fn create(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    creator: ClientId,
    room: RoomId,
    group_info: &[u8],
    tree: &[u8],
) -> Result<RoomId, StoreError> {
    atomically(tx, || {
        let state = ObserverTx::new(tx)
            .track(group_info, tree, &Registered(view.directory))
            .map_err(room_error)?;
        if state.room.0 != room.0 {
            return Err(StoreError::RoomRefused(
                "the group info is for another room".into(),
            ));
        }
        match state.members.as_slice() {
            [only] if only.client_id.0 == creator.0 => {}
            _ => {
                return Err(StoreError::RoomRefused(
                    "a new room's only member is its creator".into(),
                ));
            }
        }
        if let Some(name) = &state.name {
            crate::names::check_room_name(name)?;
        }
        let inserted = tx
            .prepare_cached(
                "INSERT INTO rooms (id, epoch, creator, created_at) VALUES (?1, 0, ?2, ?3)
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![&room.0[..], &creator.0[..], now_ms() as i64])?;
        if inserted == 0 {
            return Err(StoreError::RoomExists);
        }
        tx.prepare_cached(
            "INSERT INTO room_members (room, client, role, cursor, until_seq)
             VALUES (?1, ?2, ?3, 0, NULL)",
        )?
        .execute(params![&room.0[..], &creator.0[..], Role::Owner.code()])?;
        room_access::follow(tx, room, &state, None)?;
        // The creator's group info (with its tree) is the first for joiners.
        tx.prepare_cached("UPDATE rooms SET group_info = ?1, group_epoch = 0 WHERE id = ?2")?
            .execute(params![group_info, &room.0[..]])?;
        Ok(room)
    })
}

/// What a commit stages once its savepoint is released.
struct CommitOutcome {
    committed: CommitAccepted,
    entry: Arc<RoomEntry>,
    recipients: Vec<ClientId>,
    welcomes: Vec<(ClientId, Arc<WaitingMessage>)>,
}

/// Appends a commit: epoch compare-and-set, the observer's rules, cursors of
/// added and removed members, roles, and a welcome to each added member.
/// From a client that is not a member, only its own join by external commit
/// (PROTOCOL.md "Access") is accepted.
#[allow(clippy::too_many_arguments)]
pub(super) fn commit(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    limits: &Limits,
    author: ClientId,
    room: RoomId,
    epoch: u64,
    commit: Bytes,
    welcome: Option<Bytes>,
    proven: bool,
) -> Result<CommitAccepted, StoreError> {
    let now = now_ms();
    let outcome = atomically(tx, || {
        let (room_epoch, joining) = match member_epoch(tx, room, author) {
            Ok(e) => (e, false),
            Err(StoreError::UnknownRoom) => (room_epoch(tx, room)?, true),
            Err(e) => return Err(e),
        };
        if room_epoch != epoch {
            return Err(StoreError::StaleEpoch(room_epoch));
        }
        check_log_room(tx, room)?;
        view.counts()
            .check_room(limits, &author, commit.len() as u64)?;
        let observer = ObserverTx::new(tx);
        let summary = match observer
            .process(&commit, &Registered(view.directory))
            .map_err(room_error)?
        {
            Observed::Commit { room: r, summary } if r.0 == room.0 => summary,
            _ => {
                return Err(StoreError::RoomRefused(
                    "request 133 carries a commit".into(),
                ));
            }
        };
        // An outsider commits only its own join; a member joins again only
        // in place of its own old leaf (a resync: its room state was lost).
        let own_join = summary.external_join && summary.committer.map(|c| c.0) == Some(author.0);
        if joining != own_join && !(own_join && summary.resync) {
            return Err(StoreError::RoomRefused(if joining {
                "only a join of your own, by external commit".into()
            } else {
                "a member does not join again".into()
            }));
        }
        if let Some(name) = &summary.renamed {
            crate::names::check_room_name(name)?;
        }
        let state = room_access::observed(tx, room)?;
        // A join leaves the rules as they were: the state after it says
        // whether the room needs its password (which only we can check).
        if joining && state.rule.needs_password() && !proven {
            return Err(StoreError::WrongPassword);
        }
        if state.members.len() > MAX_ROOM_MEMBERS {
            return Err(StoreError::RoomFull(MAX_ROOM_MEMBERS));
        }
        room_access::follow(tx, room, &state, summary.access.as_ref())?;
        let welcome = match (&welcome, summary.added.is_empty() || own_join) {
            (Some(w), false) => Some(w.clone()),
            (None, true) => None,
            (None, false) => {
                return Err(StoreError::RoomRefused(
                    "a commit that adds members needs their welcome".into(),
                ));
            }
            (Some(_), true) => {
                return Err(StoreError::RoomRefused(
                    "a welcome without members it invites".into(),
                ));
            }
        };
        let entry = append(
            tx,
            view,
            room,
            author,
            RoomEntryKind::Commit,
            epoch,
            None,
            &commit,
            now,
        )?;
        let seq = entry.seq as i64;
        // A restored room's first commit ends its re-founding.
        tx.prepare_cached("UPDATE rooms SET epoch = ?1, restored = 0 WHERE id = ?2")?
            .execute(params![state.epoch as i64, &room.0[..]])?;
        let mut leave = tx.prepare_cached(
            "UPDATE room_members SET until_seq = ?1
             WHERE room = ?2 AND client = ?3 AND until_seq IS NULL",
        )?;
        for gone in summary.removed.iter().chain(&summary.left) {
            leave.execute(params![seq, &room.0[..], &gone.0[..]])?;
        }
        // Members join after their commit: they read the room from the
        // welcome on, never the commit that added them.
        let mut join = tx.prepare_cached(
            "INSERT INTO room_members (room, client, role, cursor, until_seq, joined_seq)
             VALUES (?1, ?2, 0, ?3, NULL, ?3)
             ON CONFLICT (room, client) DO UPDATE
                 SET role = 0, cursor = excluded.cursor, until_seq = NULL,
                     joined_seq = excluded.joined_seq",
        )?;
        for added in &summary.added {
            join.execute(params![&room.0[..], &added.0[..], seq])?;
        }
        let mut role = tx.prepare_cached(
            "UPDATE room_members SET role = ?1 WHERE room = ?2 AND client = ?3 AND role != ?1",
        )?;
        for m in &state.members {
            role.execute(params![m.role.code(), &room.0[..], &m.client_id.0[..]])?;
        }
        // The author reads its own commit back from the log, in order after
        // the entries before it (it merges the commit there, having read
        // them in the epoch they were made in): its cursor stays.
        let mut welcomes = Vec::new();
        if let Some(welcome) = welcome {
            let content = RoomWelcome {
                room,
                epoch: state.epoch,
                welcome,
            }
            .encode()
            .map_err(|e| StoreError::RoomRefused(e.to_string()))?;
            for added in &summary.added {
                let recipient = ClientId(added.0);
                view.counts()
                    .check(limits, &author, &recipient, content.len() as u64)?;
                let body = MessageBody::Inline(content.clone());
                let id = insert_row(
                    tx,
                    view,
                    &recipient,
                    &author,
                    MessageKind::RoomWelcome,
                    &body,
                    now,
                )?;
                welcomes.push((
                    recipient,
                    Arc::new(WaitingMessage {
                        id,
                        sender: author,
                        kind: MessageKind::RoomWelcome,
                        size: body.size(),
                        created_at_ms: now,
                        body,
                    }),
                ));
            }
        }
        let recipients = readers_of(tx, room, entry.seq, None)?;
        Ok(CommitOutcome {
            committed: CommitAccepted {
                room,
                epoch: state.epoch,
                seq: entry.seq,
            },
            entry: Arc::new(entry),
            recipients,
            welcomes,
        })
    })?;
    stage_entry(view, &outcome.entry, outcome.recipients);
    for (recipient, w) in outcome.welcomes {
        view.staged
            .tally
            .add_message(recipient, Some(author), 1, w.size as i64);
        view.staged.events.push(StoreEvent::NewMessage {
            recipient,
            message: w,
            queued: None,
        });
    }
    Ok(outcome.committed)
}

/// Appends an application message or a member's leave proposal.
#[allow(clippy::too_many_arguments)]
pub(super) fn send(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    limits: &Limits,
    author: ClientId,
    room: RoomId,
    epoch: u64,
    file: Option<UploadId>,
    message: Bytes,
) -> Result<u64, StoreError> {
    let header = peek_header(&message).map_err(room_error)?;
    if header.room.0 != room.0 {
        return Err(StoreError::RoomRefused(
            "the message is for another room".into(),
        ));
    }
    let (entry, recipients) = atomically(tx, || {
        let room_epoch = member_epoch(tx, room, author)?;
        if epoch != room_epoch || header.epoch != room_epoch {
            return Err(StoreError::StaleEpoch(room_epoch));
        }
        check_log_room(tx, room)?;
        view.counts()
            .check_room(limits, &author, message.len() as u64)?;
        let kind = if header.private {
            if !header.application {
                return Err(StoreError::RoomRefused(
                    "handshake messages must be public".into(),
                ));
            }
            RoomEntryKind::Application
        } else if file.is_some() {
            return Err(StoreError::RoomRefused(
                "only an application message names a file".into(),
            ));
        } else {
            match ObserverTx::new(tx)
                .process(&message, &Registered(view.directory))
                .map_err(room_error)?
            {
                Observed::LeaveRequest { client, .. } if client.0 == author.0 => {
                    RoomEntryKind::Proposal
                }
                _ => {
                    return Err(StoreError::RoomRefused(
                        "request 134 carries an application message or a leave".into(),
                    ));
                }
            }
        };
        let entry = append(
            tx,
            view,
            room,
            author,
            kind,
            epoch,
            file,
            &message,
            now_ms(),
        )?;
        if let Some(file) = file {
            room_files::name(tx, room, author, file, entry.seq)?;
        }
        advance_author(tx, room, author, entry.seq)?;
        let recipients = readers_of(tx, room, entry.seq, Some(author))?;
        Ok((Arc::new(entry), recipients))
    })?;
    let seq = entry.seq;
    stage_entry(view, &entry, recipients);
    Ok(seq)
}

/// The room's epoch, whoever asks.
fn room_epoch(tx: &Transaction<'_>, room: RoomId) -> Result<u64, StoreError> {
    tx.prepare_cached("SELECT epoch FROM rooms WHERE id = ?1")?
        .query_row(params![&room.0[..]], |r| r.get::<_, i64>(0))
        .optional()?
        .map(|e| e as u64)
        .ok_or(StoreError::UnknownRoom)
}

fn check_log_room(tx: &Transaction<'_>, room: RoomId) -> Result<(), StoreError> {
    let entries: i64 = tx
        .prepare_cached("SELECT COUNT(*) FROM room_log WHERE room = ?1")?
        .query_row(params![&room.0[..]], |r| r.get(0))?;
    if entries >= MAX_ROOM_ENTRIES {
        return Err(StoreError::RoomLogFull(MAX_ROOM_ENTRIES as u64));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn append(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    room: RoomId,
    sender: ClientId,
    kind: RoomEntryKind,
    epoch: u64,
    file: Option<UploadId>,
    body: &Bytes,
    now: u64,
) -> Result<RoomEntry, StoreError> {
    let seq = *view.next_id;
    tx.prepare_cached(
        "INSERT INTO room_log (seq, room, sender, kind, epoch, sent_at, file_id, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        seq as i64,
        &room.0[..],
        &sender.0[..],
        kind.code(),
        epoch as i64,
        now as i64,
        file.as_ref().map(|f| &f.0[..]),
        &body[..]
    ])?;
    *view.next_id += 1;
    Ok(RoomEntry {
        room,
        seq,
        sender,
        kind,
        epoch,
        sent_at_ms: now,
        file,
        message: body.clone(),
    })
}

/// Moves the author's cursor past its own new message, if it has read
/// everything before it; otherwise its own entry comes to it in order with
/// the rest (the client recognises and skips it), so that its cursor never
/// jumps over entries it has not read.
fn advance_author(
    tx: &Transaction<'_>,
    room: RoomId,
    author: ClientId,
    seq: u64,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE room_members SET cursor = ?1 WHERE room = ?2 AND client = ?3
             AND NOT EXISTS (SELECT 1 FROM room_log
                             WHERE room = ?2 AND seq > room_members.cursor AND seq < ?1)",
    )?
    .execute(params![seq as i64, &room.0[..], &author.0[..]])?;
    Ok(())
}

/// Who receives entry `seq`: current members and those it removes, except
/// `author` when given (the author of a message; a committer reads its own
/// commit back).
fn readers_of(
    tx: &Transaction<'_>,
    room: RoomId,
    seq: u64,
    author: Option<ClientId>,
) -> Result<Vec<ClientId>, StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT client FROM room_members
         WHERE room = ?1 AND client != ?2 AND cursor < ?3
             AND (until_seq IS NULL OR until_seq >= ?3)",
    )?;
    let author = author.map_or([0; 16], |a| a.0);
    let rows = stmt.query_map(params![&room.0[..], &author[..], seq as i64], |r| {
        r.get::<_, Vec<u8>>(0)
    })?;
    let mut out = Vec::new();
    for row in rows {
        out.push(ClientId(fixed(&row?, "client id")?));
    }
    Ok(out)
}

fn stage_entry(view: &mut View<'_>, entry: &Arc<RoomEntry>, recipients: Vec<ClientId>) {
    view.staged
        .tally
        .add_room_entry(entry.sender, entry.message.len() as i64);
    view.staged.events.push(StoreEvent::RoomEntry {
        recipients: recipients.into(),
        entry: entry.clone(),
    });
}
