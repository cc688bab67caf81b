//! What can go wrong talking to the server ([`ConnectionError`]), and the
//! two questions callers ask of it: the server's reason, and whether a
//! reconnect may help.
//!
//! A leaf of its own: every room of the connection, and the client's
//! commands and menu that explain these errors, name it.

use std::time::Duration;

use protocol::v3::ServerError;
use protocol::{ErrorReason, ProtocolError};
use thiserror::Error;

/// What can go wrong talking to the server.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The server could not be reached.
    #[error("cannot reach the server at {addr}: {source}")]
    Connect {
        /// The address tried.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The server refused a request.
    #[error("the server refused: {0}")]
    Refused(ServerError),
    /// The connection closed, with the server's reason if it gave one.
    #[error("the connection to the server closed{}", .0.as_ref().map(|e| format!(": {}", e.text)).unwrap_or_default())]
    Closed(Option<ServerError>),
    /// The connection failed under a read or write (reset, broken pipe):
    /// the server went away, not one of its frames.
    #[error("the connection to the server was lost ({0})")]
    Lost(std::io::Error),
    /// The bytes from the server broke the protocol.
    #[error("the server broke the protocol: {0}")]
    Protocol(ProtocolError),
    /// The server answered with something that does not fit the request.
    #[error("unexpected answer from the server: {0}")]
    Unexpected(String),
    /// The server's proof of identity did not verify.
    #[error("the server failed to prove its identity (its signature does not verify)")]
    BadServerProof,
    /// The caller refused the server's key (see the pin check). Never a
    /// reason to try another node: the node is named instead.
    #[error("{node}: {reason}")]
    ServerKeyRejected {
        /// The node that presented the key.
        node: String,
        /// Why the caller refused it.
        reason: String,
    },
    /// The server refused the hello itself, before proving its identity:
    /// what it said (an unknown account, say) is not the pinned server's
    /// word, so it is shown as such and never acted on.
    #[error(
        "the server at {node} refused before proving it is the server you pinned ({refusal}); if it should know you, compare its fingerprint with its operator before registering again (`client fingerprint` shows the pinned one)"
    )]
    Unproven {
        /// The node that answered.
        node: String,
        /// What it said.
        refusal: String,
    },
    /// No answer in time.
    #[error("the server did not answer within {0:?}")]
    Timeout(Duration),
    /// What listens at the address does not answer the handshake as a
    /// Sealpost server would: silence, or bytes that are not our frames.
    #[error(
        "{addr} does not answer as a Sealpost server ({detail}); is that the right address and port?"
    )]
    NotSealpost {
        /// The address tried.
        addr: String,
        /// What it did instead.
        detail: String,
    },
    /// No server address anywhere (`--server`, `server.info`): only the
    /// commands that read the home alone run without one.
    #[error(
        "no server given: pass --server HOST:PORT (a home remembers the server it registered on) or write HOST:PORT into server.info; `client --help` lists the commands"
    )]
    NoServer,
}

impl ConnectionError {
    /// The server's reason, if this is a refusal.
    pub fn reason(&self) -> Option<ErrorReason> {
        match self {
            Self::Refused(e) => Some(e.reason),
            _ => None,
        }
    }

    /// Whether the connection is gone (a reconnect may help).
    pub fn is_disconnect(&self) -> bool {
        matches!(
            self,
            Self::Closed(_)
                | Self::Lost(_)
                | Self::Connect { .. }
                | Self::Timeout(_)
                | Self::NotSealpost { .. }
        )
    }
}

impl From<ProtocolError> for ConnectionError {
    /// A failed read or write is the connection lost, not a broken frame:
    /// said as such, a reset reads as the server's fault otherwise.
    fn from(e: ProtocolError) -> Self {
        match e {
            ProtocolError::Io(io) => Self::Lost(io),
            other => Self::Protocol(other),
        }
    }
}
