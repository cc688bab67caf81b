//! Rooms on PostgreSQL (PROTOCOL.md "Rooms"): create a room, append a
//! commit or a message to its log. The same rules, refusals and events as
//! the SQLite writer's (`writer/rooms.rs`).
//!
//! Each is one transaction that first locks the room's row (creation
//! inserts it), so two commits for one epoch can never both be accepted,
//! whichever nodes they reach: the second finds the epoch moved. The
//! observer's state is read and written in that transaction
//! (`room_observer.rs`); the append's numbering is `room_log.rs`'.

use bytes::Bytes;
use protocol::v3::{CommitAccepted, RoomEntryKind, RoomWelcome};
use protocol::{ClientId, MessageKind, RoomId, UploadId};
use sealpost_rooms::{MAX_ROOM_MEMBERS, Observed, Role, peek_header};

use super::Pg;
use super::messages::add_message;
use super::quota::{self, Usage};
use super::room_log::{self, NewEntry, advance_author, check_log_room, follow, member_epoch};
use super::room_observer::{self, lock_room, room_error};
use crate::error::StoreError;
use crate::store::values::{MessageBody, StoreEvent, now_ms};

impl Pg {
    /// See `Store::create_room`.
    pub(crate) async fn create_room(
        &self,
        creator: ClientId,
        room: RoomId,
        group_info: Bytes,
        tree: Bytes,
    ) -> Result<RoomId, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        // The new row is the room's lock: a second creation waits for this
        // transaction, then finds it.
        let inserted = tx
            .execute(
                "INSERT INTO rooms (id, epoch, creator, created_at) VALUES ($1, 0, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&&room.0[..], &&creator.0[..], &(now_ms() as i64)],
            )
            .await?;
        if inserted == 0 {
            return Err(StoreError::RoomExists);
        }
        let snapshot = room_observer::load(&tx, room).await?;
        let gi = group_info.clone();
        let (state, snapshot) = self
            .observe(snapshot, move |o, pins| o.track(&gi, &tree, pins))
            .await?;
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
        room_observer::save(&tx, room, &snapshot.changes()).await?;
        tx.execute(
            "INSERT INTO room_members (room, client, role, cursor, until_seq)
             VALUES ($1, $2, $3, 0, NULL)",
            &[
                &&room.0[..],
                &&creator.0[..],
                &i16::from(Role::Owner.code()),
            ],
        )
        .await?;
        follow(&tx, room, &state, None).await?;
        // The creator's group info (with its tree) is the first for joiners.
        tx.execute(
            "UPDATE rooms SET group_info = $1, group_epoch = 0 WHERE id = $2",
            &[&&group_info[..], &&room.0[..]],
        )
        .await?;
        tx.commit().await?;
        Ok(room)
    }

    /// See `Store::commit_room`: epoch compare-and-set, the observer's
    /// rules, cursors of added and removed members, roles, and a welcome to
    /// each added member. From a client that is not a member, only its own
    /// join by external commit is accepted.
    pub(crate) async fn commit_room(
        &self,
        author: ClientId,
        room: RoomId,
        epoch: u64,
        commit: Bytes,
        welcome: Option<Bytes>,
        proven: bool,
    ) -> Result<CommitAccepted, StoreError> {
        let now = now_ms();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let room_epoch = lock_room(&tx, room).await?;
        let joining = match member_epoch(&tx, room, author).await {
            Ok(_) => false,
            Err(StoreError::UnknownRoom) => true,
            Err(e) => return Err(e),
        };
        if room_epoch != epoch {
            return Err(StoreError::StaleEpoch(room_epoch));
        }
        check_log_room(&tx, room).await?;
        let snapshot = room_observer::load(&tx, room).await?;
        let bytes = commit.clone();
        let (observed, snapshot) = self
            .observe(snapshot, move |o, pins| {
                let observed = o.process(&bytes, pins)?;
                let state = o.room(sealpost_rooms::RoomId(room.0))?;
                Ok((observed, state))
            })
            .await?;
        let summary = match observed.0 {
            Observed::Commit { room: r, summary } if r.0 == room.0 => summary,
            _ => {
                return Err(StoreError::RoomRefused(
                    "request 133 carries a commit".into(),
                ));
            }
        };
        if let Some(name) = &summary.renamed {
            crate::names::check_room_name(name)?;
        }
        let state = observed.1;
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
        // A join leaves the rules as they were: the state after it says
        // whether the room needs its password (which only we can check).
        if joining && state.rule.needs_password() && !proven {
            return Err(StoreError::WrongPassword);
        }
        if state.members.len() > MAX_ROOM_MEMBERS {
            return Err(StoreError::RoomFull(MAX_ROOM_MEMBERS));
        }
        room_observer::save(&tx, room, &snapshot.changes()).await?;
        follow(&tx, room, &state, summary.access.as_ref()).await?;
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
        let welcome = match welcome {
            Some(welcome) => Some(
                RoomWelcome {
                    room,
                    epoch: state.epoch,
                    welcome,
                }
                .encode()
                .map_err(|e| StoreError::RoomRefused(e.to_string()))?,
            ),
            None => None,
        };
        let added: Vec<ClientId> = summary.added.iter().map(|a| ClientId(a.0)).collect();
        // Quotas: the author's and each invitee's inbox, all rows locked in
        // one statement (quota.rs's order); the bytes through one stripe.
        let mut clients = added.clone();
        clients.push(author);
        let usage = quota::lock(&tx, &clients).await?;
        let mut sent = usage.get(&author).copied().unwrap_or_default();
        check_sent(self, &sent, commit.len())?;
        sent.sent_bytes += commit.len() as i64;
        let mut total = commit.len() as i64;
        if let Some(content) = &welcome {
            for recipient in &added {
                let inbox = usage.get(recipient).ok_or(StoreError::UnknownClient)?;
                quota::check(&self.limits, inbox, &sent, content.len() as u64)?;
                sent.sent_bytes += content.len() as i64;
                total += content.len() as i64;
            }
        }
        let commit_bytes = Usage {
            sent_bytes: commit.len() as i64,
            ..Usage::default()
        };
        quota::add(&tx, &author, commit_bytes).await?;
        if let Some(content) = &welcome {
            for recipient in &added {
                add_message(&tx, recipient, &author, 1, content.len() as i64).await?;
            }
        }
        quota::add_storage(&tx, &self.limits, &author, total).await?;
        let entry = self
            .append(
                &tx,
                NewEntry {
                    room,
                    sender: author,
                    kind: RoomEntryKind::Commit,
                    epoch,
                    file: None,
                    body: &commit,
                    now,
                },
            )
            .await?;
        let seq = entry.seq as i64;
        tx.execute(
            "UPDATE rooms SET epoch = $1 WHERE id = $2",
            &[&(state.epoch as i64), &&room.0[..]],
        )
        .await?;
        for gone in summary.removed.iter().chain(&summary.left) {
            tx.execute(
                "UPDATE room_members SET until_seq = $1
                 WHERE room = $2 AND client = $3 AND until_seq IS NULL",
                &[&seq, &&room.0[..], &&gone.0[..]],
            )
            .await?;
        }
        // Members join after their commit: they read the room from the
        // welcome on, never the commit that added them.
        for added in &added {
            tx.execute(
                "INSERT INTO room_members (room, client, role, cursor, until_seq, joined_seq)
                 VALUES ($1, $2, 0, $3, NULL, $3)
                 ON CONFLICT (room, client) DO UPDATE
                     SET role = 0, cursor = excluded.cursor, until_seq = NULL,
                         joined_seq = excluded.joined_seq",
                &[&&room.0[..], &&added.0[..], &seq],
            )
            .await?;
        }
        for m in &state.members {
            tx.execute(
                "UPDATE room_members SET role = $1 WHERE room = $2 AND client = $3 AND role != $1",
                &[&i16::from(m.role.code()), &&room.0[..], &&m.client_id.0[..]],
            )
            .await?;
        }
        let mut welcomed = Vec::new();
        if let Some(content) = welcome {
            for &recipient in &added {
                let body = MessageBody::Inline(content.clone());
                let kind = MessageKind::RoomWelcome;
                self.insert_row(&tx, &recipient, &author, kind, &body, now)
                    .await?;
                welcomed.push(recipient);
            }
        }
        // The author reads its own commit back from the log, in order after
        // the entries before it: its cursor stays.
        let recipients = room_log::readers_of(&tx, room, entry.seq, None).await?;
        tx.commit().await?;
        let committed = CommitAccepted {
            room,
            epoch: state.epoch,
            seq: entry.seq,
        };
        // Announced as stale, not with the entry: see `room_log.rs`.
        (self.notify)(vec![StoreEvent::RoomStale { recipients }]);
        for recipient in welcomed {
            self.announce(recipient);
        }
        Ok(committed)
    }

    /// See `Store::send_room`: an application message or a member's leave
    /// proposal.
    pub(crate) async fn send_room(
        &self,
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
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        lock_room(&tx, room).await?;
        let room_epoch = member_epoch(&tx, room, author).await?;
        if epoch != room_epoch || header.epoch != room_epoch {
            return Err(StoreError::StaleEpoch(room_epoch));
        }
        check_log_room(&tx, room).await?;
        let usage = quota::lock(&tx, &[author]).await?;
        check_sent(
            self,
            &usage.get(&author).copied().unwrap_or_default(),
            message.len(),
        )?;
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
            let snapshot = room_observer::load(&tx, room).await?;
            let bytes = message.clone();
            let (observed, snapshot) = self
                .observe(snapshot, move |o, pins| o.process(&bytes, pins))
                .await?;
            match observed {
                Observed::LeaveRequest { client, .. } if client.0 == author.0 => {}
                _ => {
                    return Err(StoreError::RoomRefused(
                        "request 134 carries an application message or a leave".into(),
                    ));
                }
            }
            room_observer::save(&tx, room, &snapshot.changes()).await?;
            RoomEntryKind::Proposal
        };
        let sent = Usage {
            sent_bytes: message.len() as i64,
            ..Usage::default()
        };
        quota::add(&tx, &author, sent).await?;
        quota::add_storage(&tx, &self.limits, &author, message.len() as i64).await?;
        let entry = self
            .append(
                &tx,
                NewEntry {
                    room,
                    sender: author,
                    kind,
                    epoch,
                    file,
                    body: &message,
                    now: now_ms(),
                },
            )
            .await?;
        if let Some(file) = file {
            let named = tx
                .execute(
                    "UPDATE room_files SET seq = $1
                     WHERE id = $2 AND room = $3 AND owner = $4 AND seq IS NULL",
                    &[
                        &(entry.seq as i64),
                        &&file.0[..],
                        &&room.0[..],
                        &&author.0[..],
                    ],
                )
                .await?;
            if named == 0 {
                return Err(StoreError::UnknownUpload);
            }
        }
        advance_author(&tx, room, author, entry.seq).await?;
        let recipients = room_log::readers_of(&tx, room, entry.seq, Some(author)).await?;
        tx.commit().await?;
        // Announced as stale, not with the entry: see `room_log.rs`.
        (self.notify)(vec![StoreEvent::RoomStale { recipients }]);
        Ok(entry.seq)
    }
}

/// Whether `bytes` more from a sender at `usage` fit its quota; the storage
/// total is checked when it is added.
fn check_sent(pg: &Pg, usage: &Usage, bytes: usize) -> Result<(), StoreError> {
    let max = pg.limits.sender_max_bytes;
    if usage.sent_bytes as u64 + bytes as u64 > max {
        return Err(StoreError::SenderBytesFull(max));
    }
    Ok(())
}
