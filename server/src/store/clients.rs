//! Accounts as callers see them: registering and recording activity. Lookups
//! go to the in-memory directory (`directory.rs`, loaded when the store
//! opens); the rows are written by the writer thread (`writer/apply.rs`).

use protocol::{ClientId, Name, PublicKey};

use super::directory::{ClientRecord, Protocol};
use super::handle::{ROW_OVERHEAD, Store};
use super::writer::WriteOp;
use crate::error::StoreError;

impl Store {
    /// Registers a client of version `protocol` with a fresh random id.
    /// `skeleton` is the name's confusability key (version 3, see
    /// `crate::names`): no two accounts may share one.
    ///
    /// # Errors
    /// [`StoreError::NameTaken`] if the name is taken ignoring ASCII case,
    /// [`StoreError::NameConfusable`] if another has the same skeleton.
    pub async fn register(
        &self,
        name: Name,
        public_key: PublicKey,
        protocol: Protocol,
        skeleton: Option<String>,
    ) -> Result<ClientRecord, StoreError> {
        self.admit(ROW_OVERHEAD + public_key.0.len() as u64)?;
        self.write(|reply| WriteOp::Register {
            name,
            public_key,
            protocol,
            skeleton,
            reply,
        })
        .await
    }

    /// Records that a client was active now (committed with the next batch).
    pub fn touch(&self, id: ClientId) {
        let _ = self.submit(WriteOp::Touch { id });
    }
}
