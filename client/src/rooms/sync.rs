//! Reading the rooms' logs: every waiting entry, in log order, processed
//! exactly once and then acknowledged (PROTOCOL.md "Rooms", "Delivery").
//!
//! The engine records each entry's `seq` with the state it produced (one
//! transaction), so an entry whose acknowledgement was lost comes again
//! and is skipped instead of failing to decrypt. Our own application
//! messages come back only behind entries we had not read; they are skipped.
//! Our own commits are read back here and merged here, after the entries
//! before them, which were made in the epoch before.
//!
//! What an entry came to is kept by the engine until the key store has
//! recorded it, so that a crash between the two commits loses nothing
//! (`super::log_record`).
//!
//! What is read becomes [`RoomEvent`]s in the key store's queue (the next
//! `inbox` or `watch` shows them) and texts go into the room's history. An
//! entry that cannot be read (refused by the room's rules, not decrypting)
//! is reported once and passed over (the engine keeps the notice's words
//! until it is recorded, as it keeps what it read); an entry of a room we
//! have not joined yet (its welcome is still in the inbox), or whose join
//! from a welcome is not recorded in history yet (`keystore::joins`),
//! waits on the server.
//!
//! The caller holds the rooms lock ([`super::RoomsState`]).

use std::collections::HashSet;

use protocol::v3::{RoomCursor, RoomEntry, RoomEntryKind};
use protocol::{ClientId, RoomId};
use sealpost_rooms::{EntryOutcome, Incoming, RoomsError};

use super::event::{RoomChange, RoomEvent};
use super::{engine_room_id, log_record, wire_client_id};
use crate::client::Client;
use crate::error::ClientError;
use crate::keystore::{Conversation, LogRead, RoomDownload};

/// Most room pulls in one read: each moves a cursor, so this bounds a read
/// that others keep feeding.
const MAX_PULLS: usize = 10_000;

/// What reading one entry came to.
enum Read {
    /// Processed (or skipped): its cursor may move.
    Done(Vec<RoomEvent>, Option<sealpost_rooms::RoomId>),
    /// A file announced: its cursor may move once the file is downloaded.
    File(Box<RoomDownload>),
    /// A room we have not joined yet: the entry waits.
    NotYet,
}

impl Client {
    /// Reads every waiting entry of our rooms, in order; see the module
    /// docs. The caller holds the rooms lock.
    ///
    /// # Errors
    /// The server, the key store or the engine's state file failed.
    pub(crate) async fn read_room_logs(&self) -> Result<(), ClientError> {
        let me = self.require_me()?.id;
        // Files whose download was cut short, before anything after them.
        self.download_room_files().await?;
        // A room whose join is not recorded yet (`keystore::joins`) waits,
        // as one not joined yet does, so that the join comes first.
        let (mut joining, creates) = self
            .store(|s| Ok((s.rooms_joining()?, s.room_creates()?)))
            .await?;
        if !creates.is_empty() {
            // Creations a crash cut short (`super::create`); most reads
            // have none.
            self.finish_room_creates(creates).await?;
        }
        if !joining.is_empty() {
            // Joins by name a crash cut short (among these, if any) are
            // finished before anything of their rooms; most reads have none.
            self.finish_name_joins().await?;
            joining = self.store(|s| s.rooms_joining()).await?;
        }
        let joining: HashSet<RoomId> = joining.into_iter().map(|r| RoomId(r.0)).collect();
        for _ in 0..MAX_PULLS {
            let batch = self
                .retrying(|c| async move { c.room_pull(0).await })
                .await?;
            let mut cursors = Vec::new();
            let mut read = Vec::new();
            let mut waiting = joining.clone();
            for e in &batch.entries {
                if waiting.contains(&e.room) {
                    continue;
                }
                match self.read_entry(me, e).await? {
                    Read::Done(events, leave) => {
                        cursors.push(RoomCursor {
                            room: e.room,
                            seq: e.seq,
                        });
                        read.push(LogRead {
                            room: engine_room_id(e.room),
                            seq: e.seq,
                            events,
                        });
                        if let Some(room) = leave {
                            self.inner.rooms.note_leave_request(room);
                        }
                    }
                    Read::File(download) => {
                        cursors.push(RoomCursor {
                            room: e.room,
                            seq: e.seq,
                        });
                        let before = std::mem::take(&mut read);
                        self.keep_room_events(before, Some(*download)).await?;
                        self.download_room_files().await?;
                    }
                    Read::NotYet => {
                        waiting.insert(e.room);
                    }
                }
            }
            if cursors.is_empty() {
                break;
            }
            // The order of these steps is what makes a crash lose nothing
            // (`super::log_record`).
            log_record::crash_point("processed");
            self.keep_room_events(read, None).await?;
            log_record::crash_point("recorded");
            self.release_room_entries(&cursors).await?;
            log_record::crash_point("released");
            self.retrying(|c| {
                let cursors = cursors.clone();
                async move { c.room_ack(cursors).await }
            })
            .await?;
            if !batch.more {
                break;
            }
        }
        Ok(())
    }

