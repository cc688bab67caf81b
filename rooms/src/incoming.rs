//! Reading what the room sends: application messages, commits, leave
//! proposals and welcomes; and encrypting our own application messages.
//!
//! Every incoming message goes through openmls's processing (framing,
//! signature, membership tag, decryption, commit validation); then a commit
//! passes [`check_commit`] (roles) and [`check_new_leaves`] (the caller's
//! pins) before it is merged. A refused commit is not merged and the
//! transaction rolls back, so the room stays where it was: the loud case of a
//! server that forwarded what it should have refused.
//!
//! The room's log is totally ordered, so a message for another epoch than
//! ours is never "early" or "late" in normal operation: it is reported as
//! [`RoomsError::StaleEpoch`] before openmls sees it (a commit that lost the
//! race, a replay, or a message that needs the commits before it first).

use openmls::prelude::{
    ContentType, MlsMessageBodyIn, MlsMessageIn, ProcessedMessageContent, ProcessedWelcome,
    Proposal, ProtocolMessage, Sender, WelcomeError, tls_codec::Deserialize as _,
};
use openmls_traits::OpenMlsProvider as _;

use crate::engine::{RoomEngine, RoomId, RoomMember, join_config, load_group};
use crate::error::{PolicyError, RoomsError};
use crate::identity::{ClientId, Pins, client_id_of};
use crate::lapsed;
use crate::policy::{CommitSummary, RoomView, check_commit, check_members, check_new_leaves};

/// The largest application plaintext [`RoomEngine::send`] encrypts (room
/// texts and file offers; files travel as chunked blobs).
pub const MAX_PLAINTEXT_LEN: usize = 64 * 1024;
/// The largest room message [`RoomEngine::process`] parses (a commit adding
/// 100 members to a 1,000-member room stays well below it).
pub const MAX_MESSAGE_LEN: usize = 4 * 1024 * 1024;

/// What an incoming room message was.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Incoming {
    /// An application message from a member.
    Message {
        /// The room.
        room: RoomId,
        /// The sender, as its verified leaf names it.
        sender: ClientId,
        /// The plaintext.
        plaintext: Vec<u8>,
    },
    /// Another member's commit, checked and merged.
    Commit {
        /// The room.
        room: RoomId,
        /// What it did.
        summary: CommitSummary,
        /// True if a pending commit of ours lost the epoch to it and was
        /// discarded: make it again on the new epoch.
        discarded_ours: bool,
        /// True if it removed us.
        removed_us: bool,
    },
    /// Our own commit came back through the log; merged as pending.
    OwnCommit {
        /// The room.
        room: RoomId,
        /// What it did.
        summary: CommitSummary,
    },
    /// A member asked to leave; any member may now commit it
    /// ([`RoomEngine::commit_pending_proposals`]).
    LeaveRequest {
        /// The room.
        room: RoomId,
        /// Who leaves.
        client: ClientId,
    },
}

/// A room we joined from a welcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// The room.
    pub room: RoomId,
    /// The epoch we joined at.
    pub epoch: u64,
    /// Who added us.
    pub inviter: ClientId,
    /// The members and their roles.
    pub members: Vec<RoomMember>,
}

