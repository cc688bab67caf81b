//! Joining rooms without an invitation (PROTOCOL.md "Joining (142 to
//! 144)"): the public rooms as the server lists them, a join by name (an
//! MLS external commit from the group info the server keeps, checked by
//! the engine against the room's rules and our pins before it leaves; a
//! room this home was in before a restore is found by its id and joined
//! again in place of our old leaf, whatever its rule),
//! changing a room's join rule, and keeping the server's group info fresh
//! after each commit of ours that leaves the room open to joiners.
//!
//! The server's list and group info are its word only: the engine checks
//! the group info (signature, tree, every member against our pins, the
//! rule, our ban) and the server and every member check the commit. Left
//! out: how results are printed (`crate::room_cli`).

use bytes::Bytes;
use protocol::v3::RoomLabel;
use protocol::{ErrorReason, RoomId};
use sealpost_rooms::{JoinRule, PolicyError, Role, RoomsError};
use serde::Serialize;

use super::password::{RoomPassword, needs_password};
use super::restored::Back;
use super::state::LocalRoom;
use super::{RoomInfo, hex};
use crate::client::Client;
use crate::error::{ClientError, RoomRefusal};
use crate::keystore::RestoredRoom;

/// Attempts at one join while members keep moving the epoch.
const MAX_JOIN_ATTEMPTS: usize = 8;

/// A public room as `room list` shows it (the server's word).
#[derive(Debug, Clone, Serialize)]
pub struct ListedRoomInfo {
    /// Its name (escape before printing).
    pub name: String,
    /// Its id, 32 hex digits.
    pub id: String,
    /// How many members it has.
    pub members: u16,
    /// How many of them are online (shown) now.
    pub online: u16,
    /// Joining needs its password (shown with a lock).
    pub locked: bool,
}

impl Client {
    /// The public rooms the server lists, by name.
    ///
    /// # Errors
    /// The server failed.
    pub async fn room_directory(&self) -> Result<Vec<ListedRoomInfo>, ClientError> {
        let listed = self
            .retrying(|c| async move { c.listed_rooms().await })
            .await?;
        Ok(listed
            .into_iter()
            .map(|r| ListedRoomInfo {
                name: r.name.as_str().to_string(),
                id: hex(&sealpost_rooms::RoomId(r.room.0)),
                members: r.members,
                online: r.online,
                locked: r.locked,
            })
            .collect())
    }

    /// Joins the public or hidden room named exactly `name`.
    ///
    /// # Errors
    /// Already a member, no such room (or not one we may join), refused by
    /// the room's rules or our pins, or the server refused.
    pub async fn room_join(&self, name: &str) -> Result<RoomInfo, ClientError> {
        self.room_join_with(name, None).await
    }

