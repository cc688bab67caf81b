//! Accounts as callers see them: registering, recording activity, and
//! loading every registered client into the in-memory [`Directory`] when
//! the store opens. Lookups go to the directory (`directory.rs`), the rows
//! are written by the writer thread (`writer/apply.rs`).

use protocol::{ClientId, Name, PublicKey};
use rusqlite::Connection;

use super::directory::{ClientRecord, Directory, Protocol};
use super::writer::WriteOp;
use super::{ROW_OVERHEAD, Store, fixed};
use crate::error::StoreError;

/// Every registered client, in registration order.
pub(super) fn load_directory(conn: &Connection) -> Result<Directory, StoreError> {
    let directory = Directory::default();
    let mut stmt =
        conn.prepare("SELECT id, name, public_key, protocol FROM clients ORDER BY seq")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Vec<u8>>(2)?,
            r.get::<_, u8>(3)?,
        ))
    })?;
    for row in rows {
        let (id, name, key, protocol) = row?;
        directory.insert(ClientRecord {
            id: ClientId(fixed(&id, "client id")?),
            name: Name::new(name).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            public_key: PublicKey(fixed(&key, "public key")?),
            protocol: Protocol::from_code(protocol).ok_or_else(|| {
                StoreError::Corrupt(format!("account of protocol version {protocol}"))
            })?,
        });
    }
    Ok(directory)
}

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
