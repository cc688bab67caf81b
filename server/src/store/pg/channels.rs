//! Names shared by the engine's files: the notification channels between
//! nodes and how a client id is read from a row.

use protocol::ClientId;

use crate::error::StoreError;

/// Channel of new registrations; payload `<node>:<client id hex>`.
pub(super) const CLIENTS_CHANNEL: &str = "sealpost_clients";

/// Channel of new messages; payload `<node>:<recipient id hex>`.
pub(super) const INBOX_CHANNEL: &str = "sealpost_inbox";

/// Channel of new room entries; payload `<node>:<room id hex>`.
pub(super) const ROOMS_CHANNEL: &str = "sealpost_rooms";

/// A client id from a `BYTEA` column.
pub(super) fn client_id(bytes: &[u8]) -> Result<ClientId, StoreError> {
    crate::store::rows::fixed(bytes, "client id").map(ClientId)
}
