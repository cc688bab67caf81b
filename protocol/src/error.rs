//! Errors of the wire layer, and the reason codes a version-3 error frame carries.
//!
//! Two kinds of failure are kept apart on purpose:
//! - [`ProtocolError`] ends the byte stream: the header could not be trusted
//!   (unknown version or code, a size over the limit, a truncated frame), so no
//!   later frame can be found. The peer gets one error frame and the connection
//!   closes.
//! - [`PayloadError`] is a well-framed payload whose contents are invalid. The
//!   payload has been consumed, so a version-3 session can answer with an error
//!   frame and go on.

use std::io;

use thiserror::Error;

/// A failure that ends the connection's byte stream.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The version byte is neither 2 nor 3.
    #[error("unsupported protocol version {0}")]
    UnsupportedVersion(u8),

    /// The request code does not exist in this protocol version.
    #[error("unknown request code {code} for protocol version {version}")]
    UnknownRequest {
        /// Version byte of the frame.
        version: u8,
        /// Request code of the frame.
        code: u8,
    },

    /// The response code does not exist in this protocol version.
    #[error("unknown response code {code} for protocol version {version}")]
    UnknownResponse {
        /// Version byte of the frame.
        version: u8,
        /// Response code of the frame.
        code: u16,
    },

    /// The declared payload size is over the limit for this kind of frame; the
    /// payload was not read.
    #[error(
        "payload of {len} bytes for code {code} (version {version}) exceeds the limit of {max} bytes"
    )]
    FrameTooLarge {
        /// Version byte of the frame.
        version: u8,
        /// Request or response code of the frame.
        code: u16,
        /// Declared payload size.
        len: u32,
        /// Largest payload accepted for this code.
        max: u64,
    },

    /// A payload that cannot be skipped safely was invalid (a streamed body's
    /// header, or any response).
    #[error("invalid payload for code {code} (version {version}): {source}")]
    InvalidPayload {
        /// Version byte of the frame.
        version: u8,
        /// Request or response code of the frame.
        code: u16,
        /// What was wrong.
        #[source]
        source: PayloadError,
    },

    /// The stream ended in the middle of a frame.
    #[error("connection closed in the middle of a frame ({buffered} bytes of it received)")]
    Truncated {
        /// Bytes of the unfinished frame that had arrived.
        buffered: usize,
    },

    /// A value handed to the encoder is empty where the wire format needs
    /// at least one item.
    #[error("cannot encode {what}: it needs at least one")]
    EmptyValue {
        /// What was being encoded.
        what: &'static str,
    },

    /// A value handed to the encoder does not fit the wire format.
    #[error("cannot encode {what}: {len} is over the maximum of {max}")]
    ValueTooLarge {
        /// What was being encoded.
        what: &'static str,
        /// Its size or count.
        len: u64,
        /// The largest the format allows.
        max: u64,
    },

    /// A streamed body was not sent the way its header announced.
    #[error("streamed body out of order: {0}")]
    StreamMisuse(&'static str),

    /// The socket failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl ProtocolError {
    /// The version-3 reason code that describes this error to the peer.
    pub fn reason(&self) -> ErrorReason {
        match self {
            Self::UnsupportedVersion(_) => ErrorReason::UnsupportedVersion,
            Self::UnknownRequest { .. } | Self::UnknownResponse { .. } => {
                ErrorReason::UnknownRequest
            }
            Self::FrameTooLarge { .. } => ErrorReason::FrameTooLarge,
            Self::InvalidPayload { source, .. } => source.reason(),
            Self::Truncated { .. } | Self::StreamMisuse(_) => ErrorReason::Malformed,
            Self::ValueTooLarge { .. } | Self::EmptyValue { .. } | Self::Io(_) => {
                ErrorReason::Internal
            }
        }
    }

    /// The protocol version the offending frame used, when it is one we speak.
    pub fn version(&self) -> Option<u8> {
        match self {
            Self::UnknownRequest { version, .. }
            | Self::UnknownResponse { version, .. }
            | Self::FrameTooLarge { version, .. }
            | Self::InvalidPayload { version, .. } => Some(*version),
            _ => None,
        }
    }
}