    /// Joins the open room named exactly `name`, proving `password` to the
    /// server first when the room needs one (its rule, in the group info).
    ///
    /// # Errors
    /// As [`Client::room_join`]; [`ClientError::RoomPasswordNeeded`] when
    /// the room needs a password and none is given; a wrong password; too
    /// many guesses.
    pub async fn room_join_with(
        &self,
        name: &str,
        password: Option<&RoomPassword>,
    ) -> Result<RoomInfo, ClientError> {
        let typed = super::typed_room(name);
        // A room this home was in before it was restored from a backup: the
        // server finds it by its id for a member it still lists, whatever
        // its rule, and the join takes our old place (a resync).
        let restored = self.restored_room(typed).await;
        // A listed room's id names it, as `#ID` names a room elsewhere: the
        // way to one whose name a room of ours has too.
        let name = &self.listed_name(typed).await?;
        let label = RoomLabel::new(name).map_err(|_| no_such_room(name))?;
        let mut by_id = match &restored {
            Some(r) => Some(RoomLabel::new(&hex(&r.room)).map_err(|_| no_such_room(name))?),
            None => None,
        };
        let mut rejoined = None;
        let joined = self
            .in_rooms(async || {
                // Held to the end, noted or not (`super::name_join`).
                let _joining = self.lock_name_joins().await?;
                let engine = self.room_engine().await?;
                // A room of ours this client can no longer follow
                // (`super::behind`): found by its id, the join takes our own
                // place again (a resync) in place of the state we hold. Until
                // the join is recorded, it is also a room to get back into
                // (`super::restored`), so that one the server refuses, or a
                // crash cuts short, after the engine let go of our state is
                // listed with the way back, and found again by its name.
                let rejoin = self.left_behind_named(typed).await?;
                if let Some(held) = &rejoin {
                    by_id = Some(RoomLabel::new(&hex(&held.id)).map_err(|_| no_such_room(name))?);
                    let kept = self.kept_without_keys(held.clone()).await?;
                    self.store(move |s| s.keep_restored_room(&kept)).await?;
                    super::join::crash_point("kept");
                    rejoined = Some(held.id);
                }
                let name = rejoin.as_ref().map_or(name.as_str(), |r| r.name.as_str());
                // The epochs our commits were refused at as stale: one and the
                // same each time means nobody changed the room meanwhile, and
                // the server's group info is older than the room.
                let mut stale_at = Vec::new();
                for _ in 0..MAX_JOIN_ATTEMPTS {
                    let asked = by_id.clone().unwrap_or_else(|| label.clone());
                    let found = match self
                        .retrying(|c| {
                            let asked = asked.clone();
                            async move { c.find_room(asked).await }
                        })
                        .await
                    {
                        Ok(found) => found,
                        Err(e) if e.reason() == Some(ErrorReason::UnknownRoom) => {
                            let Some(r) = restored.clone().filter(|_| by_id.is_some()) else {
                                return Err(self.no_room_to_join(name).await);
                            };
                            // Listed, but with no group info at all (a room
                            // made before servers kept one, changed by older
                            // clients only): the server answers as for a room
                            // that does not list us.
                            let id = RoomId(r.room.0);
                            let listed = self
                                .retrying(|c| async move { c.room_state(id).await })
                                .await;
                            if listed.is_ok() {
                                return Err(stale_group_info(name));
                            }
                            // Not a member any more: removed since the backup.
                            // An open room is joined as anyone joins it.
                            if JoinRule::from_code(r.rule).is_some_and(JoinRule::open) {
                                by_id = None;
                                continue;
                            }
                            return Err(self.lost_in_restore_as(r, Back::NotListed).await);
                        }
                        Err(e) => return Err(e),
                    };
                    // The room the server found, by its id: a room of ours may
                    // have its name (an invite-only one) and be another room.
                    let found_id = super::engine_room_id(found.room);
                    if let Some(held) = self
                        .local_rooms()
                        .await?
                        .into_iter()
                        .find(|r| r.id == found_id)
                        .filter(|r| rejoin.as_ref().is_none_or(|b| b.id != r.id))
                    {
                        return Err(ClientError::AlreadyInRoom {
                            room: held.name,
                            id: hex(&held.id),
                            other: None,
                        });
                    }
                    // Noted before the engine makes it (`super::name_join`).
                    self.note_name_join(found_id, name).await?;
                    let info = found.group_info.to_vec();
                    let rejoining = rejoin.is_some();
                    let out = match self
                        .with_pins(move |en, book| {
                            if rejoining {
                                en.rejoin_external(&info, book)
                            } else {
                                en.join_external(&info, book)
                            }
                        })
                        .await
                    {
                        Ok(out) => out,
                        Err(e) => {
                            self.store(move |s| s.drop_name_join(found_id, None))
                                .await?;
                            // Its group info is no later than our state.
                            if rejoining && matches!(e, ClientError::Room(RoomsError::RoomExists)) {
                                return Err(stale_group_info(name));
                            }
                            return Err(self.not_back(e, restored.clone(), name).await);
                        }
                    };
                    let room = out.room;
                    if room.0 != found.room.0 {
                        engine.run(move |en| en.forget_room(room)).await?;
                        self.store(move |s| s.drop_name_join(found_id, None))
                            .await?;
                        return Err(ClientError::room(
                            RoomRefusal::Failed,
                            "the server answered with another room's group info",
                        ));
                    }
                    let rule = engine.run(move |en| Ok(en.access(room)?.rule)).await?;
                    let conn = self.connection().await?;
                    // A member the room lists proves nothing again (the server
                    // asks a password of newcomers only).
                    if rule.needs_password() && !out.summary.resync {
                        let proven = match password {
                            Some(p) => self.prove_room_password(&conn, room, name, p).await,
                            None => Err(needs_password(name)),
                        };
                        if let Err(e) = proven {
                            self.abandon_name_join(room, None).await?;
                            return Err(e);
                        }
                    }
                    let (epoch, resync) = (out.epoch, out.summary.resync);
                    self.store(move |s| s.name_join_made(room, epoch, resync))
                        .await?;
                    super::join::crash_point("made");
                    let sent = conn
                        .room_commit(RoomId(room.0), out.epoch, out.commit.into(), Bytes::new())
                        .await;
                    match sent {
                        Ok(_) => {
                            super::join::crash_point("sent");
                            self.refresh_group_info(room).await;
                            return self.joined(room, name, out.summary.resync).await;
                        }
                        Err(e) if e.reason() == Some(ErrorReason::StaleEpoch) => {
                            // A member committed meanwhile: join from the newer
                            // group info once it is stored.
                            stale_at.push(out.epoch);
                            self.abandon_name_join(room, None).await?;
                        }
                        Err(e) if e.is_disconnect() => {
                            // Its fate is unknown: the server says whether it
                            // took it; if it cannot yet, the next run asks.
                            match self.name_join_taken(room, epoch, resync).await {
                                Ok(true) => {
                                    self.refresh_group_info(room).await;
                                    return self.joined(room, name, resync).await;
                                }
                                Ok(false) => self.abandon_name_join(room, None).await?,
                                Err(_) => {}
                            }
                            return Err(e.into());
                        }
                        Err(e) => {
                            self.abandon_name_join(room, None).await?;
                            return Err(e.into());
                        }
                    }
                }
                if by_id.is_some() {
                    return Err(stale_group_info(name));
                }
                if stale_at.len() > 1 && stale_at.iter().all(|e| *e == stale_at[0]) {
                    return Err(older_group_info(name));
                }
                Err(ClientError::room(
                    RoomRefusal::Busy,
                    "other members kept changing the room at the same time; try again",
                ))
            })
            .await;
        // A rejoin that failed with our state still held: nothing to get
        // back into.
        if let (Err(_), Some(room)) = (&joined, rejoined)
            && self.engine_holds(room).await.unwrap_or(false)
        {
            self.back_in_restored(room).await;
        }
        joined
    }

