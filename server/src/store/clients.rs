//! Accounts as callers see them: registering and recording activity. Lookups
//! go to the in-memory directory (`directory.rs`, loaded when the store
//! opens); the rows are written by the writer thread (`writer/apply.rs`).

use protocol::{ClientId, Name, PublicKey};

use super::directory::{ClientRecord, Protocol, name_key};
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
        if let Some(pg) = self.pg() {
            return pg.register(name, public_key, protocol, skeleton).await;
        }
        self.write(|reply| WriteOp::Register {
            name,
            public_key,
            protocol,
            skeleton,
            reply,
        })
        .await
    }

    /// In a cluster, reads a client the directory does not know (registered
    /// through another node, not yet heard of) into it. A failure is logged:
    /// the request then finds no such client, as it would have anyway.
    pub async fn know_client(&self, id: &ClientId) {
        if let Some(pg) = self.pg()
            && !self.directory().contains_any(id)
            && let Err(e) = pg.load_client(id).await
        {
            e.log();
        }
    }

    /// Like [`Store::know_client`], by name (NFC, any ASCII case).
    pub async fn know_name(&self, name: &str) {
        if let Some(pg) = self.pg()
            && self.directory().find_any_name(name).is_none()
            && let Err(e) = pg.load_name(&name_key(name)).await
        {
            e.log();
        }
    }

    /// Records that a client was active now (committed with the next batch).
    pub fn touch(&self, id: ClientId) {
        match self.pg() {
            Some(pg) => pg.touch(id),
            None => drop(self.submit(WriteOp::Touch { id })),
        }
    }
}
