//! The rules every member and the server apply to a staged commit before it
//! is merged.
//!
//! openmls validates a commit as MLS (signatures, tree, confirmation tag);
//! what a commit may do in a room is the application's rule (the book's
//! "App Validation" chapter: inspect the `StagedCommit` before merging). The
//! same function runs in each member's engine and in the server's
//! [`crate::observer::RoomObserver`] over a `PublicGroup`, so a commit the
//! server accepts is one every honest member accepts, and a member does not
//! depend on the server having checked.
//!
//! The rules:
//! - Only members act, but for two things, by external commit (no
//!   invitation), which may change nothing else and add only the joiner,
//!   who must not be banned: a join of a public or hidden room
//!   ([`crate::access`]) by one who is not a member; and in a room of any
//!   rule a resync (RFC 9420 12.4.3.2: a home restored from a backup, which
//!   holds no room's keys, joins again), whose one Remove is of the
//!   joiner's own old leaf. External proposals are refused.
//! - Nobody banned is added.
//! - Adding, removing another member and changing the group context need an
//!   admin (or owner), both as the proposal's sender and as the committer.
//! - A member may always leave: a remove proposal whose sender is the removed
//!   leaf may be committed by any member.
//! - Removing an owner, and any change that makes or unmakes an owner, needs
//!   an owner.
//! - A commit may change only the roles, name and access extensions of the
//!   group context (the name: [`crate::name`]), and a name must stay well
//!   formed.
//! - A leaf keeps its client id across updates; one client id holds at most
//!   one leaf.
//! - Proposal kinds rooms do not use are refused.
//!
//! Pins are not checked here: that is [`check_new_leaves`], which needs the
//! caller's [`Pins`] (a member's contacts, or the server's registrations).

use std::collections::{BTreeMap, BTreeSet};

use openmls::prelude::{
    Extension, Extensions, GroupContext, LeafNodeIndex, Member, Proposal, Sender, StagedCommit,
};

use crate::access::{ACCESS_EXTENSION_TYPE, Access};
use crate::error::{IdentityError, PolicyError};
use crate::identity::{ClientId, Pins, client_id_of, verify_member};
use crate::name::{NAME_EXTENSION_TYPE, RoomName};
use crate::roles::{ROLES_EXTENSION_TYPE, Role, Roles};

/// A room as of the epoch a commit is made on: who holds which leaf, the
/// roles, and the group context extensions.
#[derive(Debug, Clone)]
pub struct RoomView {
    leaves: BTreeMap<LeafNodeIndex, ClientId>,
    roles: Roles,
    name: Option<RoomName>,
    access: Access,
    fixed_extensions: Vec<Extension>,
}

/// A role change a commit makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoleChange {
    /// Whose role changed.
    pub client: ClientId,
    /// The role before the commit ([`Role::Member`] for a new member).
    pub from: Role,
    /// The role after it.
    pub to: Role,
}

/// What an accepted commit does, for the caller to show and to act on.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommitSummary {
    /// The epoch the commit moves the room to.
    pub epoch: u64,
    /// Who made the commit (`None` only for [`RoomView`]-less summaries).
    pub committer: Option<ClientId>,
    /// Members added.
    pub added: Vec<ClientId>,
    /// Members removed by an admin.
    pub removed: Vec<ClientId>,
    /// Members who left (their own remove proposal).
    pub left: Vec<ClientId>,
    /// Role changes among the members after the commit.
    pub role_changes: Vec<RoleChange>,
    /// The room's new name, if the commit renamed it.
    pub renamed: Option<String>,
    /// The room's new access rules, if the commit changed them.
    pub access: Option<Access>,
    /// Ids the commit banned (a banned member is in `removed` too).
    pub banned: Vec<ClientId>,
    /// Ids whose ban the commit lifted.
    pub unbanned: Vec<ClientId>,
    /// The room's new join rule, if the commit changed it.
    pub rule: Option<crate::access::JoinRule>,
    /// The commit is a join without an invitation (an external commit): the
    /// committer is the one member it adds.
    pub external_join: bool,
    /// The external join removes the joiner's own old leaf (a resync): the
    /// joiner was a member already. Set where a commit is checked (the
    /// server, the members), not in the joiner's own summary.
    pub resync: bool,
}

