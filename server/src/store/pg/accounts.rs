//! The rows of accounts the in-memory directory is loaded from, at startup
//! and when another node announces a registration.

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

/// Adds one client (registered through another node) to the directory.
pub(super) async fn load_one(
    conn: &Client,
    directory: &Directory,
    id: &ClientId,
) -> Result<(), StoreError> {
    let row = conn
        .query_opt(&format!("{SELECT_CLIENT} WHERE id = $1"), &[&&id.0[..]])
        .await?;
    if let Some(row) = row {
        directory.insert_if_new(record(&row)?);
    }
    Ok(())
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
