//! The writer's statements for key packages (requests 130 and 131): store a
//! client's stock, and hand each one-time package out exactly once.
//!
//! A claim selects and deletes a package in one statement inside the
//! writer's transaction, and the writer is the only one that changes the
//! table, so two claims never get the same package. The packages were
//! checked (signature, ciphersuite, credential bound to the uploader) before
//! they were queued; here they are only counted and stored.

use bytes::Bytes;
use protocol::ClientId;
use rusqlite::{OptionalExtension, Transaction, params};

use super::batch::{View, atomically};
use crate::error::StoreError;
use crate::store::values::StoreEvent;
use protocol::v3::{ClaimStatus, ClaimedKeyPackage, KeyPackageStock};

/// Most one-time packages one client keeps on the server.
pub(crate) const MAX_STORED_KEY_PACKAGES: u32 = 100;
/// Below this many one-time packages left, the owner is told (1311).
pub(crate) const LOW_KEY_PACKAGES: u32 = 10;

/// Stores `packages` (one-time ones, or the one last-resort package that
/// replaces the previous) and returns the stock.
pub(super) fn upload(
    tx: &Transaction<'_>,
    owner: ClientId,
    last_resort: bool,
    packages: &[Bytes],
) -> Result<KeyPackageStock, StoreError> {
    atomically(tx, || {
        if last_resort && !packages.is_empty() {
            tx.prepare_cached("DELETE FROM key_packages WHERE owner = ?1 AND last_resort = 1")?
                .execute(params![&owner.0[..]])?;
        } else if !last_resort {
            let stock = stock(tx, owner)?;
            if stock.one_time as usize + packages.len() > MAX_STORED_KEY_PACKAGES as usize {
                return Err(StoreError::KeyPackagesFull(MAX_STORED_KEY_PACKAGES));
            }
        }
        let mut insert = tx.prepare_cached(
            "INSERT INTO key_packages (owner, last_resort, package) VALUES (?1, ?2, ?3)",
        )?;
        for package in packages {
            insert.execute(params![&owner.0[..], last_resort, &package[..]])?;
        }
        stock(tx, owner)
    })
}

/// Hands out one package of each client: a one-time one (deleted), else the
/// last-resort one (kept). Owners left with few one-time packages are told.
pub(super) fn claim(
    tx: &Transaction<'_>,
    view: &mut View<'_>,
    clients: &[ClientId],
) -> Result<Vec<ClaimedKeyPackage>, StoreError> {
    let (claimed, low) = atomically(tx, || {
        let mut claimed = Vec::with_capacity(clients.len());
        let mut low = Vec::new();
        for &client in clients {
            let one_time: Option<Vec<u8>> = tx
                .prepare_cached(
                    "DELETE FROM key_packages WHERE id = (
                         SELECT id FROM key_packages WHERE owner = ?1 AND last_resort = 0
                         ORDER BY id LIMIT 1)
                     RETURNING package",
                )?
                .query_row(params![&client.0[..]], |r| r.get(0))
                .optional()?;
            let (status, package) = match one_time {
                Some(p) => (ClaimStatus::OneTime, Bytes::from(p)),
                None => tx
                    .prepare_cached(
                        "SELECT package FROM key_packages WHERE owner = ?1 AND last_resort = 1",
                    )?
                    .query_row(params![&client.0[..]], |r| r.get::<_, Vec<u8>>(0))
                    .optional()?
                    .map_or((ClaimStatus::None, Bytes::new()), |p| {
                        (ClaimStatus::LastResort, Bytes::from(p))
                    }),
            };
            if status != ClaimStatus::None {
                let left = stock(tx, client)?.one_time;
                if left < LOW_KEY_PACKAGES {
                    low.push((client, left));
                }
            }
            claimed.push(ClaimedKeyPackage {
                client,
                status,
                key_package: package,
            });
        }
        Ok((claimed, low))
    })?;
    for (owner, stock) in low {
        view.staged
            .events
            .push(StoreEvent::KeyPackagesLow { owner, stock });
    }
    Ok(claimed)
}

/// A client's stock.
pub(super) fn stock(tx: &Transaction<'_>, owner: ClientId) -> Result<KeyPackageStock, StoreError> {
    let (one_time, last_resort): (i64, i64) = tx
        .prepare_cached(
            "SELECT COALESCE(SUM(last_resort = 0), 0), COALESCE(SUM(last_resort = 1), 0)
             FROM key_packages WHERE owner = ?1",
        )?
        .query_row(params![&owner.0[..]], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(KeyPackageStock {
        one_time: one_time as u32,
        last_resort: last_resort > 0,
    })
}
