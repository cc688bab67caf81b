//! Making commits: add, remove, change a role, leave, commit a pending
//! leave, and settling our own commit once the server has answered.
//!
//! A commit is made on the room's current epoch and stays *pending* in the
//! state file until the server answers: accepted (the room's epoch moved to
//! ours: [`RoomEngine::confirm_commit`]) or refused as stale (someone else's
//! commit won the epoch: [`RoomEngine::discard_commit`], process theirs, and
//! make ours again). This is the pattern openmls's book describes under
//! "Discarding commits", and what keeps a room from forking: the server
//! accepts one commit per epoch.
//!
//! Before a commit leaves the engine it passes the same
//! [`check_commit`](crate::policy::check_commit) every member will apply to
//! it, so we never send what the room would refuse. Every commit carries a
//! path (a fresh leaf secret for the committer), so each one also heals the
//! committer's keys.

use openmls::prelude::{
    CommitMessageBundle, Extensions, GroupContext, KeyPackage, MlsGroup, Sender,
};
use openmls_traits::OpenMlsProvider as _;

use crate::MAX_ROOM_MEMBERS;
use crate::access::Access;
use crate::engine::{RoomEngine, RoomId, load_group};
use crate::error::{PolicyError, RoomsError};
use crate::identity::{ClientId, Pins, client_id_of, verify_member};
use crate::keys::parse_key_package;
use crate::name::RoomName;
use crate::policy::{CommitSummary, RoomView, check_commit};
use crate::roles::{Role, Roles};
use crate::store::Provider;

/// Most members added or removed by one commit.
pub const MAX_MEMBERS_PER_COMMIT: usize = 100;

/// A commit to send to the server, with the welcome for new members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The room.
    pub room: RoomId,
    /// The epoch the commit was made on (the server accepts it only while
    /// the room is at this epoch).
    pub epoch: u64,
    /// The commit (an `MlsMessage` carrying a public message).
    pub commit: Vec<u8>,
    /// The welcome for the members it adds, if any (an `MlsMessage`).
    pub welcome: Option<Vec<u8>>,
    /// What the commit does (as every member will see it).
    pub summary: CommitSummary,
}

/// What a commit should do besides the roles change it implies.
enum Change {
    Add(Vec<KeyPackage>),
    Remove(Vec<ClientId>),
    Role(ClientId, Role),
    Rename(RoomName),
    Access(Access),
    Ban(ClientId, bool),
    PendingProposals,
}

impl RoomEngine {
    /// Adds the members whose claimed key packages are given. Each package
    /// is validated and its credential checked against `pins` first.
    ///
    /// # Errors
    /// [`RoomsError::BadKeyPackage`], [`RoomsError::Identity`],
    /// [`RoomsError::AlreadyMember`], [`RoomsError::Policy`] if we are not an
    /// admin, [`RoomsError::PendingCommit`], [`RoomsError::Limit`].
    pub fn add_members(
        &self,
        room: RoomId,
        key_packages: &[Vec<u8>],
        pins: &dyn Pins,
    ) -> Result<Outgoing, RoomsError> {
        if key_packages.is_empty() || key_packages.len() > MAX_MEMBERS_PER_COMMIT {
            return Err(RoomsError::Limit("add 1 to 100 members per commit"));
        }
        let mut packages = Vec::with_capacity(key_packages.len());
        for bytes in key_packages {
            let package = parse_key_package(self.store.crypto(), bytes)?;
            let leaf = package.leaf_node();
            verify_member(leaf.credential(), leaf.signature_key().as_slice(), pins)?;
            packages.push(package);
        }
        self.commit(room, Change::Add(packages))
    }

    /// Removes members (admins only; an owner only by an owner).
    ///
    /// # Errors
    /// [`RoomsError::NoSuchMember`], [`RoomsError::Policy`],
    /// [`RoomsError::PendingCommit`], [`RoomsError::Limit`].
    pub fn remove_members(
        &self,
        room: RoomId,
        clients: &[ClientId],
    ) -> Result<Outgoing, RoomsError> {
        if clients.is_empty() || clients.len() > MAX_MEMBERS_PER_COMMIT {
            return Err(RoomsError::Limit("remove 1 to 100 members per commit"));
        }
        self.commit(room, Change::Remove(clients.to_vec()))
    }

