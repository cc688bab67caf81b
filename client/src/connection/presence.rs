//! Presence on a [`Connection`] (PROTOCOL.md "141 presence"): whether this
//! connection is shown as online and watches changes, and the list of who
//! is online. Every 141 sets both flags, so the connection remembers them
//! and a list asked for by one part of the client (the menu's prompt)
//! keeps what another part (its watcher) set.

use std::sync::atomic::Ordering;

use protocol::v3;
use protocol::{ClientId, MAX_LIST_PAGE};

use super::Connection;
use super::error::ConnectionError;

const SHOW: u8 = 1;
const WATCH: u8 = 2;
/// Pages read at most: a million clients online.
const MAX_PAGES: usize = 1_000_000 / MAX_LIST_PAGE;

impl Connection {
    /// Shows this connection as online (or not) and watches changes (or
    /// not) from now on; returns who is online.
    ///
    /// # Errors
    /// See [`Connection::call`].
    pub async fn set_presence(
        &self,
        show: bool,
        watch: bool,
    ) -> Result<Vec<v3::ClientEntry>, ConnectionError> {
        let flags = if show { SHOW } else { 0 } | if watch { WATCH } else { 0 };
        self.presence.store(flags, Ordering::Release);
        self.online().await
    }

    /// Everyone online now, by id, keeping this connection's flags.
    ///
    /// # Errors
    /// See [`Connection::call`].
    pub async fn online(&self) -> Result<Vec<v3::ClientEntry>, ConnectionError> {
        let mut all = Vec::new();
        let mut after = ClientId::NIL;
        for _ in 0..MAX_PAGES {
            let flags = self.presence.load(Ordering::Acquire);
            let request = v3::Request::Presence(v3::Presence {
                show: flags & SHOW != 0,
                watch: flags & WATCH != 0,
                after,
            });
            match self.call(request).await? {
                v3::Response::Online(page) => {
                    let more = page.more;
                    if let Some(last) = page.clients.last() {
                        after = last.id;
                    }
                    all.extend(page.clients);
                    if !more {
                        break;
                    }
                }
                other => {
                    return Err(ConnectionError::Unexpected(format!("{:?}", other.code())));
                }
            }
        }
        Ok(all)
    }
}
