//! `client room ...` and the menu's `room ...`: each room command does one
//! thing and says what it did, as lines for a person and as one JSON value
//! for `--json` ([`outcome`]); errors go back to the caller, which prints
//! one line.
//!
//! What a room command reads from the rooms' logs on the way (it must be on
//! the room's current epoch to act) is kept for the next `inbox`.

use protocol::ErrorReason;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use sealpost_rooms::JoinRule;

use crate::advice::quote_word;
use crate::cli::RoomCommand;
use crate::client::{Client, ClientError};
use crate::display::escape_line;
use crate::passphrase::read_room_password;
use crate::rooms::{Leaving, RoomPassword, rule_of};
use crate::script::{cancel_on_signal, print_json, read_stdin, upload_cancelled};

#[path = "room_cli_held.rs"]
mod held;
#[path = "room_cli_members.rs"]
mod members;
use held::{Held, held};
use members::{member_lines, member_word};

/// The prompt for a new room password (asked twice on a terminal).
pub const NEW_PASSWORD_PROMPT: &str = "New room password: ";

/// The prompt for the password of the room `name`, to join it.
pub fn join_prompt(name: &str) -> String {
    format!("Password of #{}: ", crate::rooms::typed_room(name))
}

/// Whether `command` sets a new room password, which is asked for before
/// anything is sent (`room create NAME --password`, `room set NAME
/// --password`).
pub fn sets_password(command: &RoomCommand) -> bool {
    match command {
        RoomCommand::Create { password, .. } => *password,
        RoomCommand::Set { rule, .. } => rule.password,
        _ => false,
    }
}

/// `command` with the password `secret` given: a new one for a command
/// [`sets_password`], the one to prove for a `join`.
pub fn with_password(command: RoomCommand, secret: RoomPassword) -> RoomCommand {
    match command {
        RoomCommand::Create {
            name,
            public,
            hidden,
            password,
            ..
        } => RoomCommand::Create {
            name,
            public,
            hidden,
            password,
            secret: Some(secret),
        },
        RoomCommand::Set { name, rule, .. } => RoomCommand::Set {
            name,
            rule,
            secret: Some(secret),
        },
        RoomCommand::Join { name, .. } => RoomCommand::Join {
            name,
            secret: Some(secret),
        },
        other => other,
    }
}

/// A new room password: asked twice without echo on a terminal, else the
/// first line of standard input.
fn new_password() -> anyhow::Result<RoomPassword> {
    Ok(RoomPassword::new(read_room_password(
        NEW_PASSWORD_PROMPT,
        true,
    )?)?)
}

/// Runs one room command from the command line and prints its result.
///
/// # Errors
/// Whatever the command hit, for `main` to print.
pub async fn run(client: &Client, command: RoomCommand, json: bool) -> anyhow::Result<()> {
    let command = match command {
        RoomCommand::Send { name, text } => RoomCommand::Send {
            name,
            text: Some(match text.as_deref() {
                None | Some("-") => read_stdin()?,
                Some(t) => t.to_string(),
            }),
        },
        // The password before anything is sent: from the terminal (no
        // echo; a new one twice) or standard input, never an argument.
        command if sets_password(&command) => with_password(command, new_password()?),
        other => other,
    };
    // Ctrl-C stops an upload where `client resume` continues it; any
    // other command it ends as usual.
    let cancel = match &command {
        RoomCommand::SendFile { .. } => cancel_on_signal(),
        _ => CancellationToken::new(),
    };
    let (value, lines) = match (
        outcome_until(client, command.clone(), cancel).await,
        command,
    ) {
        (Err(ClientError::Cancelled), RoomCommand::SendFile { .. }) => {
            return Err(upload_cancelled());
        }
        // A room that turns out to need a password: ask for it, once.
        (Err(ClientError::RoomPasswordNeeded(_)), RoomCommand::Join { name, .. }) => {
            let secret = RoomPassword::new(read_room_password(&join_prompt(&name), false)?)?;
            outcome(
                client,
                RoomCommand::Join {
                    name,
                    secret: Some(secret),
                },
            )
            .await?
        }
        (other, _) => other?,
    };
    if json {
        print_json(&value)?;
    } else {
        for line in lines {
            println!("{line}");
        }
    }
    Ok(())
}

