//! Other members' leave requests that lapsed: a commit that did not carry
//! one moved the room on (a proposal lives one epoch). The leaver's own
//! client asks again ([`RoomEngine::lapsed_leaves`]), but a leaver that
//! asked and then deleted its account never will, and its leaf would stay
//! in the room, encrypted to, for good. So every member remembers whose
//! signed request it saw lapse, and an admin's client removes them
//! ([`RoomEngine::lapsed_leavers`]), honouring the request.

use openmls::prelude::{MlsGroup, Proposal, Sender, StagedCommit};
use rusqlite::Connection;

use crate::engine::{RoomEngine, RoomId, load_group};
use crate::error::RoomsError;
use crate::identity::ClientId;
use crate::policy::{CommitSummary, RoomView};
use crate::roles::Role;
use crate::store::{forget_lapsed, forget_lapsed_room, lapsed, lapsed_rooms, note_lapsed};

/// Before `staged` (a commit of `room` about to be merged into `group`):
/// remembers the members whose leave request waits in `group` and is not
/// carried by it, and forgets those it removes, so that a leaver who comes
/// back later is not taken for one. In `summary`, a removal that honours
/// a lapsed request we saw (not a ban) is told as the leaver leaving.
pub(crate) fn before_merge(
    conn: &Connection,
    room: RoomId,
    group: &MlsGroup,
    staged: &StagedCommit,
    view: &RoomView,
    summary: &mut CommitSummary,
) -> Result<(), RoomsError> {
    let carried: Vec<_> = staged
        .remove_proposals()
        .map(|r| r.remove_proposal().removed())
        .collect();
    // Read only when the commit removes someone (most commits do not).
    let asked = if carried.is_empty() {
        Vec::new()
    } else {
        lapsed(conn, room)?
    };
    for leaf in &carried {
        if let Some(client) = view.client_at(*leaf) {
            if asked.contains(&client) && !summary.banned.contains(&client) {
                summary.removed.retain(|c| *c != client);
                if !summary.left.contains(&client) {
                    summary.left.push(client);
                }
            }
            forget_lapsed(conn, room, &client)?;
        }
    }
    let behind: Vec<ClientId> = group
        .pending_proposals()
        .filter_map(|queued| match (queued.sender(), queued.proposal()) {
            (Sender::Member(from), Proposal::Remove(r))
                if r.removed() == *from && !carried.contains(from) =>
            {
                view.client_at(*from)
            }
            _ => None,
        })
        .collect();
    note_lapsed(conn, room, &behind)
}

impl RoomEngine {
    /// The rooms where we saw someone's leave request lapse (cheap: no room
    /// is loaded); [`RoomEngine::lapsed_leavers`] tells whom to remove.
    ///
    /// # Errors
    /// Database errors.
    pub fn rooms_with_lapsed_leaves(&self) -> Result<Vec<RoomId>, RoomsError> {
        self.store.transact(|_, conn| lapsed_rooms(conn))
    }

    /// The members of `room` whose leave request we saw lapse and whom we
    /// may remove (we are an admin; an owner only if we are one): commit
    /// their removal with [`RoomEngine::remove_members`]. Those no longer
    /// members are forgotten here, and all of them once we are out of the
    /// room; empty if we may remove no one.
    ///
    /// # Errors
    /// [`RoomsError::UnknownRoom`]; database errors.
    pub fn lapsed_leavers(&self, room: RoomId) -> Result<Vec<ClientId>, RoomsError> {
        self.store.transact(|provider, conn| {
            let group = match load_group(provider, room) {
                Ok(group) if group.is_active() => group,
                // Not ours to act on any more: removed, or the room is gone.
                Ok(_) | Err(RoomsError::UnknownRoom) => {
                    forget_lapsed_room(conn, room)?;
                    return Ok(Vec::new());
                }
                Err(e) => return Err(e),
            };
            let view = RoomView::new(group.members(), group.extensions())?;
            let mine = view.role_of(&self.me.client_id);
            let mut removable = Vec::new();
            for client in lapsed(conn, room)? {
                if view.leaf_of(&client).is_none() || client == self.me.client_id {
                    forget_lapsed(conn, room, &client)?;
                    continue;
                }
                let theirs = view.role_of(&client);
                if mine.is_admin() && (theirs != Role::Owner || mine == Role::Owner) {
                    removable.push(client);
                }
            }
            Ok(removable)
        })
    }
}
