//! The menu's commands for files: sending one (50), finishing interrupted
//! uploads, and the file offers held for a decision (`files`,
//! `accept-file N`, `decline-file N`).

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

use super::complete::Field;
use super::menu::{Menu, Outcome, cancellable};
use super::show::show_event;
use super::words::expand_home;
use crate::client::ClientError;
use crate::display::{escape_line, escape_path};
use crate::output;

/// What the menu says of an upload Ctrl-C stopped (a direct or a room
/// file).
pub(super) const UPLOAD_CANCELLED: &str =
    "upload cancelled; `resume` continues it where it stopped";

impl Menu {
    /// 50: sends a file; Ctrl-C cancels it (`resume` continues it).
    pub(super) async fn send_file(
        &self,
        to: Option<String>,
        path: Option<PathBuf>,
        cancel: CancellationToken,
    ) -> Outcome {
        let client = self.client.clone();
        let Some(to) = self.need(to, "to whom? ", Field::Name).await else {
            return Ok(());
        };
        let path = match path {
            Some(p) => p,
            None => match self.need(None, "file: ", Field::Path).await {
                Some(p) => expand_home(p),
                None => return Ok(()),
            },
        };
        match client.send_file(&to, &path, cancel.clone()).await {
            Ok(id) => {
                let size = tokio::fs::metadata(&path)
                    .await
                    .map(|m| format!(" ({})", output::size(m.len())))
                    .unwrap_or_default();
                let (name, _) = crate::send_cli::recipient(&client, &to).await;
                self.say(format!(
                    "sent {}{size} to {} (message {id})",
                    escape_path(&path),
                    escape_line(&name)
                ));
            }
            Err(ClientError::Cancelled) => self.say(UPLOAD_CANCELLED),
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Finishes interrupted uploads.
    pub(super) async fn resume(&self, cancel: CancellationToken) -> Outcome {
        let client = self.client.clone();
        let done = client.resume_all_uploads(cancel.clone()).await;
        if let Ok(d) = &done {
            for line in [d.abandoned_line(), d.restarted_line()]
                .into_iter()
                .flatten()
            {
                self.say(line);
            }
        }
        match done {
            Ok(done) if done.is_empty() && !done.abandoned.is_empty() => {}
            Ok(done) if done.is_empty() => self.say("no interrupted uploads"),
            Ok(done) => {
                let mut parts: Vec<String> = done
                    .completed
                    .iter()
                    .map(|m| format!("message {m}"))
                    .collect();
                parts.extend(
                    done.rooms
                        .iter()
                        .map(|r| format!("{} in #{}", escape_line(&r.name), escape_line(&r.room))),
                );
                self.say(format!("{}: {}", done.completed_line(), parts.join(", ")));
            }
            Err(ClientError::Cancelled) => {
                self.say("upload cancelled again; `resume` continues it")
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// The file offers waiting for a decision.
    pub(super) async fn held_files(&self) -> Outcome {
        let client = self.client.clone();
        let offers = client.held_files().await?;
        self.say(crate::held_text::held_offers(&offers));
        Ok(())
    }

    /// Downloads a held file offer.
    pub(super) async fn accept_file(&self, id: Option<u64>, cancel: CancellationToken) -> Outcome {
        let client = self.client.clone();
        let Some(id) = self.need_number(id).await else {
            return Ok(());
        };
        match client.accept_file(id, cancel.clone()).await {
            Ok(e) => {
                self.say(show_event(&e));
                client.shown_live(std::slice::from_ref(&e)).await;
            }
            Err(ClientError::Cancelled) => self.say(format!(
                "stopped; `accept-file {id}` resumes the download where it stopped"
            )),
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Declines a held file offer (the server deletes it).
    pub(super) async fn decline_file(&self, id: Option<u64>, cancel: CancellationToken) -> Outcome {
        let client = self.client.clone();
        let Some(id) = self.need_number(id).await else {
            return Ok(());
        };
        let offer = cancellable(&cancel, client.decline_file(id)).await?;
        self.say(format!(
            "declined {} ({}); the server deletes it",
            escape_line(&offer.name),
            output::size(offer.size)
        ));
        Ok(())
    }
}
