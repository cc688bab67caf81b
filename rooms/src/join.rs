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
    LeafNodeParameters, MlsGroup, MlsMessageBodyIn, MlsMessageIn, tls_codec::Deserialize as _,
};
use openmls_traits::OpenMlsProvider as _;

use crate::access::Access;
use crate::commits::Outgoing;
use crate::engine::{RoomEngine, RoomId, join_config, load_group};
use crate::error::{PolicyError, RoomsError};
use crate::identity::{Pins, client_id_of};
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
        self.join_from(group_info, pins, false)
    }

    /// Takes our own place again (a resync) in a room we hold but can no
    /// longer follow: the server moved past our epoch and the commits
    /// between are gone from its log (a server restored from an older
    /// backup, or entries past its retention). The state we hold goes, in
    /// the same transaction as the join, and only for a group info of a
    /// later epoch than ours that lists us with our key; otherwise it stays
    /// as it was. A room we do not hold is joined as by
    /// [`Self::join_external`], in our own place too.
    ///
    /// # Errors
    /// As [`Self::join_external`]; [`RoomsError::RoomExists`] if we hold
    /// the room at the group info's epoch or later (nothing to take up
    /// again); [`PolicyError::JoinRefused`] if the room does not list us.
    pub fn rejoin_external(
        &self,
        group_info: &[u8],
        pins: &dyn Pins,
    ) -> Result<Outgoing, RoomsError> {
        self.join_from(group_info, Some(pins), true)
    }

    /// An external join from `group_info`; `rejoin`: in our own place only,
    /// replacing state of an earlier epoch we hold.
    fn join_from(
        &self,
        group_info: &[u8],
        pins: Option<&dyn Pins>,
        rejoin: bool,
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
                if old.is_active() && !(rejoin && old.epoch().as_u64() < epoch) {
                    return Err(RoomsError::RoomExists);
                }
                // Removed (or banned) before, or left behind: that state
                // is of the past.
                let mut old = old;
                old.delete(provider.storage())?;
            }
            // The group made below replaces any copy kept in memory.
            provider.cache.evict(room);
            let me = self.me.client_id;
            let resync = match pins {
                Some(_) => self.takes_own_place(&info)?,
                None => false,
            };
            if rejoin && !resync {
                return Err(PolicyError::JoinRefused.into());
            }
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
                // A newcomer joins only an open room; a member it lists
                // may come back to any.
                if !resync && !access.rule.open() {
                    return Err(PolicyError::JoinRefused.into());
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

    /// Whether the room of `info` (before our commit) lists us, so that our
    /// join takes our own place (a resync), which openmls does only when
    /// that leaf has our signature key. Read from the tree as sent: the
    /// builder verifies it next, and what is checked after it (the room's
    /// rule, the members) is read from the verified group.
    ///
    /// # Errors
    /// [`RoomsError::Malformed`] (no tree), [`RoomsError::LeafKeyLost`]
    /// (listed with a key we do not hold).
    fn takes_own_place(&self, info: &VerifiableGroupInfo) -> Result<bool, RoomsError> {
        let tree = info
            .extensions()
            .ratchet_tree()
            .ok_or(RoomsError::Malformed)?
            .ratchet_tree();
        let me = self.me.client_id;
        let ours = tree
            .leaves()
            .filter(|leaf| client_id_of(leaf.credential()).is_ok_and(|c| c == me))
            .map(|leaf| leaf.signature_key().as_slice() == self.me.signature_key.as_slice())
            .collect::<Vec<_>>();
        match ours.as_slice() {
            [] => Ok(false),
            [true] => Ok(true),
            _ => Err(RoomsError::LeafKeyLost),
        }
    }
}
