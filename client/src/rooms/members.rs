//! `room members`: who is in a room, by the names pinned here, with their
//! roles, who is online, and a remark where the server's word on a member
//! differs from the pin: its account is gone, the server calls it by
//! another name, or the name it registered is a contact's here (another
//! key), so it is shown by id. The pin stays the authority (see
//! `crate::contacts`); the remark only says why a member looks as it does.

use std::collections::HashMap;

use protocol::ClientId;
use serde::Serialize;

use super::wire_client_id;
use crate::client::Client;
use crate::display::escape_line;
use crate::error::ClientError;
use crate::keystore::LookAlike;
use crate::peer_info::{hex_id, hex_id_opt};

/// A member as `room members` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RoomMemberInfo {
    /// The name the member is pinned under (our own name for us; its id
    /// when it has no name here).
    pub name: String,
    /// Whether the member is this home's user (a person reads "you").
    pub you: bool,
    /// Its client id.
    #[serde(serialize_with = "hex_id")]
    pub id: ClientId,
    /// member, admin or owner.
    pub role: String,
    /// Online now (shown by their menu or `watch`; see `crate::presence`).
    pub online: bool,
    /// The server says it no longer has the account (`room add` refuses
    /// until an admin removes it).
    pub gone: bool,
    /// The name the server gives the member now, when it differs from the
    /// pinned one (or none is pinned).
    pub server_name: Option<String>,
    /// The contact pinned here under the member's server name (or a name
    /// that looks like it): another key, which is why the member has no
    /// name here.
    pub name_held_by: Option<LookAlike>,
    /// Another account the server now gives the member's pinned name to:
    /// the name was registered again by someone else.
    #[serde(serialize_with = "hex_id_opt")]
    pub name_now_of: Option<ClientId>,
}

impl RoomMemberInfo {
    /// The member as a person reads it, escaped: "you" for us.
    pub fn shown_name(&self) -> String {
        if self.you {
            "you".into()
        } else {
            escape_line(&self.name).into_owned()
        }
    }

    /// A member with nothing to remark on, for tests: `name` (`you` is us),
    /// `role`, and an id of sixteen `id` bytes.
    #[cfg(test)]
    pub(crate) fn sample(name: &str, role: &str, id: u8) -> Self {
        RoomMemberInfo {
            name: name.into(),
            you: name == "you",
            id: ClientId([id; 16]),
            role: role.into(),
            online: false,
            gone: false,
            server_name: None,
            name_held_by: None,
            name_now_of: None,
        }
    }

    /// What to say beside the member, in parentheses and escaped, if
    /// anything.
    pub fn remark(&self) -> Option<String> {
        let quoted = |n: &str| format!("\"{}\"", escape_line(n));
        let mut parts = Vec::new();
        if self.gone {
            parts.push(
                "account gone from the server, it says: an admin removes it with `room remove`"
                    .into(),
            );
        } else if let Some(server) = &self.server_name {
            let now = if self.name_held_by.is_some() {
                ""
            } else {
                " now"
            };
            parts.push(format!("registered as {}{now}", quoted(server)));
        }
        if let Some(held) = &self.name_held_by {
            let server = self.server_name.as_deref().unwrap_or_default();
            parts.push(if held.name.eq_ignore_ascii_case(server) {
                format!(
                    "here {} is your contact {}, another key",
                    quoted(&held.name),
                    held.client_id
                )
            } else {
                format!(
                    "that looks like your contact {} ({}), another key",
                    quoted(&held.name),
                    held.client_id
                )
            });
        }
        if let Some(other) = &self.name_now_of {
            parts.push(format!(
                "the name {} now belongs to another key, {other}",
                quoted(&self.name)
            ));
        }
        (!parts.is_empty()).then(|| format!("({})", parts.join("; ")))
    }
}