impl RoomView {
    /// Builds the view from a group's members and context extensions.
    ///
    /// # Errors
    /// [`PolicyError::BadCredential`] if a leaf's credential is not ours,
    /// [`PolicyError::BadRoles`] if the roles extension is missing or bad.
    pub fn new(
        members: impl Iterator<Item = Member>,
        extensions: &Extensions<GroupContext>,
    ) -> Result<Self, PolicyError> {
        let mut leaves = BTreeMap::new();
        for m in members {
            let id = client_id_of(&m.credential).map_err(|_| PolicyError::BadCredential)?;
            leaves.insert(m.index, id);
        }
        Ok(Self {
            leaves,
            roles: Roles::from_extensions(extensions)?,
            name: RoomName::from_extensions(extensions)?,
            access: Access::from_extensions(extensions)?,
            fixed_extensions: fixed_extensions(extensions),
        })
    }

    /// The client id at `leaf`, if that leaf is a member.
    pub fn client_at(&self, leaf: LeafNodeIndex) -> Option<ClientId> {
        self.leaves.get(&leaf).copied()
    }

    /// The leaf of `client`, if it is a member.
    pub fn leaf_of(&self, client: &ClientId) -> Option<LeafNodeIndex> {
        self.leaves
            .iter()
            .find(|(_, c)| *c == client)
            .map(|(leaf, _)| *leaf)
    }

    /// The members' client ids in leaf order.
    pub fn clients(&self) -> impl Iterator<Item = ClientId> + '_ {
        self.leaves.values().copied()
    }

    /// The roles table (entries of non-members included).
    pub fn roles(&self) -> &Roles {
        &self.roles
    }

    /// The role of `client` if it is a member.
    pub fn role_of(&self, client: &ClientId) -> Role {
        self.roles.role_of(client)
    }

    /// The room's name, if it has one.
    pub fn name(&self) -> Option<&RoomName> {
        self.name.as_ref()
    }

    /// The room's access rules.
    pub fn access(&self) -> &Access {
        &self.access
    }

    fn member(&self, sender: &Sender) -> Result<(LeafNodeIndex, ClientId, Role), PolicyError> {
        let Sender::Member(leaf) = sender else {
            return Err(PolicyError::ExternalSender);
        };
        let client = self.client_at(*leaf).ok_or(PolicyError::ExternalSender)?;
        Ok((*leaf, client, self.roles.role_of(&client)))
    }
}

/// The group context extensions other than the roles and the name (they may
/// never change).
fn fixed_extensions(extensions: &Extensions<GroupContext>) -> Vec<Extension> {
    extensions
        .iter()
        .filter(|e| {
            !matches!(e, Extension::Unknown(kind, _)
                if *kind == ROLES_EXTENSION_TYPE
                    || *kind == NAME_EXTENSION_TYPE
                    || *kind == ACCESS_EXTENSION_TYPE)
        })
        .cloned()
        .collect()
}

fn require(who: (ClientId, Role), needed: Role, action: &'static str) -> Result<(), PolicyError> {
    if who.1 >= needed {
        Ok(())
    } else {
        Err(PolicyError::NotPermitted {
            actor: who.0,
            role: who.1,
            action,
        })
    }
}

/// Whether `who` may delete the room whose members are `members` (with
/// their roles; PROTOCOL.md "Deleting (145)"): its owner; any admin once
/// no member is the owner (it left); and the only member, whatever its
/// role, so that nobody is left holding a room they can neither leave nor
/// delete. The server checks it by the roles it follows, and every member
/// by its own before believing a deletion notice.
#[must_use]
pub fn may_delete(members: &[crate::RoomMember], who: ClientId) -> bool {
    let Some(me) = members.iter().find(|m| m.client_id == who) else {
        return false;
    };
    me.role == Role::Owner
        || members.len() == 1
        || (me.role >= Role::Admin && !members.iter().any(|m| m.role == Role::Owner))
}

