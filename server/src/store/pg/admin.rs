//! The operator's account commands on PostgreSQL (`server status`,
//! `server user list|remove`): the same answers as the SQLite side
//! (`store/admin.rs`, `writer/remove.rs`), from the database every node
//! shares.
//!
//! Removing an account is one transaction: its row, the messages waiting
//! for it, the unfinished uploads from or to it, its key packages, room
//! memberships and holds, its room files no entry names, and its `usage`
//! row, with every count given back, and a type-7 notice for each sender
//! of its deleted texts and file offers (`store::not_delivered`). The
//! commit announces the id on the clients channel: every other node drops
//! the account from its directory and closes its sessions there
//! (`listen.rs`).

use std::collections::{HashMap, HashSet};

use protocol::v3::GoneReason;
use protocol::{ClientId, MessageKind};
use tokio_postgres::Transaction;

use super::Pg;
use super::channels::client_id;
use super::messages::add_message;
use super::quota::{self, Usage};
use super::room_acks::{Freed, freed_files};
use super::uploads::{UPLOAD_COLUMNS, row_to_upload};
use crate::error::StoreError;
use crate::store::admin::{Account, Totals};
use crate::store::directory::Protocol;
use crate::store::not_delivered::notices;
use crate::store::values::{MessageBody, RemovedAccount, StoreEvent, now_ms};

impl Pg {
    /// See `Store::totals`.
    pub(crate) async fn totals(&self) -> Result<Totals, StoreError> {
        let row = self
            .conn()
            .await?
            .query_one(
                "SELECT (SELECT COUNT(*) FROM clients),
                        (SELECT COUNT(*) FROM messages),
                        (SELECT COALESCE(SUM(size), 0)::BIGINT FROM messages),
                        (SELECT COUNT(*) FROM uploads),
                        (SELECT COALESCE(SUM(file_size), 0)::BIGINT FROM uploads),
                        (SELECT COALESCE(SUM(durable_offset), 0)::BIGINT FROM uploads)",
                &[],
            )
            .await?;
        let n = |i: usize| row.get::<_, i64>(i) as u64;
        Ok(Totals {
            accounts: n(0),
            messages: n(1),
            message_bytes: n(2),
            uploads: n(3),
            upload_bytes_reserved: n(4),
            upload_bytes_received: n(5),
        })
    }

