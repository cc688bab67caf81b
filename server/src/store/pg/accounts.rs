//! The rows of accounts the in-memory directory is loaded from, at startup
//! and when another node announces a registration or a removal.

use protocol::{ClientId, Name, PublicKey};
use tokio_postgres::{Client, Row};

use super::channels::client_id;
use crate::error::StoreError;
use crate::store::directory::{ClientRecord, Directory, Protocol};
use crate::store::rows::fixed;

pub(super) const SELECT_CLIENT: &str = "SELECT id, name, public_key, protocol FROM clients";

/// Adds every registered client the directory does not know, in
/// registration order.
pub(super) async fn load(conn: &Client, directory: &Directory) -> Result<(), StoreError> {
    let rows = conn
        .query(&format!("{SELECT_CLIENT} ORDER BY seq"), &[])
        .await?;
    for row in rows {
        directory.insert_if_new(record(&row)?);
    }
    Ok(())
}

/// Brings the directory up to date after notifications were missed: adds
/// every client it does not know and drops those whose rows are gone
/// (removed through another node meanwhile), which it returns.
pub(super) async fn reload(
    conn: &Client,
    directory: &Directory,
) -> Result<Vec<ClientId>, StoreError> {
    // Known before the read: a client added to the directory after it (a
    // registration committed since) must not count as removed.
    let known = directory.ids();
    let rows = conn
        .query(&format!("{SELECT_CLIENT} ORDER BY seq"), &[])
        .await?;
    let mut present = std::collections::HashSet::with_capacity(rows.len());
    for row in rows {
        let record = record(&row)?;
        present.insert(record.id);
        directory.insert_if_new(record);
    }
    let gone: Vec<ClientId> = known
        .into_iter()
        .filter(|id| !present.contains(id))
        .collect();
    for id in &gone {
        directory.remove(id);
    }
    Ok(gone)
}

/// Reads one client (registered through another node) into the
/// directory, or drops it if its row is gone (removed through another
/// node); says whether it is registered.
pub(super) async fn load_one(
    conn: &Client,
    directory: &Directory,
    id: &ClientId,
) -> Result<bool, StoreError> {
    let row = conn
        .query_opt(&format!("{SELECT_CLIENT} WHERE id = $1"), &[&&id.0[..]])
        .await?;
    match row {
        Some(row) => {
            directory.insert_if_new(record(&row)?);
            Ok(true)
        }
        None => {
            directory.remove(id);
            Ok(false)
        }
    }
}

pub(super) fn record(row: &Row) -> Result<ClientRecord, StoreError> {
    let protocol: i16 = row.get(3);
    Ok(ClientRecord {
        id: client_id(row.get(0))?,
        name: Name::new(row.get::<_, String>(1)).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        public_key: PublicKey(fixed(row.get(2), "public key")?),
        protocol: u8::try_from(protocol)
            .ok()
            .and_then(Protocol::from_code)
            .ok_or_else(|| {
                StoreError::Corrupt(format!("account of protocol version {protocol}"))
            })?,
    })
}
