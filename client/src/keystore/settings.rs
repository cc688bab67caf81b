//! The user's settings, kept in the store (`settings` table): how long
//! history is kept (`retention_days`, applied by [`KeyStore::open`] each
//! time the store opens, and whenever it is set) and whether read receipts
//! are sent (`read_receipts`), and when this home deleted its account on
//! the server (`account_deleted_at_ms`), to say so when it connects.
//!
//! Left out: what the settings change elsewhere (history, receipts).

use rusqlite::{OptionalExtension, params};

use super::schema::now_ms;
use super::{KeyStore, KeyStoreError};

/// The settings key of the retention, in days.
const RETENTION_KEY: &str = "retention_days";
/// The settings key of read receipts (`off` when turned off).
const READ_RECEIPTS_KEY: &str = "read_receipts";
/// The settings key of when the account was deleted here (ms).
const ACCOUNT_DELETED_KEY: &str = "account_deleted_at_ms";
/// The settings key set by an import until the server's key packages of
/// the backed-up home are replaced (`rooms::stock`).
const STALE_KEY_PACKAGES_KEY: &str = "stale_key_packages";
pub(super) const DAY_MS: i64 = 24 * 3600 * 1000;

impl KeyStore {
    /// Whether read receipts are sent (on unless the user turned them off).
    ///
    /// # Errors
    /// Storage errors.
    pub fn read_receipts(&self) -> Result<bool, KeyStoreError> {
        Ok(self.setting(READ_RECEIPTS_KEY)?.as_deref() != Some("off"))
    }

    /// Turns read receipts on or off.
    ///
    /// # Errors
    /// Storage errors.
    pub fn set_read_receipts(&mut self, on: bool) -> Result<(), KeyStoreError> {
        self.set_setting(READ_RECEIPTS_KEY, (!on).then_some("off"))
    }

    /// When this home deleted its account on the server (ms since the Unix
    /// epoch), if it did.
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn account_deleted_at(&self) -> Result<Option<u64>, KeyStoreError> {
        self.setting(ACCOUNT_DELETED_KEY)?
            .map(|v| {
                v.parse()
                    .map_err(|_| KeyStoreError::Corrupt("account deletion time"))
            })
            .transpose()
    }

    /// Records that this home deletes its account on the server now, or
    /// (`false`) that the server refused.
    ///
    /// # Errors
    /// Storage errors.
    pub fn set_account_deleted(&mut self, deleted: bool) -> Result<(), KeyStoreError> {
        let now = now_ms().to_string();
        self.set_setting(ACCOUNT_DELETED_KEY, deleted.then_some(now.as_str()))
    }

    /// Whether the server may still hold key packages of the home this one
    /// was restored from (their keys were not in the backup).
    ///
    /// # Errors
    /// Storage errors.
    pub fn key_packages_stale(&self) -> Result<bool, KeyStoreError> {
        Ok(self.setting(STALE_KEY_PACKAGES_KEY)?.is_some())
    }

    /// Records that the server's key packages of this client are (or no
    /// longer are) ones this home cannot open.
    ///
    /// # Errors
    /// Storage errors.
    pub fn set_key_packages_stale(&mut self, stale: bool) -> Result<(), KeyStoreError> {
        self.set_setting(STALE_KEY_PACKAGES_KEY, stale.then_some("1"))
    }

    fn setting(&self, key: &str) -> Result<Option<String>, KeyStoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    fn set_setting(&mut self, key: &str, value: Option<&str>) -> Result<(), KeyStoreError> {
        match value {
            Some(v) => self.conn.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, v],
            )?,
            None => self
                .conn
                .execute("DELETE FROM settings WHERE key = ?1", [key])?,
        };
        Ok(())
    }

    /// How many days entries are kept (`None`: until forgotten).
    ///
    /// # Errors
    /// Storage errors, [`KeyStoreError::Corrupt`].
    pub fn retention_days(&self) -> Result<Option<u32>, KeyStoreError> {
        self.setting(RETENTION_KEY)?
            .map(|v| v.parse().map_err(|_| KeyStoreError::Corrupt("retention")))
            .transpose()
    }

    /// Keeps entries `days` days (`None`: until forgotten), and applies it
    /// now; returns how many entries went.
    ///
    /// # Errors
    /// Storage errors.
    pub fn set_retention_days(&mut self, days: Option<u32>) -> Result<usize, KeyStoreError> {
        self.set_setting(RETENTION_KEY, days.map(|d| d.to_string()).as_deref())?;
        self.apply_retention()
    }

    /// Deletes entries older than the retention; returns how many.
    ///
    /// # Errors
    /// Storage errors.
    pub fn apply_retention(&mut self) -> Result<usize, KeyStoreError> {
        let Some(days) = self.retention_days()? else {
            return Ok(0);
        };
        let cutoff = now_ms().saturating_sub(i64::from(days).saturating_mul(DAY_MS));
        let gone = self
            .conn
            .execute("DELETE FROM history WHERE arrived_at < ?1", [cutoff])?;
        // A room's last name is kept for its history: with none left, and
        // not noted since the cutoff, it goes too (a room's next entry, a
        // join or a rename notes it again).
        self.conn.execute(
            "DELETE FROM room_names WHERE named_at < ?1
               AND NOT EXISTS (SELECT 1 FROM history WHERE conv_kind = 2 AND conv = room)",
            [cutoff],
        )?;
        Ok(gone)
    }
}
