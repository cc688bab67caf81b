//! What the operator's channel (`crate::admin`) asks of the store: totals
//! for `server status`, the accounts for `server user list`, and removing
//! an account. On SQLite reads go through the read pool, the removal
//! through the writer, like every other caller's; on PostgreSQL they are
//! the engine's (`pg/admin.rs`).

use protocol::ClientId;
use protocol::v3::GoneReason;

use super::directory::{Protocol, name_key};
use super::handle::Store;
use super::values::RemovedAccount;
use super::writer::WriteOp;
use crate::error::StoreError;

/// What the database holds, in all.
#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    /// Registered accounts.
    pub accounts: u64,
    /// Messages waiting (files included).
    pub messages: u64,
    /// Their bytes.
    pub message_bytes: u64,
    /// Unfinished uploads.
    pub uploads: u64,
    /// Bytes they will take when finished (reserved against the quotas).
    pub upload_bytes_reserved: u64,
    /// Bytes of them received durably so far.
    pub upload_bytes_received: u64,
}

impl Totals {
    /// Bytes counted against `--max-storage`: messages and the reservations
    /// of unfinished uploads (as the writer counts them).
    pub fn storage_used(&self) -> u64 {
        self.message_bytes + self.upload_bytes_reserved
    }
}

/// One account, for the operator.
#[derive(Debug, Clone)]
pub struct Account {
    /// Its id.
    pub id: ClientId,
    /// Its name.
    pub name: String,
    /// The protocol version it registered through.
    pub protocol: Protocol,
    /// When it registered and was last active (ms since the epoch).
    pub registered_at_ms: u64,
    /// When it was last active (ms since the epoch).
    pub last_seen_ms: u64,
    /// Messages waiting for it, and their bytes.
    pub messages: u64,
    /// Bytes waiting for it.
    pub bytes: u64,
}

impl Store {
    /// The totals of waiting messages and unfinished uploads.
    ///
    /// # Errors
    /// The database failed.
    pub async fn totals(&self) -> Result<Totals, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.totals().await;
        }
        self.read(|conn| {
            let (accounts, messages, message_bytes) = conn.query_row(
                "SELECT (SELECT COUNT(*) FROM clients), COUNT(*), COALESCE(SUM(size), 0)
                 FROM messages",
                [],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )?;
            let (uploads, reserved, received) = conn.query_row(
                "SELECT COUNT(*), COALESCE(SUM(file_size), 0), COALESCE(SUM(durable_offset), 0)
                 FROM uploads",
                [],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )?;
            Ok(Totals {
                accounts: accounts as u64,
                messages: messages as u64,
                message_bytes: message_bytes as u64,
                uploads: uploads as u64,
                upload_bytes_reserved: reserved as u64,
                upload_bytes_received: received as u64,
            })
        })
        .await
    }

    /// Every account, in registration order, with what waits for it.
    ///
    /// # Errors
    /// The database failed.
    pub async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        if let Some(pg) = self.pg() {
            return pg.accounts().await;
        }
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT c.id, c.name, c.protocol, c.registered_at, c.last_seen,
                        (SELECT COUNT(*) FROM messages m WHERE m.recipient = c.id),
                        (SELECT COALESCE(SUM(size), 0) FROM messages m WHERE m.recipient = c.id)
                 FROM clients c ORDER BY c.seq",
            )?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                let id: Vec<u8> = r.get(0)?;
                let protocol: u8 = r.get(2)?;
                out.push(Account {
                    id: ClientId(id.as_slice().try_into().map_err(|_| {
                        StoreError::Corrupt(format!("client id of {} bytes", id.len()))
                    })?),
                    name: r.get(1)?,
                    protocol: Protocol::from_code(protocol).ok_or_else(|| {
                        StoreError::Corrupt(format!("account protocol {protocol}"))
                    })?,
                    registered_at_ms: r.get::<_, i64>(3)? as u64,
                    last_seen_ms: r.get::<_, i64>(4)? as u64,
                    messages: r.get::<_, i64>(5)? as u64,
                    bytes: r.get::<_, i64>(6)? as u64,
                });
            }
            Ok(out)
        })
        .await
    }

    /// Free bytes on the data folder's disk and the reserve kept there, once
    /// the server set one.
    pub fn disk(&self) -> Option<(u64, u64)> {
        self.inner.headroom.get().map(|h| (h.free(), h.reserve()))
    }

    /// Removes the account named `name` (ignoring ASCII case) with what
    /// waits for it and its unfinished uploads, telling the senders of its
    /// deleted texts and file offers why (type 7, PROTOCOL.md "Type 7: not
    /// delivered"); `None` if no account has the name. The caller deletes
    /// the returned files.
    ///
    /// # Errors
    /// The database failed.
    pub async fn remove_account(
        &self,
        name: &str,
        reason: GoneReason,
    ) -> Result<Option<RemovedAccount>, StoreError> {
        let name_key = name_key(name);
        if let Some(pg) = self.pg() {
            return pg.remove_account(&name_key, reason).await;
        }
        self.write(|reply| WriteOp::RemoveAccount {
            name_key,
            reason,
            reply,
        })
        .await
    }
}