    /// Gives `client` the role `role` (promote or demote).
    ///
    /// # Errors
    /// [`RoomsError::NoSuchMember`], [`RoomsError::Policy`],
    /// [`RoomsError::PendingCommit`].
    pub fn set_role(
        &self,
        room: RoomId,
        client: ClientId,
        role: Role,
    ) -> Result<Outgoing, RoomsError> {
        self.commit(room, Change::Role(client, role))
    }

    /// Renames the room (admins only).
    ///
    /// # Errors
    /// [`RoomsError::Policy`], [`RoomsError::PendingCommit`].
    pub fn rename(&self, room: RoomId, name: &RoomName) -> Result<Outgoing, RoomsError> {
        self.commit(room, Change::Rename(name.clone()))
    }

    /// Changes the room's join rule (admins only); the banned ids stay.
    ///
    /// # Errors
    /// [`RoomsError::Policy`], [`RoomsError::PendingCommit`].
    pub fn set_join_rule(
        &self,
        room: RoomId,
        rule: crate::access::JoinRule,
    ) -> Result<Outgoing, RoomsError> {
        self.commit(room, Change::Access(Access::new(rule)))
    }

    /// Bans `client` (removing it if it is a member) or lifts its ban
    /// (admins only). A banned id is never added again, by an admin or by
    /// joining, while the ban stands.
    ///
    /// # Errors
    /// [`RoomsError::Policy`], [`RoomsError::PendingCommit`].
    pub fn set_banned(
        &self,
        room: RoomId,
        client: ClientId,
        banned: bool,
    ) -> Result<Outgoing, RoomsError> {
        self.commit(room, Change::Ban(client, banned))
    }

    /// Commits the proposals waiting in the room (leave requests). Any member
    /// may do it.
    ///
    /// # Errors
    /// [`RoomsError::PendingCommit`]; MLS errors.
    pub fn commit_pending_proposals(&self, room: RoomId) -> Result<Outgoing, RoomsError> {
        self.commit(room, Change::PendingProposals)
    }

    /// Asks to leave: a remove proposal for our own leaf, which another
    /// member commits (MLS forbids committing one's own removal). Returns
    /// the proposal to send.
    ///
    /// # Errors
    /// [`RoomsError::NotMember`]; MLS errors.
    pub fn leave(&self, room: RoomId) -> Result<Vec<u8>, RoomsError> {
        self.store.transact(|provider, conn| {
            let mut group = load_group(provider, room)?;
            if !group.is_active() {
                return Err(RoomsError::NotMember);
            }
            let signer = self.signer(provider)?;
            let proposal = group
                .leave_group(provider, &signer)
                .map_err(RoomsError::mls("leave"))?
                .to_bytes()
                .map_err(RoomsError::mls("proposal encoding"))?;
            crate::store::note_leaving(conn, room, group.epoch().as_u64())?;
            Ok(proposal)
        })
    }

    /// The rooms we asked to leave (a leave request of ours waits for a
    /// member to commit it, or lapsed and is asked again).
    ///
    /// # Errors
    /// Database errors.
    pub fn asked_to_leave(&self) -> Result<Vec<RoomId>, RoomsError> {
        self.store.transact(|_, conn| {
            Ok(crate::store::leaving(conn)?
                .into_iter()
                .map(|(room, _)| room)
                .collect())
        })
    }

    /// The rooms whose leave request of ours lapsed: a commit that did not
    /// include it moved the room to a later epoch (a proposal lives one
    /// epoch), and we are still a member. Ask to leave again in each.
    /// Rooms we have left are forgotten here.
    ///
    /// # Errors
    /// Database errors.
    pub fn lapsed_leaves(&self) -> Result<Vec<RoomId>, RoomsError> {
        self.store.transact(|provider, conn| {
            let mut lapsed = Vec::new();
            for (room, asked_at) in crate::store::leaving(conn)? {
                match load_group(provider, room) {
                    Ok(group) if group.is_active() => {
                        if group.epoch().as_u64() > asked_at {
                            lapsed.push(room);
                        }
                    }
                    _ => crate::store::forget_leaving(conn, room)?,
                }
            }
            Ok(lapsed)
        })
    }

