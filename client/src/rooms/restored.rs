//! Rooms of a home restored from a backup (`client import`): a backup
//! holds which rooms the home was in, their join rule and admins, never
//! their keys (MLS state). Such a room is answered for by name -- how to
//! get back in -- until we are in it again (`keystore::restored`).

use sealpost_rooms::{JoinRule, LeafKey, Role};
use serde_json::json;

use super::state::LocalRoom;
use super::{hex, wire_client_id};
use crate::client::Client;
pub use crate::error::Back;
use crate::error::ClientError;
use crate::keystore::RestoredRoom;

/// A room restored without its keys, as `room list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RestoredInfo {
    /// Its name when the backup was made (escape before printing).
    pub name: String,
    /// Its id, 32 hex digits.
    pub id: String,
    /// Its join rule then.
    pub rule: String,
    /// Its owner and admins then, by the names pinned here.
    pub admins: Vec<String>,
    /// How to get back in (escape before printing).
    pub how: String,
}

impl Client {
    /// The rooms we are in, as a backup keeps them (with those restored
    /// here and not joined again, so that a backup of a restored home
    /// still names them).
    pub(crate) async fn rooms_for_backup(
        &self,
    ) -> Result<(Vec<RestoredRoom>, LeafKey), ClientError> {
        let mut out = Vec::new();
        let engine = self.room_engine().await?;
        let leaf = engine.run(|e| e.leaf_key()).await?;
        // One kept to get back into as well (a join to take our place again
        // cut short before it began) goes into the backup once, from there.
        let kept: Vec<_> = self
            .restored_rooms()
            .await?
            .iter()
            .map(|r| r.room)
            .collect();
        for room in self.local_rooms().await? {
            if !kept.contains(&room.id) {
                out.push(self.kept_without_keys(room).await?);
            }
        }
        Ok((out, leaf))
    }

    /// Our room `room` as a backup keeps it: its name, rule and admins,
    /// never its keys.
    ///
    /// # Errors
    /// No one is registered here, or the engine's state file failed.
    pub(crate) async fn kept_without_keys(
        &self,
        room: LocalRoom,
    ) -> Result<RestoredRoom, ClientError> {
        let me = self.require_me()?.id;
        let engine = self.room_engine().await?;
        let id = room.id;
        let (rule, members) = engine
            .run(move |e| Ok((e.access(id)?.rule, e.members(id)?)))
            .await?;
        let owned = members
            .iter()
            .any(|m| m.role == Role::Owner && wire_client_id(m.client_id) == me);
        let mut admins: Vec<_> = members
            .into_iter()
            .filter(|m| m.role != Role::Member && wire_client_id(m.client_id) != me)
            .collect();
        admins.sort_by_key(|m| m.role != Role::Owner);
        Ok(RestoredRoom {
            room: id,
            name: room.name,
            rule: rule.code(),
            admins: admins
                .into_iter()
                .map(|m| wire_client_id(m.client_id))
                .collect(),
            owned,
        })
    }

    /// The room restored without its keys that `name` names, if any (a
    /// store that fails to say is taken as none: only the wording of a
    /// refusal depends on it).
    pub(crate) async fn restored_room(&self, name: &str) -> Option<RestoredRoom> {
        let typed = name.to_string();
        self.store(move |s| s.restored_room(&typed))
            .await
            .ok()
            .flatten()
    }

    /// The refusal that says `r` was restored without its keys and how to
    /// get back in.
    pub(crate) async fn lost_in_restore(&self, r: RestoredRoom) -> ClientError {
        self.lost_in_restore_as(r, Back::Join).await
    }

    /// [`Self::lost_in_restore`] once `room join` found the way back `back`.
    pub(crate) async fn lost_in_restore_as(&self, r: RestoredRoom, back: Back) -> ClientError {
        let admins = self.admin_names(&r).await;
        ClientError::RoomLostInRestore {
            room: r.name,
            id: hex(&r.room),
            rule: JoinRule::from_code(r.rule).unwrap_or_default(),
            admins,
            owned: r.owned,
            back,
        }
    }

    /// `r`'s owner and admins by the names pinned here.
    async fn admin_names(&self, r: &RestoredRoom) -> Vec<String> {
        let mut admins = Vec::new();
        for a in &r.admins {
            admins.push(self.member_name(*a).await.unwrap_or_else(|_| a.to_string()));
        }
        admins
    }

