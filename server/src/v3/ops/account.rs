//! 114 delete account: the authenticated client deletes its own account,
//! naming it again so that a request sent by mistake deletes nothing
//! (PROTOCOL.md "114 delete account"). The removal is the operator's
//! (`crate::removal`); the session closes this connection after the answer.

use protocol::v3::{self, AccountDeleted};
use protocol::{ClientId, ErrorReason, Name};

use crate::names;
use crate::removal::{RemovedBy, remove_account};
use crate::shared::Shared;
use crate::store::{Protocol, name_key};
use crate::v3::reply::{error, store_error};

pub(crate) async fn delete(shared: &Shared, me: ClientId, name: Name) -> v3::Response {
    let Some(record) = shared.store.directory().get(Protocol::V3, &me) else {
        return error(ErrorReason::UnknownClient, "this account no longer exists");
    };
    let own = record.name.as_str();
    if name_key(&names::normalise(name.as_str())) != name_key(own) {
        return error(
            ErrorReason::NameMismatch,
            "that is not this account's name; nothing was deleted",
        );
    }
    match remove_account(shared, own, RemovedBy::Itself).await {
        Ok(Some(removed)) => v3::Response::AccountDeleted(AccountDeleted {
            messages: removed.messages_deleted,
            bytes: removed.bytes_deleted,
            uploads: u32::try_from(removed.uploads_deleted).unwrap_or(u32::MAX),
        }),
        // Removed by the operator, or by another connection, meanwhile.
        Ok(None) => error(ErrorReason::UnknownClient, "this account no longer exists"),
        Err(e) => store_error(&e),
    }
}
