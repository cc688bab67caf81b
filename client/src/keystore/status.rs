//! Where a message is on its way: the status history keeps for each entry,
//! which only moves forward.

use serde::Serialize;

use super::KeyStoreError;

/// Where a message is on its way (see `keystore::history`'s docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Sealed and handed to the network; the server has not answered yet.
    Sent,
    /// The server stored it (it answered with a message id).
    Stored,
    /// The peer's client opened it (its receipt says so).
    Delivered,
    /// It was shown to the peer, or (incoming) to this user.
    Read,
    /// The peer's client refused it, or it never reached the server.
    Failed,
    /// Received and opened here, not shown yet.
    Received,
    /// A file the peer declined (their receipt says so): never downloaded,
    /// deleted from the server; or (incoming) a file offer this user
    /// declined.
    Declined,
    /// (Incoming) a file offer held for this user's answer (accept or
    /// decline): not downloaded yet.
    Held,
}

impl Status {
    pub(super) fn code(self) -> i64 {
        match self {
            Self::Sent => 1,
            Self::Stored => 2,
            Self::Delivered => 3,
            Self::Read => 4,
            Self::Failed => 5,
            Self::Received => 6,
            Self::Declined => 7,
            Self::Held => 8,
        }
    }

    pub(super) fn from_code(code: i64) -> Result<Self, KeyStoreError> {
        Ok(match code {
            1 => Self::Sent,
            2 => Self::Stored,
            3 => Self::Delivered,
            4 => Self::Read,
            5 => Self::Failed,
            6 => Self::Received,
            7 => Self::Declined,
            8 => Self::Held,
            _ => return Err(KeyStoreError::Corrupt("history status")),
        })
    }

    /// The statuses this one may replace: statuses only move forward.
    pub(super) fn replaces(self) -> &'static [Status] {
        match self {
            // A held offer becomes received (or declined) by
            // `KeyStore::finish_held_file`, never by a receipt.
            Self::Sent | Self::Received | Self::Held => &[],
            Self::Stored => &[Self::Sent],
            Self::Delivered => &[Self::Sent, Self::Stored, Self::Failed],
            Self::Read => &[
                Self::Sent,
                Self::Stored,
                Self::Delivered,
                Self::Failed,
                Self::Received,
            ],
            Self::Failed => &[Self::Sent, Self::Stored],
            Self::Declined => &[Self::Sent, Self::Stored, Self::Delivered],
        }
    }

    /// The word shown to a person.
    pub fn word(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Stored => "stored",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
            Self::Received => "received",
            Self::Declined => "declined",
            Self::Held => "held",
        }
    }
}