    /// Room events read and not shown yet, oldest first (they are shown
    /// once: this takes them).
    ///
    /// # Errors
    /// The key store failed.
    pub(crate) async fn take_room_events(&self) -> Result<Vec<RoomEvent>, ClientError> {
        self.store(|s| s.take_room_events()).await
    }

    async fn read_entry(&self, me: ClientId, e: &RoomEntry) -> Result<Read, ClientError> {
        let room = engine_room_id(e.room);
        let engine = self.room_engine().await?;
        let seq = e.seq;
        if e.sender == me && e.kind != RoomEntryKind::Commit {
            // Our own message or leave request: we made it.
            match engine.run(move |en| en.skip_entry(room, seq)).await {
                Ok(_) | Err(RoomsError::UnknownRoom) => {}
                Err(err) => return Err(err.into()),
            }
            return Ok(Read::Done(Vec::new(), None));
        }
        let bytes = e.message.clone();
        let result = self
            .with_pins(move |en, book| en.process_entry(room, seq, &bytes, book))
            .await;
        let read = match result {
            Ok(Some(EntryOutcome::Read(read))) => read,
            Ok(Some(EntryOutcome::Refused { reason, name })) => {
                // Refused by a read killed before its notice was recorded
                // (`super::log_record`): the notice, as it was then.
                let name = name.map(|n| n.as_str().to_string());
                let event = event_of(e, name, RoomChange::Unreadable { error: reason });
                return Ok(Read::Done(vec![event], None));
            }
            Ok(None) => return Ok(Read::Done(Vec::new(), None)),
            Err(ClientError::Room(RoomsError::UnknownRoom)) => {
                // No state for the room: not joined yet, or never.
                return Ok(Read::NotYet);
            }
            Err(ClientError::Room(RoomsError::NotMember)) => {
                // Entries we read before our removal were skipped above by
                // their seq, and the server gives a removed member nothing
                // after it: this one follows an invitation back that is
                // still in the inbox. It waits for the welcome, as for a
                // room never joined; read now, it would be lost.
                return Ok(Read::NotYet);
            }
            Err(err) => {
                let err = super::refused(err)?;
                tracing::warn!(seq, error = %err, "room entry refused");
                let line = match &err {
                    // A commit at an epoch we passed, new to us (one read
                    // before is skipped by its seq): the server's log went
                    // another way than ours.
                    ClientError::Room(RoomsError::StaleEpoch { message, room })
                        if e.kind == RoomEntryKind::Commit && message < room =>
                    {
                        split_line(*message, *room)
                    }
                    _ => crate::repl::explain::client_error(&err, &[]),
                };
                // Kept with the entry marked read, so that a kill before the
                // key store records the notice does not lose it.
                let reason = line.clone();
                engine
                    .run(move |en| en.refuse_entry(room, seq, &reason))
                    .await?;
                let event = self
                    .room_event(e, RoomChange::Unreadable { error: line })
                    .await?;
                return Ok(Read::Done(vec![event], None));
            }
        };
        // A replay (`super::log_record`) is turned into events as the first
        // time: the names are those the engine kept from then.
        let name = read.name_after.as_ref().map(|n| n.as_str().to_string());
        let event = |change| event_of(e, name.clone(), change);
        // History is kept by room name: a commit that renames the room
        // takes it along (ours and others' alike, read back here).
        let name_before = read.name_before.filter(|_| e.kind == RoomEntryKind::Commit);
        let mut events = Vec::new();
        let mut leave = None;
        match read.incoming {
            Incoming::Message {
                plaintext, sender, ..
            } => {
                // The typed content of PROTOCOL.md ("Room content").
                let change = match super::RoomContent::decode(&plaintext) {
                    Ok(super::RoomContent::Text(text)) => RoomChange::Text { text },
                    Ok(super::RoomContent::File(f)) if e.file.is_some() => {
                        let change = RoomChange::File {
                            name: f.name,
                            size: f.size,
                            path: None,
                            not_saved: None,
                        };
                        return Ok(Read::File(Box::new(RoomDownload {
                            room: e.room,
                            seq: e.seq,
                            event: event(change),
                            file: plaintext.to_vec(),
                        })));
                    }
                    Ok(super::RoomContent::File(_)) => RoomChange::Unreadable {
                        error: "a file announcement whose entry names no file".into(),
                    },
                    Ok(super::RoomContent::PasswordChanged) => {
                        self.password_notice(room, sender).await?
                    }
                    Ok(super::RoomContent::Receipt { delivered, read }) => {
                        // No member has read what comes after its receipt.
                        let (delivered, read) = (delivered.min(seq), read.min(seq));
                        let member = wire_client_id(sender);
                        let conversation = Conversation::room(room, "");
                        let moved = self
                            .store(move |s| {
                                s.apply_room_receipt(&conversation, member, delivered, read)
                            })
                            .await?;
                        if moved > 0 {
                            self.note_statuses_moved();
                        }
                        return Ok(Read::Done(Vec::new(), None));
                    }
                    // A deletion notice travels only as a type-6 message.
                    Ok(super::RoomContent::Deleted) => RoomChange::Unreadable {
                        error: "a deletion notice in the room's log".into(),
                    },
                    // A newer client's optional signal: nothing to show.
                    Err(super::content::ContentError::UnknownOptionalKind(kind)) => {
                        tracing::debug!(
                            kind,
                            "skipped an optional room message of an unknown kind"
                        );
                        return Ok(Read::Done(Vec::new(), None));
                    }
                    Err(err @ super::content::ContentError::UnknownKind(_)) => {
                        RoomChange::Unreadable {
                            error: err.to_string(),
                        }
                    }
                    Err(err) => RoomChange::Unreadable {
                        error: format!("a room message that is not room content: {err}"),
                    },
                };
                events.push(event(change));
            }
            Incoming::Commit {
                summary,
                removed_us,
                ..
            } => {
                let old_name = name_before.as_ref().map(|n| n.as_str().to_string());
                for change in self.commit_changes(&summary, removed_us, old_name).await? {
                    events.push(event(change));
                }
            }
            Incoming::OwnCommit { summary, .. } => {
                // Ours is merged: joiners need the group info of this epoch.
                self.refresh_group_info(room).await;
                // The command that made it said what it did: its changes
                // are only recorded in history, except for leave requests,
                // which this client commits by itself (or along with the
                // command's change): those who left are news here as they
                // are to every other member.
                let old_name = name_before.as_ref().map(|n| n.as_str().to_string());
                for change in self.commit_changes(&summary, false, old_name).await? {
                    let quiet = !matches!(change, RoomChange::Left { .. });
                    events.push(RoomEvent {
                        quiet,
                        ..event(change)
                    });
                }
            }
            Incoming::LeaveRequest { room, .. } => {
                events.push(event(RoomChange::LeaveAsked));
                leave = Some(room);
            }
            other => {
                tracing::warn!(?other, "a room entry of an unknown kind");
            }
        }
        if let Some(old) = name_before
            && let Some(new) = name.filter(|n| n != old.as_str())
        {
            // History is kept by id: only the name it is shown by moves.
            self.store(move |s| s.note_room_name(room, &new)).await?;
        }
        Ok(Read::Done(events, leave))
    }