/// Applies the module's rules to `staged`, a commit sent by `sender` on the
/// epoch `before` describes.
///
/// # Errors
/// A [`PolicyError`] naming the first rule the commit breaks.
pub fn check_commit(
    before: &RoomView,
    sender: &Sender,
    staged: &StagedCommit,
) -> Result<CommitSummary, PolicyError> {
    if matches!(sender, Sender::NewMemberCommit) {
        return check_external_join(before, staged);
    }
    let (_, committer, committer_role) = before.member(sender)?;
    let committer = (committer, committer_role);
    let mut summary = CommitSummary {
        epoch: staged.group_context().epoch().as_u64(),
        committer: Some(committer.0),
        ..CommitSummary::default()
    };
    let mut gone: BTreeSet<LeafNodeIndex> = BTreeSet::new();
    let mut context_changed = false;

    for queued in staged.queued_proposals() {
        let (proposer_leaf, proposer, proposer_role) = before.member(queued.sender())?;
        let proposer = (proposer, proposer_role);
        match queued.proposal() {
            Proposal::Add(add) => {
                require(proposer, Role::Admin, "add members")?;
                require(committer, Role::Admin, "add members")?;
                let id = client_id_of(add.key_package().leaf_node().credential())
                    .map_err(|_| PolicyError::BadCredential)?;
                summary.added.push(id);
            }
            Proposal::Remove(remove) => {
                let target_leaf = remove.removed();
                let target = before
                    .client_at(target_leaf)
                    .ok_or(PolicyError::BadCredential)?;
                if target_leaf == proposer_leaf {
                    summary.left.push(target);
                } else {
                    require(proposer, Role::Admin, "remove members")?;
                    require(committer, Role::Admin, "remove members")?;
                    if before.roles.role_of(&target) == Role::Owner {
                        require(proposer, Role::Owner, "remove an owner")?;
                    }
                    summary.removed.push(target);
                }
                gone.insert(target_leaf);
            }
            Proposal::Update(update) => {
                let id = client_id_of(update.leaf_node().credential())
                    .map_err(|_| PolicyError::BadCredential)?;
                if id != proposer.0 {
                    return Err(PolicyError::IdentityChanged);
                }
            }
            Proposal::GroupContextExtensions(_) => {
                require(proposer, Role::Admin, "change the room")?;
                require(committer, Role::Admin, "change the room")?;
                context_changed = true;
            }
            _ => return Err(PolicyError::UnsupportedProposal),
        }
    }

    if let Some(leaf) = staged.update_path_leaf_node() {
        let id = client_id_of(leaf.credential()).map_err(|_| PolicyError::BadCredential)?;
        if id != committer.0 {
            return Err(PolicyError::IdentityChanged);
        }
    }

    // Membership after the commit: one leaf per client id.
    let mut after: BTreeSet<ClientId> = BTreeSet::new();
    for (leaf, client) in &before.leaves {
        if !gone.contains(leaf) {
            after.insert(*client);
        }
    }
    for client in &summary.added {
        if !after.insert(*client) {
            return Err(PolicyError::DuplicateMember(*client));
        }
    }

    let after_extensions = staged.group_context().extensions();
    if fixed_extensions(after_extensions) != before.fixed_extensions {
        return Err(PolicyError::ContextChanged);
    }
    let roles_after = Roles::from_extensions(after_extensions)?;
    let name_after = RoomName::from_extensions(after_extensions)?;
    let access_after = Access::from_extensions(after_extensions)?;
    if let Some(banned) = summary.added.iter().find(|c| access_after.is_banned(c)) {
        return Err(PolicyError::Banned(*banned));
    }
    if access_after != before.access {
        if !context_changed {
            return Err(PolicyError::ContextChanged);
        }
        summary.banned = access_after
            .banned()
            .filter(|c| !before.access.is_banned(c))
            .collect();
        summary.unbanned = before
            .access
            .banned()
            .filter(|c| !access_after.is_banned(c))
            .collect();
        if access_after.rule != before.access.rule {
            summary.rule = Some(access_after.rule);
        }
        summary.access = Some(access_after);
    }
    if name_after != before.name {
        if !context_changed {
            return Err(PolicyError::ContextChanged);
        }
        // A room keeps a name once it has one (the client shows it).
        summary.renamed = Some(name_after.as_ref().ok_or(PolicyError::BadName)?.to_string());
    }
    if !context_changed && roles_after != before.roles {
        // Without a GroupContextExtensions proposal the context cannot change;
        // openmls guarantees it, this keeps the rule local and obvious.
        return Err(PolicyError::ContextChanged);
    }
    let was_member: BTreeSet<ClientId> = before
        .leaves
        .iter()
        .filter(|(leaf, _)| !gone.contains(leaf))
        .map(|(_, c)| *c)
        .collect();
    for client in &after {
        let from = if was_member.contains(client) {
            before.roles.role_of(client)
        } else {
            Role::Member
        };
        let to = roles_after.role_of(client);
        if from != to {
            require(committer, Role::Admin, "change roles")?;
            if from == Role::Owner || to == Role::Owner {
                require(committer, Role::Owner, "make or unmake an owner")?;
            }
            summary.role_changes.push(RoleChange {
                client: *client,
                from,
                to,
            });
        }
    }
    Ok(summary)
}

