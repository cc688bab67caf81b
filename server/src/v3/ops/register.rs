//! Register (100): a new client with a checked name and key bundle. Allowed
//! before authentication (it is how a client comes to exist).

use std::net::SocketAddr;

use protocol::ErrorReason;
use protocol::v3;

use crate::bundle::verify_bundle;
use crate::error::StoreError;
use crate::names;
use crate::shared::Shared;
use crate::store::Protocol;
use crate::v3::reply::{error, store_error};

/// Checks the bundle and the name, then records the client.
pub(crate) async fn register(shared: &Shared, peer: SocketAddr, r: v3::Register) -> v3::Response {
    if let Err(why) = verify_bundle(&r.public_key) {
        return error(ErrorReason::BadKeyBundle, why);
    }
    let checked = match names::check(&r.name) {
        Ok(c) => c,
        Err(why) => return error(ErrorReason::BadName, why.to_string()),
    };
    match shared
        .store
        .register(
            checked.name,
            r.public_key,
            Protocol::V3,
            Some(checked.skeleton),
        )
        .await
    {
        Ok(record) => {
            tracing::info!(%peer, client = %record.id, "registered");
            v3::Response::Registered(record.id)
        }
        Err(StoreError::NameTaken) => error(
            ErrorReason::NameTaken,
            "that name is taken (names ignore ASCII case)",
        ),
        Err(e) => store_error(&e),
    }
}