/// A well-framed payload whose contents break the format.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// A fixed-size payload had another size.
    #[error("payload must be {expected} bytes, got {actual}")]
    WrongSize {
        /// Size the code requires.
        expected: usize,
        /// Size received.
        actual: usize,
    },

    /// The payload ended before a field did.
    #[error("payload truncated: {field} needs {needed} more bytes, {available} left")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the payload.
        available: usize,
    },

    /// Bytes were left after the last field.
    #[error("{0} unexpected bytes after the last field")]
    TrailingBytes(usize),

    /// A name field has no NUL terminator within its 255 bytes.
    #[error("name is not NUL-terminated within 255 bytes")]
    NameNotTerminated,

    /// A name is empty.
    #[error("name is empty")]
    NameEmpty,

    /// A name is longer than 254 bytes.
    #[error("name is {0} bytes, over the limit of 254")]
    NameTooLong(usize),

    /// A name is not valid UTF-8.
    #[error("name is not valid UTF-8")]
    NameNotUtf8,

    /// A name contains a NUL or another control character.
    #[error("name contains a control character")]
    NameControlChar,

    /// The bytes after a name's NUL terminator are not all NUL.
    #[error("name padding after the NUL terminator is not all NUL")]
    NamePadding,

    /// The message type byte is not one this request accepts.
    #[error("message type {0} is not valid here")]
    BadMessageType(u8),

    /// The content size field disagrees with the frame's payload size.
    #[error("content size field says {declared} bytes but the frame carries {actual}")]
    ContentSizeMismatch {
        /// The content size field.
        declared: u64,
        /// The bytes actually there.
        actual: u64,
    },

    /// A count or length field is outside its allowed range.
    #[error("{field} is {value}, allowed {min}..={max}")]
    OutOfRange {
        /// Which field.
        field: &'static str,
        /// Its value.
        value: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },

    /// An error text is not valid UTF-8.
    #[error("error text is not valid UTF-8")]
    TextNotUtf8,

    /// A flag byte is neither 0 nor 1.
    #[error("{field} must be 0 or 1, got {value}")]
    BadFlag {
        /// Which field.
        field: &'static str,
        /// Its value.
        value: u8,
    },
}

impl PayloadError {
    /// The version-3 reason code for this error.
    pub fn reason(&self) -> ErrorReason {
        match self {
            Self::NameNotTerminated
            | Self::NameEmpty
            | Self::NameTooLong(_)
            | Self::NameNotUtf8
            | Self::NameControlChar
            | Self::NamePadding => ErrorReason::BadName,
            Self::BadMessageType(_) => ErrorReason::BadMessageType,
            _ => ErrorReason::Malformed,
        }
    }
}

/// Why a version-3 request failed: the `reason` field of a 9000 error frame
/// and of a 1105 closing notice. The numbers are part of the wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorReason {
    /// The payload does not follow the format of its code.
    Malformed,
    /// The version byte is not one the server speaks, or version 2 is off.
    UnsupportedVersion,
    /// The code does not exist in this version.
    UnknownRequest,
    /// The declared payload size is over the limit for the code.
    FrameTooLarge,
    /// A connection switched protocol version after its first request.
    VersionSwitch,
    /// The request needs an authenticated connection.
    NotAuthenticated,
    /// The challenge answer did not verify.
    AuthFailed,
    /// Authenticate arrived without a pending challenge (none, or already used).
    NoChallenge,
    /// Hello or Authenticate on a connection that is already authenticated.
    AlreadyAuthenticated,
    /// The header's client id is not the authenticated one.
    ClientIdMismatch,
    /// Another client already has this name.
    NameTaken,
    /// The name breaks the name rules.
    BadName,
    /// The key bundle's signature or keys are invalid.
    BadKeyBundle,
    /// No client has this id or name.
    UnknownClient,
    /// Delete account: the name is not the caller's own.
    NameMismatch,
    /// The message id is not waiting for the caller.
    UnknownMessage,
    /// The message type is not allowed in this request.
    BadMessageType,
    /// Message content over the server's limit.
    MessageTooLarge,
    /// No upload in progress has this id for the caller.
    UnknownUpload,
    /// A chunk's offset is not where the upload stands.
    BadOffset,
    /// A file over the server's maximum file size.
    FileTooLarge,
    /// The caller has too many unfinished uploads.
    TooManyUploads,
    /// The recipient's inbox holds the maximum number of messages.
    InboxFull,
    /// The recipient's inbox holds the maximum number of bytes.
    InboxBytesFull,
    /// The server's total storage limit is reached, or its disk is down to
    /// the free-space reserve.
    StorageFull,
    /// The sender has the most bytes waiting (messages and unfinished
    /// uploads) that the server lets one sender have.
    SenderBytesFull,
    /// Too many requests per second on this connection.
    RateLimited,
    /// Too many connections, in all or from this address.
    TooManyConnections,
    /// The server is shutting down.
    ShuttingDown,
    /// The connection was idle too long.
    IdleTimeout,
    /// The server failed; nothing about the request was wrong.
    Internal,
    /// The server's storage failed (an I/O error, or a commit it could not
    /// make durable); nothing of the request was stored.
    StorageFailed,
    /// The server's storage is read-only; nothing of the request was stored.
    StorageReadOnly,
    /// No such room, or the caller is not a member.
    UnknownRoom,
    /// The room id is taken.
    RoomExists,
    /// The message is not for the room's current epoch.
    StaleEpoch,
    /// The commit or message breaks the room's rules (roles, kinds, privacy
    /// of handshakes).
    RoomRefused,
    /// A leaf's credential does not match its client's registered identity key.
    RoomIdentity,
    /// The room would have more than [`crate::MAX_ROOM_MEMBERS`] members.
    RoomFull,
    /// The room's log holds the most entries the server keeps.
    RoomLogFull,
    /// A key package does not verify or is not for the caller.
    BadKeyPackage,
    /// The caller already stores the most one-time key packages.
    KeyPackagesFull,
    /// The room's password was not proven on this connection.
    WrongPassword,
    /// Too many failed password guesses at the room; the text says when to
    /// try again.
    TooManyGuesses,
    /// The caller already holds the most room files the server keeps for
    /// one member ([`crate::v3::MAX_ROOM_FILE_HOLDS`]).
    TooManyHolds,
    /// A code this implementation does not know (kept so that newer servers'
    /// reasons can still be shown).
    Unrecognized(u16),
}