    /// The rooms restored without their keys, by name.
    ///
    /// # Errors
    /// The key store failed.
    pub async fn restored_rooms(&self) -> Result<Vec<RestoredRoom>, ClientError> {
        self.store(|s| s.restored_rooms()).await
    }

    /// The rooms restored without their keys as `room list` shows them.
    ///
    /// # Errors
    /// The key store failed.
    pub async fn restored_room_infos(&self) -> Result<Vec<RestoredInfo>, ClientError> {
        let mut out = Vec::new();
        for r in self.restored_rooms().await? {
            let admins = self.admin_names(&r).await;
            let rule = JoinRule::from_code(r.rule).unwrap_or_default();
            out.push(RestoredInfo {
                how: how_back(&r.name, rule, &admins, r.owned, Back::Join),
                id: hex(&r.room),
                name: r.name,
                rule: rule.to_string(),
                admins,
            });
        }
        Ok(out)
    }

    /// We are in `room` again: it is no longer one to get back into.
    pub(crate) async fn back_in_restored(&self, room: sealpost_rooms::RoomId) {
        if let Err(e) = self.store(move |s| s.forget_restored_room(room)).await {
            tracing::warn!(error = %e, "forgetting a restored room failed");
        }
    }
}

/// The line of [`ClientError::RoomLostInRestore`].
pub(crate) fn lost_line(
    room: &str,
    rule: JoinRule,
    admins: &[String],
    owned: bool,
    back: Back,
) -> String {
    format!(
        "this home holds no keys of #{room} (it was restored from a backup, which does not \
         hold them, or it let go of them to take its place in the room again, and that join \
         was cut short): it cannot read or send there until it is in the room again; {}",
        how_back(room, rule, admins, owned, back)
    )
}

/// How to get back into a room restored without its keys.
pub fn how_back(room: &str, rule: JoinRule, admins: &[String], owned: bool, back: Back) -> String {
    // As typed back into a command.
    let typed = crate::advice::quote_word(room);
    let ask = |what: &str| {
        if admins.is_empty() {
            format!("nobody else manages it, so nobody can {what}")
        } else {
            format!("ask an admin of it ({}) to {what}", admins.join(", "))
        }
    };
    match back {
        // The room still lists us: our old place is ours to take again.
        Back::Join => format!("join it again with `room join {typed}`"),
        Back::NotListed if rule.open() => {
            let password = if rule.needs_password() {
                " (with its password)"
            } else {
                ""
            };
            format!(
                "it no longer lists you (you were removed after the backup was made): \
                 join it as anyone does with `room join {typed}`{password}"
            )
        }
        Back::NotListed => format!(
            "it no longer lists you (you were removed after the backup was made): {}",
            ask("add you again")
        ),
        // An owner is never removed (policy), so its old place stays.
        Back::KeyLost if owned => "the backup is older than those that keep your key of the \
             room, so a join cannot take your old place, and nobody may remove an owner: \
             this home cannot get back into it"
            .to_string(),
        Back::KeyLost => {
            let way = if rule.open() {
                let then = if admins.is_empty() {
                    String::new()
                } else {
                    format!(", then join it again with `room join {typed}`")
                };
                format!("{}{then}", ask("remove you"))
            } else {
                ask("remove you and add you again")
            };
            format!(
                "the backup is older than those that keep your key of the room, so a join \
                 cannot take your old place: {way}"
            )
        }
    }
}

/// The backup lines of `rooms` (in `restored_rooms`, where a restored home
/// keeps them; a room restored here and not joined since is in that table
/// already) and of the leaf key (`sealpost_rooms::LeafKey`: a restored home
/// joins a room again in place of its old leaf).
pub(crate) fn backup_rows(rooms: &[RestoredRoom], leaf: &LeafKey) -> Vec<serde_json::Value> {
    let mut rows: Vec<_> = rooms
        .iter()
        .map(|room| {
            let (id, admins) = room.columns();
            json!({ "table": "restored_rooms", "row": {
                "room": { "b": hex::encode(id) },
                "name": { "t": room.name },
                "rule": room.rule,
                "admins": { "b": hex::encode(admins) },
                "owned": i64::from(room.owned),
            }})
        })
        .collect();
    rows.push(json!({ "table": "restored_leaf_key", "row": {
        "only": 1,
        "pair": { "b": hex::encode(&*leaf.pair) },
    }}));
    rows
}
