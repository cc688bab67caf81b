//! The server's view of a room: an MLS `PublicGroup` that follows the public
//! handshake messages, so the delivery service can refuse a commit before it
//! fans it out.
//!
//! The server is not a member and holds no secret of the room. It learns the
//! ratchet tree (who is a member, their credentials and public keys) and the
//! group context (epoch, roles) from the creator's `GroupInfo` and from each
//! commit, which rooms always send as public messages. With that it applies
//! the very [`check_commit`] every member applies, and [`check_new_leaves`]
//! against its registrations (a commit adding a client id with another
//! identity key than the one registered is refused). Application messages
//! stay private: the observer reads only their clear header (room, epoch,
//! content type).
//!
//! What is left out: the delivery service itself (the log, the epoch
//! compare-and-set, cursors, welcomes), which is the server's; the server
//! calls [`ObserverTx::process`] inside the transaction that appends to the
//! room's log, with the observer's state in the same database.

use std::path::Path;

use openmls::messages::group_info::VerifiableGroupInfo;
use openmls::prelude::{
    ContentType, MlsMessageBodyIn, MlsMessageIn, ProcessedMessageContent, Proposal, ProposalStore,
    ProtocolMessage, PublicGroup, RatchetTreeIn, Sender, tls_codec::Deserialize as _,
};
use openmls_traits::OpenMlsProvider as _;
use openmls_traits::storage::{CURRENT_VERSION, StorageProvider};

use crate::access::Access;
use crate::engine::{RoomId, RoomMember};
use crate::error::{PolicyError, RoomsError};
use crate::identity::{ClientId, Pins};
use crate::incoming::{MAX_MESSAGE_LEN, parse_protocol_message};
use crate::keys::CIPHERSUITE;
use crate::policy::{CommitSummary, RoomView, check_commit, check_members, check_new_leaves};
use crate::roles::Role;
use crate::store::{Provider, Store};
use openmls_rust_crypto::RustCrypto;
use rusqlite::Connection;

/// What the observer made of a room message it accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
// One value per checked message, moved once: boxing the summary would only
// add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Observed {
    /// An application message for the room's current epoch (opaque).
    Application {
        /// The room.
        room: RoomId,
        /// Its epoch.
        epoch: u64,
    },
    /// A commit, checked and applied: the room is now at `summary.epoch`.
    Commit {
        /// The room.
        room: RoomId,
        /// What it did.
        summary: CommitSummary,
    },
    /// A member's request to leave, kept until a commit covers it.
    LeaveRequest {
        /// The room.
        room: RoomId,
        /// Who leaves.
        client: ClientId,
    },
}

/// A room as the server tracks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomState {
    /// The room.
    pub room: RoomId,
    /// Its current epoch.
    pub epoch: u64,
    /// Its members and roles.
    pub members: Vec<RoomMember>,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// How one joins it.
    pub rule: crate::access::JoinRule,
}

/// The server's public view of many rooms, over one state file of its own
/// (tools and tests; the server uses [`ObserverTx`] on its database).
pub struct RoomObserver {
    store: Store,
}

impl RoomObserver {
    /// Opens (creating if needed) the observer's state file.
    ///
    /// # Errors
    /// Database errors.
    pub fn open(path: &Path) -> Result<Self, RoomsError> {
        Ok(Self {
            store: Store::open(path)?,
        })
    }

    /// Starts following a new room from its creator's `GroupInfo` and
    /// ratchet tree. The room must be at epoch 0 with one member, its owner,
    /// whose credential matches `registrations`; the caller also checks that
    /// this member is the authenticated creator.
    ///
    /// # Errors
    /// [`RoomsError::RoomExists`], [`RoomsError::Malformed`],
    /// [`RoomsError::Policy`], [`RoomsError::Identity`]; MLS errors.
    pub fn track(
        &self,
        group_info: &[u8],
        ratchet_tree: &[u8],
        registrations: &dyn Pins,
    ) -> Result<RoomState, RoomsError> {
        self.store.transact(|provider, conn| {
            let state = track_in(
                provider.crypto(),
                provider.storage(),
                group_info,
                ratchet_tree,
                registrations,
            )?;
            crate::store::remember_room(conn, state.room)?;
            Ok(state)
        })
    }

