//! Removing an account, for the server's operator (`server user remove`)
//! and for the account itself (114 delete account): the store's one
//! transaction, then the account's sessions closed and its files deleted.

use protocol::v3::GoneReason;

use crate::admin::Removed;
use crate::error::StoreError;
use crate::presence::NODE_TIMEOUT;
use crate::shared::Shared;

/// Who removes an account, for the log.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RemovedBy {
    /// The server's operator, through the admin socket.
    Operator,
    /// The account, on one of its own authenticated connections.
    Itself,
}

/// Removes the account named `name` (ignoring ASCII case) with what waits
/// for it and its unfinished uploads, closes its sessions here (the other
/// nodes of a cluster close theirs when they hear of it) and deletes its
/// files; `None` if no account has the name.
///
/// # Errors
/// The store failed; nothing was removed.
pub(crate) async fn remove_account(
    shared: &Shared,
    name: &str,
    by: RemovedBy,
) -> Result<Option<Removed>, StoreError> {
    // Asked before: once removed, the other nodes close its sessions and
    // soon stop telling them.
    let closing_on_nodes = match shared.store.directory().find_any_name(name) {
        Some(record) => {
            shared
                .store
                .nodes_connecting(record.id, NODE_TIMEOUT)
                .await?
        }
        None => Vec::new(),
    };
    let reason = match by {
        RemovedBy::Operator => GoneReason::RemovedByOperator,
        RemovedBy::Itself => GoneReason::DeletedByOwner,
    };
    let Some(removed) = shared.store.remove_account(name, reason).await? else {
        return Ok(None);
    };
    // The directory no longer has the account: close its connections, then
    // delete its files (an upload's part file waits for its chunk in flight).
    let sessions_closed = shared.sessions.close(&removed.id);
    let uploads_deleted = removed.uploads.len() as u64;
    shared.uploads.discard(&removed.uploads).await;
    shared.blobs.delete(removed.blobs).await;
    tracing::info!(
        name,
        by = ?by,
        messages = removed.messages,
        senders_told = removed.notices,
        uploads = uploads_deleted,
        sessions = sessions_closed,
        "account removed"
    );
    Ok(Some(Removed {
        name: name.into(),
        messages_deleted: removed.messages,
        bytes_deleted: removed.bytes,
        uploads_deleted,
        sessions_closed,
        closing_on_nodes,
    }))
}
