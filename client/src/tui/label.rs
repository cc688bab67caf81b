//! How the screen names a conversation: a room that shares its name with
//! another in the list keeps what tells it apart (`#team (owner bob)`).
//!
//! Left out: where the names go (`super::view`).

use super::text::{fit, width};
use crate::conversations::ConversationSummary;
use crate::display::escape_line;

/// A conversation's label cut to `room` columns; a room that shares its
/// name keeps what tells it apart in view (`team (owner bob)`), its name
/// cut first, down to a few characters.
pub fn labelled(c: &ConversationSummary, room: usize) -> String {
    let label = escape_line(&c.label);
    let Some(apart) = &c.apart else {
        return fit(&label, room);
    };
    let apart = format!(" ({})", escape_line(apart));
    let name_room = room.saturating_sub(width(&apart)).max(width(&label).min(4));
    fit(&format!("{}{apart}", fit(&label, name_room)), room)
}

/// A room as the screen names it, escaped: `#team`, and what tells it
/// apart from another room of the name (`#team (owner bob)`).
pub fn shown_room(c: &ConversationSummary) -> String {
    match &c.apart {
        Some(apart) => format!("#{} ({})", escape_line(&c.label), escape_line(apart)),
        None => format!("#{}", escape_line(&c.label)),
    }
}