impl ErrorReason {
    /// Every reason this implementation defines, for documentation and tests.
    pub const ALL: [ErrorReason; 45] = [
        Self::Malformed,
        Self::UnsupportedVersion,
        Self::UnknownRequest,
        Self::FrameTooLarge,
        Self::VersionSwitch,
        Self::NotAuthenticated,
        Self::AuthFailed,
        Self::NoChallenge,
        Self::AlreadyAuthenticated,
        Self::ClientIdMismatch,
        Self::NameTaken,
        Self::BadName,
        Self::BadKeyBundle,
        Self::UnknownClient,
        Self::NameMismatch,
        Self::UnknownMessage,
        Self::BadMessageType,
        Self::MessageTooLarge,
        Self::UnknownUpload,
        Self::BadOffset,
        Self::FileTooLarge,
        Self::TooManyUploads,
        Self::InboxFull,
        Self::InboxBytesFull,
        Self::StorageFull,
        Self::SenderBytesFull,
        Self::RateLimited,
        Self::TooManyConnections,
        Self::ShuttingDown,
        Self::IdleTimeout,
        Self::Internal,
        Self::StorageFailed,
        Self::StorageReadOnly,
        Self::UnknownRoom,
        Self::RoomExists,
        Self::StaleEpoch,
        Self::RoomRefused,
        Self::RoomIdentity,
        Self::RoomFull,
        Self::RoomLogFull,
        Self::BadKeyPackage,
        Self::KeyPackagesFull,
        Self::WrongPassword,
        Self::TooManyGuesses,
        Self::TooManyHolds,
    ];

    /// The wire value.
    pub fn code(self) -> u16 {
        match self {
            Self::Malformed => 1,
            Self::UnsupportedVersion => 2,
            Self::UnknownRequest => 3,
            Self::FrameTooLarge => 4,
            Self::VersionSwitch => 5,
            Self::NotAuthenticated => 10,
            Self::AuthFailed => 11,
            Self::NoChallenge => 12,
            Self::AlreadyAuthenticated => 13,
            Self::ClientIdMismatch => 14,
            Self::NameTaken => 20,
            Self::BadName => 21,
            Self::BadKeyBundle => 22,
            Self::UnknownClient => 23,
            Self::NameMismatch => 24,
            Self::UnknownMessage => 30,
            Self::BadMessageType => 31,
            Self::MessageTooLarge => 32,
            Self::UnknownUpload => 40,
            Self::BadOffset => 41,
            Self::FileTooLarge => 42,
            Self::TooManyUploads => 43,
            Self::InboxFull => 50,
            Self::InboxBytesFull => 51,
            Self::StorageFull => 52,
            Self::RateLimited => 53,
            Self::TooManyConnections => 54,
            Self::SenderBytesFull => 55,
            Self::ShuttingDown => 60,
            Self::IdleTimeout => 61,
            Self::Internal => 62,
            Self::StorageFailed => 63,
            Self::StorageReadOnly => 64,
            Self::UnknownRoom => 70,
            Self::RoomExists => 71,
            Self::StaleEpoch => 72,
            Self::RoomRefused => 73,
            Self::RoomIdentity => 74,
            Self::RoomFull => 75,
            Self::RoomLogFull => 76,
            Self::BadKeyPackage => 77,
            Self::KeyPackagesFull => 78,
            Self::WrongPassword => 79,
            Self::TooManyGuesses => 80,
            Self::TooManyHolds => 81,
            Self::Unrecognized(code) => code,
        }
    }