/// Runs one room command (a `send` without its text sends nothing and is
/// refused); what it did as JSON and as lines for a person (escaped).
/// The rooms whose welcomes wait in the inbox are joined first (we were
/// just added, or added back: the state our removal left would misread
/// the room's log), and said so: the lines of those joins come first, and
/// the JSON of an object gets `joined` with them.
///
/// # Errors
/// Whatever the command hit.
pub async fn outcome(
    client: &Client,
    command: RoomCommand,
) -> Result<(Value, Vec<String>), ClientError> {
    outcome_until(client, command, CancellationToken::new()).await
}

/// [`outcome`], with `cancel` stopping a `send-file`'s upload where
/// `client resume` continues it (its progress recorded, not dropped).
///
/// # Errors
/// As [`outcome`]; [`ClientError::Cancelled`] when `cancel` stopped it.
pub async fn outcome_until(
    client: &Client,
    command: RoomCommand,
    cancel: CancellationToken,
) -> Result<(Value, Vec<String>), ClientError> {
    let joins = client.join_waiting_rooms().await?;
    let (mut value, lines) = match attempt(client, command.clone(), cancel).await {
        Ok(done) => done,
        Err(e) => match joined_by_invitation(client, &command, &joins).await? {
            Some(info) => (info, Vec::new()),
            None if e.reason() == Some(ErrorReason::UnknownRoom) => {
                return Err(gone(&command, e));
            }
            None => return Err(e),
        },
    };
    if joins.is_empty() {
        return Ok((value, lines));
    }
    // In JSON the joins as `inbox --json` gives them, not as lines.
    if let Some(object) = value.as_object_mut() {
        object.insert("joined".into(), json!(joins));
    }
    let joined = joins.iter().map(crate::output::event);
    Ok((value, joined.chain(lines).collect()))
}

/// `room join NAME` of a room one of `joins` (the welcomes just read) put
/// us in: the invitation did what was asked, and the room as `join`
/// reports it. `None` for any other command or room.
async fn joined_by_invitation(
    client: &Client,
    command: &RoomCommand,
    joins: &[crate::event::Event],
) -> Result<Option<Value>, ClientError> {
    let RoomCommand::Join { name, .. } = command else {
        return Ok(None);
    };
    let name = crate::rooms::typed_room(name);
    let invited = joins.iter().any(|e| {
        matches!(&e.what, crate::event::What::Room { room, room_id, .. }
            if room.eq_ignore_ascii_case(name) || room_id.eq_ignore_ascii_case(name))
    });
    if !invited {
        return Ok(None);
    }
    Ok(client
        .room_list()
        .await?
        .into_iter()
        .find(|r| r.name.eq_ignore_ascii_case(name) || r.id.eq_ignore_ascii_case(name))
        .map(|info| json!(info)))
}

/// The server's `UNKNOWN_ROOM` for a command on a room we hold: the room
/// is gone for us there (`room leave` forgets it); for a join it means
/// what it says.
fn gone(command: &RoomCommand, e: ClientError) -> ClientError {
    match command {
        RoomCommand::Create { .. } | RoomCommand::Join { .. } | RoomCommand::List => e,
        RoomCommand::Send { name, .. }
        | RoomCommand::SendFile { name, .. }
        | RoomCommand::Members { name }
        | RoomCommand::Add { name, .. }
        | RoomCommand::Remove { name, .. }
        | RoomCommand::Kick { name, .. }
        | RoomCommand::Ban { name, .. }
        | RoomCommand::Unban { name, .. }
        | RoomCommand::Promote { name, .. }
        | RoomCommand::Demote { name, .. }
        | RoomCommand::Set { name, .. }
        | RoomCommand::Rename { name, .. }
        | RoomCommand::Leave { name }
        | RoomCommand::Delete { name } => {
            ClientError::RoomGone(crate::rooms::typed_room(name).to_string())
        }
    }
}

