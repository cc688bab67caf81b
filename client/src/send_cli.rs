//! `client send` and `client send-file`: the text or file to one person,
//! and the answer naming them as they are pinned here, whether the command
//! named them by name (any case) or by client id (`--json`: `name` and `id`
//! both).
//!
//! Split from `crate::commands`, which runs every other subcommand (and
//! answers `session` with [`recipient`] too).

use std::io::IsTerminal;
use std::path::Path;

use anyhow::bail;
use serde_json::json;

use crate::client::{Client, ClientError};
use crate::display::{escape_line, escape_path};
use crate::keystore::Conversation;
use crate::script::{Flags, accepting, cancel_on_signal, print_json, read_stdin, upload_cancelled};

/// Sends `text` (standard input when `None` or `-`) to `to`.
///
/// # Errors
/// An empty text, or whatever sending hit.
pub(crate) async fn text(
    client: &Client,
    flags: Flags,
    to: &str,
    text: Option<&str>,
) -> anyhow::Result<()> {
    let text = match text {
        None | Some("-") => {
            if std::io::stdin().is_terminal() {
                eprintln!(
                    "type the message to {}; Ctrl-D on a line of its own sends it, Ctrl-C cancels",
                    escape_line(to)
                );
            }
            read_stdin()?
        }
        Some(t) => t.to_string(),
    };
    if text.is_empty() {
        bail!(ClientError::EmptyText);
    }
    let id = accepting(client, flags, to, || client.send_text(to, &text)).await?;
    let (name, peer) = recipient(client, to).await;
    if flags.json {
        print_json(&json!({ "message_id": id, "name": name, "id": peer }))?;
    } else {
        println!("sent to {} (message {id})", escape_line(&name));
    }
    Ok(())
}

/// Sends the file at `path` to `to`; Ctrl-C stops the upload, which
/// `client resume` continues.
///
/// # Errors
/// Cancelled, or whatever sending hit.
pub(crate) async fn file(
    client: &Client,
    flags: Flags,
    to: &str,
    path: &Path,
) -> anyhow::Result<()> {
    let cancel = cancel_on_signal();
    let result = accepting(client, flags, to, || {
        client.send_file(to, path, cancel.clone())
    })
    .await;
    let id = match result {
        Ok(id) => id,
        Err(ClientError::Cancelled) => {
            return Err(upload_cancelled());
        }
        Err(e) => return Err(e.into()),
    };
    let (name, peer) = recipient(client, to).await;
    if flags.json {
        print_json(&json!({ "message_id": id, "name": name, "id": peer }))?;
    } else {
        println!(
            "sent {} to {} (message {id})",
            escape_path(path),
            escape_line(&name)
        );
    }
    Ok(())
}

/// Who `to` (just sent to, so pinned) is here: the pinned name (the id for
/// one pinned without a name) and the client id; `to` as typed if the pins
/// cannot say, which a successful send leaves no reason for.
pub(crate) async fn recipient(client: &Client, to: &str) -> (String, Option<String>) {
    match client.conversation(to).await {
        Ok(found) => {
            let id = match found.conversation {
                Conversation::Person { id } => Some(id.to_string()),
                Conversation::Room { .. } => None,
            };
            (found.label, id)
        }
        Err(_) => (to.to_string(), None),
    }
}
