//! The menu's `room ...` and `#NAME text`: the scripted room commands'
//! work and words (`crate::room_cli`), with a missing text asked for.
//! Room names complete from the rooms we are in (refreshed after each
//! room command).

use tokio_util::sync::CancellationToken;

use super::complete::Field;
use super::menu::{Menu, Outcome, cancellable};
use crate::cli::RoomCommand;

impl Menu {
    /// Runs a room command and says what it did.
    pub(super) async fn room(&self, command: RoomCommand, cancel: CancellationToken) -> Outcome {
        let command = match command {
            RoomCommand::Send { name, text } => {
                let Some(text) = self.need(text, "text: ", Field::Text).await else {
                    return Ok(());
                };
                RoomCommand::Send {
                    name,
                    text: Some(text),
                }
            }
            other => other,
        };
        let result = cancellable(&cancel, crate::room_cli::outcome(&self.client, command)).await;
        self.refresh_room_names().await;
        for line in result?.1 {
            self.say(line);
        }
        Ok(())
    }

    /// The room names completion offers.
    pub(super) async fn refresh_room_names(&self) {
        if let Ok(rooms) = self.client.room_names().await {
            self.names.lock().unwrap_or_else(|e| e.into_inner()).rooms = rooms;
        }
    }
}