    /// Checks and applies one room message, in log order. Commits are
    /// applied only if every rule holds; nothing is written otherwise.
    ///
    /// # Errors
    /// [`RoomsError::StaleEpoch`] (the compare-and-set the log needs),
    /// [`RoomsError::HiddenHandshake`], [`RoomsError::Policy`],
    /// [`RoomsError::Identity`], [`RoomsError::Malformed`],
    /// [`RoomsError::UnknownRoom`]; MLS errors.
    pub fn process(&self, bytes: &[u8], registrations: &dyn Pins) -> Result<Observed, RoomsError> {
        self.store.transact(|provider, _| {
            process_in(provider.crypto(), provider.storage(), bytes, registrations)
        })
    }

    /// The room as the server knows it now.
    ///
    /// # Errors
    /// [`RoomsError::UnknownRoom`].
    pub fn room(&self, room: RoomId) -> Result<RoomState, RoomsError> {
        self.store
            .transact(|provider, _| room_in(provider.storage(), room))
    }
}

/// The observer over a database connection the caller owns and holds in a
/// transaction. The server keeps its rooms' public state in its own
/// database and calls these inside the transaction that appends to the
/// room's log, so that the log and the observer never disagree after a
/// crash. Nothing here commits or rolls back: on an error the caller undoes
/// what the call wrote (a savepoint around it).
pub struct ObserverTx<'a> {
    conn: &'a Connection,
    crypto: RustCrypto,
}

impl<'a> ObserverTx<'a> {
    /// The observer over `conn`, whose schema [`crate::store::migrate`] has
    /// prepared.
    pub fn new(conn: &'a Connection) -> Self {
        Self {
            conn,
            crypto: RustCrypto::default(),
        }
    }

    /// [`RoomObserver::track`] inside the caller's transaction.
    ///
    /// # Errors
    /// As [`RoomObserver::track`].
    pub fn track(
        &self,
        group_info: &[u8],
        ratchet_tree: &[u8],
        registrations: &dyn Pins,
    ) -> Result<RoomState, RoomsError> {
        let provider = Provider::over(self.conn, &self.crypto);
        let state = track_in(
            provider.crypto(),
            provider.storage(),
            group_info,
            ratchet_tree,
            registrations,
        )?;
        crate::store::remember_room(self.conn, state.room)?;
        Ok(state)
    }

    /// [`RoomObserver::process`] inside the caller's transaction.
    ///
    /// # Errors
    /// As [`RoomObserver::process`].
    pub fn process(&self, bytes: &[u8], registrations: &dyn Pins) -> Result<Observed, RoomsError> {
        let provider = Provider::over(self.conn, &self.crypto);
        process_in(provider.crypto(), provider.storage(), bytes, registrations)
    }

    /// [`RoomObserver::room`] inside the caller's transaction.
    ///
    /// # Errors
    /// As [`RoomObserver::room`].
    pub fn room(&self, room: RoomId) -> Result<RoomState, RoomsError> {
        let provider = Provider::over(self.conn, &self.crypto);
        room_in(provider.storage(), room)
    }

    /// Follows `room` from a member's group info and tree at an epoch past
    /// the one followed, in place of the state followed so far
    /// (PROTOCOL.md "Re-founding a restored room"); returns the new state
    /// and its access rules (bans included). The caller decides
    /// whether the room may be re-founded, and undoes what this wrote on an
    /// error.
    ///
    /// # Errors
    /// [`RoomsError::StaleEpoch`] (the epoch followed) for an epoch not past
    /// it, [`RoomsError::UnknownRoom`], [`RoomsError::Malformed`] (also a
    /// group info of another room), [`RoomsError::Policy`],
    /// [`RoomsError::Identity`]; MLS errors.
    pub fn refound(
        &self,
        room: RoomId,
        group_info: &[u8],
        ratchet_tree: &[u8],
        registrations: &dyn Pins,
    ) -> Result<(RoomState, Access), RoomsError> {
        let provider = Provider::over(self.conn, &self.crypto);
        refound_in(
            provider.crypto(),
            provider.storage(),
            room,
            group_info,
            ratchet_tree,
            registrations,
        )
    }

    /// Deletes the room's `PublicGroup` (its owner deleted the room): the
    /// observer no longer knows it, and anything more for it is refused.
    ///
    /// # Errors
    /// [`RoomsError::UnknownRoom`] if the observer does not follow it;
    /// database errors.
    pub fn forget(&self, room: RoomId) -> Result<(), RoomsError> {
        let provider = Provider::over(self.conn, &self.crypto);
        forget_in(provider.storage(), room)
    }
}

