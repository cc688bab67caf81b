//! The crate's error type.
//!
//! Three families, kept apart because callers answer them differently:
//! refusals by policy ([`RoomsError::Policy`]: a commit that a member or the
//! server must not merge), identity failures ([`RoomsError::Identity`]: a
//! member whose credential does not match what the caller pins, the loud
//! case), and everything openmls or SQLite reports. openmls's own error
//! types are generic over the storage error and many in number; they are kept
//! as the boxed source of [`RoomsError::Mls`] with the operation that failed,
//! except the few a caller must act on (a stale epoch, a message that does
//! not decrypt), which get their own variants.

use std::error::Error as StdError;

use crate::ids::{ClientId, Role};

/// Why a commit was refused by the roles and membership rules (see
/// [`crate::policy`]). The same values come out of a member's engine and out
/// of the server's [`crate::observer::RoomObserver`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The commit (or one of its proposals) came from outside the group.
    #[error("a commit or proposal from outside the room")]
    ExternalSender,
    /// A member without the needed role added, removed or changed roles.
    #[error("{actor} is {role} and may not {action}")]
    NotPermitted {
        /// Who acted (the committer or the proposal's sender).
        actor: ClientId,
        /// The actor's role before the commit.
        role: Role,
        /// What was attempted, in a few words.
        action: &'static str,
    },
    /// The commit carries a proposal kind rooms never use (PSK, re-init,
    /// external init, custom, ...).
    #[error("a proposal kind rooms do not use")]
    UnsupportedProposal,
    /// The commit changes a group context extension other than the roles.
    #[error("the commit changes the room's fixed settings")]
    ContextChanged,
    /// The roles extension is missing or malformed.
    #[error("the room's roles are missing or malformed")]
    BadRoles,
    /// The room's name is malformed (1 to 64 bytes of UTF-8, no control
    /// characters).
    #[error("the room's name is malformed (1 to 64 bytes, no control characters)")]
    BadName,
    /// After the commit one client id would hold two leaves.
    #[error("{0} would be a member twice")]
    DuplicateMember(ClientId),
    /// A member's new leaf names another client id than its old one.
    #[error("a member's leaf changed its client id")]
    IdentityChanged,
    /// A leaf's credential is not a Sealpost member credential.
    #[error("a member credential is malformed")]
    BadCredential,
    /// The access rules (join rule, banned ids) are malformed.
    #[error("the room's access rules are malformed")]
    BadAccess,
    /// A join without an invitation (an external commit) in an invite-only
    /// room, or one that does more than add the joiner.
    #[error("the room is invite-only: only an admin can add members")]
    JoinRefused,
    /// The commit adds a banned client id.
    #[error("{0} is banned from the room")]
    Banned(ClientId),
}

/// Why a member's credential is not accepted (see [`crate::identity`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The credential is not a basic credential of the Sealpost layout.
    #[error("the member credential is malformed")]
    Malformed,
    /// The identity key's signature over the client id and the leaf's
    /// signature key does not verify.
    #[error("the member credential of {0} is not signed by its identity key")]
    BadBinding(ClientId),
    /// The caller has no pinned identity key for this client id.
    #[error("{0} is not a known contact")]
    Unknown(ClientId),
    /// The identity key in the credential is not the one the caller pins.
    #[error("the identity key of {0} does not match the pinned key")]
    PinMismatch(ClientId),
}

/// The crate's error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RoomsError {
    /// The state database could not be opened or written.
    #[error("room state database: {0}")]
    Database(#[from] rusqlite::Error),
    /// The state database's schema could not be created or migrated.
    #[error("room state database migration: {0}")]
    Migration(String),
    /// No room with this id in the local state.
    #[error("no such room")]
    UnknownRoom,
    /// A room with this id already exists in the local state.
    #[error("the room already exists")]
    RoomExists,
    /// The local state has no member identity yet (call `set_up_identity`).
    #[error("no member identity in this state database")]
    NoIdentity,
    /// The local state belongs to another client id or identity key.
    #[error("the state database belongs to another identity")]
    IdentityMismatch,
    /// The state file does not open with the given key (a wrong passphrase).
    #[error("the rooms state file cannot be opened with this key (wrong passphrase)")]
    WrongKey,
    /// We are no longer a member of the room.
    #[error("not a member of the room any more")]
    NotMember,

    /// The room lists us with a leaf signature key this state file does not
    /// hold (a home restored from a backup made before backups kept it):
    /// an external commit cannot take that leaf's place (openmls removes
    /// only a leaf with the joiner's own key), so an admin must remove it.
    #[error("the room lists you with a key this home no longer holds")]
    LeafKeyLost,
    /// A welcome made for a key package whose private part this state
    /// file does not hold (used already, or its state file lost or
    /// restored from a backup): only a new invitation helps.
    #[error("the invitation was made for a key package this home no longer holds")]
    InvitationKeyLost,
    /// The client id is not a member of the room.
    #[error("{0} is not a member of the room")]
    NoSuchMember(ClientId),
    /// The client id is already a member of the room.
    #[error("{0} is already a member of the room")]
    AlreadyMember(ClientId),
    /// A commit of ours awaits the server's answer; confirm or discard it first.
    #[error("a commit of ours awaits the server's answer")]
    PendingCommit,
    /// We asked to leave the room and no commit has taken the request yet:
    /// MLS sends nothing while a proposal waits.
    #[error("you asked to leave the room; another member's client completes it")]
    Leaving,
    /// There is no commit of ours to confirm or discard.
    #[error("no commit of ours awaits an answer")]
    NoPendingCommit,
    /// The message belongs to an epoch other than the room's current one:
    /// a commit made on an old epoch (the loser of a race) or a replay.
    #[error("the message is for epoch {message}, the room is at epoch {room}")]
    StaleEpoch {
        /// The epoch the message was made for.
        message: u64,
        /// The room's current epoch.
        room: u64,
    },
    /// The bytes are not an MLS message of the expected kind.
    #[error("malformed room message")]
    Malformed,
    /// A handshake message (commit, proposal) came as a private message; rooms
    /// send them in the clear so the server can check them.
    #[error("a handshake message was not sent in the clear")]
    HiddenHandshake,
    /// The message did not decrypt or verify (wrong epoch secrets, tampering,
    /// or a member who was removed). Deliberately without detail.
    #[error("the room message did not decrypt")]
    DecryptFailed,
    /// A commit was refused by the roles and membership rules.
    #[error("commit refused: {0}")]
    Policy(#[from] PolicyError),
    /// A member's credential does not match the caller's pins.
    #[error("member refused: {0}")]
    Identity(#[from] IdentityError),
    /// A key package is malformed, expired, for another ciphersuite or lacks
    /// what rooms need.
    #[error("unusable key package")]
    BadKeyPackage,
    /// An argument outside the documented limits.
    #[error("{0}")]
    Limit(&'static str),
    /// Any other failure inside openmls.
    #[error("MLS {op} failed: {source}")]
    Mls {
        /// The operation that failed.
        op: &'static str,
        /// openmls's error.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

impl RoomsError {
    /// Wraps an openmls error with the operation that produced it.
    pub(crate) fn mls<E: StdError + Send + Sync + 'static>(
        op: &'static str,
    ) -> impl FnOnce(E) -> Self {
        move |e| RoomsError::Mls {
            op,
            source: Box::new(e),
        }
    }
}

impl From<openmls_memory_storage::MemoryStorageError> for RoomsError {
    fn from(e: openmls_memory_storage::MemoryStorageError) -> Self {
        RoomsError::Mls {
            op: "room state in memory",
            source: Box::new(e),
        }
    }
}
