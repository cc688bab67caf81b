//! Joining a room from a welcome (a type-5 message in the inbox, PROTOCOL.md
//! "Rooms"): every member the welcome names is checked against our pins,
//! pinned on first use like a one-to-one contact and refused loudly when
//! its key differs from the pin, before the room is kept.

use bytes::Bytes;
use protocol::v3::RoomWelcome;
use sealpost_rooms::{IdentityError, RoomsError};

use protocol::ClientId;

use super::event::RoomChange;
use super::wire_client_id;
use crate::client::Client;
use crate::crypto::RefusalReason;
use crate::error::ClientError;
use crate::keystore::{Body, Conversation, Direction, NewEntry, Status};

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
    /// Joins the room a welcome's `content` from `inviter` (stored by the
    /// server at `sent_at_ms`) invites us to, and records the join in the
    /// room's history, before the entries that waited for it.
    ///
    /// # Errors
    /// The key store or the engine's state file failed, or the server did
    /// (pinning a member).
    pub(crate) async fn join_room(
        &self,
        content: Bytes,
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
        let _reading = self.inner.rooms.lock.lock().await;
        let bytes = welcome.welcome;
        let joined = self.with_pins(move |en, book| en.join(&bytes, book)).await;
        let joined = match joined {
            Ok(j) => j,
            Err(ClientError::Room(RoomsError::RoomExists)) => return Ok(Welcomed::Already),
            Err(err) => {
                let err = super::refused(err)?;
                tracing::warn!(error = %err, "room invitation refused");
                let reason = match err {
                    ClientError::Room(RoomsError::Identity(IdentityError::PinMismatch(_))) => {
                        RefusalReason::InvitationKeyDiffers
                    }
                    _ => RefusalReason::InvitationUnusable,
                };
                return Ok(Welcomed::Refused {
                    error: crate::repl::explain::client_error(&err, &[]),
                    reason,
                });
            }
        };
        let engine = self.room_engine().await?;
        let room = joined.room;
        let name = engine
            .run(move |en| en.name(room))
            .await?
            .map(|n| n.as_str().to_string())
            .unwrap_or_else(|| super::hex(&room));
        let mut members = Vec::new();
        for m in &joined.members {
            members.push(self.member_named(wire_client_id(m.client_id)).await?);
        }
        let change = RoomChange::Joined { members };
        // A welcome used once: the engine refuses it again (`Already`).
        let joined = NewEntry {
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
        self.store(move |s| s.add_history(&joined)).await?;
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
}
