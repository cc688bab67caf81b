//! Which processes have a home's store open: each holds a shared lock
//! (`flock`) on `store.db` for as long as its [`KeyStore`] is open, and
//! `passphrase change` takes it exclusively before it re-keys, so that it
//! never re-keys the stores under another client of the home (a `watch`,
//! the menu, the full-screen client), which would then read pages it can
//! no longer decrypt and stop. SQLite locks the file with POSIX record
//! locks, which are independent of `flock` on Linux; the file handle is
//! kept open until the connection is closed, as SQLite asks (closing
//! another handle of the file would drop its locks).

use super::{KeyStore, KeyStoreError};
use crate::disk::lock_if_free;

impl KeyStore {
    /// Makes this process the only one with the home's store open until the
    /// store is closed (other clients wait to open it meanwhile).
    ///
    /// # Errors
    /// [`KeyStoreError::HomeInUse`] when another process has it open;
    /// [`KeyStoreError::Io`].
    pub fn claim_alone(&self) -> Result<(), KeyStoreError> {
        match lock_if_free(&self.in_use)? {
            true => Ok(()),
            false => Err(KeyStoreError::HomeInUse),
        }
    }

    /// A number that changes whenever another process (another connection)
    /// commits to the store, and only then: a front end that keeps running
    /// compares it to see that a `send` in another terminal changed what
    /// it shows.
    ///
    /// # Errors
    /// [`KeyStoreError::Sqlite`].
    pub fn changes_elsewhere(&self) -> Result<i64, KeyStoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |row| row.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_elsewhere_moves_on_another_processs_commit_and_not_on_our_own() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let mut ours = KeyStore::open(&home).unwrap();
        let mut theirs = KeyStore::open(&home).unwrap();
        let before = ours.changes_elsewhere().unwrap();
        ours.set_retention_days(Some(30)).unwrap();
        assert_eq!(ours.changes_elsewhere().unwrap(), before);
        theirs.set_retention_days(Some(7)).unwrap();
        let after = ours.changes_elsewhere().unwrap();
        assert_ne!(after, before);
        assert_eq!(ours.changes_elsewhere().unwrap(), after);
    }

    #[test]
    fn a_store_open_elsewhere_cannot_be_claimed_and_one_alone_can() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let first = KeyStore::open(&home).unwrap();
        let second = KeyStore::open(&home).unwrap();
        assert!(matches!(first.claim_alone(), Err(KeyStoreError::HomeInUse)));
        drop(second);
        first.claim_alone().unwrap();
    }
}