    /// What a join's refusal by our engine means for a room restored here:
    /// the room lists us with a key the backup did not keep, or (the
    /// server listing us: it found the room by id) its group info is older
    /// than our membership.
    async fn not_back(
        &self,
        e: ClientError,
        restored: Option<RestoredRoom>,
        name: &str,
    ) -> ClientError {
        match (e, restored) {
            (ClientError::Room(RoomsError::LeafKeyLost), Some(r)) => {
                self.lost_in_restore_as(r, Back::KeyLost).await
            }
            (ClientError::Room(RoomsError::Policy(PolicyError::JoinRefused)), Some(_)) => {
                stale_group_info(name)
            }
            (e, _) => e,
        }
    }

    /// Changes who may join the room `name` (admins and the owner).
    ///
    /// # Errors
    /// Unknown room, ours not an admin's role, or refused (another public
    /// or hidden room has this name: `ROOM_EXISTS`).
    pub async fn room_set_rule(&self, name: &str, rule: JoinRule) -> Result<(), ClientError> {
        self.in_rooms(async || {
            let room = self.find_room(name).await?;
            self.require_role(&room, Role::Admin, "change who may join")
                .await?;
            let room_id = room.id;
            let changed = self
                .publish(room.id, move |e, _| {
                    if e.access(room_id)?.rule == rule {
                        return Ok(None);
                    }
                    e.set_join_rule(room_id, rule).map(Some)
                })
                .await
                .map_err(|e| e.name_in_use(&room.name))?;
            if changed.is_none() {
                return Err(ClientError::room(
                    RoomRefusal::Unchanged,
                    format!("#{} is already {rule}", room.name),
                ));
            }
            Ok(())
        })
        .await
    }

    /// Stores the room's group info for joiners (after a commit of ours
    /// merged, or our join), whatever the room's rule: in an invite-only
    /// room the joiners are members it still lists whose homes lost the
    /// room (a resync, PROTOCOL.md "Access"). Not fatal: a
    /// stale epoch means another member committed since, and stores its
    /// own; anything else is logged and the next commit tries again.
    pub(crate) async fn refresh_group_info(&self, room: sealpost_rooms::RoomId) {
        let made = async {
            let engine = self.room_engine().await?;
            let made = engine
                .run(move |en| {
                    if !en.is_member(room)? {
                        return Ok(None);
                    }
                    Ok(Some((en.epoch(room)?, en.group_info(room)?)))
                })
                .await?;
            let Some((epoch, info)) = made else {
                return Ok(());
            };
            let conn = self.connection().await?;
            match conn
                .room_group_info(RoomId(room.0), epoch, Bytes::from(info))
                .await
            {
                Ok(()) => Ok(()),
                Err(e) if e.reason() == Some(ErrorReason::StaleEpoch) => Ok(()),
                Err(e) => Err(ClientError::from(e)),
            }
        };
        if let Err(e) = made.await {
            tracing::warn!(error = %e, "storing the room's group info for joiners failed");
        }
    }
}

