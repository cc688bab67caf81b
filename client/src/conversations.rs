//! Conversations as a list, for a front end that shows them side by side
//! (the full-screen client): people (contacts, and anyone with history)
//! and rooms, each with its last activity, unread count, whether a
//! changed key waits for the user, whether the person is online (as this
//! live client last heard) and the room's join rule; a conversation's history by its
//! [`Conversation`] value; and marking one read once it was shown (with
//! read receipts to the person, as [`Client::shown`] sends them).
//!
//! An `impl Client` block over `keystore::conversations`, offline: the
//! local pins and rooms say who is there, never the server. Left out: how
//! the list is drawn (`crate::tui`).

use std::collections::HashMap;

use protocol::ClientId;
use sealpost_rooms::JoinRule;

use crate::client::Client;
use crate::error::ClientError;
use crate::keystore::{Activity, Conversation, Direction, HistoryEntry, HistoryQuery, Status};
use crate::rooms::{LocalRoom, hex};

/// One conversation in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSummary {
    /// The conversation.
    pub conversation: Conversation,
    /// Its name for people: the pinned name (or the client id when the
    /// peer has none), or the room's name without `#` (escape before
    /// printing).
    pub label: String,
    /// What the sending commands take for it: the pinned name or the
    /// client id (32 hex digits) for a person, the name for a room we are
    /// in, the id (32 hex digits) for one we left (the name may be another
    /// room's by now) or one whose name another room of ours has too.
    pub address: String,
    /// When its newest history entry was recorded here (ms since the epoch).
    pub last_ms: Option<u64>,
    /// Received entries not shown yet.
    pub unread: usize,
    /// Received file offers waiting for the user's answer (`files`).
    pub files_waiting: usize,
    /// A person whose changed key waits for the user (nothing is sent to
    /// them until it is accepted).
    pub key_changed: bool,
    /// A person whose safety number the user compared.
    pub verified: bool,
    /// A person online now, as the presence pushes of this client's live
    /// connection said (always false for a client that is not watching).
    pub online: bool,
    /// A room's join rule as its group state here says (`None`: a room we
    /// are no longer in).
    pub rule: Option<JoinRule>,
    /// For a room whose name another room in the list has: what tells it
    /// apart, as an ambiguous name's refusal does (`owner alice`, `admins
    /// bob, carol`, and `id ...` when those are the same too), or `no
    /// longer a member` (escape before printing).
    pub apart: Option<String>,
    /// A room this home was in before it was restored from a backup, which
    /// holds no room's keys: to be joined or added to again.
    pub restored: bool,
}

impl ConversationSummary {
    /// Whether it is a room.
    pub fn is_room(&self) -> bool {
        matches!(self.conversation, Conversation::Room { .. })
    }
}

