//! The menu's `room ...` and `#NAME text`: the scripted room commands'
//! work and words (`crate::room_cli`), with a missing text asked for, and a
//! room password asked for as `client room ...` asks for it: without echo
//! at a terminal (a new one twice), else the next line of standard input.
//! Room names complete from the rooms we are in (refreshed after each
//! room command).

use tokio_util::sync::CancellationToken;
use zeroize::Zeroizing;

use super::complete::Field;
use super::files::UPLOAD_CANCELLED;
use super::menu::{Menu, Outcome, cancellable, unsent};
use super::terminal::Answer;
use crate::advice::quote_word;
use crate::cli::RoomCommand;
use crate::client::ClientError;
use crate::passphrase::read_room_password;
use crate::room_cli::{
    NEW_PASSWORD_PROMPT, join_prompt, outcome, outcome_until, sets_password, with_password,
};
use crate::rooms::RoomPassword;

impl Menu {
    /// Runs a room command and says what it did.
    pub(super) async fn room(
        &mut self,
        command: RoomCommand,
        cancel: CancellationToken,
    ) -> Outcome {
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
            // The new password before anything is sent.
            command if sets_password(&command) => {
                let Some(secret) = self.room_password(NEW_PASSWORD_PROMPT, true).await? else {
                    return Ok(());
                };
                with_password(command, secret)
            }
            other => other,
        };
        let sends_a_file = matches!(command, RoomCommand::SendFile { .. });
        let mut result = match &command {
            // The upload stops itself at Ctrl-C, its progress recorded for
            // `resume`; dropped mid-chunk it would have to start over.
            RoomCommand::SendFile { .. } => {
                outcome_until(&self.client, command.clone(), cancel.clone()).await
            }
            _ => cancellable(&cancel, outcome(&self.client, command.clone())).await,
        };
        if let (
            Err(e),
            RoomCommand::Send {
                name,
                text: Some(text),
            },
        ) = (&result, &command)
            && unsent(e)
        {
            self.unsent = Some(format!("room send {} {text}", quote_word(name)));
        }
        // A room that turns out to need a password: ask for it, once.
        if let (Err(ClientError::RoomPasswordNeeded(_)), RoomCommand::Join { name, .. }) =
            (&result, &command)
        {
            let Some(secret) = self.room_password(&join_prompt(name), false).await? else {
                return Ok(());
            };
            result = cancellable(
                &cancel,
                outcome(&self.client, with_password(command, secret)),
            )
            .await;
        }
        self.refresh_room_names().await;
        if sends_a_file && matches!(result, Err(ClientError::Cancelled)) {
            self.say(UPLOAD_CANCELLED);
            return Ok(());
        }
        for line in result?.1 {
            self.say(line);
        }
        Ok(())
    }

    /// A room password: at a terminal asked without echo (a new one twice,
    /// as `client room ...` asks), else the next line of standard input,
    /// which is kept out of the history. `None` (and a note) if the user
    /// gave none.
    async fn room_password(
        &self,
        prompt: &str,
        twice: bool,
    ) -> Result<Option<RoomPassword>, ClientError> {
        let text = if self.interactive {
            self.flush().await;
            let prompt = prompt.to_string();
            let read =
                tokio::task::spawn_blocking(move || read_room_password(&prompt, twice)).await;
            match read {
                Ok(Ok(text)) => text,
                // Ctrl-C or Ctrl-D at the prompt, as at every other one.
                Ok(Err(e)) if gave_up(&e) => {
                    self.say("cancelled");
                    return Ok(None);
                }
                Ok(Err(e)) => {
                    self.error(&format!("{e:#}"));
                    return Ok(None);
                }
                Err(e) => {
                    self.error(&format!("the terminal failed: {e}"));
                    return Ok(None);
                }
            }
        } else {
            match self.ask("", Field::Text).await {
                Answer::Line(line) => Zeroizing::new(line),
                Answer::Interrupted | Answer::Eof => {
                    self.say("no room password given; cancelled");
                    return Ok(None);
                }
                Answer::Failed(e) => {
                    self.error(&format!("the terminal failed: {e}"));
                    return Ok(None);
                }
            }
        };
        RoomPassword::new(text).map(Some)
    }

    /// The names of our rooms, as last refreshed.
    pub(super) fn room_names(&self) -> Vec<String> {
        self.names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .rooms
            .clone()
    }

    /// The room names completion offers.
    pub(super) async fn refresh_room_names(&self) {
        if let Ok(rooms) = self.client.room_names().await {
            self.names.lock().unwrap_or_else(|e| e.into_inner()).rooms = rooms;
        }
    }
}

/// Whether reading a password failed because the user stopped it: Ctrl-C
/// (the read interrupted) or Ctrl-D (the input ended).
fn gave_up(e: &anyhow::Error) -> bool {
    use std::io::ErrorKind;
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| matches!(io.kind(), ErrorKind::Interrupted | ErrorKind::UnexpectedEof))
}
