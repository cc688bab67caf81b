//! The menu's commands for messages: reading what waits (4, and 52 which
//! answers key-agreement offers on the way), sending a text (5), and
//! `watch [on|off]` for live messages (the watcher is [`super::watch`]).

use tokio_util::sync::CancellationToken;

use super::complete::Field;
use super::focus::mark_shown;
use super::menu::{Menu, Outcome, cancellable, unsent};
use super::show::show_event;
use crate::advice::quote_word;
use crate::client::ClientError;
use crate::display::escape_line;
use crate::inbox::{Event, What};
use crate::keystore::HistoryQuery;
use crate::output::history_entry;
use crate::rejections::event_lines;

/// How many entries `history NAME` shows (`client history NAME` shows all).
const MENU_HISTORY: usize = 20;
/// Entries shown on entering a conversation (a `send` that asks for its text).
const ENTERING_HISTORY: usize = 3;

impl Menu {
    /// 4: reads waiting messages.
    pub(super) async fn inbox(&self, cancel: CancellationToken) -> Outcome {
        let Some(events) = self.receive(&cancel).await? else {
            return Ok(());
        };
        if events.is_empty() {
            self.say("no new messages");
        }
        Ok(())
    }

    /// 52: reads waiting messages now, which answers pending key offers.
    pub(super) async fn answer(&self, cancel: CancellationToken) -> Outcome {
        let Some(events) = self.receive(&cancel).await? else {
            return Ok(());
        };
        let answered = events
            .iter()
            .filter(|e| matches!(e.what, What::SessionStarted))
            .count();
        self.say(match answered {
            0 => "no key-agreement offers were waiting (offers are answered as they arrive while watching)"
                .to_string(),
            1 => "answered 1 key-agreement offer".into(),
            n => format!("answered {n} key-agreement offers"),
        });
        Ok(())
    }

    /// 5: sends a text.
    pub(super) async fn send_text(
        &mut self,
        to: Option<String>,
        text: Option<String>,
        cancel: CancellationToken,
    ) -> Outcome {
        let client = self.client.clone();
        let Some(to) = self.need(to, "to whom? ", Field::Name).await else {
            return Ok(());
        };
        if text.is_none() {
            self.last_lines(&to).await;
        }
        let Some(text) = self.need(text, "text: ", Field::Text).await else {
            return Ok(());
        };
        let sent = cancellable(&cancel, client.send_text(&to, &text)).await;
        if sent.as_ref().is_err_and(unsent) {
            self.unsent = Some(format!("send {} {text}", quote_word(&to)));
        }
        let id = sent?;
        let (name, _) = crate::send_cli::recipient(&client, &to).await;
        self.say(format!("sent to {} (message {id})", escape_line(&name)));
        Ok(())
    }

    /// On entering the conversation with `who` to write in it: its last
    /// lines, so the reply has its context. Nothing when there are none (or
    /// the name is not one yet; sending says why).
    async fn last_lines(&self, who: &str) {
        let query = HistoryQuery {
            limit: Some(ENTERING_HISTORY),
            ..HistoryQuery::default()
        };
        let Ok((found, entries)) = self.client.history(who, query).await else {
            return;
        };
        if entries.is_empty() {
            return;
        }
        let names = self
            .client
            .sender_names(&found.conversation)
            .await
            .unwrap_or_default();
        self.say(format!(
            "last in the conversation with {}:",
            escape_line(&found.label)
        ));
        for e in &entries {
            self.say(history_entry(e, &found.label, &names));
        }
        if let Err(e) = self
            .client
            .history_shown(&found.conversation, &entries)
            .await
        {
            tracing::warn!(error = %e, "could not mark what was shown as read");
        }
    }

    /// The last entries of the conversation with `who`.
    pub(super) async fn history(&self, who: Option<String>) -> Outcome {
        let Some(who) = self.need(who, "whose history? ", Field::Name).await else {
            return Ok(());
        };
        let query = HistoryQuery {
            limit: Some(MENU_HISTORY),
            ..HistoryQuery::default()
        };
        let (found, entries) = self.client.history(&who, query).await?;
        let names = self.client.sender_names(&found.conversation).await?;
        if entries.is_empty() {
            self.say(format!(
                "nothing in the history with {}",
                escape_line(&found.label)
            ));
        }
        for e in &entries {
            self.say(history_entry(e, &found.label, &names));
        }
        self.client
            .history_shown(&found.conversation, &entries)
            .await?;
        Ok(())
    }

    /// Deletes the history with `who` (its keys and pins stay).
    pub(super) async fn forget(&self, who: Option<String>) -> Outcome {
        let Some(who) = self.need(who, "forget whose history? ", Field::Name).await else {
            return Ok(());
        };
        let (found, gone) = self.client.forget(&who).await?;
        self.say(crate::output::forgot(gone, &found.label));
        Ok(())
    }

    /// Shows or sets how long history is kept.
    pub(super) async fn retention(&self, days: Option<String>) -> Outcome {
        let kept = match days.as_deref().map(crate::history::retention_days) {
            None => (self.client.retention().await?, 0),
            Some(Ok(d)) => (d, self.client.set_retention(d).await?),
            Some(Err(why)) => {
                self.error(&why);
                return Ok(());
            }
        };
        self.say(crate::output::retention(kept.0, kept.1, "forget NAME"));
        Ok(())
    }

    /// Shows or sets whether read receipts are sent.
    pub(super) async fn receipts(&self, on: Option<bool>) -> Outcome {
        let on = match on {
            None => self.client.read_receipts().await?,
            Some(on) => {
                self.client.set_read_receipts(on).await?;
                on
            }
        };
        self.say(crate::output::read_receipts(on));
        Ok(())
    }

    /// Every conversation, newest first (`client conversations`'s lines).
    pub(super) async fn conversations(&self) -> Outcome {
        let list = self.client.conversations().await?;
        if list.is_empty() {
            self.say(crate::output::NO_CONVERSATIONS);
        }
        for c in &list {
            self.say(crate::output::conversation_line(c));
        }
        Ok(())
    }

    /// Turns live messages on, off, or over (`None`).
    pub(super) async fn watch(&mut self, on: Option<bool>) -> Outcome {
        self.client.require_me()?;
        let on = on.unwrap_or(!self.watching());
        if on {
            self.start_watch();
            self.say("watching: on; messages appear here as they arrive");
        } else {
            self.stop_watch().await;
            self.say("watching: off; `inbox` (or 4) reads messages, `watch` turns this on again");
        }
        Ok(())
    }

    /// Reads what waits, showing each event; `None` if the user stopped it.
    pub(super) async fn receive(
        &self,
        cancel: &CancellationToken,
    ) -> Result<Option<Vec<Event>>, ClientError> {
        // Each batch is shown before it is acknowledged; a stop keeps what
        // was shown.
        let mut events = Vec::new();
        let read = self
            .client
            .inbox_each(cancel.clone(), |batch| {
                for line in event_lines(&batch, show_event) {
                    self.say(line);
                }
                events.extend(batch);
                Ok(())
            })
            .await;
        mark_shown(&self.client, &events).await;
        match read {
            Err(ClientError::Cancelled) => {
                self.say("stopped reading; what was not read stays on the server for next time");
                return Ok(None);
            }
            other => other?,
        }
        let announced = events.iter().filter(|e| e.is_held_offer()).count();
        let held = self.client.held_files().await?.len();
        if held > announced {
            self.say(crate::output::offers_waiting(held, "files"));
        }
        Ok(Some(events))
    }
}