impl RoomEngine {
    /// Encrypts `plaintext` once for the whole room.
    ///
    /// # Errors
    /// [`RoomsError::Limit`] above [`MAX_PLAINTEXT_LEN`];
    /// [`RoomsError::NotMember`]; [`RoomsError::PendingCommit`] while a commit
    /// of ours awaits its answer (its epoch is not settled).
    pub fn send(&self, room: RoomId, plaintext: &[u8]) -> Result<Vec<u8>, RoomsError> {
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(RoomsError::Limit("room message too long"));
        }
        self.store.transact(|provider, _| {
            let mut group = load_group(provider, room)?;
            if !group.is_active() {
                return Err(RoomsError::NotMember);
            }
            if group.pending_commit().is_some() {
                return Err(RoomsError::PendingCommit);
            }
            // Our own leave request blocks every message until a commit
            // takes it (others' requests are committed before we send).
            let own = group.own_leaf_index();
            if group
                .pending_proposals()
                .any(|p| matches!(p.sender(), Sender::Member(leaf) if *leaf == own))
            {
                return Err(RoomsError::Leaving);
            }
            let signer = self.signer(provider)?;
            group
                .create_message(provider, &signer, plaintext)
                .map_err(RoomsError::mls("encryption"))?
                .to_bytes()
                .map_err(RoomsError::mls("message encoding"))
        })
    }

    /// Processes one message from a room's log, in log order.
    ///
    /// # Errors
    /// [`RoomsError::Malformed`], [`RoomsError::UnknownRoom`],
    /// [`RoomsError::NotMember`], [`RoomsError::StaleEpoch`],
    /// [`RoomsError::HiddenHandshake`], [`RoomsError::DecryptFailed`],
    /// [`RoomsError::Policy`], [`RoomsError::Identity`]; MLS errors.
    pub fn process(&self, bytes: &[u8], pins: &dyn Pins) -> Result<Incoming, RoomsError> {
        let message = parse_protocol_message(bytes)?;
        let room = RoomId::from_group_id(message.group_id()).ok_or(RoomsError::UnknownRoom)?;
        self.store
            .transact(|provider, conn| self.process_in(provider, conn, room, message, pins))
    }

    /// [`RoomEngine::process`] inside the caller's transaction.
    pub(crate) fn process_in(
        &self,
        provider: &crate::store::Provider<'_>,
        conn: &rusqlite::Connection,
        room: RoomId,
        message: ProtocolMessage,
        pins: &dyn Pins,
    ) -> Result<Incoming, RoomsError> {
        {
            let mut group = load_group(provider, room)?;
            if !group.is_active() {
                return Err(RoomsError::NotMember);
            }
            let private = matches!(message, ProtocolMessage::PrivateMessage(_));
            if private && message.content_type() != ContentType::Application {
                return Err(RoomsError::HiddenHandshake);
            }
            let (message_epoch, room_epoch) = (message.epoch().as_u64(), group.epoch().as_u64());
            if message_epoch != room_epoch {
                return Err(RoomsError::StaleEpoch {
                    message: message_epoch,
                    room: room_epoch,
                });
            }
            let view = RoomView::new(group.members(), group.extensions())?;
            let processed = group.process_message(provider, message).map_err(|e| {
                if private {
                    RoomsError::DecryptFailed
                } else {
                    RoomsError::mls("message processing")(e)
                }
            })?;
            let sender = processed.sender().clone();
            match processed.into_content() {
                ProcessedMessageContent::ApplicationMessage(app) => {
                    let Sender::Member(leaf) = sender else {
                        return Err(PolicyError::ExternalSender.into());
                    };
                    let sender = view.client_at(leaf).ok_or(PolicyError::ExternalSender)?;
                    Ok(Incoming::Message {
                        room,
                        sender,
                        plaintext: app.into_bytes(),
                    })
                }
                ProcessedMessageContent::StagedCommitMessage(staged) => {
                    let mut summary = check_commit(&view, &sender, &staged)?;
                    check_new_leaves(&staged, pins)?;
                    let discarded_ours = group.pending_commit().is_some();
                    if discarded_ours {
                        group.clear_pending_commit(provider.storage())?;
                    }
                    let removed_us = staged.self_removed();
                    lapsed::before_merge(conn, room, &group, &staged, &view, &mut summary)?;
                    group
                        .merge_staged_commit(provider, *staged)
                        .map_err(RoomsError::mls("merge"))?;
                    Ok(Incoming::Commit {
                        room,
                        summary,
                        discarded_ours,
                        removed_us,
                    })
                }
                ProcessedMessageContent::OwnPendingCommit => {
                    let staged = group.pending_commit().ok_or(RoomsError::NoPendingCommit)?;
                    let mut summary = check_commit(&view, &sender, staged)?;
                    lapsed::before_merge(conn, room, &group, staged, &view, &mut summary)?;
                    group
                        .merge_pending_commit(provider)
                        .map_err(RoomsError::mls("merge of our commit"))?;
                    Ok(Incoming::OwnCommit { room, summary })
                }
                ProcessedMessageContent::ProposalMessage(queued) => {
                    // Rooms use standalone proposals only to leave.
                    let leaving = match (queued.sender(), queued.proposal()) {
                        (Sender::Member(from), Proposal::Remove(r)) if r.removed() == *from => {
                            view.client_at(*from).ok_or(PolicyError::ExternalSender)?
                        }
                        _ => return Err(PolicyError::UnsupportedProposal.into()),
                    };
                    group.store_pending_proposal(provider.storage(), *queued)?;
                    Ok(Incoming::LeaveRequest {
                        room,
                        client: leaving,
                    })
                }
                _ => Err(PolicyError::ExternalSender.into()),
            }
        }
    }

    /// Joins a room from a welcome: every member is checked against `pins`
    /// and the room's roles must be well formed before the group is kept.
    ///
    /// # Errors
    /// [`RoomsError::Malformed`], [`RoomsError::RoomExists`],
    /// [`RoomsError::Identity`], [`RoomsError::Policy`],
    /// [`RoomsError::InvitationKeyLost`] (no key package of ours matches);
    /// other MLS errors.
    pub fn join(&self, welcome: &[u8], pins: &dyn Pins) -> Result<Joined, RoomsError> {
        if welcome.len() > MAX_MESSAGE_LEN {
            return Err(RoomsError::Limit("room message too long"));
        }
        let message =
            MlsMessageIn::tls_deserialize_exact(welcome).map_err(|_| RoomsError::Malformed)?;
        let MlsMessageBodyIn::Welcome(welcome) = message.extract() else {
            return Err(RoomsError::Malformed);
        };
        self.store.transact(|provider, conn| {
            let processed = ProcessedWelcome::new_from_welcome(provider, &join_config(), welcome)
                .map_err(|e| match e {
                WelcomeError::NoMatchingKeyPackage => RoomsError::InvitationKeyLost,
                e => RoomsError::mls("welcome")(e),
            })?;
            let info = processed.unverified_group_info();
            let room = RoomId::from_group_id(info.group_id()).ok_or(RoomsError::UnknownRoom)?;
            if let Ok(mut old) = load_group(provider, room) {
                // Added again after a removal we have not read yet: the old
                // state is of a past epoch and useless. A welcome to an epoch
                // we already hold is a replay.
                if old.epoch().as_u64() >= info.epoch().as_u64() {
                    return Err(RoomsError::RoomExists);
                }
                old.delete(provider.storage())?;
                provider.cache.evict(room);
            }
            let staged = processed
                .into_staged_welcome(provider, None)
                .map_err(RoomsError::mls("welcome"))?;
            let view = RoomView::new(staged.members(), staged.group_context().extensions())?;
            check_members(staged.members(), pins)?;
            let inviter = staged
                .welcome_sender()
                .map_err(RoomsError::mls("welcome sender"))
                .and_then(|leaf| Ok(client_id_of(leaf.credential())?))?;
            let group = staged
                .into_group(provider)
                .map_err(RoomsError::mls("join"))?;
            crate::store::remember_room(conn, room)?;
            Ok(Joined {
                room,
                epoch: group.epoch().as_u64(),
                inviter,
                members: view
                    .clients()
                    .map(|client_id| RoomMember {
                        client_id,
                        role: view.role_of(&client_id),
                    })
                    .collect(),
            })
        })
    }
}