    /// An admin's notice that the password changed, believed only from an
    /// admin or the owner (the roles are the room's, the sender MLS's).
    async fn password_notice(
        &self,
        room: sealpost_rooms::RoomId,
        sender: sealpost_rooms::ClientId,
    ) -> Result<RoomChange, ClientError> {
        let engine = self.room_engine().await?;
        let members = engine.run(move |en| en.members(room)).await?;
        let admin = members.iter().any(|m| {
            m.client_id == sender
                && matches!(
                    m.role,
                    sealpost_rooms::Role::Admin | sealpost_rooms::Role::Owner
                )
        });
        Ok(if admin {
            RoomChange::PasswordChanged
        } else {
            RoomChange::Unreadable {
                error: "a password notice from a member who is not an admin".into(),
            }
        })
    }

    /// What a commit did, as events; `old_name` is the room's name before
    /// it.
    pub(crate) async fn commit_changes(
        &self,
        summary: &sealpost_rooms::CommitSummary,
        removed_us: bool,
        old_name: Option<String>,
    ) -> Result<Vec<RoomChange>, ClientError> {
        if removed_us {
            // The ban is in the commit's new group context, which every
            // member checked: not the server's word.
            let banned = self
                .me()
                .is_some_and(|me| summary.banned.iter().any(|c| wire_client_id(*c) == me.id));
            let me = self.me().map(|me| me.id);
            let left = summary.left.iter().any(|c| Some(wire_client_id(*c)) == me);
            return Ok(vec![if banned {
                RoomChange::BannedYou
            } else if left {
                RoomChange::YouLeft
            } else {
                RoomChange::RemovedYou
            }]);
        }
        let mut changes = Vec::new();
        if summary.external_join {
            for id in &summary.added {
                let named = self.member_named(wire_client_id(*id)).await?;
                changes.push(RoomChange::JoinedByName {
                    member: named.name,
                    you: named.you,
                    again: summary.resync,
                });
            }
        } else if !summary.added.is_empty() {
            changes.push(RoomChange::Added {
                members: self.member_names(&summary.added).await?,
            });
        }
        // A ban removes the member in the same commit: one event says both.
        let kicked: Vec<_> = summary
            .removed
            .iter()
            .filter(|c| !summary.banned.contains(c))
            .copied()
            .collect();
        if !kicked.is_empty() {
            changes.push(RoomChange::Removed {
                members: self.member_names(&kicked).await?,
            });
        }
        if !summary.banned.is_empty() {
            changes.push(RoomChange::Banned {
                members: self.member_names(&summary.banned).await?,
            });
        }
        if !summary.unbanned.is_empty() {
            changes.push(RoomChange::Unbanned {
                members: self.member_names(&summary.unbanned).await?,
            });
        }
        if let Some(rule) = summary.rule {
            changes.push(RoomChange::JoinRule {
                rule: rule.to_string(),
            });
        }
        if !summary.left.is_empty() {
            changes.push(RoomChange::Left {
                members: self.member_names(&summary.left).await?,
            });
        }
        for c in &summary.role_changes {
            // A new member's entry is no news beside its addition.
            if summary.added.contains(&c.client) {
                continue;
            }
            let named = self.member_named(wire_client_id(c.client)).await?;
            changes.push(RoomChange::Role {
                member: named.name,
                you: named.you,
                role: c.to.to_string(),
            });
        }
        if let Some(name) = &summary.renamed {
            changes.push(RoomChange::Renamed {
                old_name,
                name: name.clone(),
            });
        }
        Ok(changes)
    }