    /// Our pending commit was accepted by the server: merge it.
    ///
    /// # Errors
    /// [`RoomsError::NoPendingCommit`]; MLS errors.
    pub fn confirm_commit(&self, room: RoomId) -> Result<CommitSummary, RoomsError> {
        self.store.transact(|provider, conn| {
            let mut group = load_group(provider, room)?;
            let mut summary = pending_summary(&group)?;
            if let Some(staged) = group.pending_commit() {
                let view = RoomView::new(group.members(), group.extensions())?;
                crate::lapsed::before_merge(conn, room, &group, staged, &view, &mut summary)?;
            }
            group
                .merge_pending_commit(provider)
                .map_err(RoomsError::mls("merge of our commit"))?;
            Ok(summary)
        })
    }

    /// Our pending commit was refused (stale epoch): forget it. Process the
    /// commit that won, then make ours again.
    ///
    /// # Errors
    /// [`RoomsError::NoPendingCommit`]; database errors.
    pub fn discard_commit(&self, room: RoomId) -> Result<(), RoomsError> {
        self.store.transact(|provider, _| {
            let mut group = load_group(provider, room)?;
            if group.pending_commit().is_none() {
                return Err(RoomsError::NoPendingCommit);
            }
            group.clear_pending_commit(provider.storage())?;
            Ok(())
        })
    }

    fn commit(&self, room: RoomId, change: Change) -> Result<Outgoing, RoomsError> {
        self.store.transact(|provider, _| {
            let mut group = load_group(provider, room)?;
            if !group.is_active() {
                return Err(RoomsError::NotMember);
            }
            if group.pending_commit().is_some() {
                return Err(RoomsError::PendingCommit);
            }
            // A commit would take our own leave request with it, and MLS
            // forbids committing one's own removal: another member commits.
            let own = group.own_leaf_index();
            if group
                .pending_proposals()
                .any(|p| matches!(p.sender(), Sender::Member(leaf) if *leaf == own))
            {
                return Err(RoomsError::Leaving);
            }
            let view = RoomView::new(group.members(), group.extensions())?;
            let me = self.me.client_id;
            let epoch = group.epoch().as_u64();
            let bundle = self.build(provider, &mut group, &view, me, change)?;
            let summary = pending_summary(&group)?;
            let (commit, welcome, _group_info) = bundle.into_messages();
            Ok(Outgoing {
                room,
                epoch,
                commit: commit
                    .to_bytes()
                    .map_err(RoomsError::mls("commit encoding"))?,
                welcome: welcome
                    .map(|w| w.to_bytes())
                    .transpose()
                    .map_err(RoomsError::mls("welcome encoding"))?,
                summary,
            })
        })
    }

