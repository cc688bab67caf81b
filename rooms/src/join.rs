//! Joining a room without an invitation: an MLS external commit (RFC 9420,
//! 12.4.3.2) made with openmls's external commit builder from the room's
//! `GroupInfo`, which the server keeps and members refresh after each
//! commit ([`RoomEngine::group_info`]).
//!
//! Only public and hidden rooms accept it ([`crate::access`]); the joiner
//! checks that before sending, checks every member against its pins as
//! after a welcome, and the server and every member check the commit again
//! ([`crate::policy`]). openmls merges the joiner's own commit at once: the
//! joiner has no log to read before it. If the server refuses the commit,
//! the caller forgets the room ([`RoomEngine::forget_room`]).

use openmls::prelude::{
    LeafNodeParameters, MlsGroup, MlsMessageBodyIn, MlsMessageIn, tls_codec::Deserialize as _,
};
use openmls_traits::OpenMlsProvider as _;

use crate::access::Access;
use crate::commits::Outgoing;
use crate::engine::{RoomEngine, RoomId, join_config, load_group};
use crate::error::{PolicyError, RoomsError};
use crate::identity::Pins;
use crate::incoming::MAX_MESSAGE_LEN;
use crate::policy::{CommitSummary, RoomView, check_members};

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
            let me = self.me.client_id;
            if let Some(pins) = pins {
                let access = Access::from_extensions(group.extensions())?;
                if !access.rule.open() {
                    return Err(PolicyError::JoinRefused.into());
                }
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
                    ..CommitSummary::default()
                },
            })
        })
    }
}