    /// The reason for a wire value; unknown values become [`ErrorReason::Unrecognized`].
    pub fn from_code(code: u16) -> Self {
        Self::ALL
            .into_iter()
            .find(|reason| reason.code() == code)
            .unwrap_or(Self::Unrecognized(code))
    }

    /// Whether the server closes the connection after sending this error.
    pub fn closes_connection(self) -> bool {
        matches!(
            self,
            Self::UnsupportedVersion
                | Self::UnknownRequest
                | Self::FrameTooLarge
                | Self::VersionSwitch
                | Self::ClientIdMismatch
                | Self::TooManyConnections
                | Self::ShuttingDown
                | Self::IdleTimeout
        )
    }

    /// A short stable name, as used in PROTOCOL.md and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Malformed => "MALFORMED",
            Self::UnsupportedVersion => "UNSUPPORTED_VERSION",
            Self::UnknownRequest => "UNKNOWN_REQUEST",
            Self::FrameTooLarge => "FRAME_TOO_LARGE",
            Self::VersionSwitch => "VERSION_SWITCH",
            Self::NotAuthenticated => "NOT_AUTHENTICATED",
            Self::AuthFailed => "AUTH_FAILED",
            Self::NoChallenge => "NO_CHALLENGE",
            Self::AlreadyAuthenticated => "ALREADY_AUTHENTICATED",
            Self::ClientIdMismatch => "CLIENT_ID_MISMATCH",
            Self::NameTaken => "NAME_TAKEN",
            Self::BadName => "BAD_NAME",
            Self::BadKeyBundle => "BAD_KEY_BUNDLE",
            Self::UnknownClient => "UNKNOWN_CLIENT",
            Self::NameMismatch => "NAME_MISMATCH",
            Self::UnknownMessage => "UNKNOWN_MESSAGE",
            Self::BadMessageType => "BAD_MESSAGE_TYPE",
            Self::MessageTooLarge => "MESSAGE_TOO_LARGE",
            Self::UnknownUpload => "UNKNOWN_UPLOAD",
            Self::BadOffset => "BAD_OFFSET",
            Self::FileTooLarge => "FILE_TOO_LARGE",
            Self::TooManyUploads => "TOO_MANY_UPLOADS",
            Self::InboxFull => "INBOX_FULL",
            Self::InboxBytesFull => "INBOX_BYTES_FULL",
            Self::StorageFull => "STORAGE_FULL",
            Self::RateLimited => "RATE_LIMITED",
            Self::TooManyConnections => "TOO_MANY_CONNECTIONS",
            Self::SenderBytesFull => "SENDER_BYTES_FULL",
            Self::ShuttingDown => "SHUTTING_DOWN",
            Self::IdleTimeout => "IDLE_TIMEOUT",
            Self::Internal => "INTERNAL",
            Self::StorageFailed => "STORAGE_FAILED",
            Self::StorageReadOnly => "STORAGE_READ_ONLY",
            Self::UnknownRoom => "UNKNOWN_ROOM",
            Self::RoomExists => "ROOM_EXISTS",
            Self::StaleEpoch => "STALE_EPOCH",
            Self::RoomRefused => "ROOM_REFUSED",
            Self::RoomIdentity => "ROOM_IDENTITY",
            Self::RoomFull => "ROOM_FULL",
            Self::RoomLogFull => "ROOM_LOG_FULL",
            Self::BadKeyPackage => "BAD_KEY_PACKAGE",
            Self::KeyPackagesFull => "KEY_PACKAGES_FULL",
            Self::WrongPassword => "WRONG_PASSWORD",
            Self::TooManyGuesses => "TOO_MANY_GUESSES",
            Self::TooManyHolds => "TOO_MANY_HOLDS",
            Self::Unrecognized(_) => "UNRECOGNIZED",
        }
    }
}

impl std::fmt::Display for ErrorReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for reason in ErrorReason::ALL {
            assert!(seen.insert(reason.code()), "duplicate code for {reason:?}");
            assert_eq!(ErrorReason::from_code(reason.code()), reason);
        }
        assert_eq!(ErrorReason::from_code(999), ErrorReason::Unrecognized(999));
    }
}
