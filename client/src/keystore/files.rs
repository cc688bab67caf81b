//! What the store keeps about files: contacts (whose files download
//! without asking), file offers held for the user's decision, downloads
//! interrupted part-way, and how much of an upload's file was read.
//!
//! - **Contacts** are peers the user chose to deal with: sent something to,
//!   or looked up or verified on purpose. A peer who only sent us something
//!   is pinned but is not a contact.
//! - **Held files**: an offer from a stranger, or over the size limit, is
//!   authenticated and its counter used at once, and its metadata (name,
//!   size, file key) kept here; the file itself stays on the server,
//!   unacknowledged, until the user accepts or declines it.
//! - **Partial downloads**: the plaintext length of a `.partial-<id>` file
//!   that is on disk and whole (every chunk authenticated before it was
//!   written), and a digest of the file key it belongs to, so that a resume
//!   never appends one file's chunks to another's.
//! - **Upload prefixes**: SHA-256 of the plaintext an upload has read so
//!   far, so that a resume goes on only with the same content.
//!
//! Left out: the transfers themselves and any decision.

use std::time::Duration;

use protocol::{ClientId, UploadId};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};

use super::held::{HeldEnd, end_held, record_held};
use super::history::{Body, Conversation, Direction, NewEntry, Status};
use super::schema::{blob_array, from_sql_u64, now_ms, secret_array, to_sql_u64};
use super::sessions::record_received;
use super::{KeyStore, KeyStoreError};
use crate::crypto::file::NONCE_PREFIX_LEN;
use crate::crypto::{FileSecret, KEY_LEN, SessionId};

/// Why a file offer waits for the user instead of downloading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    /// The sender is not a contact.
    Stranger,
    /// The file is larger than the automatic download limit.
    TooLarge,
    /// The user stopped its automatic download
    /// ([`crate::Client::cancel_downloads`]); what arrived is kept as a
    /// partial download, which accepting resumes.
    Cancelled,
}

impl HoldReason {
    fn code(self) -> i64 {
        match self {
            Self::Stranger => 1,
            Self::TooLarge => 2,
            Self::Cancelled => 3,
        }
    }

    fn from_code(code: i64) -> Result<Self, KeyStoreError> {
        match code {
            1 => Ok(Self::Stranger),
            2 => Ok(Self::TooLarge),
            3 => Ok(Self::Cancelled),
            _ => Err(KeyStoreError::Corrupt("held file reason")),
        }
    }
}

/// A file offer waiting for the user's decision.
pub struct HeldFile {
    /// The server's message id (`accept-file N`).
    pub message_id: u64,
    /// Who offers it.
    pub sender: ClientId,
    /// The name the sender gave it (not yet safe to print or use).
    pub name: String,
    /// The plaintext size, as authenticated.
    pub size: u64,
    /// The ciphertext size the server offers.
    pub offer_size: u64,
    /// The file's key and nonce prefix.
    pub secret: FileSecret,
    /// Why it is held.
    pub reason: HoldReason,
    /// When the server stored it (ms since the Unix epoch).
    pub sent_at_ms: u64,
    /// The sender's sealed clock (ms since the Unix epoch); `None` for an
    /// offer held by an older version.
    pub sender_time_ms: Option<u64>,
}

impl std::fmt::Debug for HeldFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldFile")
            .field("message_id", &self.message_id)
            .field("sender", &self.sender)
            .field("name", &self.name)
            .field("size", &self.size)
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

/// An interrupted download's kept part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialDownload {
    /// The file message.
    pub message_id: u64,
    /// Digest of the file key and nonce prefix it was decrypted with.
    pub key_digest: [u8; 32],
    /// Plaintext bytes on disk and whole (a multiple of the chunk size).
    pub verified_len: u64,
}

const HELD_COLUMNS: &str = "SELECT message_id, sender, name, size, offer_size, file_key,
        nonce_prefix, reason, sent_at, sender_time FROM held_files";

fn held_row(row: &Row<'_>) -> rusqlite::Result<(HeldFile, i64)> {
    let key = secret_array::<KEY_LEN>(row, 5)?;
    let prefix = secret_array::<NONCE_PREFIX_LEN>(row, 6)?;
    Ok((
        HeldFile {
            message_id: from_sql_u64(row.get(0)?),
            sender: ClientId(blob_array(row, 1)?),
            name: row.get(2)?,
            size: from_sql_u64(row.get(3)?),
            offer_size: from_sql_u64(row.get(4)?),
            secret: FileSecret::from_parts(&key, &prefix),
            reason: HoldReason::Stranger,
            sent_at_ms: from_sql_u64(row.get(8)?),
            sender_time_ms: row.get::<_, Option<i64>>(9)?.map(from_sql_u64),
        },
        row.get(7)?,
    ))
}