    fn build(
        &self,
        provider: &Provider<'_>,
        group: &mut MlsGroup,
        view: &RoomView,
        me: ClientId,
        change: Change,
    ) -> Result<CommitMessageBundle, RoomsError> {
        let my_role = view.role_of(&me);
        let not_permitted = |action| {
            RoomsError::Policy(PolicyError::NotPermitted {
                actor: me,
                role: my_role,
                action,
            })
        };
        // The roles table after the commit: stale entries (non-members, and
        // members about to be removed or re-added) dropped, plus the change.
        let mut staying: Vec<ClientId> = view.clients().collect();
        let mut roles: Roles = view.roles().clone();
        let mut adds = Vec::new();
        let mut removals = Vec::new();
        let mut rename = None;
        let mut access = view.access().clone();
        match change {
            Change::Add(packages) => {
                if !my_role.is_admin() {
                    return Err(not_permitted("add members"));
                }
                if view.clients().count() + packages.len() > MAX_ROOM_MEMBERS {
                    return Err(RoomsError::Limit("the room is full"));
                }
                for p in &packages {
                    let id = client_id_of(p.leaf_node().credential())?;
                    if view.leaf_of(&id).is_some() {
                        return Err(RoomsError::AlreadyMember(id));
                    }
                    roles.set(id, Role::Member);
                }
                adds = packages;
            }
            Change::Remove(clients) => {
                if !my_role.is_admin() {
                    return Err(not_permitted("remove members"));
                }
                for c in clients {
                    let leaf = view.leaf_of(&c).ok_or(RoomsError::NoSuchMember(c))?;
                    staying.retain(|s| *s != c);
                    removals.push(leaf);
                }
            }
            Change::Role(client, role) => {
                if view.leaf_of(&client).is_none() {
                    return Err(RoomsError::NoSuchMember(client));
                }
                roles.set(client, role);
            }
            Change::Rename(name) => {
                if !my_role.is_admin() {
                    return Err(not_permitted("rename the room"));
                }
                rename = (view.name() != Some(&name)).then_some(name);
            }
            Change::Access(new) => {
                if !my_role.is_admin() {
                    return Err(not_permitted("change who may join"));
                }
                // Only the rule: the banned ids are `Change::Ban`'s.
                access.rule = new.rule;
            }
            Change::Ban(client, banned) => {
                if !my_role.is_admin() {
                    return Err(not_permitted("ban or unban"));
                }
                if client == me {
                    return Err(not_permitted("ban themselves"));
                }
                access.set_banned(client, banned)?;
                if banned && let Some(leaf) = view.leaf_of(&client) {
                    staying.retain(|s| *s != client);
                    removals.push(leaf);
                }
            }
            Change::PendingProposals => {}
        }
        // Only an admin may change the roles table (`check_commit`): a
        // plain member committing leave requests leaves it as it is,
        // stale entries and all, or every member would refuse the commit.
        if my_role.is_admin() {
            roles.retain(|c| staying.contains(c));
        }
        let access_changed = &access != view.access();
        let new_extensions = if &roles != view.roles() || rename.is_some() || access_changed {
            let mut ext: Extensions<GroupContext> = group.extensions().clone();
            ext.add_or_replace(roles.to_extension())
                .map_err(RoomsError::mls("roles extension"))?;
            if access_changed {
                ext.add_or_replace(access.to_extension())
                    .map_err(RoomsError::mls("access extension"))?;
            }
            if let Some(name) = rename {
                ext.add_or_replace(name.to_extension())
                    .map_err(RoomsError::mls("name extension"))?;
            }
            Some(ext)
        } else {
            None
        };
        let signer = self.signer(provider)?;
        let mut builder = group
            .commit_builder()
            .force_self_update(true)
            .propose_adds(adds)
            .propose_removals(removals);
        if let Some(ext) = new_extensions {
            builder = builder
                .propose_group_context_extensions(ext)
                .map_err(RoomsError::mls("commit"))?;
        }
        let bundle = builder
            .load_psks(provider.storage())
            .map_err(RoomsError::mls("commit"))?
            .build(provider.rand(), provider.crypto(), &signer, |_| true)
            .map_err(RoomsError::mls("commit"))?
            .stage_commit(provider)
            .map_err(RoomsError::mls("commit"))?;
        // The same rules the room applies; refusing here rolls everything
        // back (the transaction), so nothing refusable is ever sent.
        let staged = group.pending_commit().ok_or(RoomsError::NoPendingCommit)?;
        check_commit(view, &Sender::Member(group.own_leaf_index()), staged)?;
        Ok(bundle)
    }
}

/// The summary of our pending commit, as the room will see it.
fn pending_summary(group: &MlsGroup) -> Result<CommitSummary, RoomsError> {
    let staged = group.pending_commit().ok_or(RoomsError::NoPendingCommit)?;
    let view = RoomView::new(group.members(), group.extensions())?;
    Ok(check_commit(
        &view,
        &Sender::Member(group.own_leaf_index()),
        staged,
    )?)
}
