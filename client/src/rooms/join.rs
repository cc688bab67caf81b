//! Joining a room from a welcome (a type-5 message in the inbox, PROTOCOL.md
//! "Rooms"): every member the welcome names is checked against our pins,
//! pinned on first use like a one-to-one contact and refused loudly when
//! its key differs from the pin, before the room is kept.
//!
//! The join is noted in the key store before the engine makes it, and its
//! "you joined" entry recorded once after (`keystore::joins`): a crash
//! between the two records it when the welcome comes again.

use bytes::Bytes;
use protocol::v3::RoomWelcome;
use sealpost_rooms::{IdentityError, RoomsError};

use protocol::ClientId;

use super::event::RoomChange;
use super::{engine_room_id, wire_client_id};
use crate::client::Client;
use crate::crypto::RefusalReason;
use crate::error::ClientError;
use crate::keystore::{Body, Conversation, Direction, JoinBy, NewEntry, Status};

/// Debug builds only: when this variable names a point of a join, the
/// client aborts there (as a kill -9 would stop it), so that a test can
/// see the join recorded once all the same. From a welcome: `joined` (the
/// engine joined, nothing recorded) or `recorded` (its entry recorded, the
/// welcome not yet handled). By name: `made` (the engine made the join,
/// its commit not sent) or `sent` (the server took it, nothing recorded).
pub const TEST_CRASH: &str = "SEALPOST_ROOM_JOIN_TEST_CRASH";

pub(super) fn crash_point(at: &str) {
    super::test_crash(TEST_CRASH, at);
}

/// What a welcome came to.
#[derive(Debug)]
pub enum Welcomed {
    /// We joined `room`; these are its members.
    Joined {
        /// The room's name.
        room: String,
        /// The room's id, 32 hex digits.
        room_id: String,
        /// What to show.
        change: RoomChange,
    },
    /// Joined before (a welcome that came again): nothing to show.
    Already,
    /// The welcome cannot be used (malformed, refused, or for key packages
    /// we no longer hold).
    Refused {
        /// Why, in one line.
        error: String,
        /// What the refusal notice tells its sender: a member's key that
        /// differs from our pin (a trust warning) or anything else.
        reason: RefusalReason,
    },
}

impl Client {
    /// Joins the room a welcome's `content` (message `welcome_id`) from
    /// `inviter` (stored by the server at `sent_at_ms`) invites us to, and
    /// records the join in the room's history once, before the entries
    /// that waited for it: also when a crash came between the engine's
    /// join and the record (the welcome comes again; the members are then
    /// those the room has now).
    ///
    /// # Errors
    /// The key store or the engine's state file failed, or the server did
    /// (pinning a member).
    pub(crate) async fn join_room(
        &self,
        content: Bytes,
        welcome_id: u64,
        inviter: ClientId,
        sent_at_ms: u64,
    ) -> Result<Welcomed, ClientError> {
        let welcome = match RoomWelcome::decode(content) {
            Ok(w) => w,
            Err(e) => {
                return Ok(Welcomed::Refused {
                    error: format!("a malformed room invitation ({e})"),
                    reason: RefusalReason::InvitationUnusable,
                });
            }
        };
        // The room the content names (the server's word): its log waits
        // until the join is recorded.
        let named = engine_room_id(welcome.room);
        let noted = self.store(move |s| s.begin_join(welcome_id, named)).await?;
        let _reading = self.inner.rooms.lock.lock().await;
        let bytes = welcome.welcome;
        let joined = self.with_pins(move |en, book| en.join(&bytes, book)).await;
        let (room, members, by) = match joined {
            Ok(j) => (j.room, j.members, JoinBy::Joining),
            Err(err) => {
                // Our own join, noted before this run, whose entry a crash
                // (or another process) left unrecorded: the engine holds
                // the room, and says so or (that join used the key package)
                // that it holds no key package for the welcome.
                let again = matches!(
                    err,
                    ClientError::Room(RoomsError::RoomExists | RoomsError::InvitationKeyLost)
                );
                match self.held_since_noted(named, noted && again).await? {
                    Some(members) => (named, members, JoinBy::Recovering),
                    None => return self.not_joined(err, welcome_id).await,
                }
            }
        };
        crash_point("joined");
        let engine = self.room_engine().await?;
        let name = engine
            .run(move |en| en.name(room))
            .await?
            .map(|n| n.as_str().to_string())
            .unwrap_or_else(|| super::hex(&room));
        let mut named_members = Vec::new();
        for m in &members {
            named_members.push(self.member_named(wire_client_id(m.client_id)).await?);
        }
        let change = RoomChange::Joined {
            members: named_members,
        };
        let entry = NewEntry {
            conversation: Conversation::room(room, name.clone()),
            direction: Direction::In,
            sender: inviter,
            body: Body::Event {
                change: change.clone(),
            },
            sender_time_ms: None,
            server_time_ms: Some(sent_at_ms),
            message_id: None,
            status: Status::Read,
        };
        // Recorded by one run and one process only; showing it is the
        // inbox's, once, when it marks the welcome handled.
        self.store(move |s| s.record_join(welcome_id, room, &entry, by))
            .await?;
        crash_point("recorded");
        // Entries of the room that waited for this welcome.
        self.room_sync_locked().await?;
        // History is shown by this name from now on, also once we leave.
        let named = name.clone();
        self.store(move |s| s.note_room_name(room, &named)).await?;
        self.back_in_restored(room).await;
        Ok(Welcomed::Joined {
            room_id: super::hex(&room),
            room: name,
            change,
        })
    }

    /// What a welcome the engine did not join from came to: a copy of one
    /// used before (it holds the room already), or refused.
    async fn not_joined(&self, err: ClientError, welcome_id: u64) -> Result<Welcomed, ClientError> {
        let err = match err {
            ClientError::Room(RoomsError::RoomExists) => None,
            err => Some(super::refused(err)?),
        };
        self.store(move |s| s.drop_join(welcome_id)).await?;
        let Some(err) = err else {
            return Ok(Welcomed::Already);
        };
        tracing::warn!(error = %err, "room invitation refused");
        let reason = match err {
            ClientError::Room(RoomsError::Identity(IdentityError::PinMismatch(_))) => {
                RefusalReason::InvitationKeyDiffers
            }
            _ => RefusalReason::InvitationUnusable,
        };
        Ok(Welcomed::Refused {
            error: crate::repl::explain::client_error(&err, &[]),
            reason,
        })
    }

    /// The members of `room`, which the engine held before a welcome to
    /// it, if that welcome's join was `noted` before this run and we are
    /// still in the room.
    async fn held_since_noted(
        &self,
        room: sealpost_rooms::RoomId,
        noted: bool,
    ) -> Result<Option<Vec<sealpost_rooms::RoomMember>>, ClientError> {
        if !noted {
            return Ok(None);
        }
        let engine = self.room_engine().await?;
        Ok(engine
            .run(move |en| match en.is_member(room) {
                Ok(true) => en.members(room).map(Some),
                Ok(false) | Err(RoomsError::UnknownRoom) => Ok(None),
                Err(e) => Err(e),
            })
            .await?)
    }
}