/// The server's group info of a room that lists us is older than the
/// room's epoch, or there is none, and it stays so until a member's
/// client stores it after a change (one that predates storing it for every
/// room made the last change). Any change does: its client stores the
/// group info after every commit of its own.
fn stale_group_info(name: &str) -> ClientError {
    ClientError::room(
        RoomRefusal::Busy,
        format!(
            "cannot join #{name} again yet: the server holds no group info of the room as it \
             is now to join from (most likely an older client made its last change); try again \
             after a member changes the room (adds or removes someone, for example)"
        ),
    )
}

/// A newcomer's join refused as stale each time from the same group
/// info: the server's is older than the room (the last change was an
/// older client's, which stores none after its commits).
fn older_group_info(name: &str) -> ClientError {
    ClientError::room(
        RoomRefusal::Busy,
        format!(
            "cannot join #{name} yet: the server's group info of the room is older than the \
             room (most likely an older client made its last change), so every join made from \
             it is refused; try again after a member changes the room (adds or removes someone, \
             for example)"
        ),
    )
}

fn no_such_room(name: &str) -> ClientError {
    ClientError::NoRoomToJoin {
        name: name.into(),
        listed: None,
    }
}

impl Client {
    /// The room of ours `typed` names if this client can no longer follow
    /// it ([`Client::left_behind`]).
    ///
    /// # Errors
    /// The server, or the engine's state file, failed.
    async fn left_behind_named(&self, typed: &str) -> Result<Option<LocalRoom>, ClientError> {
        // Not ours (or ambiguous): a join as any other, which says so.
        let Ok(held) = self.find_room(typed).await else {
            return Ok(None);
        };
        Ok(self.left_behind(held.id).await?.map(|_| held))
    }

    /// The name to join by for `typed`: the name of the listed room whose id
    /// it is (32 hex digits), else `typed` itself.
    ///
    /// # Errors
    /// The server failed listing its rooms.
    async fn listed_name(&self, typed: &str) -> Result<String, ClientError> {
        let id = typed.to_ascii_lowercase();
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(typed.to_string());
        }
        let listed = self.room_directory().await?;
        Ok(listed
            .into_iter()
            .find(|r| r.id == id)
            .map_or_else(|| typed.to_string(), |r| r.name))
    }

    /// The room `room` we joined by `name` (`again`: in our own place, a
    /// resync), recorded (`super::name_join`).
    async fn joined(
        &self,
        room: sealpost_rooms::RoomId,
        name: &str,
        again: bool,
    ) -> Result<RoomInfo, ClientError> {
        // Its own name: a room taken up again may have been renamed since.
        let name = self.record_name_join(room, name, again, false).await?;
        self.room_info(&LocalRoom { id: room, name }).await
    }

    /// The server has no room `name` we may join; names are exact, so a
    /// listed room whose name differs only in case is offered instead, and
    /// one listed under that very name is said to be closed to us. A room
    /// of ours that goes by `name` (invite-only, or named by its id) is
    /// said to be one we are in; two or more of them are named with their
    /// ids, as every room command names them.
    async fn no_room_to_join(&self, name: &str) -> ClientError {
        // `#` first, so that only it is dropped from a name that has one.
        match self.find_room(&format!("#{name}")).await {
            Ok(held) => {
                return ClientError::AlreadyInRoom {
                    room: held.name,
                    id: hex(&held.id),
                    other: Some(name.into()),
                };
            }
            Err(e @ ClientError::AmbiguousRoom { .. }) => return e,
            Err(_) => {}
        }
        let listed = self.room_directory().await.ok().and_then(|rooms| {
            rooms
                .into_iter()
                .find(|r| r.name.to_lowercase() == name.to_lowercase())
        });
        // A ban we read is the reason, unless the room listed under the
        // name is another one (a ban does not end with the ban's news: an
        // unban is a commit of a room we no longer read).
        if let Some(d) = self
            .room_departure(name)
            .await
            .filter(|d| d.banned && listed.as_ref().is_none_or(|l| l.id == hex(&d.room)))
        {
            return self.departed(d).await;
        }
        ClientError::NoRoomToJoin {
            name: name.into(),
            listed: listed.map(|r| r.name),
        }
    }
}

/// The rule of the words `--public`, `--hidden`, `--password`, `--invite`
/// (none: invite-only).
pub fn rule_of(public: bool, hidden: bool, password: bool) -> JoinRule {
    JoinRule::of_flags(public, hidden, password)
}
