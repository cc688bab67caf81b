//! Deleting this home's account on the server (PROTOCOL.md "114 delete
//! account"): the user names the account again, it must have left its rooms,
//! and the home records the deletion so that a later start says why the
//! server no longer knows it. The home keeps its history and keys.

use protocol::v3::AccountDeleted;

use crate::client::Client;
use crate::connection::ConnectionError;
use crate::display::escape_line;
use crate::error::ClientError;

impl Client {
    /// Deletes our account on the server; `name` must be its name (ASCII
    /// case aside), as a confirmation. Returns what the server deleted with
    /// it.
    ///
    /// # Errors
    /// [`ClientError::NameMismatch`], [`ClientError::StillInRooms`], or the
    /// server refused or could not be reached.
    pub async fn delete_account(&self, name: &str) -> Result<AccountDeleted, ClientError> {
        let me = self.require_me()?;
        if !name.eq_ignore_ascii_case(me.name.as_str()) {
            return Err(ClientError::NameMismatch {
                given: name.into(),
                own: me.name.to_string(),
            });
        }
        let staying = self.rooms_staying_in().await?;
        if !staying.is_empty() {
            return Err(ClientError::StillInRooms(staying));
        }
        let conn = self.connection().await?;
        // Recorded first: if the answer is lost, the server's next "no such
        // account" is still explained as this deletion.
        self.store(|s| s.set_account_deleted(true)).await?;
        match conn.delete_account(&me.name).await {
            Ok(deleted) => Ok(deleted),
            Err(e @ ConnectionError::Refused(_)) => {
                self.store(|s| s.set_account_deleted(false)).await?;
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// One line for a person: what went with the account `own` and what the
/// home keeps, and `history`, how its history is read where this is said
/// (the scripted command and the menu say the same).
#[must_use]
pub fn deletion_summary(own: &str, deleted: &AccountDeleted, history: &str) -> String {
    let mut gone = Vec::new();
    if deleted.messages > 0 {
        // The server cannot tell a text from a receipt or a session's
        // notice (all sealed): its count is of all of them.
        let what = if deleted.messages == 1 {
            "message or notice"
        } else {
            "messages and notices"
        };
        gone.push(format!(
            "{} {what} ({}) that waited for you",
            deleted.messages,
            crate::output::size(deleted.bytes)
        ));
    }
    if deleted.uploads > 0 {
        gone.push(crate::output::count(
            deleted.uploads as usize,
            "unfinished upload",
            "unfinished uploads",
        ));
    }
    let with = if gone.is_empty() {
        String::new()
    } else {
        format!(", with {}", gone.join(" and "))
    };
    format!(
        "deleted your account {} from the server{with}; the name is free now. This home keeps \
         its history and keys (`{history}`), but cannot connect again",
        escape_line(own),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_went_with_the_account_counts_notices_with_messages() {
        let deleted = |messages, uploads| AccountDeleted {
            messages,
            bytes: 168,
            uploads,
        };
        let line = deletion_summary("bob", &deleted(2, 1), "client history");
        assert!(
            line.starts_with(
                "deleted your account bob from the server, with 2 messages and notices (168 B) \
                 that waited for you and 1 unfinished upload; the name is free now"
            ),
            "{line}"
        );
        let line = deletion_summary("bob", &deleted(1, 0), "client history");
        assert!(line.contains("with 1 message or notice (168 B)"), "{line}");
        let line = deletion_summary("bob", &deleted(0, 0), "client history");
        assert!(line.contains("from the server; the name"), "{line}");
    }
}
