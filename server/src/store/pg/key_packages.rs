//! Key packages on PostgreSQL (requests 130 and 131): store a client's
//! stock, and hand each one-time package out exactly once, whichever node
//! claims it. The same answers as the SQLite writer's
//! (`writer/key_packages.rs`).
//!
//! A claim deletes the package it hands out (`DELETE ... RETURNING`), so
//! two claims never both get it; the row is picked `FOR UPDATE SKIP
//! LOCKED`, so a claim racing another one takes the next package instead of
//! finding the first one gone and falling back to the last-resort package.
//! An upload holds its owner's `usage` row, so two uploads of one client
//! cannot both pass the stock limit.

use bytes::Bytes;
use protocol::ClientId;
use protocol::v3::{ClaimStatus, ClaimedKeyPackage, KeyPackageStock};
use tokio_postgres::Transaction;

use super::Pg;
use super::channels::KEY_PACKAGES_CHANNEL;
use super::quota;
use crate::error::StoreError;
use crate::store::values::StoreEvent;
use crate::store::writer::{LOW_KEY_PACKAGES, MAX_STORED_KEY_PACKAGES};

impl Pg {
    /// See `Store::upload_key_packages`.
    pub(crate) async fn upload_key_packages(
        &self,
        owner: ClientId,
        last_resort: bool,
        packages: Vec<Bytes>,
    ) -> Result<KeyPackageStock, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        quota::lock(&tx, &[owner]).await?;
        if last_resort && !packages.is_empty() {
            tx.execute(
                "DELETE FROM key_packages WHERE owner = $1 AND last_resort",
                &[&&owner.0[..]],
            )
            .await?;
        } else if !last_resort {
            let stock = stock(&tx, owner).await?;
            if stock.one_time as usize + packages.len() > MAX_STORED_KEY_PACKAGES as usize {
                return Err(StoreError::KeyPackagesFull(MAX_STORED_KEY_PACKAGES));
            }
        }
        let insert = tx
            .prepare("INSERT INTO key_packages (owner, last_resort, package) VALUES ($1, $2, $3)")
            .await?;
        for package in &packages {
            tx.execute(&insert, &[&&owner.0[..], &last_resort, &&package[..]])
                .await?;
        }
        let stock = stock(&tx, owner).await?;
        tx.commit().await?;
        Ok(stock)
    }

    /// See `Store::claim_key_packages`.
    pub(crate) async fn claim_key_packages(
        &self,
        clients: Vec<ClientId>,
    ) -> Result<Vec<ClaimedKeyPackage>, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let mut claimed = Vec::with_capacity(clients.len());
        let mut low = Vec::new();
        for client in clients {
            let one_time: Option<Vec<u8>> = tx
                .query_opt(
                    "DELETE FROM key_packages WHERE id = (
                         SELECT id FROM key_packages WHERE owner = $1 AND NOT last_resort
                         ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
                     RETURNING package",
                    &[&&client.0[..]],
                )
                .await?
                .map(|r| r.get(0));
            let (status, package) = match one_time {
                Some(p) => (ClaimStatus::OneTime, Bytes::from(p)),
                None => tx
                    .query_opt(
                        "SELECT package FROM key_packages WHERE owner = $1 AND last_resort",
                        &[&&client.0[..]],
                    )
                    .await?
                    .map_or((ClaimStatus::None, Bytes::new()), |r| {
                        (ClaimStatus::LastResort, Bytes::from(r.get::<_, Vec<u8>>(0)))
                    }),
            };
            if status != ClaimStatus::None {
                let left = stock(&tx, client).await?.one_time;
                if left < LOW_KEY_PACKAGES {
                    // The owner's sessions on other nodes are told too.
                    tx.execute(
                        "SELECT pg_notify($1, $2)",
                        &[&KEY_PACKAGES_CHANNEL, &self.payload(&client)],
                    )
                    .await?;
                    low.push(StoreEvent::KeyPackagesLow {
                        owner: client,
                        stock: left,
                    });
                }
            }
            claimed.push(ClaimedKeyPackage {
                client,
                status,
                key_package: package,
            });
        }
        tx.commit().await?;
        if !low.is_empty() {
            (self.notify)(low);
        }
        Ok(claimed)
    }
}

/// A client's stock.
async fn stock(tx: &Transaction<'_>, owner: ClientId) -> Result<KeyPackageStock, StoreError> {
    let row = tx
        .query_one(
            "SELECT COUNT(*) FILTER (WHERE NOT last_resort),
                    COUNT(*) FILTER (WHERE last_resort)
             FROM key_packages WHERE owner = $1",
            &[&&owner.0[..]],
        )
        .await?;
    let (one_time, last_resort): (i64, i64) = (row.get(0), row.get(1));
    Ok(KeyPackageStock {
        one_time: one_time as u32,
        last_resort: last_resort > 0,
    })
}