fn held_from(row: (HeldFile, i64)) -> Result<HeldFile, KeyStoreError> {
    let (mut held, reason) = row;
    held.reason = HoldReason::from_code(reason)?;
    Ok(held)
}

/// The history entry of a held offer: held, nothing saved yet.
fn held_entry(held: &HeldFile) -> NewEntry {
    NewEntry {
        conversation: Conversation::Person { id: held.sender },
        direction: Direction::In,
        sender: held.sender,
        body: Body::File {
            name: held.name.clone(),
            size: held.size,
            path: std::path::PathBuf::new(),
        },
        sender_time_ms: held.sender_time_ms,
        server_time_ms: Some(held.sent_at_ms),
        message_id: Some(held.message_id),
        status: Status::Held,
    }
}

impl KeyStore {
    // ---- contacts ----------------------------------------------------------------

    /// Records `peer` as a contact (idempotent).
    ///
    /// # Errors
    /// Storage errors.
    pub fn add_contact(&mut self, peer: ClientId) -> Result<(), KeyStoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO contacts (client_id, since) VALUES (?1, ?2)",
            params![&peer.0[..], now_ms()],
        )?;
        Ok(())
    }

    /// Whether `peer` is a contact.
    ///
    /// # Errors
    /// Storage errors.
    pub fn is_contact(&self, peer: ClientId) -> Result<bool, KeyStoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM contacts WHERE client_id = ?1",
                [&peer.0[..]],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    // ---- held files ----------------------------------------------------------------

    /// Holds a file offer for the user, in one transaction with using its
    /// counter (`sid`, `counter`), so that the offer's counter is spent
    /// exactly when its metadata is kept (a redelivery finds it here).
    ///
    /// # Errors
    /// [`KeyStoreError::UnknownSession`]; storage errors.
    pub fn hold_file(
        &mut self,
        held: &HeldFile,
        counter: (SessionId, u64),
    ) -> Result<(), KeyStoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        record_received(&tx, counter.0, counter.1)?;
        tx.execute(
            "INSERT OR REPLACE INTO held_files (message_id, sender, name, size, offer_size,
                 file_key, nonce_prefix, reason, sent_at, held_at, sender_time)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                to_sql_u64(held.message_id),
                &held.sender.0[..],
                &held.name,
                to_sql_u64(held.size),
                to_sql_u64(held.offer_size),
                &held.secret.key()[..],
                &held.secret.nonce_prefix()[..],
                held.reason.code(),
                to_sql_u64(held.sent_at_ms),
                now_ms(),
                held.sender_time_ms.map(to_sql_u64),
            ],
        )?;
        record_held(&tx, &held_entry(held))?;
        tx.commit()?;
        Ok(())
    }

    /// One held file offer.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn held_file(&self, message_id: u64) -> Result<Option<HeldFile>, KeyStoreError> {
        self.conn
            .query_row(
                &format!("{HELD_COLUMNS} WHERE message_id = ?1"),
                [to_sql_u64(message_id)],
                held_row,
            )
            .optional()?
            .map(held_from)
            .transpose()
    }

    /// Every held file offer, oldest first.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn held_files(&self) -> Result<Vec<HeldFile>, KeyStoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!("{HELD_COLUMNS} ORDER BY message_id"))?;
        let rows = stmt.query_map([], held_row)?;
        rows.map(|r| held_from(r?)).collect()
    }

    /// Records a held offer as handled (downloaded or declined: `end`, in
    /// its history entry) and forgets it, in one transaction. Its counter
    /// was used when it was held.
    ///
    /// # Errors
    /// Storage errors.
    pub fn finish_held_file(
        &mut self,
        message_id: u64,
        end: &HeldEnd,
    ) -> Result<(), KeyStoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = to_sql_u64(message_id);
        let held = tx
            .query_row(
                &format!("{HELD_COLUMNS} WHERE message_id = ?1"),
                [id],
                held_row,
            )
            .optional()?;
        if let Some((held, _)) = held {
            end_held(&tx, held_entry(&held), end)?;
        }
        tx.execute(
            "INSERT OR IGNORE INTO handled_messages (message_id, handled_at) VALUES (?1, ?2)",
            params![id, now_ms()],
        )?;
        tx.execute("DELETE FROM held_files WHERE message_id = ?1", [id])?;
        tx.commit()?;
        Ok(())
    }

    // ---- partial downloads --------------------------------------------------------

    /// Records how much of a download is on disk and whole.
    ///
    /// # Errors
    /// Storage errors.
    pub fn save_partial(&mut self, partial: &PartialDownload) -> Result<(), KeyStoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO partial_downloads (message_id, key_digest, verified_len, updated_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                to_sql_u64(partial.message_id),
                &partial.key_digest[..],
                to_sql_u64(partial.verified_len),
                now_ms(),
            ],
        )?;
        Ok(())
    }

    /// The kept part of a download, if any.
    ///
    /// # Errors
    /// Storage errors.
    pub fn partial(&self, message_id: u64) -> Result<Option<PartialDownload>, KeyStoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT key_digest, verified_len FROM partial_downloads WHERE message_id = ?1",
                [to_sql_u64(message_id)],
                |row| {
                    Ok(PartialDownload {
                        message_id,
                        key_digest: blob_array(row, 0)?,
                        verified_len: from_sql_u64(row.get(1)?),
                    })
                },
            )
            .optional()?)
    }

    /// Every kept download part.
    ///
    /// # Errors
    /// Storage errors.
    pub fn partials(&self) -> Result<Vec<PartialDownload>, KeyStoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT message_id, key_digest, verified_len FROM partial_downloads")?;
        let rows = stmt.query_map([], |row| {
            Ok(PartialDownload {
                message_id: from_sql_u64(row.get(0)?),
                key_digest: blob_array(row, 1)?,
                verified_len: from_sql_u64(row.get(2)?),
            })
        })?;
        rows.map(|r| Ok(r?)).collect()
    }

    /// Forgets a download part (finished, declined, rejected or stale).
    ///
    /// # Errors
    /// Storage errors.
    pub fn delete_partial(&mut self, message_id: u64) -> Result<(), KeyStoreError> {
        self.conn.execute(
            "DELETE FROM partial_downloads WHERE message_id = ?1",
            [to_sql_u64(message_id)],
        )?;
        Ok(())
    }

    /// Forgets download parts not touched for `age`; returns their ids (so
    /// that their files can go too).
    ///
    /// # Errors
    /// Storage errors.
    pub fn expire_partials(&mut self, age: Duration) -> Result<Vec<u64>, KeyStoreError> {
        let cutoff = now_ms().saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX));
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let ids = {
            let mut stmt =
                tx.prepare("SELECT message_id FROM partial_downloads WHERE updated_at < ?1")?;
            let rows = stmt.query_map([cutoff], |r| r.get::<_, i64>(0))?;
            rows.map(|r| r.map(from_sql_u64))
                .collect::<Result<Vec<_>, _>>()?
        };
        tx.execute(
            "DELETE FROM partial_downloads WHERE updated_at < ?1",
            [cutoff],
        )?;
        tx.commit()?;
        Ok(ids)
    }

    // ---- upload prefixes -----------------------------------------------------------

    /// Records that an upload read (and may have sent) exactly the first
    /// `hashed_len` plaintext bytes, whose SHA-256 is `sha256`.
    ///
    /// # Errors
    /// Storage errors (also if the upload is not recorded).
    pub fn save_upload_prefix(
        &mut self,
        upload_id: UploadId,
        hashed_len: u64,
        sha256: &[u8; 32],
    ) -> Result<(), KeyStoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO upload_prefixes (upload_id, hashed_len, sha256)
             VALUES (?1, ?2, ?3)",
            params![&upload_id.0[..], to_sql_u64(hashed_len), &sha256[..]],
        )?;
        Ok(())
    }

    /// Forgets an upload's prefix: it is sending, and how far is not known
    /// until it stops (after a crash the upload cannot resume safely).
    ///
    /// # Errors
    /// Storage errors.
    pub fn clear_upload_prefix(&mut self, upload_id: UploadId) -> Result<(), KeyStoreError> {
        self.conn.execute(
            "DELETE FROM upload_prefixes WHERE upload_id = ?1",
            [&upload_id.0[..]],
        )?;
        Ok(())
    }

    /// What an upload is known to have read: `(hashed_len, sha256)`.
    ///
    /// # Errors
    /// Storage errors.
    pub fn upload_prefix(
        &self,
        upload_id: UploadId,
    ) -> Result<Option<(u64, [u8; 32])>, KeyStoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT hashed_len, sha256 FROM upload_prefixes WHERE upload_id = ?1",
                [&upload_id.0[..]],
                |row| Ok((from_sql_u64(row.get(0)?), blob_array(row, 1)?)),
            )
            .optional()?)
    }
}