    /// See `Store::accounts`.
    pub(crate) async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let rows = self
            .conn()
            .await?
            .query(
                "SELECT c.id, c.name, c.protocol, c.registered_at, c.last_seen,
                        COUNT(m.id), COALESCE(SUM(m.size), 0)::BIGINT
                 FROM clients c LEFT JOIN messages m ON m.recipient = c.id
                 GROUP BY c.seq ORDER BY c.seq",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let protocol: i16 = r.get(2);
                Ok(Account {
                    id: client_id(r.get(0))?,
                    name: r.get(1),
                    protocol: u8::try_from(protocol)
                        .ok()
                        .and_then(Protocol::from_code)
                        .ok_or_else(|| {
                            StoreError::Corrupt(format!("account protocol {protocol}"))
                        })?,
                    registered_at_ms: r.get::<_, i64>(3) as u64,
                    last_seen_ms: r.get::<_, i64>(4) as u64,
                    messages: r.get::<_, i64>(5) as u64,
                    bytes: r.get::<_, i64>(6) as u64,
                })
            })
            .collect()
    }

    /// See `Store::remove_account`.
    pub(crate) async fn remove_account(
        &self,
        name_key: &str,
        reason: GoneReason,
    ) -> Result<Option<RemovedAccount>, StoreError> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "DELETE FROM clients WHERE name_key = $1 RETURNING id",
                &[&name_key],
            )
            .await?
        else {
            return Ok(None);
        };
        let id = client_id(row.get(0))?;
        let key = &id.0[..];
        // Lock order as every writer keeps it (`quota.rs`, `room_acks.rs`):
        // the rooms' rows, then upload rows, then usage rows in id order,
        // then storage stripes.
        tx.execute(
            "SELECT 1 FROM rooms WHERE id IN (SELECT room FROM room_members WHERE client = $1)
             ORDER BY id FOR UPDATE",
            &[&key],
        )
        .await?;
        let uploads = tx
            .query(
                &format!(
                    "DELETE FROM uploads WHERE owner = $1 OR (destination = $1 AND NOT to_room)
                     RETURNING {UPLOAD_COLUMNS}"
                ),
                &[&key],
            )
            .await?
            .iter()
            .map(row_to_upload)
            .collect::<Result<Vec<_>, _>>()?;
        let mut clients = vec![id];
        for r in &tx
            .query(
                "SELECT DISTINCT sender FROM messages WHERE recipient = $1",
                &[&key],
            )
            .await?
        {
            clients.push(client_id(r.get(0))?);
        }
        for u in &uploads {
            clients.push(u.owner);
            if !u.to_room {
                clients.push(u.destination);
            }
        }
        // Holding the account's usage row, no send to it commits meanwhile.
        quota::lock(&tx, &clients).await?;
        let rows = tx
            .query(
                "DELETE FROM messages WHERE recipient = $1
                 RETURNING id, size, blob, sender, kind",
                &[&key],
            )
            .await?;
        let mut removed = RemovedAccount {
            id,
            messages: rows.len() as u64,
            bytes: 0,
            blobs: Vec::new(),
            uploads: uploads.iter().map(|u| u.id).collect(),
            notices: 0,
        };
        let mut ids = Vec::with_capacity(rows.len());
        let mut per_sender: HashMap<ClientId, i64> = HashMap::new();
        let mut deleted = Vec::with_capacity(rows.len());
        for r in &rows {
            ids.push(r.get::<_, i64>(0) as u64);
            let size: i64 = r.get(1);
            removed.bytes += size as u64;
            removed.blobs.extend(r.get::<_, Option<String>>(2));
            let sender = client_id(r.get(3))?;
            *per_sender.entry(sender).or_default() += size;
            // A kind this server does not know is not one to tell of.
            if let Ok(kind) = MessageKind::from_code(r.get::<_, i16>(4) as u8) {
                deleted.push((sender, r.get::<_, i64>(0) as u64, kind));
            }
        }
        // A sender whose message committed after the list above is locked
        // now (out of order, but only in that race).
        let late: Vec<ClientId> = per_sender
            .keys()
            .filter(|s| !clients.contains(s))
            .copied()
            .collect();
        if !late.is_empty() {
            quota::lock(&tx, &late).await?;
        }
        let mut senders: Vec<_> = per_sender.into_iter().collect();
        senders.sort_unstable_by_key(|(s, _)| *s);
        for (sender, bytes) in senders {
            let sent = Usage {
                sent_bytes: -bytes,
                ..Usage::default()
            };
            quota::add(&tx, &sender, sent).await?;
        }
        // The senders are locked above (`clients` and `late`), in order.
        let told = self.tell_senders(&tx, id, deleted, reason).await?;
        removed.notices = told.len() as u64;
        let notice_bytes: i64 = told.iter().map(|(_, n)| *n).sum();
        quota::add_storage(&tx, &self.limits, &id, notice_bytes - removed.bytes as i64).await?;
        self.give_back(&tx, &uploads).await?;
        // No one may add the removed account to a room any more; its
        // cursors no longer hold back the deletion of room entries, and its
        // holds end (those entries go at their room's next collection).
        for sql in [
            "DELETE FROM key_packages WHERE owner = $1",
            "DELETE FROM room_members WHERE client = $1",
            "DELETE FROM room_holds WHERE client = $1",
        ] {
            tx.execute(sql, &[&key]).await?;
        }
        // Its room files no message names yet would only wait to expire.
        let files = tx
            .query(
                "DELETE FROM room_files WHERE seq IS NULL AND owner = $1
                 RETURNING owner, size, blob",
                &[&key],
            )
            .await?;
        let mut freed = Freed::new();
        freed_files(&files, &mut freed, &mut removed.blobs)?;
        self.give_back_room_bytes(&tx, id, freed).await?;
        tx.execute("DELETE FROM usage WHERE client = $1", &[&key])
            .await?;
        self.announce_client(&tx, &id).await?;
        tx.commit().await?;
        self.directory.remove(&id);
        if !ids.is_empty() {
            (self.notify)(vec![StoreEvent::Removed { recipient: id, ids }]);
        }
        for (recipient, _) in told {
            self.announce(recipient);
        }
        Ok(Some(removed))
    }

    /// Stores the type-7 notices for the senders of `deleted` (sender, id,
    /// kind), deleted with the account `gone`: version-3 accounts that
    /// still exist only, never held to their inbox limits (the deletion
    /// cannot be refused). The caller holds the senders' usage rows.
    /// Returns each notice's recipient and size.
    async fn tell_senders(
        &self,
        tx: &Transaction<'_>,
        gone: ClientId,
        deleted: Vec<(ClientId, u64, MessageKind)>,
        reason: GoneReason,
    ) -> Result<Vec<(ClientId, i64)>, StoreError> {
        let mut senders: Vec<&[u8]> = deleted.iter().map(|(s, _, _)| &s.0[..]).collect();
        senders.sort_unstable();
        senders.dedup();
        if senders.is_empty() {
            return Ok(Vec::new());
        }
        let mut v3 = HashSet::new();
        for r in &tx
            .query(
                "SELECT id FROM clients WHERE id = ANY($1) AND protocol = $2",
                &[&senders, &i16::from(Protocol::V3.code())],
            )
            .await?
        {
            v3.insert(client_id(r.get(0))?);
        }
        let grouped = notices(deleted, gone, reason, |s| v3.contains(s))?;
        let now = now_ms();
        let mut told = Vec::with_capacity(grouped.len());
        for (recipient, content) in grouped {
            let size = content.len() as i64;
            // Counted as the deleted account's, as its other messages are
            // (its usage row goes with it); the recipient's inbox counts it.
            add_message(tx, &recipient, &gone, 1, size).await?;
            let body = MessageBody::Inline(content);
            self.insert_row(tx, &recipient, &gone, MessageKind::NotDelivered, &body, now)
                .await?;
            told.push((recipient, size));
        }
        Ok(told)
    }
}
