//! What the quotas count, and the checks against them. Only the writer
//! thread changes these counts (`writer/`), so a check and the change it
//! allows cannot race.
//!
//! An unfinished upload holds a *reservation* from the moment it begins: its
//! size counts against the recipient's inbox (bytes, and one message), the
//! uploader's bytes waiting and the storage total, exactly as the finished
//! file will. Completing turns the reservation into the message without
//! changing any count; cancelling or expiring gives it back. So concurrent
//! uploads can never together promise more than the limits allow. An upload
//! to a room reserves the same but no inbox, and its finished file counts
//! until the file is deleted (with its entry, or unnamed by expiry).

use std::collections::HashMap;

use protocol::ClientId;
use rusqlite::Connection;

use crate::config::Config;
use crate::error::StoreError;

/// The quotas the writer enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most messages waiting for one recipient.
    pub inbox_max_messages: u64,
    /// Most bytes waiting for one recipient.
    pub inbox_max_bytes: u64,
    /// Most bytes one sender may have waiting.
    pub sender_max_bytes: u64,
    /// Most bytes stored in all.
    pub max_storage_bytes: u64,
    /// Most unfinished uploads per client.
    pub max_uploads_per_client: u32,
}

impl Limits {
    /// The quotas of a configuration.
    pub fn from_config(config: &Config) -> Self {
        Self {
            inbox_max_messages: config.inbox_max_messages,
            inbox_max_bytes: config.inbox_max_bytes,
            sender_max_bytes: config.sender_max_bytes,
            max_storage_bytes: config.max_storage_bytes,
            max_uploads_per_client: config.max_uploads_per_client,
        }
    }
}

/// Messages and bytes held for one recipient.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) messages: i64,
    pub(crate) bytes: i64,
}

/// The counts, or a change to them: committed ones in the writer, a batch's
/// changes until it commits.
#[derive(Default, Debug)]
pub(crate) struct Tally {
    /// Per recipient: waiting messages and reservations of uploads to it.
    inbox: HashMap<ClientId, Usage>,
    /// Per sender: bytes of its waiting messages and unfinished uploads.
    sent: HashMap<ClientId, i64>,
    /// Unfinished uploads per uploader.
    uploads: HashMap<ClientId, i64>,
    /// Everything stored, unfinished uploads included.
    total_bytes: i64,
}

impl Tally {
    /// Reads the committed counts from the database at startup.
    pub(crate) fn load(conn: &Connection) -> Result<Self, StoreError> {
        let mut tally = Tally::default();
        let rows = group_sums(
            conn,
            "SELECT recipient, COUNT(*), COALESCE(SUM(size), 0) FROM messages GROUP BY recipient",
        )?;
        for (recipient, count, bytes) in rows {
            tally.add_message(recipient, None, count, bytes);
        }
        for (sender, _, bytes) in group_sums(
            conn,
            "SELECT sender, COUNT(*), COALESCE(SUM(size), 0) FROM messages GROUP BY sender",
        )? {
            *tally.sent.entry(sender).or_default() += bytes;
        }
        for (destination, count, bytes) in group_sums(
            conn,
            "SELECT destination, COUNT(*), COALESCE(SUM(file_size), 0) FROM uploads
             WHERE to_room = 0 GROUP BY destination",
        )? {
            tally.add_inbox(destination, count, bytes);
        }
        for (owner, count, bytes) in group_sums(
            conn,
            "SELECT owner, COUNT(*), COALESCE(SUM(file_size), 0) FROM uploads GROUP BY owner",
        )? {
            *tally.uploads.entry(owner).or_default() += count;
            *tally.sent.entry(owner).or_default() += bytes;
            tally.total_bytes += bytes;
        }
        for (sender, _, bytes) in group_sums(
            conn,
            "SELECT sender, COUNT(*), COALESCE(SUM(length(body)), 0) FROM room_log
             GROUP BY sender",
        )? {
            tally.add_room_entry(sender, bytes);
        }
        for (owner, _, bytes) in group_sums(
            conn,
            "SELECT owner, COUNT(*), COALESCE(SUM(size), 0) FROM room_files GROUP BY owner",
        )? {
            tally.add_room_entry(owner, bytes);
        }
        Ok(tally)
    }

