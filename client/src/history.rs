//! Reading and deleting conversations' history, and its retention: an
//! `impl Client` block over `keystore::history`, working offline (the
//! local pins say who a name is, never the server).
//!
//! A conversation is named as the user types it: a pinned name (any
//! case), a client id (32 hex digits), or `#ROOM` for a room. A room's
//! history is kept by its id, so `#ROOM` is the room of that name we are
//! in; else the room with history that had the name last (one we left or
//! that was deleted); `#` and a room's id (32 hex digits, as
//! `conversations --json` lists them) is exactly that room.
//! Left out: recording (the sending and receiving code does it) and how
//! entries look (`crate::output`).

use crate::client::Client;
use crate::contacts::find_pinned;
use crate::error::ClientError;
use crate::keystore::{Conversation, HistoryEntry, HistoryQuery};

/// How long to keep history, as the user typed it: a number of days (1 or
/// more) or `forever` (`None`).
///
/// # Errors
/// What is wrong with it, in one line.
pub fn retention_days(typed: &str) -> Result<Option<u32>, String> {
    if typed.eq_ignore_ascii_case("forever") {
        return Ok(None);
    }
    match typed.parse::<u32>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        Ok(_) => Err(
            "history cannot be kept 0 days: give 1 or more, or `forever` (`forget NAME` \
             deletes a conversation's history now)"
                .into(),
        ),
        Err(_) => Err(format!(
            "{typed:?} is neither a number of days nor `forever`"
        )),
    }
}

/// `retention`'s setting as typed: a number of days (1 or more), or
/// `forever` (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention(pub Option<u32>);

/// Reads `retention`'s argument for the command line (see
/// [`retention_days`]).
///
/// # Errors
/// What is wrong with it, in one line.
pub fn parse_retention(typed: &str) -> Result<Retention, String> {
    retention_days(typed).map(Retention)
}