impl Client {
    /// The members of the room `name`, with their roles.
    ///
    /// # Errors
    /// Unknown room; the server failed.
    pub async fn room_members(&self, name: &str) -> Result<Vec<RoomMemberInfo>, ClientError> {
        self.in_rooms(async || {
            let room = self.find_room(name).await?;
            let engine = self.room_engine().await?;
            let room_id = room.id;
            let members = engine.run(move |e| e.members(room_id)).await?;
            let online = self.online_ids().await?;
            // The server's accounts (every other one) by id, with its names.
            let accounts: HashMap<ClientId, String> = self
                .list()
                .await?
                .into_iter()
                .map(|(id, n)| (id, n.to_string()))
                .collect();
            let me = self.require_me()?;
            let (me, my_name) = (me.id, me.name.as_str().to_string());
            let mut out = Vec::new();
            for m in members {
                let id = wire_client_id(m.client_id);
                let mut info = RoomMemberInfo {
                    name: if id == me {
                        my_name.clone()
                    } else {
                        self.member_name(id).await?
                    },
                    you: id == me,
                    id,
                    role: m.role.to_string(),
                    online: online.contains(&id),
                    gone: id != me && !accounts.contains_key(&id),
                    server_name: None,
                    name_held_by: None,
                    name_now_of: None,
                };
                if id != me {
                    self.compare_with_server(&mut info, &accounts).await?;
                }
                out.push(info);
            }
            Ok(out)
        })
        .await
    }

    /// Fills in where the server's word on `info`'s member (`accounts`: its
    /// accounts and their names) differs from the pin.
    async fn compare_with_server(
        &self,
        info: &mut RoomMemberInfo,
        accounts: &HashMap<ClientId, String>,
    ) -> Result<(), ClientError> {
        let id = info.id;
        let record = self.store(move |s| s.peer(id)).await?;
        let pinned = record.map(|r| r.name).unwrap_or_default();
        let server = accounts.get(&id).cloned();
        info.server_name = server.clone().filter(|s| *s != pinned);
        if pinned.is_empty() {
            if let Some(server) = server {
                info.name_held_by = self.store(move |s| s.look_alike(id, &server)).await?;
            }
        } else {
            info.name_now_of = accounts
                .iter()
                .find(|(other, n)| **other != id && n.eq_ignore_ascii_case(&pinned))
                .map(|(other, _)| *other);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str) -> RoomMemberInfo {
        RoomMemberInfo::sample(name, "member", 0xb0)
    }

    #[test]
    fn a_member_as_the_server_has_it_has_no_remark() {
        assert_eq!(member("bob").remark(), None);
    }

    #[test]
    fn a_member_whose_name_is_a_contacts_here_says_so() {
        let bob = ClientId([0xaa; 16]);
        let held = |name: &str| LookAlike {
            name: name.into(),
            client_id: bob,
        };
        let new_bob = RoomMemberInfo {
            server_name: Some("bob".into()),
            name_held_by: Some(held("bob")),
            ..member(&ClientId([0xb0; 16]).to_string())
        };
        assert_eq!(
            new_bob.remark().unwrap(),
            format!("(registered as \"bob\"; here \"bob\" is your contact {bob}, another key)")
        );
        let look_alike = RoomMemberInfo {
            server_name: Some("B\u{43e}b".into()),
            name_held_by: Some(held("bob")),
            ..new_bob
        };
        assert_eq!(
            look_alike.remark().unwrap(),
            format!(
                "(registered as \"B\u{43e}b\"; that looks like your contact \"bob\" ({bob}), \
                 another key)"
            )
        );
    }

    #[test]
    fn a_member_whose_name_went_to_another_key_says_so() {
        let new_bob = ClientId([0xcc; 16]);
        let gone = RoomMemberInfo {
            gone: true,
            name_now_of: Some(new_bob),
            ..member("bob")
        };
        assert_eq!(
            gone.remark().unwrap(),
            format!(
                "(account gone from the server, it says: an admin removes it with `room remove`; \
                 the name \"bob\" now belongs to another key, {new_bob})"
            )
        );
        let renamed = RoomMemberInfo {
            server_name: Some("robert\u{7}".into()),
            ..member("bob")
        };
        // The server's word is escaped.
        assert_eq!(
            renamed.remark().unwrap(),
            "(registered as \"robert\\u{7}\" now)"
        );
    }
}
