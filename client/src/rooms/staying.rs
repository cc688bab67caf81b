//! The rooms an account is still in, for deleting it: every room the server
//! has us in that we have not asked to leave. The server cannot take our
//! leaf out of a room (only members can), so an account deleted while in
//! one would stay there, listed and unremovable but by an admin; an owner's
//! room could be left with nobody to manage it.

use std::collections::{HashMap, HashSet};

use super::state::hex;
use crate::client::Client;
use crate::error::ClientError;

impl Client {
    /// The rooms we are still in and have not asked to leave, as `#name`
    /// (a room this client has not opened yet, in words), sorted.
    ///
    /// # Errors
    /// The server or the engine's state file failed.
    pub(crate) async fn rooms_staying_in(&self) -> Result<Vec<String>, ClientError> {
        self.in_rooms(async || {
            let conn = self.connection().await?;
            let on_server = conn.room_list().await?;
            if on_server.is_empty() {
                return Ok(Vec::new());
            }
            let engine = self.room_engine().await?;
            let leaving: HashSet<_> = engine
                .run(|e| e.asked_to_leave())
                .await?
                .into_iter()
                .collect();
            let names: HashMap<_, _> = self
                .local_rooms()
                .await?
                .into_iter()
                .map(|r| (r.id, r.name))
                .collect();
            let restored: HashMap<_, _> = self
                .restored_rooms()
                .await?
                .into_iter()
                .map(|r| (r.room, r.name))
                .collect();
            let mut staying: Vec<String> = on_server
                .iter()
                .map(|r| sealpost_rooms::RoomId(r.room.0))
                .filter(|id| !leaving.contains(id))
                .map(|id| match (names.get(&id), restored.get(&id)) {
                    (Some(name), _) => format!("#{name}"),
                    // Its keys were not in the backup this home came from.
                    (None, Some(name)) => format!(
                        "#{name} (restored from a backup without its keys: `room join {}` \
                         gets you back in, to leave it)",
                        crate::advice::quote_word(name)
                    ),
                    // Its invitation waits in the inbox, unread.
                    (None, None) => format!(
                        "a room not opened here yet, id {}: `client inbox` opens its invitation",
                        hex(&id)
                    ),
                })
                .collect();
            staying.sort_by_key(|n| n.to_lowercase());
            Ok(staying)
        })
        .await
    }
}