/// Reads `--limit`: how many of the last entries, 1 or more.
///
/// # Errors
/// Not a number, or 0, in one line.
pub fn parse_limit(typed: &str) -> Result<usize, String> {
    match typed.trim().parse::<usize>() {
        Ok(0) => Err("the limit is how many of the last entries to show: 1 or more".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{typed:?} is not a number of entries (1 or more)")),
    }
}

/// A conversation as found from what the user typed.
#[derive(Debug, Clone)]
pub struct Found {
    /// The conversation.
    pub conversation: Conversation,
    /// Its name for people: the pinned name, or `#ROOM` (escape before
    /// printing).
    pub label: String,
}

impl Client {
    /// The conversation `who` names (see the module docs).
    ///
    /// # Errors
    /// [`ClientError::NoConversation`] if nobody is pinned under `who`
    /// (naming the room `#who` if there is one).
    pub async fn conversation(&self, who: &str) -> Result<Found, ClientError> {
        if let Some(room) = who.strip_prefix('#') {
            let conversation = self.room_conversation(room).await?;
            let label = match &conversation {
                Conversation::Room { name, .. } => format!("#{name}"),
                Conversation::Person { .. } => who.to_string(),
            };
            return Ok(Found {
                conversation,
                label,
            });
        }
        let typed = who.to_string();
        let peer = self.store(move |s| find_pinned(s, &typed)).await?;
        match peer {
            Some(p) => Ok(Found {
                conversation: Conversation::Person { id: p.client_id },
                label: if p.name.is_empty() {
                    p.client_id.to_string()
                } else {
                    p.name
                },
            }),
            None => Err(ClientError::NoConversation {
                who: who.to_string(),
                room: self.room_named(who).await,
            }),
        }
    }

    /// The name of a room of ours, or with history here, that `name`
    /// (typed without `#`) names. Only a hint for an error line: a failure
    /// to look is no room.
    async fn room_named(&self, name: &str) -> Option<String> {
        if let Ok(r) = self.find_room(name).await {
            return Some(r.name);
        }
        let typed = name.to_string();
        match self.store(move |s| s.room_in_history(&typed)).await {
            Ok(Some(Conversation::Room { name, .. })) => Some(name),
            _ => None,
        }
    }

    /// The room conversation `room` names (see the module docs).
    ///
    /// # Errors
    /// [`ClientError::NoSuchRoom`]: no room of ours and none with history
    /// here goes by `room`; [`ClientError::AmbiguousRoom`]; the store
    /// failed.
    pub async fn room_conversation(&self, room: &str) -> Result<Conversation, ClientError> {
        match self.find_room(room).await {
            Ok(r) => return Ok(Conversation::room(r.id, r.name)),
            // Found in history already.
            Err(ClientError::NoLongerInRoom { id, room }) => {
                return Ok(crate::rooms::event::room_conversation(&id, &room));
            }
            Err(
                ClientError::NoSuchRoom(_)
                | ClientError::RemovedFromRoom { .. }
                | ClientError::RoomLostInRestore { .. },
            ) => {}
            Err(e) => return Err(e),
        }
        let typed = room.to_string();
        if let Some(found) = self.store(move |s| s.room_in_history(&typed)).await? {
            return Ok(found);
        }
        // History kept by the room's name, from before rooms were kept by id.
        let by_name = Conversation::Room {
            id: None,
            name: room.to_string(),
        };
        let probe = by_name.clone();
        let one = HistoryQuery {
            limit: Some(1),
            ..HistoryQuery::default()
        };
        if self
            .store(move |s| s.history(&probe, &one))
            .await?
            .is_empty()
        {
            return Err(ClientError::NoSuchRoom(room.to_string()));
        }
        Ok(by_name)
    }

    /// The history of the conversation `who` names, oldest first.
    ///
    /// # Errors
    /// [`ClientError::NoConversation`]; the store failed.
    pub async fn history(
        &self,
        who: &str,
        query: HistoryQuery,
    ) -> Result<(Found, Vec<HistoryEntry>), ClientError> {
        let found = self.conversation(who).await?;
        let conversation = found.conversation.clone();
        let entries = self
            .store(move |s| {
                s.apply_retention()?;
                s.history(&conversation, &query)
            })
            .await?;
        Ok((found, entries))
    }

    /// Deletes the history of the conversation `who` names (its keys and
    /// pins stay); returns the conversation and how many entries went.
    ///
    /// # Errors
    /// [`ClientError::NoConversation`]; the store failed.
    pub async fn forget(&self, who: &str) -> Result<(Found, usize), ClientError> {
        let found = self.conversation(who).await?;
        let conversation = found.conversation.clone();
        let gone = self.store(move |s| s.forget(&conversation)).await?;
        Ok((found, gone))
    }

    /// How many days history is kept (`None`: until forgotten).
    ///
    /// # Errors
    /// The store failed.
    pub async fn retention(&self) -> Result<Option<u32>, ClientError> {
        self.store(|s| s.retention_days()).await
    }

    /// Keeps history `days` days from now on (`None`: until forgotten);
    /// returns how many entries were older and went.
    ///
    /// # Errors
    /// The store failed.
    pub async fn set_retention(&self, days: Option<u32>) -> Result<usize, ClientError> {
        self.store(move |s| s.set_retention_days(days)).await
    }
}

/// Reads `--since`: a span back from now (`30m`, `12h`, `7d`), a local
/// date (`2026-11-30`, from its midnight), a local date and time
/// (`2026-11-30 10:15`, seconds optional) or RFC 3339; ms since the epoch.
///
/// # Errors
/// None of those forms, in one line.
pub fn parse_since(text: &str) -> Result<i64, String> {
    use chrono::{Local, NaiveDate, NaiveDateTime, TimeZone};
    let text = text.trim();
    let unit_ms = match text.chars().last() {
        Some('m') => Some(60_000),
        Some('h') => Some(3_600_000),
        Some('d') => Some(86_400_000),
        _ => None,
    };
    if let Some(unit) = unit_ms
        && let Ok(n) = text[..text.len() - 1].parse::<i64>()
    {
        let now = chrono::Utc::now().timestamp_millis();
        return Ok(now.saturating_sub(n.saturating_mul(unit)));
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    let local = |naive: NaiveDateTime| {
        Local
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.timestamp_millis())
    };
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format)
            && let Some(ms) = local(naive)
        {
            return Ok(ms);
        }
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        && let Some(ms) = day.and_hms_opt(0, 0, 0).and_then(local)
    {
        return Ok(ms);
    }
    Err(format!(
        "{text:?} is not a time: use 30m, 12h or 7d (ago), 2026-11-30, \"2026-11-30 10:15\" or RFC 3339"
    ))
}

#[cfg(test)]
mod tests {
    use super::parse_since;

    #[test]
    fn since_takes_spans_dates_and_times() {
        let now = chrono::Utc::now().timestamp_millis();
        let day = parse_since("1d").unwrap();
        assert!((now - 86_400_000 - day).abs() < 60_000);
        assert!(parse_since("90m").unwrap() > day);
        assert_eq!(
            parse_since("2026-01-01T00:00:00Z").unwrap(),
            1_767_225_600_000
        );
        let midnight = parse_since("2026-01-01").unwrap();
        assert_eq!(parse_since("2026-01-01 00:00").unwrap(), midnight);
        assert_eq!(
            parse_since("2026-01-01 00:00:30").unwrap(),
            midnight + 30_000
        );
        for bad in ["", "yesterday", "5x", "d", "2026-13-01"] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
    }
}
