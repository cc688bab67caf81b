//! Joining a room without an invitation: an MLS external commit (RFC 9420,
//! 12.4.3.2) made with openmls's external commit builder from the room's
//! `GroupInfo`, which the server keeps and members refresh after each
//! commit ([`RoomEngine::group_info`]).
//!
//! Public and hidden rooms accept it from anyone not banned, and a room of
//! any rule from a member it still lists, in place of that member's own
//! leaf (a resync: a home restored from a backup, whose state file lost
//! the room; [`crate::access`], [`crate::policy`]). openmls adds the Remove
//! of that leaf only when it has our signature key, so a backup must keep
//! it ([`crate::engine::LeafKey`]): openmls 0.9 offers no way to name
//! another leaf to remove in an external commit. The joiner checks all
//! this before sending, checks every member against its pins as
//! after a welcome, and the server and every member check the commit again
//! ([`crate::policy`]). openmls merges the joiner's own commit at once: the
//! joiner has no log to read before it. If the server refuses the commit,
//! the caller forgets the room ([`RoomEngine::forget_room`]).

use openmls::messages::group_info::VerifiableGroupInfo;
use openmls::prelude::{
    LeafNodeParameters, MlsGroup, MlsMessageBodyIn, MlsMessageIn, ProposalStore, PublicGroup,
    tls_codec::Deserialize as _,
};
use openmls_memory_storage::MemoryStorage;
use openmls_traits::OpenMlsProvider as _;

use crate::access::Access;
use crate::commits::Outgoing;
use crate::engine::{RoomEngine, RoomId, join_config, load_group};
use crate::error::{PolicyError, RoomsError};
use crate::identity::Pins;
use crate::incoming::MAX_MESSAGE_LEN;
use crate::policy::{CommitSummary, RoomView, check_members};
use crate::store::Provider;

impl RoomEngine {
    /// Joins the room whose `GroupInfo` (an `MlsMessage` with the ratchet
    /// tree) is `group_info`: returns the external commit to send (133 at
    /// the epoch of the group info). The room is kept as joined; forget it
    /// if the server refuses the commit.
    ///
    /// # Errors
    /// [`RoomsError::Malformed`], [`RoomsError::RoomExists`] if we hold the
    /// room, [`RoomsError::Policy`] (an invite-only room, a ban),
    /// [`RoomsError::Identity`] (a member's key is not the pinned one); MLS
    /// errors.
    pub fn join_external(
        &self,
        group_info: &[u8],
        pins: &dyn Pins,
    ) -> Result<Outgoing, RoomsError> {
        self.external_join(group_info, Some(pins))
    }

    /// [`Self::join_external`]; without `pins`, nothing is checked before
    /// the commit is made (what a modified client sends: tests only).
    pub(crate) fn external_join(
        &self,
        group_info: &[u8],
        pins: Option<&dyn Pins>,
    ) -> Result<Outgoing, RoomsError> {
        if group_info.len() > MAX_MESSAGE_LEN {
            return Err(RoomsError::Limit("room message too long"));
        }
        let message =
            MlsMessageIn::tls_deserialize_exact(group_info).map_err(|_| RoomsError::Malformed)?;
        let MlsMessageBodyIn::GroupInfo(info) = message.extract() else {
            return Err(RoomsError::Malformed);
        };
        let room = RoomId::from_group_id(info.group_id()).ok_or(RoomsError::Malformed)?;
        let epoch = info.epoch().as_u64();
        self.store.transact(|provider, conn| {
            if let Ok(old) = load_group(provider, room) {
                if old.is_active() {
                    return Err(RoomsError::RoomExists);
                }
                // Removed (or banned) before: that state is of the past.
                let mut old = old;
                old.delete(provider.storage())?;
            }
            // The group made below replaces any copy kept in memory.
            provider.cache.evict(room);
            let me = self.me.client_id;
            let resync = match pins {
                Some(_) => self.may_join(provider, &info)?,
                None => false,
            };
            let signer = self.signer(provider)?;
            let (group, bundle) = MlsGroup::external_commit_builder()
                .with_config(join_config())
                .build_group(provider, info, self.credential_with_key()?)
                .map_err(RoomsError::mls("external join"))?
                .leaf_node_parameters(
                    LeafNodeParameters::builder()
                        .with_capabilities(crate::keys::leaf_capabilities())
                        .build(),
                )
                .load_psks(provider.storage())
                .map_err(RoomsError::mls("external join"))?
                .build(provider.rand(), provider.crypto(), &signer, |_| true)
                .map_err(RoomsError::mls("external join"))?
                .finalize(provider)
                .map_err(RoomsError::mls("external join"))?;
            // The room as we now hold it (our commit merged): the rules
            // every member will apply, checked here before anything leaves.
            if let Some(pins) = pins {
                let access = Access::from_extensions(group.extensions())?;
                if access.is_banned(&me) {
                    return Err(PolicyError::Banned(me).into());
                }
                // The roles and the name must parse, as for every room we hold.
                RoomView::new(group.members(), group.extensions())?;
                check_members(group.members(), pins)?;
            }
            crate::store::remember_room(conn, room)?;
            let (commit, _, _) = bundle.into_messages();
            Ok(Outgoing {
                room,
                epoch,
                commit: commit
                    .to_bytes()
                    .map_err(RoomsError::mls("commit encoding"))?,
                welcome: None,
                summary: CommitSummary {
                    epoch: group.epoch().as_u64(),
                    committer: Some(me),
                    added: vec![me],
                    external_join: true,
                    resync,
                    ..CommitSummary::default()
                },
            })
        })
    }

    /// Whether the room of `info` (before our commit) takes us: in an open
    /// room anyone not banned joins; in any room a member it lists joins
    /// again in place of its own leaf (a resync: true), which openmls
    /// removes only when the leaf has our signature key.
    ///
    /// # Errors
    /// [`PolicyError::JoinRefused`] (invite-only, not listed),
    /// [`RoomsError::LeafKeyLost`] (listed with a key we do not hold).
    fn may_join(
        &self,
        provider: &Provider<'_>,
        info: &VerifiableGroupInfo,
    ) -> Result<bool, RoomsError> {
        let tree = info
            .extensions()
            .ratchet_tree()
            .ok_or(RoomsError::Malformed)?
            .ratchet_tree()
            .clone();
        let (group, _) = PublicGroup::from_external(
            provider.crypto(),
            &MemoryStorage::default(),
            tree,
            info.clone(),
            ProposalStore::new(),
        )
        .map_err(RoomsError::mls("external join"))?;
        let view = RoomView::new(group.members(), group.group_context().extensions())?;
        let me = self.me.client_id;
        let Some(leaf) = view.leaf_of(&me) else {
            if !view.access().rule.open() {
                return Err(PolicyError::JoinRefused.into());
            }
            return Ok(false);
        };
        let ours = group
            .members()
            .any(|m| m.index == leaf && m.signature_key == self.me.signature_key);
        if ours {
            Ok(true)
        } else {
            Err(RoomsError::LeafKeyLost)
        }
    }
}
