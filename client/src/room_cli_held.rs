//! The room a room command acted on, as the command's output names it:
//! its own name (not as typed) and its id.

use serde_json::{Value, json};

use crate::client::Client;
use crate::display::escape_line;

/// A room a command acted on, as lists show it.
pub(super) struct Held {
    /// Its own name.
    pub(super) name: String,
    /// Its id (32 hex digits), if it is still ours.
    pub(super) id: Option<String>,
}

impl Held {
    /// `#NAME`, escaped.
    pub(super) fn line(&self) -> String {
        format!("#{}", escape_line(&self.name))
    }

    /// `value` (an object) with the room's `room` (its name) and `room_id`.
    pub(super) fn json(&self, mut value: Value) -> Value {
        if let Some(object) = value.as_object_mut() {
            object.insert("room".into(), json!(self.name));
            object.insert("room_id".into(), json!(self.id));
        }
        value
    }
}

/// The room `typed` names once a command on it succeeded: its own name and
/// id; the name as typed (without its `#`) if it names none of ours now.
pub(super) async fn held(client: &Client, typed: &str) -> Held {
    match client.find_room(typed).await {
        Ok(r) => Held {
            id: Some(crate::rooms::hex(&r.id)),
            name: r.name,
        },
        Err(_) => Held {
            name: crate::rooms::typed_room(typed).to_string(),
            id: None,
        },
    }
}