impl Client {
    /// Every conversation: contacts and people with history, and the rooms
    /// we are in or have history with; most recent activity first, then by
    /// name.
    ///
    /// # Errors
    /// The key store or the rooms' state file failed.
    pub async fn conversations(&self) -> Result<Vec<ConversationSummary>, ClientError> {
        let me = self.me().map(|m| m.id);
        let (peers, activity) = self
            .store(|s| {
                let mut peers = Vec::new();
                for p in s.peers()? {
                    let contact = s.is_contact(p.client_id)?;
                    peers.push((p, contact));
                }
                Ok((peers, s.conversation_activity()?))
            })
            .await?;
        let rooms = self.room_rules().await?;
        let online = self.online_now();
        let mut by_conversation: HashMap<Conversation, Activity> = activity
            .into_iter()
            .map(|a| (a.conversation.clone(), a))
            .collect();
        let mut out = Vec::new();
        for (peer, contact) in peers {
            if Some(peer.client_id) == me {
                continue;
            }
            let conversation = Conversation::Person { id: peer.client_id };
            let seen = by_conversation.remove(&conversation);
            if seen.is_none() && (!contact || peer.name.is_empty()) {
                // Pinned only as a room member, or a pin whose name went to
                // another client (`accept`): no conversation to show.
                continue;
            }
            let label = if peer.name.is_empty() {
                peer.client_id.to_string()
            } else {
                peer.name.clone()
            };
            out.push(ConversationSummary {
                conversation,
                address: label.clone(),
                label,
                last_ms: seen.as_ref().map(|s| s.last_ms),
                unread: seen.as_ref().map_or(0, |s| s.unread),
                files_waiting: seen.as_ref().map_or(0, |s| s.held),
                key_changed: peer.pending_bundle.is_some(),
                verified: peer.verified,
                online: online.contains(&peer.client_id),
                rule: None,
                apart: None,
                restored: false,
            });
        }
        let apart = self.rooms_apart(rooms.iter().map(|(r, _)| r)).await?;
        for (room, rule) in rooms {
            let conversation = Conversation::room(room.id, room.name.clone());
            let seen = by_conversation.remove(&conversation);
            let mut summary = room_summary(conversation, room.name, seen, Some(rule));
            if let Some(apart) = apart.get(&room.id) {
                // Another room of ours has its name: only the id reaches it.
                summary.address = hex(&room.id);
                summary.apart = Some(apart.clone());
            }
            out.push(summary);
        }
        // Rooms restored from a backup without their keys, with their
        // history if they have some.
        for r in self.restored_rooms().await? {
            let conversation = Conversation::room(r.room, r.name.clone());
            let seen = by_conversation.remove(&conversation);
            let mut summary = room_summary(conversation, r.name, seen, None);
            summary.address = hex(&r.room);
            summary.restored = true;
            summary.apart = Some("restored: rejoin".into());
            out.push(summary);
        }
        // History of rooms we left and of people no longer pinned.
        for (conversation, seen) in by_conversation {
            let name = match &conversation {
                Conversation::Room { name, .. } => name.clone(),
                Conversation::Person { id } => {
                    out.push(ConversationSummary {
                        conversation: conversation.clone(),
                        label: id.to_string(),
                        address: id.to_string(),
                        last_ms: Some(seen.last_ms),
                        unread: seen.unread,
                        files_waiting: seen.held,
                        key_changed: false,
                        verified: false,
                        online: online.contains(id),
                        rule: None,
                        apart: None,
                        restored: false,
                    });
                    continue;
                }
            };
            out.push(room_summary(conversation, name, Some(seen), None));
        }
        // A room we left beside another of its name in the list.
        for i in 0..out.len() {
            let (c, label) = (&out[i], out[i].label.to_lowercase());
            if c.is_room()
                && c.rule.is_none()
                && !c.restored
                && out
                    .iter()
                    .enumerate()
                    .any(|(j, o)| j != i && o.is_room() && o.label.to_lowercase() == label)
            {
                out[i].apart = Some("no longer a member".into());
            }
        }
        out.sort_by(|a, b| {
            b.last_ms
                .cmp(&a.last_ms)
                .then_with(|| a.label.to_lowercase().cmp(&b.label.to_lowercase()))
        });
        Ok(out)
    }