/// [`outcome`] without looking for welcomes.
async fn attempt(
    client: &Client,
    command: RoomCommand,
    cancel: CancellationToken,
) -> Result<(Value, Vec<String>), ClientError> {
    // A room's own name is shown as it is (as lists show it), not as
    // typed: `dev team` for `Dev Team` or its id, and `##ops` for a room
    // another client named `#ops`, not the room `ops`.
    let named = |name: &str| format!("#{}", escape_line(name));
    Ok(match command {
        RoomCommand::Create {
            name,
            public,
            hidden,
            password,
            secret,
        } => {
            let info = client
                .room_create_locked(&name, rule_of(public, hidden, password), secret.as_ref())
                .await?;
            let line = format!(
                "created {} ({}, id {}); you are its owner",
                named(&info.name),
                info.rule,
                info.id
            );
            (json!(info), vec![line])
        }
        RoomCommand::Join { name, secret } => {
            let info = client.room_join_with(&name, secret.as_ref()).await?;
            let line = format!(
                "joined {} ({} {}); you read it from now on",
                named(&info.name),
                info.members,
                member_word(info.members)
            );
            (json!(info), vec![line])
        }
        RoomCommand::Set { name, rule, secret } => {
            let rule = if rule.invite {
                JoinRule::InviteOnly
            } else if rule.password && !rule.public && !rule.hidden {
                // A new password alone keeps a hidden room hidden.
                client.room_password_rule(&name).await?
            } else {
                rule_of(rule.public, rule.hidden, rule.password)
            };
            client.room_set_locked(&name, rule, secret.as_ref()).await?;
            let room = held(client, &name).await;
            let line = format!("{} is now {rule}", room.line());
            (room.json(json!({ "rule": rule.to_string() })), vec![line])
        }
        RoomCommand::Kick { name, user } => {
            client.room_remove(&name, &user).await?;
            let room = held(client, &name).await;
            let line = format!(
                "kicked {} from {}{}",
                escape_line(&user),
                room.line(),
                way_back(
                    client,
                    &name,
                    "they may join again",
                    "they cannot join again unless an admin adds them"
                )
                .await
            );
            (room.json(json!({ "kicked": user })), vec![line])
        }
        RoomCommand::Ban { name, user } => {
            let was_member = client.room_ban(&name, &user, true).await?;
            let room = held(client, &name).await;
            let (who, mut line) = (
                escape_line(&user),
                format!("banned {} from ", escape_line(&user)),
            );
            line += &room.line();
            if !was_member {
                line += &format!(
                    "; {who} was not a member, and may not join or be added unless unbanned"
                );
            }
            (
                room.json(json!({ "banned": user, "was_member": was_member })),
                vec![line],
            )
        }
        RoomCommand::Unban { name, user } => {
            client.room_ban(&name, &user, false).await?;
            let room = held(client, &name).await;
            let line = format!(
                "{} is no longer banned from {}{}",
                escape_line(&user),
                room.line(),
                way_back(client, &name, "they may join it", "an admin may add them").await
            );
            (room.json(json!({ "unbanned": user })), vec![line])
        }
        RoomCommand::Demote { name, user } => {
            client.room_demote(&name, &user).await?;
            let room = held(client, &name).await;
            let line = format!("{} is now a member of {}", escape_line(&user), room.line());
            (
                room.json(json!({ "member": user, "role": "member" })),
                vec![line],
            )
        }
        RoomCommand::Rename { name, new } => {
            let old = client.room_rename(&name, &new).await?;
            let room = held(client, &crate::rooms::hex(&old.id)).await;
            let line = format!("renamed {} to {}", named(&old.name), room.line());
            let value = json!({ "old_name": old.name, "renamed": room.name });
            (room.json(value), vec![line])
        }
        RoomCommand::Delete { name } => {
            // Its id while it is still ours: deleted, it is gone here.
            let id = held(client, &name).await.id;
            let (known, others) = client.room_delete(&name).await?;
            let line = match others {
                0 => format!("deleted {}", named(&known)),
                n => format!(
                    "deleted {} for its {n} other member{}; what they had not yet read in it is gone with it",
                    named(&known),
                    if n == 1 { "" } else { "s" }
                ),
            };
            let room = Held { name: known, id };
            (
                room.json(json!({ "deleted": true, "other_members": others })),
                vec![line],
            )
        }
        RoomCommand::Add { name, users } => {
            let done = client.room_add(&name, &users).await?;
            let room = held(client, &name).await;
            let who: Vec<_> = done
                .added
                .iter()
                .map(|a| escape_line(a).into_owned())
                .collect();
            let line = format!("added {} to {}", who.join(", "), room.line());
            (room.json(json!({ "added": done.added })), vec![line])
        }
        RoomCommand::Remove { name, user } => {
            client.room_remove(&name, &user).await?;
            let room = held(client, &name).await;
            let line = format!(
                "removed {} from {}; they cannot read what follows",
                escape_line(&user),
                room.line()
            );
            (room.json(json!({ "removed": user })), vec![line])
        }
        RoomCommand::Promote { name, user } => {
            client.room_promote(&name, &user).await?;
            let room = held(client, &name).await;
            let line = format!("{} is now an admin of {}", escape_line(&user), room.line());
            (
                room.json(json!({ "member": user, "role": "admin" })),
                vec![line],
            )
        }
        RoomCommand::Leave { name } => {
            // Its id while it is still ours: a leave may forget it here.
            let id = held(client, &name).await.id;
            let (known, value, line) = left(client.room_leave(&name).await?);
            (Held { name: known, id }.json(value), vec![line])
        }
        RoomCommand::Send { name, text } => {
            let text = text.unwrap_or_default();
            if text.is_empty() {
                return Err(ClientError::EmptyText);
            }
            let seq = client.room_send(&name, &text).await?;
            let room = held(client, &name).await;
            let line = format!("sent to {} (entry {seq})", room.line());
            (room.json(json!({ "seq": seq })), vec![line])
        }
        RoomCommand::SendFile { name, path } => {
            let sent = client.room_send_file(&name, &path, cancel).await?;
            let line = format!(
                "sent {} ({}) to {} (entry {})",
                escape_line(&sent.name),
                crate::output::size(sent.size),
                named(&sent.room),
                sent.seq
            );
            let room = Held {
                id: held(client, &name).await.id,
                name: sent.room.clone(),
            };
            (room.json(json!(sent)), vec![line])
        }
        RoomCommand::Members { name } => {
            let members = client.room_members(&name).await?;
            let lines = member_lines(&members);
            (json!(members), lines)
        }
        RoomCommand::List => {
            let listed = client.room_directory().await?;
            let rooms = client.room_list().await?;
            let restored = client.restored_room_infos().await?;
            // The legend only when a listed room needs it.
            let mut lines = vec![if listed.iter().any(|r| r.locked) {
                "public rooms (\"locked\": joining needs a password):".to_string()
            } else {
                "public rooms:".to_string()
            }];
            if listed.is_empty() {
                lines.push("  none (`room create NAME --public` makes one)".into());
            }
            // Columns as wide as their longest entry, so that a long name
            // or `public+password` does not push the rest out of line.
            let names = listed.iter().map(|r| named(&r.name));
            let names = names.chain(rooms.iter().map(|r| named(&r.name)));
            let names = names.chain(restored.iter().map(|r| named(&r.name)));
            let name_w = names
                .map(|n| n.chars().count())
                .max()
                .unwrap_or(0)
                .clamp(12, 40);
            let rules = rooms.iter().map(|r| r.rule.chars().count());
            let rule_w = rules
                .chain(restored.iter().map(|r| r.rule.chars().count()))
                .max()
                .unwrap_or(0)
                .max(11);
            for r in &listed {
                lines.push(format!(
                    "  {:<name_w$} {:>4} {:<7}  {:>4} online  {:<6}  {}",
                    named(&r.name),
                    r.members,
                    member_word(usize::from(r.members)),
                    r.online,
                    if r.locked { "locked" } else { "" },
                    r.id
                ));
            }
            lines.push("your rooms:".into());
            if rooms.is_empty() && restored.is_empty() {
                lines.push(
                    "  none yet (`room create NAME` makes one, `room join NAME` joins)".into(),
                );
            }
            for r in &rooms {
                lines.push(format!(
                    "  {:<name_w$} {:>4} {:<7}  you: {:<7} {:<rule_w$} {}",
                    named(&r.name),
                    r.members,
                    member_word(r.members),
                    if r.leaving { "leaving" } else { &r.role },
                    r.rule,
                    r.id
                ));
                if r.gone {
                    lines.push(format!(
                        "    gone from the server (deleted, you were removed while away, or the \
                         server was restored from an older backup): `room leave {}` forgets it here",
                        escape_line(&quote_word(&r.name))
                    ));
                }
                if r.server_behind {
                    lines.push(format!(
                        "    the server holds it at an older epoch (restored from a backup made \
                         before the room last changed): your next message or change there takes \
                         it up again, unless someone changed it there since; else `room leave \
                         {}` forgets it here",
                        escape_line(&quote_word(&r.name))
                    ));
                }
            }
            for r in &restored {
                lines.push(format!(
                    "  {:<name_w$} (restored: rejoin)  {:<rule_w$} {}",
                    named(&r.name),
                    r.rule,
                    r.id
                ));
                lines.push(format!("    {}", escape_line(&r.how)));
            }
            (
                json!({ "public": listed, "mine": rooms, "restored": restored }),
                lines,
            )
        }
    })
}

