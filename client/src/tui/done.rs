//! What a job the user typed came to, before `actions` turns it into
//! what the screen does ([`super::actions::Outcome`]); shared by `actions`
//! and `open`, which carry out jobs.

use super::app::SecretFor;
use crate::client::ClientError;
use crate::keystore::Conversation;

/// A job done.
pub(super) enum Done {
    /// Reload the list and the open conversation.
    Refresh,
    /// Open this conversation.
    Open(Conversation),
    /// Open it and say these lines there.
    OpenSaying(Conversation, Vec<String>),
    /// Say these lines.
    Say(Vec<String>),
    /// A room change, which the room's history records: the pane shows it
    /// from there, once, as every member reads it; these lines (the
    /// command's answer) go to the status line.
    Changed(Vec<String>),
    /// [`Done::Changed`] by a rename: open the room under its new name.
    OpenChanged(Conversation, Vec<String>),
    /// Ask for a password for this, saying why first (a wrong one).
    Ask(SecretFor, Option<String>),
}

/// A job that failed.
pub(super) enum Failure {
    /// Misused: this line says how to use it.
    Usage(String),
    /// The client failed.
    Client(ClientError),
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        match e {
            // Its history is what the pane shows: no command to read it.
            ClientError::NoLongerInRoom { .. } => Self::Usage(format!(
                "{e}: nothing more can be sent to it or changed in it"
            )),
            e => Self::Client(e),
        }
    }
}
