//! The menu's `/to`: `/to NAME` or `/to #ROOM` makes a person or a room
//! the current conversation ([`super::focus`]) and shows what arrived
//! there unread (marking it read); `/to -` goes back to plain commands;
//! `/to` alone says where lines go and what is unread. Also the prompt,
//! which counts what is unread and says where lines go.
//!
//! History, unread counts and marking read are the client library's
//! (`Client::history_of`, `Client::conversations`, `Client::mark_read`);
//! this only says what they return.

use super::focus::{Current, prompt_text, unread_counts};
use super::menu::{Menu, Outcome};
use crate::advice::quote_word;
use crate::client::ClientError;
use crate::display::escape_line;
use crate::keystore::{Conversation, Direction, HistoryEntry, HistoryQuery, Status};
use crate::output::history_entry;

/// The most entries `/to` shows of what arrived while away (`history`
/// shows more).
const CATCH_UP: usize = 50;

fn is_unread(e: &HistoryEntry) -> bool {
    e.direction == Direction::In && e.status == Status::Received
}

impl Menu {
    /// The current conversation.
    pub(super) fn current(&self) -> Option<Current> {
        self.focus.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_current(&self, current: Option<Current>) {
        *self.focus.lock().unwrap_or_else(|e| e.into_inner()) = current;
    }

    /// The prompt to draw. From a script (no terminal, so no prompt is
    /// drawn) it is printed as a line instead, once a conversation is
    /// chosen and whenever it changes, so that a script sees the counts.
    pub(super) async fn prompt(&mut self) -> String {
        let Some(me) = self.client.me() else {
            return if self.interactive {
                "sealpost> ".into()
            } else {
                String::new()
            };
        };
        let current = self.current();
        if !self.interactive && current.is_none() {
            return String::new();
        }
        let list = self.client.conversations().await.unwrap_or_default();
        let prompt = prompt_text(me.name.as_str(), current.as_ref(), &list);
        if self.interactive {
            return prompt;
        }
        if prompt != self.printed_prompt {
            self.say(prompt.trim_end());
            self.printed_prompt = prompt;
        }
        String::new()
    }

    /// `/to`: where lines go; `/to -`: back to commands; `/to NAME` or
    /// `/to #ROOM`: lines go there from now on, and what arrived there
    /// unread is shown (and marked read).
    pub(super) async fn to(&mut self, target: Option<String>) -> Outcome {
        self.client.require_me()?;
        match target.as_deref() {
            None => self.where_lines_go().await,
            Some("-") => {
                self.set_current(None);
                self.say(
                    "lines are commands again (`/to NAME` or `/to #ROOM` talks in a conversation)",
                );
                Ok(())
            }
            Some(target) => {
                let current = self.find_conversation(target).await?;
                self.set_current(Some(current.clone()));
                self.catch_up(&current).await
            }
        }
    }

    /// The conversation `target` names: a room we are in, or a person
    /// (looked up and pinned if not pinned yet, as sending would).
    async fn find_conversation(&self, target: &str) -> Result<Current, ClientError> {
        if let Some(room) = target.strip_prefix('#') {
            let rooms = self.client.local_rooms().await?;
            let found = rooms
                .iter()
                .find(|r| r.name == room)
                .or_else(|| rooms.iter().find(|r| r.name.eq_ignore_ascii_case(room)));
            let Some(found) = found else {
                return Err(self.client.no_room_named(room).await);
            };
            return Ok(Current {
                conversation: Conversation::room(found.id, found.name.clone()),
                label: format!("#{}", found.name),
            });
        }
        let found = match self.client.conversation(target).await {
            Err(ClientError::NoConversation { who, room }) => {
                match self.client.fetch_key(target).await {
                    // Nobody of that name, but a room: say which.
                    Err(ClientError::UnknownPeer(_)) if room.is_some() => {
                        return Err(ClientError::NoConversation { who, room });
                    }
                    other => other?,
                };
                self.client.conversation(target).await?
            }
            other => other?,
        };
        Ok(Current {
            conversation: found.conversation,
            label: found.label,
        })
    }

    /// Shows what arrived in `current` unread, then marks it read.
    async fn catch_up(&self, current: &Current) -> Outcome {
        let label = escape_line(&current.label).into_owned();
        let query = HistoryQuery {
            limit: Some(CATCH_UP),
            ..HistoryQuery::default()
        };
        let entries = self.client.history_of(&current.conversation, query).await?;
        let Some(first) = entries.iter().position(is_unread) else {
            self.say(format!(
                "lines go to {label} now; nothing new there (`history {}` shows what came before)",
                escape_line(&quote_word(&current.label))
            ));
            return Ok(());
        };
        let new = &entries[first..];
        let count = new.iter().filter(|e| is_unread(e)).count();
        self.say(format!(
            "lines go to {label} now; {count} new there while you were away:"
        ));
        let names = self.client.sender_names(&current.conversation).await?;
        for e in new {
            self.say(history_entry(e, &current.label, &names));
        }
        self.client.mark_read(&current.conversation).await?;
        Ok(())
    }

    /// `/to` alone: where plain lines go, and what is unread.
    async fn where_lines_go(&self) -> Outcome {
        self.say(match self.current() {
            Some(c) => format!(
                "lines go to {}: plain lines are sent there, commands start with / (`/to -` stops)",
                escape_line(&c.label)
            ),
            None => {
                "lines are commands: `/to NAME` or `/to #ROOM` sends plain lines to a conversation"
                    .into()
            }
        });
        let list = self.client.conversations().await?;
        self.say(match unread_counts(&list) {
            Some(counts) => format!("unread: {counts}"),
            None => "nothing unread".into(),
        });
        Ok(())
    }
}