/// The observer's operations over any openmls storage `S` (the server's
/// SQLite tables, or one room's entries in memory: `crate::snapshot`).
pub(crate) trait ObserverStorage:
    StorageProvider<CURRENT_VERSION, Error = Self::Fault>
{
    /// The storage's error, carried as a [`RoomsError`].
    type Fault: std::error::Error + Send + Sync + 'static + Into<RoomsError>;
}

impl<S> ObserverStorage for S
where
    S: StorageProvider<CURRENT_VERSION>,
    S::Error: Send + Sync + 'static + Into<RoomsError>,
{
    type Fault = S::Error;
}

pub(crate) fn track_in<S: ObserverStorage>(
    crypto: &RustCrypto,
    storage: &S,
    group_info: &[u8],
    ratchet_tree: &[u8],
    registrations: &dyn Pins,
) -> Result<RoomState, RoomsError> {
    let (room, info, tree) = parse_founding(group_info, ratchet_tree)?;
    if load_public(storage, room).is_ok() {
        return Err(RoomsError::RoomExists);
    }
    let (group, _) = PublicGroup::from_external(crypto, storage, tree, info, ProposalStore::new())
        .map_err(RoomsError::mls("room tracking"))?;
    if group.ciphersuite() != CIPHERSUITE || group.group_context().epoch().as_u64() != 0 {
        return Err(RoomsError::Malformed);
    }
    let view = RoomView::new(group.members(), group.group_context().extensions())?;
    check_members(group.members(), registrations)?;
    let members: Vec<ClientId> = view.clients().collect();
    match members.as_slice() {
        [owner] if view.role_of(owner) == Role::Owner => {}
        _ => return Err(PolicyError::BadRoles.into()),
    }
    Ok(state(room, &group, &view))
}

/// The room, group info and tree a creator (or a re-founder) sends.
fn parse_founding(
    group_info: &[u8],
    ratchet_tree: &[u8],
) -> Result<(RoomId, VerifiableGroupInfo, RatchetTreeIn), RoomsError> {
    if group_info.len() > MAX_MESSAGE_LEN || ratchet_tree.len() > MAX_MESSAGE_LEN {
        return Err(RoomsError::Limit("room message too long"));
    }
    let info =
        MlsMessageIn::tls_deserialize_exact(group_info).map_err(|_| RoomsError::Malformed)?;
    let MlsMessageBodyIn::GroupInfo(info) = info.extract() else {
        return Err(RoomsError::Malformed);
    };
    let tree =
        RatchetTreeIn::tls_deserialize_exact(ratchet_tree).map_err(|_| RoomsError::Malformed)?;
    let room = RoomId::from_group_id(info.group_id()).ok_or(RoomsError::UnknownRoom)?;
    Ok((room, info, tree))
}

/// Replaces a followed room's public state with the one a member's group
/// info and tree give, at an epoch past the one followed (a server restored
/// from a backup holds the room behind its members: PROTOCOL.md
/// "Re-founding a restored room"). Checked as at creation, by openmls (the
/// group info's signature, the tree's hashes and leaf signatures) and
/// against `registrations`; the roles may be any the extension allows.
pub(crate) fn refound_in<S: ObserverStorage>(
    crypto: &RustCrypto,
    storage: &S,
    room: RoomId,
    group_info: &[u8],
    ratchet_tree: &[u8],
    registrations: &dyn Pins,
) -> Result<(RoomState, Access), RoomsError> {
    let (of, info, tree) = parse_founding(group_info, ratchet_tree)?;
    if of != room {
        return Err(RoomsError::Malformed);
    }
    let held = load_public(storage, room)?.group_context().epoch().as_u64();
    let epoch = info.epoch().as_u64();
    if epoch <= held {
        return Err(RoomsError::StaleEpoch {
            message: epoch,
            room: held,
        });
    }
    // The old state goes first: openmls stores the new group under the same
    // id. On an error the caller's savepoint brings the old one back.
    PublicGroup::delete(storage, &room.group_id()).map_err(Into::into)?;
    let (group, _) = PublicGroup::from_external(crypto, storage, tree, info, ProposalStore::new())
        .map_err(RoomsError::mls("room re-founding"))?;
    if group.ciphersuite() != CIPHERSUITE {
        return Err(RoomsError::Malformed);
    }
    let view = RoomView::new(group.members(), group.group_context().extensions())?;
    check_members(group.members(), registrations)?;
    Ok((state(room, &group, &view), view.access().clone()))
}