/// Parses a room message (public or private), refusing anything else.
/// What the clear header of a room message says, read without any room
/// state (the server's check of an application message, which it cannot
/// decrypt and need not load the room for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The room.
    pub room: RoomId,
    /// The epoch it was made in.
    pub epoch: u64,
    /// A private message (sealed to the room) rather than a public one.
    pub private: bool,
    /// An application message rather than a handshake (for a private
    /// message, read from its clear header).
    pub application: bool,
}

/// Reads a room message's clear header.
///
/// # Errors
/// [`RoomsError::Malformed`], [`RoomsError::UnknownRoom`] (a group id that
/// is not a room id), [`RoomsError::Limit`].
pub fn peek_header(bytes: &[u8]) -> Result<Header, RoomsError> {
    let message = parse_protocol_message(bytes)?;
    Ok(Header {
        room: RoomId::from_group_id(message.group_id()).ok_or(RoomsError::UnknownRoom)?,
        epoch: message.epoch().as_u64(),
        private: matches!(message, ProtocolMessage::PrivateMessage(_)),
        application: message.content_type() == ContentType::Application,
    })
}

pub(crate) fn parse_protocol_message(bytes: &[u8]) -> Result<ProtocolMessage, RoomsError> {
    if bytes.len() > MAX_MESSAGE_LEN {
        return Err(RoomsError::Limit("room message too long"));
    }
    MlsMessageIn::tls_deserialize_exact(bytes)
        .map_err(|_| RoomsError::Malformed)?
        .try_into_protocol_message()
        .map_err(|_| RoomsError::Malformed)
}
