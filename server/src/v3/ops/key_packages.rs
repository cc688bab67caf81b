//! Key packages (130, 131): a client stores its stock of MLS key packages,
//! and anyone adding it to a room claims one. Each package is checked before
//! it is stored (signature, ciphersuite, and a credential that binds the
//! uploader's client id and registered identity key), off the async
//! workers; handing each out once is the store's.

use protocol::v3::{self, KeyPackageKind, KeyPackagesUpload};
use protocol::{ClientId, ErrorReason};

use crate::shared::Shared;
use crate::store::Protocol;
use crate::v3::reply::{error, store_error};

/// Answers 130: checks and stores the packages, returns the stock.
pub(crate) async fn upload(shared: &Shared, me: ClientId, u: KeyPackagesUpload) -> v3::Response {
    let last_resort = u.kind == KeyPackageKind::LastResort;
    if last_resort && u.packages.len() > 1 {
        return error(
            ErrorReason::BadKeyPackage,
            "one last-resort key package at a time",
        );
    }
    let Some(record) = shared.store.directory().get(Protocol::V3, &me) else {
        return error(ErrorReason::UnknownClient, "unknown client");
    };
    let identity_key =
        protocol::bundle::KeyBundle::from_public_key(&record.public_key).identity_key;
    let packages = u.packages.clone();
    let checked = tokio::task::spawn_blocking(move || {
        packages.iter().enumerate().try_for_each(|(i, p)| {
            match sealpost_rooms::check_upload(p, sealpost_rooms::ClientId(me.0), identity_key) {
                Ok(is_last_resort) if is_last_resort == last_resort => Ok(()),
                Ok(_) => Err(format!(
                    "key package {i} is {}a last-resort package",
                    if last_resort { "not " } else { "" }
                )),
                Err(e) => Err(format!("key package {i}: {e}")),
            }
        })
    })
    .await;
    match checked {
        Ok(Ok(())) => {}
        Ok(Err(text)) => return error(ErrorReason::BadKeyPackage, text),
        Err(_) => return error(ErrorReason::Internal, "the key package check failed"),
    }
    match shared
        .store
        .upload_key_packages(me, last_resort, u.packages)
        .await
    {
        Ok(stock) => v3::Response::KeyPackageStock(stock),
        Err(e) => store_error(&e),
    }
}

/// Answers 131: one package of each client.
pub(crate) async fn claim(shared: &Shared, me: ClientId, clients: Vec<ClientId>) -> v3::Response {
    match shared.store.claim_key_packages(me, clients).await {
        Ok(claimed) => v3::Response::KeyPackages(claimed),
        Err(e) => store_error(&e),
    }
}