/// The rules of a join by external commit: only the joiner's external
/// init, a joiner who is not banned, and nothing else changed; either an
/// open room and a joiner who is not a member, or, in any room, a resync:
/// the one Remove is of the joiner's own leaf.
fn check_external_join(
    before: &RoomView,
    staged: &StagedCommit,
) -> Result<CommitSummary, PolicyError> {
    // At most one Remove: of the joiner's own old leaf (checked below).
    let mut resync = None;
    for queued in staged.queued_proposals() {
        match queued.proposal() {
            Proposal::ExternalInit(_) => {}
            Proposal::Remove(r) if resync.is_none() => resync = Some(r.removed()),
            _ => return Err(PolicyError::JoinRefused),
        }
    }
    let leaf = staged
        .update_path_leaf_node()
        .ok_or(PolicyError::JoinRefused)?;
    let joiner = client_id_of(leaf.credential()).map_err(|_| PolicyError::BadCredential)?;
    if before.access.is_banned(&joiner) {
        return Err(PolicyError::Banned(joiner));
    }
    match (before.leaf_of(&joiner), resync) {
        // A newcomer: only an open room admits one without an admin.
        (None, None) if before.access.rule.open() => {}
        (None, None) => return Err(PolicyError::JoinRefused),
        // A member the room lists takes its own place again whatever the
        // rule: it was admitted before, and it keeps its role (roles are
        // kept by client id, which stays).
        (Some(old), Some(removed)) if old == removed => {}
        (Some(_), None) => return Err(PolicyError::DuplicateMember(joiner)),
        // Someone else's leaf: only admins remove members.
        (_, Some(_)) => return Err(PolicyError::JoinRefused),
    }
    let after = staged.group_context().extensions();
    if fixed_extensions(after) != before.fixed_extensions
        || Roles::from_extensions(after)? != before.roles
        || RoomName::from_extensions(after)? != before.name
        || Access::from_extensions(after)? != before.access
    {
        return Err(PolicyError::ContextChanged);
    }
    Ok(CommitSummary {
        epoch: staged.group_context().epoch().as_u64(),
        committer: Some(joiner),
        added: vec![joiner],
        external_join: true,
        resync: resync.is_some(),
        ..CommitSummary::default()
    })
}

/// Checks every leaf a commit brings in or changes (added members, updated
/// leaves, the committer's new path leaf) against `pins`.
///
/// # Errors
/// The first [`IdentityError`] met.
pub fn check_new_leaves(staged: &StagedCommit, pins: &dyn Pins) -> Result<(), IdentityError> {
    for add in staged.add_proposals() {
        let leaf = add.add_proposal().key_package().leaf_node();
        verify_member(leaf.credential(), leaf.signature_key().as_slice(), pins)?;
    }
    for update in staged.update_proposals() {
        let leaf = update.update_proposal().leaf_node();
        verify_member(leaf.credential(), leaf.signature_key().as_slice(), pins)?;
    }
    if let Some(leaf) = staged.update_path_leaf_node() {
        verify_member(leaf.credential(), leaf.signature_key().as_slice(), pins)?;
    }
    Ok(())
}

/// Checks every member of a group against `pins` (after a welcome, or on
/// demand).
///
/// # Errors
/// The first [`IdentityError`] met.
pub fn check_members(
    members: impl Iterator<Item = Member>,
    pins: &dyn Pins,
) -> Result<(), IdentityError> {
    for m in members {
        verify_member(&m.credential, &m.signature_key, pins)?;
    }
    Ok(())
}
