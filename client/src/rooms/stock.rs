//! Key packages on the server (PROTOCOL.md "Key packages"): a stock of
//! one-time packages and one last-resort package, so that others can add us
//! to rooms while we are away. Checked after every authentication
//! ([`Client::ensure_key_packages`], from `Client::connection`) and
//! refilled when the server says the stock runs low (1311, while watching),
//! without the user asking.

use bytes::Bytes;
use protocol::ErrorReason;
use protocol::v3::{KeyPackageKind, KeyPackageStock};

use crate::client::Client;
use crate::connection::Connection;
use crate::error::ClientError;

/// Below this many one-time packages the stock is refilled (the server's
/// 1311 threshold).
pub const KEY_PACKAGES_LOW: u32 = 10;
/// How many one-time packages a refill leaves on the server.
pub const KEY_PACKAGES_TARGET: u32 = 30;
/// Claim rounds that drain a restored home's stale stock (another client of
/// ours refilling meanwhile would otherwise keep it going).
const MAX_DRAIN_ROUNDS: usize = 4;

impl Client {
    /// Checks our key packages on the server and refills them: a last-resort
    /// one if missing, and one-time ones up to [`KEY_PACKAGES_TARGET`] when
    /// fewer than [`KEY_PACKAGES_LOW`] are left. Returns the stock after.
    ///
    /// # Errors
    /// The server refused or was lost; the engine's state file failed.
    pub async fn ensure_key_packages(
        &self,
        conn: &Connection,
    ) -> Result<KeyPackageStock, ClientError> {
        let mut stock = conn
            .upload_key_packages(KeyPackageKind::OneTime, Vec::new())
            .await?;
        let stale = self.store(|s| s.key_packages_stale()).await?;
        if stale {
            stock = self.drain_key_packages(conn, stock).await?;
        }
        if !stock.last_resort || stale {
            let engine = self.room_engine().await?;
            let last = engine.run(|e| e.generate_last_resort_key_package()).await?;
            stock = conn
                .upload_key_packages(KeyPackageKind::LastResort, vec![Bytes::from(last.bytes)])
                .await?;
        }
        if stock.one_time < KEY_PACKAGES_LOW {
            let count = (KEY_PACKAGES_TARGET - stock.one_time) as usize;
            let engine = self.room_engine().await?;
            let packages = engine
                .run(move |e| e.generate_key_packages(count))
                .await?
                .into_iter()
                .map(|p| Bytes::from(p.bytes))
                .collect();
            match conn
                .upload_key_packages(KeyPackageKind::OneTime, packages)
                .await
            {
                Ok(s) => stock = s,
                // Another client of ours refilled at the same time.
                Err(e) if e.reason() == Some(ErrorReason::KeyPackagesFull) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if stale {
            self.store(|s| s.set_key_packages_stale(false)).await?;
        }
        Ok(stock)
    }

    /// Claims every one-time key package the server holds for us: made by
    /// the home this one was restored from, they would bring welcomes this
    /// home cannot open (the last-resort one is replaced by an upload).
    async fn drain_key_packages(
        &self,
        conn: &Connection,
        mut stock: KeyPackageStock,
    ) -> Result<KeyPackageStock, ClientError> {
        let me = self.require_me()?.id;
        // Each round claims up to 100; the stock holds at most 100.
        for _ in 0..MAX_DRAIN_ROUNDS {
            if stock.one_time == 0 {
                break;
            }
            let count = stock.one_time.min(100) as usize;
            conn.claim_key_packages(vec![me; count]).await?;
            stock = conn
                .upload_key_packages(KeyPackageKind::OneTime, Vec::new())
                .await?;
        }
        Ok(stock)
    }

    /// [`Client::ensure_key_packages`] on the current connection, as the
    /// answer to a 1311 notice.
    ///
    /// # Errors
    /// See [`Client::ensure_key_packages`].
    pub async fn refill_key_packages(&self) -> Result<KeyPackageStock, ClientError> {
        let conn = self.connection().await?;
        self.ensure_key_packages(&conn).await
    }
}
