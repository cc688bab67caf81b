//! Bringing an older database up to date: [`super::MIGRATIONS`] run in
//! order from the version found, each in its own transaction.

use rusqlite::{OptionalExtension, TransactionBehavior};

use super::{MIGRATIONS, SCHEMA_VERSION};
use crate::keystore::{KeyStore, KeyStoreError};

impl KeyStore {
    pub(in crate::keystore) fn migrate(&mut self) -> Result<(), KeyStoreError> {
        let found: u32 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(KeyStoreError::SchemaTooNew {
                found,
                known: SCHEMA_VERSION,
            });
        }
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        // A table copied into a new one (13, 15, 18) is dropped: with foreign
        // keys on, that would delete what refers to it. Checked before
        // each commit instead, and on again after (a no-op in a
        // transaction, so set here).
        self.conn.pragma_update(None, "foreign_keys", "OFF")?;
        let migrated = self.run_migrations(found);
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        migrated
    }

    fn run_migrations(&mut self, found: u32) -> Result<(), KeyStoreError> {
        for (version, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Exclusive)?;
            tx.execute_batch(sql)?;
            let broken: Option<String> = tx
                .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
                .optional()?;
            if broken.is_some() {
                return Err(KeyStoreError::Corrupt("a migration broke a reference"));
            }
            tx.pragma_update(None, "user_version", version + 1)?;
            tx.commit()?;
        }
        Ok(())
    }
}