    fn add_inbox(&mut self, id: ClientId, messages: i64, bytes: i64) {
        let e = self.inbox.entry(id).or_default();
        e.messages += messages;
        e.bytes += bytes;
    }

    /// Counts `count` messages of `bytes` for `recipient` (and, if given,
    /// as sent by `sender`); negative values uncount them.
    pub(crate) fn add_message(
        &mut self,
        recipient: ClientId,
        sender: Option<ClientId>,
        count: i64,
        bytes: i64,
    ) {
        self.add_inbox(recipient, count, bytes);
        if let Some(sender) = sender {
            *self.sent.entry(sender).or_default() += bytes;
        }
        self.total_bytes += bytes;
    }

    /// Counts (`sign` 1) or gives back (`sign` -1) an upload's reservation.
    pub(crate) fn reserve_upload(
        &mut self,
        owner: ClientId,
        destination: ClientId,
        size: u64,
        sign: i64,
    ) {
        self.add_message(destination, Some(owner), sign, sign * size as i64);
        *self.uploads.entry(owner).or_default() += sign;
    }

    /// Counts (`sign` 1) or gives back (`sign` -1) the reservation of an
    /// upload to a room: the uploader's bytes and the total, no inbox.
    pub(crate) fn reserve_room_upload(&mut self, owner: ClientId, size: u64, sign: i64) {
        self.add_room_entry(owner, sign * size as i64);
        *self.uploads.entry(owner).or_default() += sign;
    }

    /// Counts (`bytes` > 0) or uncounts a room entry of `sender`: rooms have
    /// no inbox, so only the sender's bytes and the total.
    pub(crate) fn add_room_entry(&mut self, sender: ClientId, bytes: i64) {
        *self.sent.entry(sender).or_default() += bytes;
        self.total_bytes += bytes;
    }

    /// An upload became its message: the reservation stays, as the message.
    pub(crate) fn complete_upload(&mut self, owner: ClientId) {
        *self.uploads.entry(owner).or_default() -= 1;
    }

    /// Adds a committed batch's changes, dropping counts that reached zero.
    pub(crate) fn apply(&mut self, delta: Tally) {
        for (id, d) in delta.inbox {
            let e = self.inbox.entry(id).or_default();
            e.messages += d.messages;
            e.bytes += d.bytes;
            if *e == Usage::default() {
                self.inbox.remove(&id);
            }
        }
        merge(&mut self.sent, delta.sent);
        merge(&mut self.uploads, delta.uploads);
        self.total_bytes += delta.total_bytes;
    }
}

fn merge(into: &mut HashMap<ClientId, i64>, delta: HashMap<ClientId, i64>) {
    for (id, d) in delta {
        let e = into.entry(id).or_default();
        *e += d;
        if *e == 0 {
            into.remove(&id);
        }
    }
}

fn group_sums(conn: &Connection, sql: &str) -> Result<Vec<(ClientId, i64, i64)>, StoreError> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, count, bytes) = row?;
        let id = ClientId(
            id.as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt(format!("client id of {} bytes", id.len())))?,
        );
        out.push((id, count, bytes));
    }
    Ok(out)
}

/// The committed counts seen through a batch's changes so far.
pub(crate) struct Counts<'a> {
    pub(crate) committed: &'a Tally,
    pub(crate) staged: &'a Tally,
}