    /// [`Client::member_named`] of each of these members.
    async fn member_names(
        &self,
        ids: &[sealpost_rooms::ClientId],
    ) -> Result<Vec<super::event::Named>, ClientError> {
        let mut out = Vec::new();
        for id in ids {
            out.push(self.member_named(wire_client_id(*id)).await?);
        }
        Ok(out)
    }

    /// The event of entry `e` (the room named as it is now).
    async fn room_event(
        &self,
        e: &RoomEntry,
        change: RoomChange,
    ) -> Result<RoomEvent, ClientError> {
        let room = engine_room_id(e.room);
        let engine = self.room_engine().await?;
        let name = engine
            .run(move |en| en.name(room))
            .await
            .ok()
            .flatten()
            .map(|n| n.as_str().to_string());
        Ok(event_of(e, name, change))
    }
}

/// The event of entry `e`, its room named `name` (its id if it has none).
fn event_of(e: &RoomEntry, name: Option<String>, change: RoomChange) -> RoomEvent {
    let room = super::hex(&engine_room_id(e.room));
    RoomEvent {
        seq: e.seq,
        room: name.unwrap_or_else(|| room.clone()),
        room_id: room,
        from: e.sender.to_string(),
        sent_at_ms: e.sent_at_ms,
        change,
        quiet: false,
    }
}

/// What a member reads of a commit made at an epoch it has passed: the
/// room split on the server, which happens when a server restored from a
/// backup takes a change from a member still at the backup's epoch before
/// anyone ahead of it re-founds the room (PROTOCOL.md "Re-founding a
/// restored room"). Neither side can read the other's messages from then on.
fn split_line(theirs: u64, ours: u64) -> String {
    format!(
        "it changes the room from epoch {theirs}, which this client passed (it is at {ours}): \
         the room split on the server, most likely restored from a backup made before the room \
         last changed, and messages between the two sides cannot be read; make a new room \
         (`room create`) to go on together"
    )
}