    /// For each of `rooms` whose name another of them has too: what tells
    /// it apart, its owner (or admins), with its id when that is the same
    /// for another room of the name.
    async fn rooms_apart<'a>(
        &self,
        rooms: impl Iterator<Item = &'a LocalRoom>,
    ) -> Result<HashMap<sealpost_rooms::RoomId, String>, ClientError> {
        let mut by_name: HashMap<String, Vec<&LocalRoom>> = HashMap::new();
        for room in rooms {
            by_name
                .entry(room.name.to_lowercase())
                .or_default()
                .push(room);
        }
        let mut out = HashMap::new();
        for group in by_name.into_values().filter(|g| g.len() > 1) {
            let mut whos = Vec::new();
            for room in &group {
                whos.push(self.room_candidate(room).await?.who());
            }
            for (room, who) in group.iter().zip(&whos) {
                let apart = if whos.iter().filter(|w| *w == who).count() > 1 {
                    format!("{who}, id {}", hex(&room.id))
                } else {
                    who.clone()
                };
                out.insert(room.id, apart);
            }
        }
        Ok(out)
    }

    /// Our rooms with their join rules.
    async fn room_rules(&self) -> Result<Vec<(LocalRoom, JoinRule)>, ClientError> {
        let rooms = self.local_rooms().await?;
        let ids: Vec<_> = rooms.iter().map(|r| r.id).collect();
        let engine = self.room_engine().await?;
        let rules = engine
            .run(move |e| {
                ids.iter()
                    .map(|id| e.access(*id).map(|a| a.rule))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        Ok(rooms.into_iter().zip(rules).collect())
    }

    /// The entries of `conversation` that `query` selects, oldest first.
    ///
    /// # Errors
    /// The key store failed.
    pub async fn history_of(
        &self,
        conversation: &Conversation,
        query: HistoryQuery,
    ) -> Result<Vec<HistoryEntry>, ClientError> {
        let conversation = conversation.clone();
        self.store(move |s| s.history(&conversation, &query)).await
    }

    /// The names people are pinned under, by client id (ours as `you`),
    /// for showing who sent what in a room.
    ///
    /// # Errors
    /// The key store failed.
    pub async fn pinned_labels(&self) -> Result<HashMap<ClientId, String>, ClientError> {
        let mut names: HashMap<ClientId, String> = self
            .store(|s| s.peers())
            .await?
            .into_iter()
            .map(|p| {
                let label = if p.name.is_empty() {
                    p.client_id.to_string()
                } else {
                    p.name
                };
                (p.client_id, label)
            })
            .collect();
        if let Some(me) = self.me() {
            names.insert(me.id, "you".into());
        }
        Ok(names)
    }

    /// The names to show the senders of `conversation`'s entries by: the
    /// pinned labels in a room, nothing in a one-to-one conversation (its
    /// other side is its own label).
    ///
    /// # Errors
    /// The key store failed.
    pub async fn sender_names(
        &self,
        conversation: &Conversation,
    ) -> Result<HashMap<ClientId, String>, ClientError> {
        match conversation {
            Conversation::Room { .. } => self.pinned_labels().await,
            Conversation::Person { .. } => Ok(HashMap::new()),
        }
    }

    /// The user was shown `conversation`: its received entries become
    /// `read`, and a person (a room's members) gets read receipts for them
    /// (unless read receipts are off). Returns how many entries were
    /// marked.
    ///
    /// # Errors
    /// The key store failed.
    pub async fn mark_read(&self, conversation: &Conversation) -> Result<usize, ClientError> {
        let marked = {
            let conversation = conversation.clone();
            self.store(move |s| s.mark_conversation_read(&conversation))
                .await?
        };
        let count = marked.len();
        // Front ends that keep running call this: a room's receipt goes out
        // in a moment, never holding up the screen.
        self.tell_read(conversation, marked, false).await?;
        Ok(count)
    }

    /// A number that moves when another process (a `send` or `inbox` in
    /// another terminal) changed this home's store: a front end that keeps
    /// running reloads what it shows when it moved.
    ///
    /// # Errors
    /// The key store failed.
    pub async fn changes_elsewhere(&self) -> Result<i64, ClientError> {
        self.store(|s| s.changes_elsewhere()).await
    }

    /// Read receipts for our peer's messages `ids` of `conversation`, just
    /// marked read: to the person, or the room's receipt (now, or in a
    /// moment unless `room_now`).
    async fn tell_read(
        &self,
        conversation: &Conversation,
        ids: Vec<u64>,
        room_now: bool,
    ) -> Result<(), ClientError> {
        match conversation {
            _ if ids.is_empty() => {}
            Conversation::Person { id } => self.send_read_receipts(*id, ids).await,
            Conversation::Room { id: Some(room), .. } => {
                let (room, through) = (*room, ids.iter().copied().max().unwrap_or(0));
                self.store(move |s| s.note_room_shown(room, through))
                    .await?;
                if room_now {
                    self.send_room_receipts().await;
                } else {
                    self.send_room_receipts_soon();
                }
            }
            Conversation::Room { id: None, .. } => {}
        }
        Ok(())
    }
}

impl Client {
    /// The user was shown `entries` of `conversation` (`history`): those
    /// received and not shown before become `read`, and their sender (a
    /// room's members) gets read receipts, as for what `inbox` prints.
    /// Entries not shown (older than a limit, or not matching a search)
    /// stay unread. Returns how many were marked.
    ///
    /// # Errors
    /// The key store failed.
    pub async fn history_shown(
        &self,
        conversation: &Conversation,
        entries: &[HistoryEntry],
    ) -> Result<usize, ClientError> {
        let ids: Vec<u64> = entries
            .iter()
            .filter(|e| e.direction == Direction::In && e.status == Status::Received)
            .filter_map(|e| e.message_id)
            .collect();
        if ids.is_empty() {
            return Ok(0);
        }
        let marks: Vec<(Conversation, u64)> =
            ids.iter().map(|id| (conversation.clone(), *id)).collect();
        let marked = self
            .store(move |s| s.set_received_statuses(&marks, Status::Read))
            .await?;
        self.tell_read(conversation, ids, true).await?;
        Ok(marked)
    }
}

fn room_summary(
    conversation: Conversation,
    name: String,
    seen: Option<Activity>,
    rule: Option<JoinRule>,
) -> ConversationSummary {
    let address = match &conversation {
        Conversation::Room { id: Some(id), .. } if rule.is_none() => hex(id),
        _ => name.clone(),
    };
    ConversationSummary {
        conversation,
        address,
        label: name,
        last_ms: seen.as_ref().map(|s| s.last_ms),
        unread: seen.as_ref().map_or(0, |s| s.unread),
        files_waiting: seen.as_ref().map_or(0, |s| s.held),
        key_changed: false,
        verified: false,
        online: false,
        rule,
        apart: None,
        restored: false,
    }
}