impl Counts<'_> {
    fn inbox(&self, id: &ClientId) -> Usage {
        let a = self.committed.inbox.get(id).copied().unwrap_or_default();
        let b = self.staged.inbox.get(id).copied().unwrap_or_default();
        Usage {
            messages: a.messages + b.messages,
            bytes: a.bytes + b.bytes,
        }
    }

    fn sent(&self, id: &ClientId) -> i64 {
        self.committed.sent.get(id).copied().unwrap_or(0)
            + self.staged.sent.get(id).copied().unwrap_or(0)
    }

    /// Unfinished uploads of `id`.
    pub(crate) fn uploads(&self, id: &ClientId) -> i64 {
        self.committed.uploads.get(id).copied().unwrap_or(0)
            + self.staged.uploads.get(id).copied().unwrap_or(0)
    }

    fn total(&self) -> i64 {
        self.committed.total_bytes + self.staged.total_bytes
    }

    /// Whether one more message (or upload) of `bytes` from `sender` to
    /// `recipient` fits every quota.
    ///
    /// # Errors
    /// The quota it would break, the recipient's first.
    pub(crate) fn check(
        &self,
        limits: &Limits,
        sender: &ClientId,
        recipient: &ClientId,
        bytes: u64,
    ) -> Result<(), StoreError> {
        let inbox = self.inbox(recipient);
        if inbox.messages as u64 >= limits.inbox_max_messages {
            return Err(StoreError::InboxFull(limits.inbox_max_messages));
        }
        if inbox.bytes as u64 + bytes > limits.inbox_max_bytes {
            return Err(StoreError::InboxBytesFull(limits.inbox_max_bytes));
        }
        self.check_room(limits, sender, bytes)
    }

    /// Whether an entry of `bytes` from `sender` fits its quota and the
    /// server's storage: all a room entry is checked against (rooms have no
    /// inbox), and the last checks of a message.
    ///
    /// # Errors
    /// The quota it would break.
    pub(crate) fn check_room(
        &self,
        limits: &Limits,
        sender: &ClientId,
        bytes: u64,
    ) -> Result<(), StoreError> {
        if self.sent(sender) as u64 + bytes > limits.sender_max_bytes {
            return Err(StoreError::SenderBytesFull(limits.sender_max_bytes));
        }
        if self.total() as u64 + bytes > limits.max_storage_bytes {
            return Err(StoreError::StorageFull(limits.max_storage_bytes));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            inbox_max_messages: 10,
            inbox_max_bytes: 100,
            sender_max_bytes: 150,
            max_storage_bytes: 250,
            max_uploads_per_client: 8,
        }
    }

    #[test]
    fn reservations_count_until_given_back_and_completion_keeps_them() {
        let (a, b, c) = (ClientId([1; 16]), ClientId([2; 16]), ClientId([3; 16]));
        let mut committed = Tally::default();
        let mut staged = Tally::default();
        staged.reserve_upload(a, b, 80, 1);
        let counts = Counts {
            committed: &committed,
            staged: &staged,
        };
        // Bob's inbox is promised 80 of its 100 bytes.
        assert!(matches!(
            counts.check(&limits(), &c, &b, 30),
            Err(StoreError::InboxBytesFull(100))
        ));
        assert!(counts.check(&limits(), &c, &b, 20).is_ok());
        // Alice has 80 of her 150 bytes waiting.
        assert!(matches!(
            counts.check(&limits(), &a, &c, 71),
            Err(StoreError::SenderBytesFull(150))
        ));
        committed.apply(std::mem::take(&mut staged));
        staged.complete_upload(a);
        committed.apply(std::mem::take(&mut staged));
        let counts = Counts {
            committed: &committed,
            staged: &staged,
        };
        assert_eq!(counts.uploads(&a), 0);
        assert_eq!(
            counts.inbox(&b),
            Usage {
                messages: 1,
                bytes: 80
            }
        );
        // Delivered and acknowledged: everything is given back.
        staged.add_message(b, Some(a), -1, -80);
        committed.apply(std::mem::take(&mut staged));
        assert!(committed.inbox.is_empty() && committed.sent.is_empty());
        assert_eq!(committed.total_bytes, 0);
    }

    #[test]
    fn storage_is_checked_after_the_personal_quotas() {
        let mut committed = Tally::default();
        for i in 0..3u8 {
            committed.add_message(ClientId([i; 16]), Some(ClientId([9 + i; 16])), 1, 80);
        }
        let staged = Tally::default();
        let counts = Counts {
            committed: &committed,
            staged: &staged,
        };
        assert!(matches!(
            counts.check(&limits(), &ClientId([20; 16]), &ClientId([21; 16]), 11),
            Err(StoreError::StorageFull(250))
        ));
    }
}