/// What `room leave` did: the room's name, the JSON (without the room)
/// and the line.
fn left(leaving: Leaving) -> (String, Value, String) {
    let named = |name: &str| format!("#{}", escape_line(name));
    match leaving {
        Leaving::Asked(known) => {
            let line = format!(
                "asked to leave {}; you are out once another member's client commits it",
                named(&known)
            );
            (known, json!({ "leave_requested": true }), line)
        }
        Leaving::AlreadyAsked(known) => {
            let line = format!(
                "you already asked to leave {}; you are out once another member's client \
                 commits it",
                named(&known)
            );
            let value = json!({ "leave_requested": true, "already": true });
            (known, value, line)
        }
        Leaving::Forgotten(known) => {
            let line = format!(
                "the server no longer has you in {} (deleted, you were removed while away, or \
                 the server was restored from a backup made before you joined); forgot it here",
                named(&known)
            );
            (known, json!({ "forgotten": true }), line)
        }
        Leaving::ServerBehind(known) => {
            let line = format!(
                "the server holds {} at an older epoch than this client (it was restored from \
                 a backup made before the room last changed), so no leave can be made there; \
                 forgot it here, and kept its history",
                named(&known)
            );
            let value = json!({ "forgotten": true, "server_behind": true });
            (known, value, line)
        }
    }
}

/// How someone removed or unbanned gets into the room `typed`: `open` in
/// a room one may join, `invite` in an invite-only one (empty when the
/// rule cannot be read: the command was done, only this is lost).
async fn way_back(client: &Client, typed: &str, open: &str, invite: &str) -> String {
    match client.room_rule(typed).await {
        Ok(rule) if rule.open() => format!("; {open}"),
        Ok(_) => format!("; {invite} (the room is invite-only)"),
        Err(_) => String::new(),
    }
}
