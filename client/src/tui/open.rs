//! `/open` and `/join`: going to a conversation by what the user typed. A
//! join is `room join`'s (one wording): of the public or hidden room the
//! server has by that name (or of the id `#ID` that `room list` shows), so
//! a room of ours that shares the name does not stop it; only when the
//! server's room is one we are in (or it has none, and a room of ours has
//! the name) does `/join` go to that room instead.

use serde_json::Value;

use super::app::SecretFor;
use super::done::{Done, Failure};
use crate::advice::{Audience, quote_word};
use crate::cli::RoomCommand;
use crate::client::{Client, ClientError};
use crate::display::escape_line;
use crate::keystore::Conversation;
use crate::pin::PinState;
use crate::room_cli;
use crate::rooms::RoomPassword;
use crate::rooms::event::room_conversation;

/// `/open NAME`: the person of that name; `#NAME` the room of yours of
/// that name, and so does a plain NAME that no user has.
pub(super) async fn open(client: &Client, name: &str) -> Result<Done, Failure> {
    let join = |room: &str| format!("/join {} joins a public or hidden one", quote_word(room));
    if let Some(room) = name.strip_prefix('#') {
        return match client.find_room(room).await {
            Ok(r) => Ok(Done::Open(Conversation::room(r.id, r.name))),
            // Its history is still here to read.
            Err(ClientError::NoLongerInRoom { id, room }) => {
                Ok(Done::Open(room_conversation(&id, &room)))
            }
            Err(ClientError::NoSuchRoom(_)) => Err(Failure::Usage(format!(
                "you are in no room named #{room}; {}",
                join(room)
            ))),
            Err(e) => Err(e.into()),
        };
    }
    let info = match client.fetch_key(name).await {
        Ok(info) => info,
        Err(ClientError::UnknownPeer(_)) => {
            return match client.find_room(name).await {
                Ok(r) => Ok(Done::Open(Conversation::room(r.id, r.name))),
                Err(e @ ClientError::AmbiguousRoom { .. }) => Err(e.into()),
                Err(_) => Err(Failure::Usage(format!(
                    "no user named \"{name}\" on this server and no room of yours of that name \
                     (/online shows who is online; {})",
                    join(name)
                ))),
            };
        }
        Err(e) => return Err(e.into()),
    };
    // There is no conversation with oneself to go to (nor a note to self).
    if client.me().is_some_and(|me| me.id == info.id) {
        return Err(ClientError::SendToSelf(escape_line(name).into_owned()).into());
    }
    if info.pin == PinState::Changed {
        return Err(Failure::Usage(info.pin.describe(
            info.verified,
            &info.label(),
            Audience::Menu,
        )));
    }
    Ok(Done::Open(Conversation::Person { id: info.id }))
}

/// `/join NAME` (`#NAME`, `#ID`), with the room's password once it was
/// asked for: joins and opens the room; a room that needs a password asks
/// for it (again, at once, after a wrong one, as a login asks again).
pub(super) async fn join(
    client: &Client,
    typed: &str,
    secret: Option<RoomPassword>,
) -> Result<Done, Failure> {
    let name = crate::rooms::typed_room(typed).to_string();
    let command = RoomCommand::Join {
        name: name.clone(),
        secret,
    };
    match room_cli::outcome(client, command).await {
        Ok(done) => Ok(joined(done)),
        Err(ClientError::RoomPasswordNeeded(_)) => Ok(Done::Ask(SecretFor::Join(name), None)),
        Err(ClientError::RoomPassword(line)) => Ok(Done::Ask(
            SecretFor::Join(name),
            Some(format!("{line}; type it again (Esc cancels)")),
        )),
        // The room the name reaches is one we are in: joining it is going
        // there (by its id: another room of ours may share its name).
        Err(ClientError::AlreadyInRoom { id, .. }) => {
            let room = client.find_room(&id).await?;
            let line = format!("you are in #{} already", escape_line(&room.name));
            Ok(Done::OpenSaying(
                Conversation::room(room.id, room.name),
                vec![line],
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// Goes to the room a join reported (by its id: a room of ours, or one we
/// left, may have its name). The room's history records the join (`— you
/// joined —`), so the answer goes to the status line, as other room
/// changes' do; only said in the pane if the report names no room.
fn joined((value, lines): (Value, Vec<String>)) -> Done {
    match (value["id"].as_str(), value["name"].as_str()) {
        (Some(id), Some(name)) => Done::OpenChanged(room_conversation(id, name), lines),
        _ => Done::Say(lines),
    }
}
