//! The key agreement between two users: an X3DH-style handshake without
//! one-time prekeys, carried by message types 1 (offer) and 2 (answer).
//!
//! This file holds what a session is once agreed ([`Session`], its id and
//! role, the parts the keystore stores); the agreement itself is in two
//! rooms of its own: `session::keys` (the key schedule: from the three
//! Diffie-Hellman results to the session's keys) and `session::handshake`
//! (making, accepting and confirming the offer and answer, with their byte
//! layouts).
//!
//! Not here (later phases): one-time prekeys and a ratchet, so there is no
//! forward secrecy against a later theft of both identity secrets.

use std::fmt;

use protocol::ClientId;
use zeroize::Zeroizing;

use super::{CryptoError, FORMAT_VERSION, KEY_LEN, RECEIPT_FORMAT, REFUSAL_FORMAT};

mod handshake;
mod keys;

pub use handshake::{ANSWER_LABEL, ANSWER_LEN, OFFER_LABEL, OFFER_LEN};
pub use keys::{
    CONFIRM_LABEL, INITIATOR_TO_RESPONDER_LABEL, RESPONDER_TO_INITIATOR_LABEL, X3DH_LABEL,
};
// PROTOCOL.md's worked example (`crypto::protocol_md`) checks `SK` itself.
/// The session id at the start of any type 1, 2, 3 or 4 sealed content
/// (for type 4, of the file offer's meta), so that the caller can find the
/// session before opening it.
///
/// # Errors
/// [`CryptoError::DecryptFailed`] if the bytes are too short or start with
/// none of [`FORMAT_VERSION`], [`REFUSAL_FORMAT`] and [`RECEIPT_FORMAT`].
pub fn content_session_id(content: &[u8]) -> Result<SessionId, CryptoError> {
    match content {
        [FORMAT_VERSION | REFUSAL_FORMAT | RECEIPT_FORMAT, rest @ ..]
            if rest.len() >= SESSION_ID_LEN =>
        {
            let mut sid = [0u8; SESSION_ID_LEN];
            sid.copy_from_slice(&rest[..SESSION_ID_LEN]);
            Ok(SessionId(sid))
        }
        _ => Err(CryptoError::DecryptFailed),
    }
}

#[cfg(test)]
pub(crate) use keys::derive_shared_secret;

/// Size of a session id.
pub const SESSION_ID_LEN: usize = 16;

/// A session's random 16-byte id, chosen by the initiator.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub [u8; SESSION_ID_LEN]);

impl SessionId {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; SESSION_ID_LEN] {
        &self.0
    }
}

impl fmt::Display for SessionId {
    /// Lower-case hex, 32 digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

/// Which side of the handshake this client was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sent the offer (A).
    Initiator,
    /// Answered it (B).
    Responder,
}

/// A 32-byte symmetric key that is wiped on drop.
pub(crate) type SecretKey = Zeroizing<[u8; KEY_LEN]>;

/// One agreed session with a peer: its id, the two direction keys, and (on
/// the initiator's side) the confirmation key that checks the answer.
///
/// Counters are not kept here: the keystore persists them. `Debug` shows no
/// key.
pub struct Session {
    sid: SessionId,
    role: Role,
    local: ClientId,
    peer: ClientId,
    send_key: SecretKey,
    receive_key: SecretKey,
    confirm_key: Option<SecretKey>,
    confirmed: bool,
}

/// Everything a session needs, as stored; only the keystore makes sessions
/// from parts.
pub(crate) struct SessionParts {
    pub sid: SessionId,
    pub role: Role,
    pub local: ClientId,
    pub peer: ClientId,
    pub send_key: SecretKey,
    pub receive_key: SecretKey,
    pub confirm_key: Option<SecretKey>,
    pub confirmed: bool,
}

impl Session {
    /// The session's id.
    pub fn sid(&self) -> SessionId {
        self.sid
    }

    /// Which side of the handshake this client was.
    pub fn role(&self) -> Role {
        self.role
    }

    /// This client's id.
    pub fn local(&self) -> ClientId {
        self.local
    }

    /// The peer's id.
    pub fn peer(&self) -> ClientId {
        self.peer
    }

    /// Whether the peer has proven it holds the session keys (always true on
    /// the responder's side; on the initiator's once the answer verified).
    pub fn is_confirmed(&self) -> bool {
        self.confirmed
    }

    pub(crate) fn send_key(&self) -> &[u8; KEY_LEN] {
        &self.send_key
    }

    pub(crate) fn receive_key(&self) -> &[u8; KEY_LEN] {
        &self.receive_key
    }

    /// The session's keys and state, for storage.
    pub(crate) fn to_parts(&self) -> SessionParts {
        SessionParts {
            sid: self.sid,
            role: self.role,
            local: self.local,
            peer: self.peer,
            send_key: self.send_key.clone(),
            receive_key: self.receive_key.clone(),
            confirm_key: self.confirm_key.clone(),
            confirmed: self.confirmed,
        }
    }

    /// Rebuilds a stored session.
    pub(crate) fn from_parts(parts: SessionParts) -> Self {
        Self {
            sid: parts.sid,
            role: parts.role,
            local: parts.local,
            peer: parts.peer,
            send_key: parts.send_key,
            receive_key: parts.receive_key,
            confirm_key: parts.confirm_key,
            confirmed: parts.confirmed,
        }
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("sid", &self.sid)
            .field("role", &self.role)
            .field("local", &self.local)
            .field("peer", &self.peer)
            .field("confirmed", &self.confirmed)
            .finish_non_exhaustive()
    }
}