pub(crate) fn process_in<S: ObserverStorage>(
    crypto: &RustCrypto,
    storage: &S,
    bytes: &[u8],
    registrations: &dyn Pins,
) -> Result<Observed, RoomsError> {
    let message = parse_protocol_message(bytes)?;
    let room = RoomId::from_group_id(message.group_id()).ok_or(RoomsError::UnknownRoom)?;
    let mut group = load_public(storage, room)?;
    let room_epoch = group.group_context().epoch().as_u64();
    let message_epoch = message.epoch().as_u64();
    if message_epoch != room_epoch {
        return Err(RoomsError::StaleEpoch {
            message: message_epoch,
            room: room_epoch,
        });
    }
    if let ProtocolMessage::PrivateMessage(_) = message {
        if message.content_type() != ContentType::Application {
            return Err(RoomsError::HiddenHandshake);
        }
        return Ok(Observed::Application {
            room,
            epoch: room_epoch,
        });
    }
    let view = RoomView::new(group.members(), group.group_context().extensions())?;
    let processed = group
        .process_message(crypto, message)
        .map_err(RoomsError::mls("message processing"))?;
    let sender = processed.sender().clone();
    match processed.into_content() {
        ProcessedMessageContent::StagedCommitMessage(staged) => {
            let summary = check_commit(&view, &sender, &staged)?;
            check_new_leaves(&staged, registrations)?;
            group
                .merge_commit(storage, *staged)
                .map_err(RoomsError::mls("merge"))?;
            Ok(Observed::Commit { room, summary })
        }
        ProcessedMessageContent::ProposalMessage(queued) => {
            let client = match (queued.sender(), queued.proposal()) {
                (Sender::Member(from), Proposal::Remove(r)) if r.removed() == *from => {
                    view.client_at(*from).ok_or(PolicyError::ExternalSender)?
                }
                _ => return Err(PolicyError::UnsupportedProposal.into()),
            };
            group
                .add_proposal(storage, *queued)
                .map_err(RoomsError::mls("proposal"))?;
            Ok(Observed::LeaveRequest { room, client })
        }
        _ => Err(PolicyError::ExternalSender.into()),
    }
}

pub(crate) fn room_in<S: ObserverStorage>(
    storage: &S,
    room: RoomId,
) -> Result<RoomState, RoomsError> {
    let group = load_public(storage, room)?;
    let view = RoomView::new(group.members(), group.group_context().extensions())?;
    Ok(state(room, &group, &view))
}

fn state(room: RoomId, group: &PublicGroup, view: &RoomView) -> RoomState {
    RoomState {
        room,
        epoch: group.group_context().epoch().as_u64(),
        members: view
            .clients()
            .map(|client_id| RoomMember {
                client_id,
                role: view.role_of(&client_id),
            })
            .collect(),
        name: view.name().map(ToString::to_string),
        rule: view.access().rule,
    }
}

/// Checks that `bytes` is a `GroupInfo` of `room` at `epoch` (what the
/// server keeps for joiners; its signature is the joiner's to verify).
///
/// # Errors
/// [`RoomsError::Malformed`] if it is not, [`RoomsError::Limit`] if too long.
pub fn check_group_info(bytes: &[u8], room: RoomId, epoch: u64) -> Result<(), RoomsError> {
    if bytes.len() > MAX_MESSAGE_LEN {
        return Err(RoomsError::Limit("room message too long"));
    }
    let message = MlsMessageIn::tls_deserialize_exact(bytes).map_err(|_| RoomsError::Malformed)?;
    let MlsMessageBodyIn::GroupInfo(info) = message.extract() else {
        return Err(RoomsError::Malformed);
    };
    if RoomId::from_group_id(info.group_id()) != Some(room) || info.epoch().as_u64() != epoch {
        return Err(RoomsError::Malformed);
    }
    Ok(())
}

pub(crate) fn forget_in<S: ObserverStorage>(storage: &S, room: RoomId) -> Result<(), RoomsError> {
    load_public(storage, room)?;
    PublicGroup::delete(storage, &room.group_id()).map_err(Into::into)
}

fn load_public<S: ObserverStorage>(storage: &S, room: RoomId) -> Result<PublicGroup, RoomsError> {
    PublicGroup::load(storage, &room.group_id())
        .map_err(Into::into)?
        .ok_or(RoomsError::UnknownRoom)
}
