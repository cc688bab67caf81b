//! A room event as a person reads it, in one line (`crate::output`'s, for
//! `inbox`, `watch`, the menu and the full-screen client alike).

use super::{room_file_held, size};
use crate::crypto::RefusalReason;
use crate::display::{escape_line, escape_path};
use crate::event::RoomChange;

/// A room event as one line: `[#team] alice: hello`.
pub fn room_line(room: &str, who: &str, change: &RoomChange, seq: u64) -> String {
    use crate::rooms::event::shown_member;
    let typed = room;
    let room = escape_line(room);
    let list = |names: &[crate::rooms::event::Named]| {
        names
            .iter()
            .map(crate::rooms::event::Named::shown)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match change {
        RoomChange::Text { text } => {
            let mut lines = text.lines();
            let first = escape_line(lines.next().unwrap_or_default()).into_owned();
            let rest: String = lines.map(|l| format!("\n    {}", escape_line(l))).collect();
            format!("[#{room}] {who}: {first}{rest}")
        }
        RoomChange::File {
            name,
            size: n,
            path,
            not_saved,
        } => match (path, not_saved) {
            (Some(path), _) => format!(
                "[#{room}] {who} sent a file: {} ({}), saved as {}",
                escape_line(name),
                size(*n),
                escape_path(path)
            ),
            (None, why) => format!(
                "[#{room}] {who} sent a file: {} ({}); not saved: {}",
                escape_line(name),
                size(*n),
                escape_line(why.as_deref().unwrap_or("it was not downloaded"))
            ),
        },
        RoomChange::FileHeld {
            name,
            size: n,
            limit,
        } => format!(
            "[#{room}] {who} {}",
            room_file_held(
                name,
                *n,
                *limit,
                &format!("`client accept-file {seq}`"),
                &format!("`client decline-file {seq}`")
            )
        ),
        RoomChange::Created { name, rule } => format!(
            "[#{room}] {who} created #{}{}",
            escape_line(name),
            created_rule(rule)
        ),
        RoomChange::Joined { members } => format!(
            "[#{room}] you joined, invited by {who}; members: {}",
            list(members)
        ),
        RoomChange::Added { members } => format!("[#{room}] {who} added {}", list(members)),
        RoomChange::Removed { members } => format!("[#{room}] {who} removed {}", list(members)),
        RoomChange::RemovedYou => {
            format!(
                "[#{room}] {who} removed you; you receive nothing more of this room unless you \
                 are added again (or join again, if it is open to you)"
            )
        }
        RoomChange::YouLeft => {
            format!("[#{room}] you left, as you asked; you receive nothing more of this room")
        }
        RoomChange::BannedYou => format!(
            "[#{room}] {who} banned you; you receive nothing more of this room and may not join it again unless unbanned"
        ),
        RoomChange::Left { members } => format!("[#{room}] {} left", list(members)),
        RoomChange::LeaveAsked => format!("[#{room}] {who} asked to leave"),
        RoomChange::Role { member, you, role } => format!(
            "[#{room}] {who} made {} {}",
            shown_member(member, *you),
            match role.as_str() {
                "admin" => "an admin",
                "owner" => "an owner",
                _ => "a plain member",
            }
        ),
        RoomChange::Renamed {
            old_name: Some(old),
            name,
        } => format!(
            "[#{room}] {who} renamed #{} to #{}",
            escape_line(old),
            escape_line(name)
        ),
        RoomChange::Renamed {
            old_name: None,
            name,
        } => format!("[#{room}] {who} renamed the room to #{}", escape_line(name)),
        RoomChange::JoinedByName { member, you, again } => {
            let again = if *again {
                " again (a home restored from a backup)"
            } else {
                ""
            };
            format!("[#{room}] {} joined{again}", shown_member(member, *you))
        }
        RoomChange::JoinCutShort => format!(
            "[#{room}] a join of yours was cut short before the server took it: it was not made"
        ),
        RoomChange::CreateCutShort => format!(
            "[#{room}] your creation of the room was cut short before the server took it: \
             it was not made"
        ),
        RoomChange::Banned { members } => format!("[#{room}] {who} banned {}", list(members)),
        RoomChange::Unbanned { members } => format!("[#{room}] {who} unbanned {}", list(members)),
        RoomChange::JoinRule { rule } => {
            format!("[#{room}] {who} made the room {}", escape_line(rule))
        }
        RoomChange::PasswordChanged => format!("[#{room}] {who} changed the room's password"),
        RoomChange::Deleted => format!("[#{room}] {who} deleted the room"),
        RoomChange::DeletedUnchecked => format!(
            "[#{room}] {who} deleted the room, says the server, which no longer has it; the notice \
             could not be checked (this client had not caught up with the room): `room leave {}` \
             forgets it here",
            crate::advice::quote_word(&room)
        ),
        RoomChange::DeleteRefused { error } => format!(
            "a room deletion notice from {who} was refused: {}",
            crate::repl::explain::one_line(error)
        ),
        RoomChange::Unreadable { error } if room.is_empty() => format!(
            "a room invitation from {who} was refused: {}",
            crate::repl::explain::one_line(error)
        ),
        RoomChange::Unreadable { error } => format!(
            "[#{room}] an entry from {who} could not be read: {}",
            crate::repl::explain::one_line(error)
        ),
        RoomChange::InvitationRefused {
            member,
            reason,
            listed,
            in_room,
        } => invitation_refused(typed, who, member, *reason, (*in_room, *listed)),
    }
}

/// A room event kept in `room`'s history, as [`room_line`] says it
/// without the `[#room] ` the history's name gives already (`alice
/// removed carol`); `who` is who acted, escaped (`you` for the user).
pub fn room_event_words(room: &str, who: &str, change: &RoomChange) -> String {
    let line = room_line(room, who, change, 0);
    line.strip_prefix(&format!("[#{}] ", escape_line(room)))
        .map_or_else(|| line.clone(), str::to_string)
}

/// The rule a room was created with, in words after its name: nothing
/// for the default (invite-only), else ` (public)` and the like.
fn created_rule(rule: &str) -> String {
    let words = match rule {
        "invite-only" => return String::new(),
        "public+password" => "public, with a password",
        "hidden+password" => "hidden, with a password",
        // "public", "hidden", and a rule of a later release as it is named.
        other => other,
    };
    format!(" ({})", escape_line(words))
}

/// `who`'s client refused our invitation to `room` (empty: a room an
/// event kept from before rooms we left were named); `member` is who as
/// typed on a command line, unescaped. `(in_room, listed)`: whether we are
/// still in the room, and whether it still lists `who`: only then is there
/// something for us to remove.
fn invitation_refused(
    room: &str,
    who: &str,
    member: &str,
    reason: RefusalReason,
    (in_room, listed): (bool, bool),
) -> String {
    let why = match reason {
        RefusalReason::InvitationKeyDiffers => {
            format!("a member's key differs from {who}'s pin: compare safety numbers with {who}")
        }
        RefusalReason::InvitationUnusable => format!(
            "{who}'s client could not use it: malformed, for a key it no longer holds, or \
             against the room's rules"
        ),
        other => other.explain(),
    };
    if room.is_empty() {
        return format!(
            "{who}'s client refused your invitation to a room you are no longer in ({why})"
        );
    }
    let shown = escape_line(room);
    let refused = format!("{who}'s client refused your invitation to #{shown} ({why})");
    if !in_room {
        // Left, deleted, or removed meanwhile: not ours to act on.
        return format!(
            "{refused}; you are no longer in #{shown}, so there is nothing for you to remove"
        );
    }
    if !listed {
        return format!("{refused}; #{shown} no longer lists {who}, so there is nothing to remove");
    }
    let remove = escape_line(&format!(
        "client room remove {} {}",
        crate::advice::quote_word(room),
        crate::advice::quote_word(member)
    ))
    .into_owned();
    format!("{refused}: {who} is listed but cannot read the room; remove them with: {remove}")
}
